"""The naming rule of agency mailing lists (Cần Thơ Art 11.5; docs/naming.md, "Mailing lists"): a list is
named like a sub-unit of its organisation, ``<name>.<organisation mailbox name>@<its domain>``, in every
scheme, checked over each scheme's example catalogue in data/catalogues/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from congvu.naming import make_scheme
from congvu.orgs import load_catalogue
from congvu.policy import load_policy

ROOT = Path(__file__).resolve().parents[2]


def env(province: str):
    policy = load_policy(ROOT / "policies" / f"{province}.yml")
    catalogue = load_catalogue(ROOT / "data" / "catalogues" / f"{province}.yml")
    return policy, make_scheme(policy["naming"], catalogue)


@pytest.mark.parametrize("province,code,unit,expected_agency,expected_unit", [
    # Hà Nam Art 5.1.d: <unit abbr>.<agency abbr>; a district's list after its mailbox name ubndkb
    ("hanam", "stttt", "pttbcxb", "toanso.stttt@hanam.gov.vn", "toanso.pttbcxb.stttt@hanam.gov.vn"),
    # Gia Lai Art 4.1: in the agency's own subdomain, after its mailbox name
    ("gialai", "skhcn", "ttcds", "toanso.skhcn@skhcn.gialai.gov.vn", "toanso.ttcds@skhcn.gialai.gov.vn"),
    # Cần Thơ Art 4.2.a-b: after the agency's mailbox name (sonv, vanphong.sokhdt)
    ("cantho", "skhdt", "vp-skhdt", "toanso.sokhdt@cantho.gov.vn", "toanso.vanphong.sokhdt@cantho.gov.vn"),
    # Hà Giang Art 4.1: <sub abbr>.<unit mailbox name>
    ("hagiang", "stttt", "ttcntt", "toanso.stttt@hagiang.gov.vn", "toanso.ttcntt.stttt@hagiang.gov.vn"),
    # Ninh Bình Art 5.1.a, c: <abbr>.<parent's local part>
    ("ninhbinh", "stttt", "vp-stttt", "toanso.stttt@ninhbinh.gov.vn", "toanso.vp.stttt@ninhbinh.gov.vn"),
])
def test_a_list_is_named_like_a_sub_unit_of_its_organisation(province, code, unit, expected_agency,
                                                            expected_unit):
    # Cần Thơ Art 11.5 lists, named by each scheme's rule for units
    _, scheme = env(province)
    assert scheme.list_address(code, "toanso") == expected_agency
    assert scheme.list_address(unit, "toanso") == expected_unit
    assert scheme.check_list_address(code, "toanso", expected_agency) is None
    assert scheme.check_list_address(unit, "toanso") is None
    assert "should be " + expected_agency in scheme.check_list_address(code, "toanso", "toanso@x.vn")
    # every organisation of every catalogue: the rule holds and never gives an organisation's address
    for org in scheme.catalogue:
        address = scheme.list_address(org, "ds")
        assert address.startswith("ds.") and address.endswith("@" + scheme.org_domain(org))
        assert address not in scheme.org_addresses().values()


def test_a_hanam_district_s_list_cannot_take_a_person_s_clash_form():
    # Hà Nam Art 5.2.b gives a namesake in another agency <full name>.<clash code> (nguyenvanhung.kb);
    # a list is written after the district's mailbox name (ubndkb), never after its code
    _, scheme = env("hanam")
    assert scheme.list_address("kimbang", "nguyenvanhung") == "nguyenvanhung.ubndkb@hanam.gov.vn"
    assert scheme.list_address("ptp-binhluc", "toanso") == "toanso.ptp.bl@hanam.gov.vn"


@pytest.mark.parametrize("name", ["Toanso", "toàn-sở", "toan.so", "toan_so", "-toanso", "toanso-", "toan so",
                                  "", "x" * 70])
def test_a_list_name_is_lower_case_ascii_with_dashes(name):
    _, scheme = env("cantho")
    why = scheme.check_list_address("snv", name)
    assert why and ("lower-case ASCII" in why or "more than 64" in why), why


@pytest.mark.parametrize("province,code,name,holder", [
    ("ninhbinh", "stttt", "vp", "vp-stttt"),  # vp.stttt is the unit's mailbox (Ninh Bình Art 5.1.c)
    ("hagiang", "stttt", "ttcntt", "ttcntt"),  # ttcntt.stttt (Hà Giang Art 4.1)
    ("hanam", "stttt", "pttbcxb", "pttbcxb"),  # pttbcxb.stttt (Hà Nam Art 5.1.d)
    ("cantho", "skhdt", "vanphong", "vp-skhdt"),  # vanphong.sokhdt (Cần Thơ Art 4.2.b)
])
def test_a_list_never_takes_an_organisation_s_mailbox(province, code, name, holder):
    _, scheme = env(province)
    why = scheme.check_list_address(code, name)
    assert why and f"organisation {holder!r}" in why, why


def test_a_name_with_dashes_is_a_list_name_in_every_scheme():
    for province in ("hanam", "gialai", "cantho", "hagiang", "ninhbinh"):
        _, scheme = env(province)
        code = next(iter(scheme.catalogue))
        assert scheme.check_list_address(code, "phong-cntt-2026") is None, province
