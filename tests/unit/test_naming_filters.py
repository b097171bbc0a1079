"""The Jinja2 filter wrappers of filter_plugins/naming.py: normal and error cases."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from source_files import load

ROOT = Path(__file__).resolve().parents[2]
HANAM = str(ROOT / "data" / "catalogues" / "hanam.yml")
NAMING = {"scheme": "hanam", "domain": "hanam.gov.vn"}


@pytest.fixture(scope="module")
def filters():
    return load("filter_plugins/naming.py", "congvu_filter_naming").FilterModule().filters()


def test_filters_registered_and_documented(filters):
    assert set(filters) == {"vn_ascii", "org_address", "mail_address", "mail_addresses"}
    import yaml
    spec = importlib.util.spec_from_file_location("doc_naming", ROOT / "filter_plugins" / "naming.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["name"] == "naming" and "naming" in doc["options"]
    assert yaml.safe_load(module.EXAMPLES) and yaml.safe_load(module.RETURN)


def test_vn_ascii(filters):
    assert filters["vn_ascii"]("Hoàng Thị Như Quỳnh", lower=True, sep="") == "hoangthinhuquynh"
    assert filters["vn_ascii"]("Ksor H'Nhiên", apostrophe="keep") == "Ksor H'Nhien"
    with pytest.raises(AnsibleFilterError, match="vn_ascii: expected a string, got int"):
        filters["vn_ascii"](3)
    with pytest.raises(AnsibleFilterError, match=r"vn_ascii: .*hyphen must be one of"):
        filters["vn_ascii"]("a", hyphen="wiggle")


def test_org_address(filters):
    # Hà Nam Art 5.1.c
    assert filters["org_address"]("tienson", NAMING, HANAM) == "ubndtienson.dt@hanam.gov.vn"
    with pytest.raises(AnsibleFilterError, match=r"org_address: .*'nope' is not in the catalogue"):
        filters["org_address"]("nope", NAMING, HANAM)
    with pytest.raises(AnsibleFilterError, match="naming must be the policy's naming mapping"):
        filters["org_address"]("stttt", "hanam", HANAM)
    with pytest.raises(AnsibleFilterError, match="catalogue must be a mapping or a file path"):
        filters["org_address"]("stttt", NAMING, 42)
    with pytest.raises(AnsibleFilterError, match=r"naming\.scheme: must be one of"):
        filters["org_address"]("stttt", {"scheme": "x", "domain": "hanam.gov.vn"}, HANAM)


def test_mail_address(filters):
    one = {"id": "p1", "full_name": "Nguyễn Văn Hùng", "org": "sldtbxh"}
    # Hà Nam Art 5.2.b: the plain form is taken by someone else → .ld
    assert filters["mail_address"](one, NAMING, HANAM, taken=["nguyenvanhung@hanam.gov.vn"]) == \
        "nguyenvanhung.ld@hanam.gov.vn"
    assert filters["mail_address"](one, NAMING, HANAM, existing={"p1": "hung@hanam.gov.vn"}) == \
        "hung@hanam.gov.vn"
    with pytest.raises(AnsibleFilterError, match="mail_address: expected a person mapping"):
        filters["mail_address"]("Nguyễn Văn Hùng", NAMING, HANAM)
    with pytest.raises(AnsibleFilterError, match=r"mail_address: .*organisation 'x' is not in the catalogue"):
        filters["mail_address"]({"id": "p1", "full_name": "A B", "org": "x"}, NAMING, HANAM)


def test_mail_addresses(filters):
    people = [{"id": "1", "full_name": "Nguyễn Văn Hùng", "org": "stttt"},
              {"id": "2", "full_name": "Nguyễn Văn Hùng", "org": "sldtbxh"}]
    assert filters["mail_addresses"](people, NAMING, HANAM) == {
        "1": "nguyenvanhung@hanam.gov.vn", "2": "nguyenvanhung.ld@hanam.gov.vn"}
    with pytest.raises(AnsibleFilterError, match="expected a list of people"):
        filters["mail_addresses"]({"id": "1"}, NAMING, HANAM)
    with pytest.raises(AnsibleFilterError, match="existing must map person id to address"):
        filters["mail_addresses"](people, NAMING, HANAM, existing=["a"])
    with pytest.raises(AnsibleFilterError, match="taken must be a list"):
        filters["mail_addresses"](people, NAMING, HANAM, taken="a@hanam.gov.vn")


def test_mail_addresses_operator_cases_fail_with_every_case(filters):
    same = [{"id": str(i), "full_name": "Lê Văn Tám", "org": "stttt"} for i in range(3)]
    with pytest.raises(AnsibleFilterError) as info:
        filters["mail_addresses"](same, NAMING, HANAM)
    text = str(info.value)
    assert "2 person(s) need an operator decision" in text
    assert "Hà Nam Art 5.2.c" in text and "suggestion levantam2@hanam.gov.vn" in text
