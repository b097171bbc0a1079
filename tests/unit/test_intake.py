"""The intake (congvu.intake): an old system's export -> rosters and a migration file (issue 16).

Two exports of Hà Nam's accounts: its own congvu-mail directory, merged into Ninh Bình after the 2025
restructuring (addresses under Ninh Bình's scheme, the old ones kept as aliases), and the Zimbra
directory Hà Nam ran before (addresses kept where Hà Nam's scheme allows them). The rosters the intake
writes go through the roster loader and the roster apply's planning, as an operator's would.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from fakedirectory import Directory

from congvu.intake import IntakeError, parse_ldif, plan_for_province
from congvu.migration import load as load_migration
from congvu.naming import make_scheme
from congvu.policy import load_policy
from congvu.reconcile import plan as reconcile
from congvu.roster import load_rosters

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures/intake"
SOURCE = {"host": "mail.hanam.gov.vn", "tls": "imaps", "master_user": "migrator", "master_password": "m" * 20}
MERGE = {
    "export": "hanam-congvu.ldif",
    "format": "congvu",
    "addresses": "scheme",
    # the district tier is gone: Kim Bảng's people attach to a commune of the province
    "organisations": {"stttt": "skhcn", "sldtbxh": "snv", "pc-kimbang": "phuly", "kimbang": "phuly"},
    "source": SOURCE,
}
ZIMBRA = {
    "export": "hanam-zimbra.ldif",
    "format": "zimbra",
    "organisations": {"Sở Thông tin và Truyền thông": "stttt",
                      "Sở Lao động - Thương binh và Xã hội": "sldtbxh"},
    "source": SOURCE,
}


def province(code: str) -> tuple[dict, str]:
    return load_policy(ROOT / f"policies/{code}.yml"), str(ROOT / f"data/catalogues/{code}.yml")


def take_in(code: str, data: dict, export: str | None = None):
    policy, catalogue = province(code)
    text = export if export is not None else (FIXTURES / data["export"]).read_text(encoding="utf-8")
    return plan_for_province(text, data, policy, catalogue, export_source=data["export"], source="intake.yml")


def test_ldif_folded_lines_base64_and_comments():
    [entry] = parse_ldif("# c\nversion: 1\ndn: uid=a,dc=x\ncn:: xJBpbmggVGjhu4sgw4FuaA==\n"
                         "description: one\n  two\nmail;lang-vi: a@x.vn\n")
    assert entry.where == "uid=a,dc=x"
    assert entry.values == {"cn": ["Đinh Thị Ánh"], "description": ["one two"], "mail": ["a@x.vn"]}
    with pytest.raises(IntakeError) as info:
        parse_ldif("dn: uid=a\nno colon here\ncn:: !!!\njpegPhoto:< file:///x\n", "e.ldif")
    assert [p.split(": ", 1)[0] for p in str(info.value).splitlines()[1:]] == [
        "  e.ldif:2", "  e.ldif:3", "  e.ldif:4"]


def test_a_merged_province_s_accounts_get_the_new_scheme_and_keep_their_old_addresses():
    # Hà Nam's congvu-mail system merged into Ninh Bình (issue 16 item 2): every old address stays
    # deliverable as an alias, the new address is Ninh Bình's (Ninh Bình Art 5), mailboxes and
    # passwords follow through the migration file
    intake = take_in("ninhbinh2025", MERGE)
    assert sorted(intake.rosters) == ["phuly.csv", "skhcn.csv", "snv.csv"]
    assert [p["old_address"] for p in intake.people] == [
        "nguyenvanan@hanam.gov.vn", "dinhthianh@hanam.gov.vn", "tranthibich@hanam.gov.vn"]
    assert intake.people[0]["aliases"] == ["an.nv@hanam.gov.vn", "nguyenvanan@hanam.gov.vn"]
    assert all(p["address"] == "" for p in intake.people)  # the scheme names them
    # retired accounts and organisation mailboxes are not people to take in
    assert [s["why"] for s in intake.skipped] == ["state retired"]
    assert intake.incomplete == []
    boxes = intake.migration["mailboxes"]
    assert [(b["source"], b["target"]) for b in boxes] == [
        ("nguyenvanan@hanam.gov.vn", "nguyenvanan@hanam.gov.vn"),
        ("dinhthianh@hanam.gov.vn", "dinhthianh@hanam.gov.vn"),
        ("tranthibich@hanam.gov.vn", "tranthibich@hanam.gov.vn")]
    # a hash still marked for the forced first change is not carried (Ninh Bình Art 6.3)
    assert [("password_hash" in b) for b in boxes] == [True, False, True]
    assert boxes[0]["password_hash"].startswith("{CRYPT}$6$rounds=1000$abcdefgh$Z0Vp")  # unfolded
    load_migration(intake.migration)  # a valid migration file

    # the rosters it wrote, through the roster loader and the roster apply's plan
    policy, catalogue = province("ninhbinh2025")
    scheme = make_scheme(policy["naming"], catalogue)
    files = [(f"intake/{name}", text) for name, text in intake.rosters.items()]
    roster = load_rosters(files, scheme.catalogue)
    assert roster.people["HN-SLDTBXH-0002"].name == "Đinh Thị Ánh"
    directory = Directory()
    result = reconcile(policy=policy, scheme=scheme, roster=roster, current=directory.current(),
                       now="20261207080000Z")
    directory.apply(result.changes)
    people = {c["key"]: c["mail"] for c in result.created if c["kind"] == "person"}
    assert people == {"HN-STTTT-0001": "annv.skhcn@ninhbinh.gov.vn",
                      "HN-SLDTBXH-0002": "anhdt.snv@ninhbinh.gov.vn",
                      "HN-KIMBANG-0003": "bichtt.phuly@ninhbinh.gov.vn"}
    an = next(e for e in directory.entries.values() if e.get("employeeNumber") == ["HN-STTTT-0001"])
    assert an["congvuMailAlias"] == ["an.nv@hanam.gov.vn", "nguyenvanan@hanam.gov.vn"]
    # a second run changes nothing
    again = reconcile(policy=policy, scheme=scheme, roster=roster, current=directory.current(),
                      now="20261208080000Z")
    assert again.changes == []


def test_an_incumbent_zimbra_keeps_the_addresses_the_scheme_allows():
    policy, catalogue = province("hanam")
    zimbra = copy.deepcopy(ZIMBRA)
    text = (FIXTURES / "hanam-zimbra.ldif").read_text(encoding="utf-8").replace(
        "zimbraMailAlias: an.nv@hanam.vn\n", "")
    intake = plan_for_province(text, zimbra, policy, catalogue)
    assert [(p["old_address"], p["address"], p["aliases"]) for p in intake.people] == [
        ("an.nv@hanam.gov.vn", "an.nv@hanam.gov.vn", ["nvan@hanam.gov.vn"]),
        ("bich_tt@hanam.gov.vn", "bich_tt@hanam.gov.vn", [])]
    assert [s["why"] for s in intake.skipped] == ["state closed"]  # system accounts are not listed
    assert intake.summary()["readdressed"] == []
    # Zimbra holds no Mã cán bộ or birth date: the rosters say what the operator must fill in
    assert [i["missing"] for i in intake.incomplete] == [["Mã cán bộ", "Ngày sinh"]] * 2
    boxes = intake.migration["mailboxes"]
    assert [b["source"] for b in boxes] == ["an.nv@hanam.gov.vn", "bich_tt@hanam.gov.vn"]
    # {SSHA512} goes to migrate.yml, which keeps the forced reset; a must-change one is not carried
    assert boxes[0]["password_hash"].startswith("{SSHA512}") and "password_hash" not in boxes[1]
    header = intake.rosters["stttt.csv"].lstrip("\ufeff").splitlines()[0]
    assert header == "Mã cán bộ,Họ và tên,Ngày sinh,Đơn vị,Chức vụ,Địa chỉ thư,Bí danh"


def test_every_problem_is_reported_at_once_before_anything_is_written():
    bad = copy.deepcopy(ZIMBRA)
    bad["organisations"] = {"Sở Thông tin và Truyền thông": "stttt"}  # Sở LĐTBXH left unmapped
    text = (FIXTURES / "hanam-zimbra.ldif").read_text(encoding="utf-8")
    text += ("\ndn: uid=twin,ou=people\nobjectClass: zimbraAccount\n"
             "zimbraMailDeliveryAddress: twin@hanam.gov.vn\n"
             "zimbraMailAlias: nvan@hanam.gov.vn\nou: Sở Thông tin và Truyền thông\n"
             "\ndn: uid=bad,ou=people\nobjectClass: zimbraAccount\nzimbraMailDeliveryAddress: không hợp lệ\n"
             "ou: Sở Thông tin và Truyền thông\n")
    policy, catalogue = province("hanam")
    with pytest.raises(IntakeError) as info:
        plan_for_province(text, bad, policy, catalogue, export_source="z.ldif")
    lines = str(info.value).splitlines()
    assert "4 problem(s) taking in z.ldif" in lines[0]
    text_all = "\n".join(lines)
    assert ("uid=an.nv,ou=people,dc=hanam,dc=gov,dc=vn: an.nv@hanam.vn: @hanam.vn is not served here"
            in text_all)
    assert "uid=twin,ou=people: nvan@hanam.gov.vn is also held by uid=an.nv" in text_all
    assert "uid=bad,ou=people: address 'không hợp lệ' is not an address" in text_all
    assert ("organisation 'Sở Lao động - Thương binh và Xã hội' is not in the intake file's organisations"
            in text_all)


def test_the_intake_file_is_checked_whole():
    bad = {"export": "x", "format": "exchange", "organisations": {"A": "nowhere"}, "addresses": "maybe",
           "colour": 1}
    policy, catalogue = province("hanam")
    with pytest.raises(IntakeError) as info:
        plan_for_province("", bad, policy, catalogue, source="intake.yml")
    text = str(info.value)
    assert "5 problem(s) in intake.yml" in text
    for part in ("unknown key 'colour'", "format 'exchange'", "organisations.A: 'nowhere'", "addresses:",
                 "source: the old IMAP server"):
        assert part in text


def test_without_a_master_user_the_intake_stops_it_cannot_know_the_passwords():
    policy, catalogue = province("hanam")
    data = copy.deepcopy(ZIMBRA)
    data["source"] = {"host": "zimbra.hanam.gov.vn", "tls": "imaps"}
    text = (FIXTURES / "hanam-zimbra.ldif").read_text(encoding="utf-8").replace(
        "zimbraMailAlias: an.nv@hanam.vn\n", "")
    with pytest.raises(IntakeError, match=r"(?s)1 problem.*no password, and the source has no master user"):
        plan_for_province(text, data, policy, catalogue)


def test_with_keep_an_address_the_scheme_does_not_allow_is_readdressed_and_said_why():
    policy, catalogue = province("gialai")  # Gia Lai Art 4.1: each agency's own subdomain
    data = {"format": "csv", "organisations": {"KHCN": "skhcn"}, "source": SOURCE}
    text = ("address,name,org\nan.nv@skhcn.gialai.gov.vn,Nguyễn Văn An,KHCN\n"
            "binh@gialai.gov.vn,Trần Bình,KHCN\n")
    intake = plan_for_province(text, data, policy, catalogue)
    assert [(p["address"], p["aliases"]) for p in intake.people] == [
        ("an.nv@skhcn.gialai.gov.vn", []), ("", ["binh@gialai.gov.vn"])]
    assert intake.summary()["readdressed"] == [{
        "entry": "export:3", "address": "binh@gialai.gov.vn",
        "why": "@gialai.gov.vn is not the domain of skhcn's addresses (@skhcn.gialai.gov.vn)"}]
