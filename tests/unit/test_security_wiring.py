"""The security settings of the wiring (docs/security.md): who reaches LDAPS, which relays may send as
the province, the agencies' own subdomains, the postmaster addresses; and the must-change convergence
of the openldap role (roles/openldap/library/openldap_must_change.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from source_files import load

from congvu.orgs import load_catalogue
from congvu.policy import load_policy
from congvu.wiring import WiringError, organisation_domains, wire

ROOT = Path(__file__).resolve().parents[2]
SPLIT = {"ldap_servers": ["ldap.gialai.gov.vn"], "mail_servers": ["mx.gialai.gov.vn"],
         "filter_servers": ["filter.gialai.gov.vn"], "webmail_servers": ["webmail.gialai.gov.vn"]}
ADDRESSES = {"ldap.gialai.gov.vn": "10.1.0.1", "mx.gialai.gov.vn": "10.1.0.2",
             "filter.gialai.gov.vn": "10.1.0.3", "webmail.gialai.gov.vn": "10.1.0.4"}
ONE = {g: ["mail.hanam.gov.vn"] for g in SPLIT}


def province(code):
    return (load_policy(ROOT / "policies" / f"{code}.yml", province=code),
            load_catalogue(ROOT / "data" / "catalogues" / f"{code}.yml"))


def ldaps(rules):
    return [r for r in rules if r["port"] == 636]


def test_ldaps_is_not_public_by_default():
    """LDAPS opens to the layout's other hosts only; on one host it stays closed to the network."""
    policy, catalogue = province("gialai")
    hosts = wire(policy, catalogue, SPLIT, ADDRESSES)
    rule = ldaps(hosts["ldap.gialai.gov.vn"]["common_firewall_rules"])
    assert len(rule) == 1 and rule[0]["sources"] == ["10.1.0.2", "10.1.0.3", "10.1.0.4"]
    policy, catalogue = province("hanam")
    assert ldaps(wire(policy, catalogue, ONE)["mail.hanam.gov.vn"]["common_firewall_rules"]) == []


def test_ldaps_client_networks_are_added():
    """Cần Thơ Art 3.2: the SSO clients' networks reach LDAPS, and nobody else."""
    policy, catalogue = province("hanam")
    hosts = wire(policy, catalogue, ONE, settings={"ldaps_client_networks": ["10.20.0.0/24", "10.30.0.5"]})
    rule = ldaps(hosts["mail.hanam.gov.vn"]["common_firewall_rules"])
    assert rule[0]["sources"] == ["10.20.0.0/24", "10.30.0.5/32"]


@pytest.mark.parametrize("setting", ["ldaps_client_networks", "trusted_relays"])
def test_bad_networks_are_refused(setting):
    policy, catalogue = province("hanam")
    with pytest.raises(WiringError, match=setting):
        wire(policy, catalogue, ONE, settings={setting: ["not-a-network"]})


def test_trusted_relays_reach_postfix_and_rspamd():
    policy, catalogue = province("hanam")
    host = wire(policy, catalogue, ONE, settings={"trusted_relays": ["10.20.1.15"]})["mail.hanam.gov.vn"]
    assert host["postfix_trusted_relays"] == host["rspamd_trusted_relays"] == ["10.20.1.15/32"]
    assert wire(policy, catalogue, ONE)["mail.hanam.gov.vn"]["postfix_trusted_relays"] == []


def test_postmaster_of_every_sending_domain():
    """RFC 5321 §4.5.1: postmaster@ of every domain mail is received for, subdomains included."""
    policy, catalogue = province("gialai")
    mx = wire(policy, catalogue, SPLIT, ADDRESSES)["mx.gialai.gov.vn"]
    assert mx["postfix_postmaster_address"] == "postmaster@gialai.gov.vn"
    domains = set(mx["postfix_postmaster_domains"])
    assert {"gialai.gov.vn", "skhcn.gialai.gov.vn", "pleiku.gialai.gov.vn"} <= domains


def test_organisation_domains_for_subdomain_schemes_only():
    """Gia Lai Art 4, 5.2: each top-level organisation's own subdomain; none in a one-domain province."""
    policy, catalogue = province("gialai")
    assert organisation_domains(policy, catalogue) == {
        "skhcn": "skhcn.gialai.gov.vn", "pleiku": "pleiku.gialai.gov.vn", "dakpo": "dakpo.gialai.gov.vn"}
    policy, catalogue = province("hanam")
    assert organisation_domains(policy, catalogue) == {}


must_change = load("roles/openldap/library/openldap_must_change.py", "openldap_must_change")


@pytest.mark.parametrize(("entry", "expected"), [
    ({"congvuMustChangePassword": ["TRUE"], "createTimestamp": ["20260101000000Z"],
      "pwdChangedTime": ["20260301000000Z"]}, True),  # the old flag still set
    ({"congvuMustChangePassword": ["FALSE"], "createTimestamp": ["20260101000000Z"],
      "pwdChangedTime": ["20260101000001Z"]}, True),  # flag cleared, password never changed
    ({"createTimestamp": ["20260101000000Z"]}, True),  # no aging: no pwdChangedTime, never changed
    ({"congvuMustChangePassword": ["FALSE"], "createTimestamp": ["20260101000000Z"],
      "pwdChangedTime": ["20260102093000.123456Z"]}, False),  # changed the next day
    ({"pwdReset": ["TRUE"], "createTimestamp": ["20260101000000Z"]}, False),  # already marked
    ({}, False),  # nothing to go by
])
def test_must_change_convergence(entry, expected):
    """docs/security.md, finding 4: accounts made before pwdReset was the signal."""
    assert must_change.needs_reset(entry) is expected
