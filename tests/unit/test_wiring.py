"""The wiring of every shipped inventory (congvu.wiring): what each host's roles are told about the
others, and the inventories the wiring refuses. docs/topology.md describes the layouts."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
import yaml
from inventory import ansible_inventory

from congvu import wiring
from congvu.orgs import load_catalogue
from congvu.policy import load_policy
from congvu.wiring import WiringError, firewall_gaps, layout, sending_domains, wire

ROOT = Path(__file__).resolve().parents[2]
INVENTORIES = sorted(p.parent for p in (ROOT / "inventories").glob("*/hosts.yml"))
#: Stand-in addresses for the staging inventories (podman assigns theirs at run time).
STAGING_NET = ipaddress.ip_network("10.89.5.0/24")


def wired(inventory: Path) -> tuple[dict, dict, dict, dict]:
    data = ansible_inventory(inventory)
    hostvars = data["_meta"]["hostvars"]
    groups = {g: data.get(g, {}).get("hosts", []) for g in wiring.ALL_GROUPS}
    groups["congvu"] = sorted(hostvars)
    province = next(iter(hostvars.values()))["congvu_province"]
    overrides = next(iter(hostvars.values())).get("congvu_policy_overrides") or {}
    policy = load_policy(ROOT / "policies" / f"{province}.yml", overrides=overrides, province=province)
    catalogue = load_catalogue(ROOT / "data" / "catalogues" / f"{province}.yml")
    addresses = {}
    for index, host in enumerate(sorted(hostvars)):
        given = hostvars[host].get("ansible_host", "")
        try:
            addresses[host] = str(ipaddress.ip_address(given))
        except ValueError:
            addresses[host] = str(STAGING_NET[10 + index])
    return wire(policy, catalogue, groups, addresses), groups, addresses, policy


@pytest.fixture(scope="module", params=INVENTORIES, ids=lambda p: p.name)
def shipped(request):
    return (request.param, *wired(request.param))


def in_group(groups, group, host):
    return host in groups[group]


def open_to(rules, port):
    """Sources of the rules opening ``port`` (None: everyone)."""
    found = [r for r in rules if r["port"] == port]
    if not found:
        return []
    if any(not r["sources"] for r in found):
        return None
    return sorted({s for r in found for s in r["sources"]})


def test_every_host_of_every_inventory_is_wired(shipped):
    path, hosts, groups, _, _ = shipped
    assert set(hosts) == {h for g in wiring.ALL_GROUPS for h in groups[g]}, path.name
    for host, v in hosts.items():
        assert v["congvu_groups"], host


def test_mail_servers_reach_the_filter(shipped):
    """The split-layout milter defect: Postfix on a mail host that is not the filter host must reach
    Rspamd's milter, which then listens on the filter host's address and lets only the mail hosts in
    (milter_default_action = tempfail would otherwise defer every message)."""
    _, hosts, groups, addresses, _ = shipped
    filter_host = groups["filter_servers"][0]
    for mail in groups["mail_servers"]:
        milters = hosts[mail]["postfix_milters"]
        assert len(milters) == 1
        if mail == filter_host:
            assert milters == ["inet:127.0.0.1:11332"]
            assert "127.0.0.1:11332" in hosts[filter_host]["rspamd_milter_binds"]
        else:
            assert milters == [f"inet:{filter_host}:11332"]
            assert f"{addresses[filter_host]}:11332" in hosts[filter_host]["rspamd_milter_binds"]
            assert "127.0.0.1:11332" not in hosts[filter_host]["rspamd_milter_binds"] or \
                filter_host in groups["mail_servers"]
            assert addresses[mail] in open_to(hosts[filter_host]["common_firewall_rules"], 11332)
            peers = {p["names"][0]: p["address"] for p in hosts[mail]["common_hosts_peers"]}
            assert peers[filter_host] == addresses[filter_host], "the milter is found by name"


def test_directory_clients_use_starttls_with_every_ldap_host(shipped):
    """Clients off the directory hosts list every directory server, the first first (they fail over,
    docs/openldap.md "Replication"); the directory servers admit them and each other on 389."""
    _, hosts, groups, addresses, _ = shipped
    providers = groups["ldap_servers"]
    every = " ".join(f"ldap://{h}" for h in providers)
    for host in groups["mail_servers"]:
        v = hosts[host]
        if host in providers:
            assert (v["postfix_ldap_uri"], v["postfix_ldap_start_tls"]) == ("ldapi:///", False)
        else:
            assert (v["postfix_ldap_uri"], v["postfix_ldap_start_tls"]) == (every, True)
            assert (v["dovecot_ldap_uri"], v["dovecot_ldap_start_tls"]) == (every, True)
    for ldap in providers:
        clients = {h for g in ("mail_servers", "webmail_servers", "ldap_servers") for h in groups[g]} - {ldap}
        sources = open_to(hosts[ldap]["common_firewall_rules"], 389)
        if clients:
            assert sources == sorted({addresses[h] for h in clients})
        else:
            assert sources == [], "all-in-one: LDAP stays on the host"
    for host in groups["webmail_servers"]:
        assert hosts[host]["roundcube_ldap_uri"] == every


def test_directory_servers_replicate_each_other_when_there_are_several(shipped):
    """docs/openldap.md, "Replication": with two or more directory servers each is a provider with its
    own replica ID that pulls all the others; a lone server has none."""
    _, hosts, groups, _, _ = shipped
    providers = groups["ldap_servers"]
    ids = [hosts[h]["openldap_server_id"] for h in providers]
    if len(providers) == 1:
        assert ids == [0] and hosts[providers[0]]["openldap_replication_peers"] == []
        return
    assert ids == list(range(1, len(providers) + 1))
    for host in providers:
        assert hosts[host]["openldap_replication_peers"] == [f"ldap://{h}" for h in providers if h != host]


# --- inventories the wiring refuses -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def hanam():
    policy = load_policy(ROOT / "policies" / "hanam.yml", province="hanam")
    return policy


GROUPS_SPLIT = {"ldap_servers": ["ldap.hanam.gov.vn"], "mail_servers": ["mx.hanam.gov.vn"],
                "filter_servers": ["filter.hanam.gov.vn"], "webmail_servers": ["webmail.hanam.gov.vn"]}
ADDRS = {"ldap.hanam.gov.vn": "192.0.2.10", "mx.hanam.gov.vn": "192.0.2.11",
         "filter.hanam.gov.vn": "192.0.2.12", "webmail.hanam.gov.vn": "192.0.2.13"}


def refused(policy, groups, addresses=None) -> str:
    with pytest.raises(WiringError) as info:
        wire(policy, None, groups, addresses if addresses is not None else ADDRS)
    return str(info.value)


def test_group_without_host_is_refused(hanam):
    message = refused(hanam, {**GROUPS_SPLIT, "filter_servers": []})
    assert "group filter_servers has no host" in message


def test_host_in_no_group_is_refused(hanam):
    message = refused(hanam, {**GROUPS_SPLIT, "congvu": [*ADDRS, "backup.hanam.gov.vn"]})
    assert "backup.hanam.gov.vn: in group congvu but in none of" in message


def test_third_mailbox_server_is_refused_not_ignored(hanam):
    """Dovecot replicates between pairs: a third mailbox server is refused by name."""
    three = ["mx.hanam.gov.vn", "mx2.hanam.gov.vn", "mx3.hanam.gov.vn"]
    message = refused(hanam, {**GROUPS_SPLIT, "mail_servers": three},
                      {**ADDRS, "mx2.hanam.gov.vn": "192.0.2.14", "mx3.hanam.gov.vn": "192.0.2.15"})
    assert f"group mail_servers lists {', '.join(three)}: two hosts at most" in message


def test_the_transition_reaches_dovecot_and_the_webmail_alike(shipped):
    """The policy's domains.alias_login_until is the last day for Dovecot (IMAP, POP3, ManageSieve,
    SMTP AUTH) and for the webmail alike: one day, or "" (never) on both (docs/restructuring.md)."""
    _, wires, groups, _, policy = shipped
    expected = policy["domains"]["alias_login_until"] or ""
    for host in groups["mail_servers"]:
        assert wires[host]["dovecot_alias_login_until"] == expected
    for host in groups["webmail_servers"]:
        assert wires[host]["roundcube_alias_login_until"] == expected


def test_two_mailbox_servers_replicate_each_other(hanam):
    """docs/mailcore.md, "Two mailbox servers" (standby capacity, Hà Nam Art 10.7, Gia Lai Art 8.3.a):
    each one's dsync target is the other over TLS, the doveadm port opens to the other alone, both are
    MX, the webmail uses the first and only the first runs the lifecycle."""
    groups = {**GROUPS_SPLIT, "mail_servers": ["mx.hanam.gov.vn", "mx2.hanam.gov.vn"]}
    assert "mx2.hanam.gov.vn: no address known" in refused(hanam, groups)
    hosts = wire(hanam, None, groups, {**ADDRS, "mx2.hanam.gov.vn": "192.0.2.14"})
    assert hosts["mx.hanam.gov.vn"]["dovecot_replica"] == "tcps:mx2.hanam.gov.vn:12345"
    assert hosts["mx2.hanam.gov.vn"]["dovecot_replica"] == "tcps:mx.hanam.gov.vn:12345"
    assert {hosts[h]["dovecot_doveadm_port"] for h in ("mx.hanam.gov.vn", "mx2.hanam.gov.vn")} == {12345}
    assert open_to(hosts["mx.hanam.gov.vn"]["common_firewall_rules"], 12345) == ["192.0.2.14"]
    assert open_to(hosts["mx2.hanam.gov.vn"]["common_firewall_rules"], 12345) == [ADDRS["mx.hanam.gov.vn"]]
    assert hosts["mx.hanam.gov.vn"]["congvu_dns"]["mail_hosts"] == groups["mail_servers"]
    # one lifecycle run per province; the second mail host runs the replica's part (Hà Nam Art 7.2.a)
    assert {hosts[h]["lifecycle_enabled"] for h in groups["mail_servers"]} == {True}
    assert [h for h in groups["mail_servers"] if not hosts[h]["lifecycle_replica"]] == ["mx.hanam.gov.vn"]
    assert hosts["webmail.hanam.gov.vn"]["roundcube_imap_host"] == "mx.hanam.gov.vn"
    # both reach the filter's milter
    filter_rules = hosts["filter.hanam.gov.vn"]["common_firewall_rules"]
    assert "192.0.2.14" in open_to(filter_rules, 11332)
    # a lone mailbox server replicates nothing
    alone = wire(hanam, None, GROUPS_SPLIT, ADDRS)
    assert alone["mx.hanam.gov.vn"]["dovecot_replica"] == ""
    assert open_to(alone["mx.hanam.gov.vn"]["common_firewall_rules"], 12345) == []


TWO_MX = {**GROUPS_SPLIT, "mail_servers": ["mx.hanam.gov.vn", "mx2.hanam.gov.vn"]}
TWO_MX_ADDRS = {**ADDRS, "mx2.hanam.gov.vn": "192.0.2.14"}


def test_front_passes_the_client_ports_to_the_mailbox_servers(hanam):
    """docs/topology.md, "The front" (standby capacity, Hà Nam Art 10.7, Gia Lai Art 8.3.a): HAProxy on
    the front host listens on the client ports for everyone and passes each to the mailbox servers'
    proxied port, the first server active and the second its backup; the proxied ports open to the
    front alone, which alone may send the PROXY protocol; the webmail and the SRV records use the
    front; the mailbox servers' certificates carry the front's names."""
    front = "webmail.hanam.gov.vn"
    hosts = wire(hanam, None, {**TWO_MX, "front_servers": [front]}, TWO_MX_ADDRS)
    ha = hosts[front]
    assert [s["name"] for s in ha["haproxy_servers"]] == TWO_MX["mail_servers"]
    assert [s["address"] for s in ha["haproxy_servers"]] == [ADDRS["mx.hanam.gov.vn"], "192.0.2.14"]
    ports = {x["name"]: (x["port"], x["server_port"]) for x in ha["haproxy_listeners"]}
    assert ports == {"imaps": (993, 10993), "pop3s": (995, 10995), "sieve": (4190, 14190),
                     "submissions": (465, 10465), "submission": (587, 10587)}
    # every listener checks its own servers (HAProxy watches client connections only on checked ones)
    # and logs out cleanly; TLS where the proxied port starts with it
    assert all({"expect", "quit", "bye"} <= set(x) and "track" not in x for x in ha["haproxy_listeners"])
    assert {x["name"] for x in ha["haproxy_listeners"] if x.get("tls")} == {"imaps", "pop3s", "submissions"}
    for port in (993, 995, 4190, 465, 587):
        assert open_to(ha["common_firewall_rules"], port) is None  # everyone
    for mx in TWO_MX["mail_servers"]:
        v = hosts[mx]
        for port in (10993, 10995, 14190, 10465, 10587):
            assert open_to(v["common_firewall_rules"], port) == [ADDRS[front]], (mx, port)
        assert v["dovecot_proxy_networks"] == [ADDRS[front]]
        assert v["dovecot_proxy_ports"] == {"imaps": 10993, "pop3s": 10995, "sieve": 14190}
        assert v["postfix_proxy_ports"] == {"submission": 10587, "submissions": 10465}
        assert {front, "mail.hanam.gov.vn"} <= set(v["common_tls_san_names"])
        assert "haproxy_listeners" not in v
    assert hosts[front]["roundcube_imap_host"] == front
    assert hosts[front]["roundcube_smtp_host"] == front
    assert hosts[front]["congvu_dns"]["client_host"] == front
    assert hosts[front]["congvu_dns"]["mail_hosts"] == TWO_MX["mail_servers"]  # MX stays the mail servers
    # without a front: nothing proxied, the webmail and SRV use the first mailbox server
    plain = wire(hanam, None, TWO_MX, TWO_MX_ADDRS)
    assert plain["mx.hanam.gov.vn"]["dovecot_proxy_ports"] == {}
    assert plain["mx.hanam.gov.vn"]["postfix_proxy_ports"] == {}
    assert open_to(plain["mx.hanam.gov.vn"]["common_firewall_rules"], 10993) == []
    assert plain[front]["roundcube_imap_host"] == "mx.hanam.gov.vn"
    assert plain[front]["congvu_dns"]["client_host"] == "mx.hanam.gov.vn"
    assert "webmail.hanam.gov.vn" not in plain["mx.hanam.gov.vn"]["common_tls_san_names"]


def test_front_on_a_mailbox_server_or_two_fronts_are_refused(hanam):
    """The front takes the mailbox server's own client ports; two fronts need a moving address."""
    message = refused(hanam, {**TWO_MX, "front_servers": ["mx.hanam.gov.vn"]}, TWO_MX_ADDRS)
    assert "mx.hanam.gov.vn: in front_servers and mail_servers" in message
    assert '[docs/topology.md, "The front"]' in message
    message = refused(hanam, {**TWO_MX, "front_servers": ["webmail.hanam.gov.vn", "filter.hanam.gov.vn"]},
                      TWO_MX_ADDRS)
    assert "group front_servers lists webmail.hanam.gov.vn, filter.hanam.gov.vn: one host at most" in message
    # the front needs its address: it reaches the mailbox servers, which open their ports to it
    assert "front.hanam.gov.vn: no address known" in refused(
        hanam, {**TWO_MX, "front_servers": ["front.hanam.gov.vn"]}, TWO_MX_ADDRS)


def test_second_directory_server_needs_its_address(hanam):
    """Two providers reach each other (replication): a second directory server without an address is
    refused by name, with it the layout wires."""
    groups = {**GROUPS_SPLIT, "ldap_servers": ["ldap.hanam.gov.vn", "ldap2.hanam.gov.vn"]}
    assert "ldap2.hanam.gov.vn: no address known" in refused(hanam, groups)
    hosts = wire(hanam, None, groups, {**ADDRS, "ldap2.hanam.gov.vn": "192.0.2.14"})
    assert hosts["ldap2.hanam.gov.vn"]["openldap_server_id"] == 2
    assert "192.0.2.14" in open_to(hosts["ldap.hanam.gov.vn"]["common_firewall_rules"], 389)


def test_unknown_address_of_a_peer_is_refused(hanam):
    addresses = {k: v for k, v in ADDRS.items() if k != "filter.hanam.gov.vn"}
    message = refused(hanam, GROUPS_SPLIT, addresses)
    assert "filter.hanam.gov.vn: no address known, but it offers rspamd_milter" in message
    assert "congvu_address" in message


def test_bad_address_and_name_are_refused(hanam):
    message = refused(hanam, {**GROUPS_SPLIT, "webmail_servers": ["Webmail"]},
                      {**ADDRS, "mx.hanam.gov.vn": "mx-host"})
    assert "Webmail: inventory host names are lower-case FQDNs" in message
    assert "mx.hanam.gov.vn: congvu_address 'mx-host' is not an IP address" in message


def test_all_in_one_needs_no_address(hanam):
    one = {g: ["mail.hanam.gov.vn"] for g in wiring.GROUPS}
    hosts = wire(hanam, None, one, {})
    v = hosts["mail.hanam.gov.vn"]
    assert v["postfix_milters"] == ["inet:127.0.0.1:11332"]
    assert v["rspamd_milter_binds"] == ["127.0.0.1:11332"]
    assert v["common_firewall_required"] == []
    assert v["common_hosts_peers"] == []


def test_firewall_gaps_name_the_shut_out_peer(hanam):
    hosts = wire(hanam, None, GROUPS_SPLIT, ADDRS)
    flt = hosts["filter.hanam.gov.vn"]
    rules = [r for r in flt["common_firewall_rules"] if r["port"] != 11332]
    gaps = firewall_gaps(rules, flt["common_firewall_required"])
    assert gaps == ["rspamd_milter (11332/tcp) is not open to mx.hanam.gov.vn (192.0.2.11)"]
    narrow = [*rules, {"port": 11332, "proto": "tcp", "sources": ["192.0.2.99/32"]}]
    assert firewall_gaps(narrow, flt["common_firewall_required"])
    wide = [*rules, {"port": 11332, "proto": "tcp", "sources": ["192.0.2.0/24"]}]
    assert firewall_gaps(wide, flt["common_firewall_required"]) == []


def test_unknown_setting_is_refused(hanam):
    with pytest.raises(WiringError, match="unknown setting"):
        wire(hanam, None, GROUPS_SPLIT, ADDRS, {"webui_prot": 1})


def test_layout_lists_hosts_in_group_order():
    lay = layout(GROUPS_SPLIT, ADDRS)
    assert lay.hosts == ("ldap.hanam.gov.vn", "mx.hanam.gov.vn", "filter.hanam.gov.vn",
                         "webmail.hanam.gov.vn")


def test_gialai_subdomains_come_from_the_catalogue():
    policy = load_policy(ROOT / "policies" / "gialai.yml", province="gialai")
    catalogue = load_catalogue(ROOT / "data" / "catalogues" / "gialai.yml")
    domains = sending_domains(policy, catalogue)
    assert domains[0] == "gialai.gov.vn"
    assert "skhcn.gialai.gov.vn" in domains and "pleiku.gialai.gov.vn" in domains
    assert len(domains) == len(set(domains))
    assert sending_domains(policy, None) == ["gialai.gov.vn", "binhdinh.gov.vn"]


def test_service_catalogue_is_documented():
    """Every port of the catalogue appears in docs/topology.md."""
    text = (ROOT / "docs" / "topology.md").read_text(encoding="utf-8")
    for name, service in wiring.SERVICES.items():
        assert f"{service.port}" in text, name


def test_inventory_yaml_has_no_internal_networks_left():
    for path in (ROOT / "inventories").glob("*/group_vars/congvu/main.yml"):
        assert "congvu_internal_networks" not in yaml.safe_load(path.read_text(encoding="utf-8")), path


@pytest.mark.parametrize(("inventory", "place"),
                         [("cantho", "thành phố Cần Thơ"), ("gialai", "tỉnh Gia Lai")])
def test_system_notices_name_the_province(inventory, place):
    """Issue 18: bounces and quota warnings name the province's mail system (province.kind, name)."""
    hosts, groups, _, _ = wired(ROOT / "inventories" / inventory)
    for host in groups["mail_servers"]:
        assert hosts[host]["postfix_notice_system_name"] == f"Hệ thống thư điện tử công vụ {place}"
        assert hosts[host]["dovecot_quota_warning_from_name"] == hosts[host]["postfix_notice_system_name"]
    for host in groups["webmail_servers"]:
        assert hosts[host]["roundcube_product_name"] == f"Thư điện tử công vụ {place}"
        assert hosts[host]["roundcube_support_url"].startswith("mailto:postmaster@")


def test_every_role_value_reaches_its_role(shipped):
    """Each role variable the wiring computes is handed to the roles by playbooks/group_vars/all/wiring.yml
    (a value computed and never referenced would silently leave the role's default in place)."""
    import re

    hosts = shipped[1]
    wiring_vars = (ROOT / "playbooks/group_vars/all/wiring.yml").read_text()
    referenced = set(re.findall(r"congvu_wiring\.(\w+)", wiring_vars))
    computed = {k for v in hosts.values() for k in v if not k.startswith("congvu_")}  # congvu_*: the plays'
    assert computed <= referenced, sorted(computed - referenced)
