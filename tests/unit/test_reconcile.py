"""Reconcile planning: create, modify, leaving, no-op, reorder stability, operator cases, passwords.

The directory is simulated in memory: a plan's changes are applied to a dict the way slapd would, and
only the attributes the module's one subtree search asks for are handed back to the next plan.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import pytest
from fakedirectory import Directory

from congvu.lifecycle_dir import snapshot
from congvu.naming import make_scheme
from congvu.orgs import load_catalogue
from congvu.passwords import password_violations
from congvu.policy import load_policy
from congvu.reconcile import (
    PASSWORD_PLACEHOLDER,
    ReconcileError,
    derive_password,
    org_dns,
    plan,
    transaction_order,
)
from congvu.roster import Person, Roster

ROOT = Path(__file__).resolve().parents[2]
NOW = "20261122080000Z"
LATER = "20261201080000Z"
SECRET = "s" * 40


@pytest.fixture(scope="module")
def hanam():
    policy = load_policy(ROOT / "policies/hanam.yml")
    catalogue = load_catalogue(ROOT / "data/catalogues/hanam.yml")
    return policy, make_scheme(policy["naming"], catalogue)


@pytest.fixture(scope="module")
def cantho():
    policy = load_policy(ROOT / "policies/cantho.yml")
    catalogue = load_catalogue(ROOT / "data/catalogues/cantho.yml")
    return policy, make_scheme(policy["naming"], catalogue)


@pytest.fixture(scope="module")
def gialai():
    policy = load_policy(ROOT / "policies/gialai.yml")
    catalogue = load_catalogue(ROOT / "data/catalogues/gialai.yml")
    return policy, make_scheme(policy["naming"], catalogue)


def roster(*people: Person) -> Roster:
    return Roster({p.id: p for p in people}, ["test.csv"])


def person(pid: str, name: str, org: str = "stttt", birth: str = "1985-03-12", **kw) -> Person:
    return Person(id=pid, name=name, birth_date=birth, org=org, where=f"test.csv:{pid}", **kw)


def run(env, directory: Directory, people: Roster, now: str = NOW, **kw):
    policy, scheme = env
    result = plan(policy=policy, scheme=scheme, roster=people, current=directory.current(), now=now, **kw)
    directory.apply(result.changes)
    return result


PEOPLE = (
    person("HN-1", "Nguyễn Thị Thanh Hà", position="Chuyên viên"),
    person("HN-2", "Nguyễn Văn Hùng", "stttt", admin=True),
    person("HN-3", "Trần Văn An", "pttbcxb"),
)


def test_first_apply_creates_organisations_mailboxes_people_and_admin_groups(hanam):
    directory = Directory()
    result = run(hanam, directory, roster(*PEOPLE))
    base = "ou=organisations,dc=hanam,dc=gov,dc=vn"
    ha = directory.entries[f"uid=nguyenthithanhha,o=stttt,{base}"]
    assert ha["mail"] == ["nguyenthithanhha@hanam.gov.vn"]  # Hà Nam Art 5.2.a
    assert ha["employeeNumber"] == ["HN-1"]
    assert ha["displayName"] == ["Nguyễn Thị Thanh Hà - Sở Thông tin và Truyền thông"]
    assert ha["congvuMustChangePassword"] == ["TRUE"]  # Hà Nam Art 8.2.a
    assert ha["pwdReset"] == ["TRUE"]  # the signal IMAP, POP3, SMTP AUTH and the webmail honour
    assert ha["userPassword"] == [PASSWORD_PLACEHOLDER]
    assert ha["congvuPosition"] == ["Chuyên viên"]
    assert ha["congvuMailQuota"] == ["2000000000"]  # Hà Nam Art 8.1.b: 2 GB
    an = directory.entries[f"uid=tranvanan,o=pttbcxb,o=stttt,{base}"]
    assert an["congvuOrganisationDN"] == [f"o=pttbcxb,o=stttt,{base}"]
    unit_box = directory.entries[f"uid=pttbcxb.stttt,o=pttbcxb,o=stttt,{base}"]  # Hà Nam Art 5.1.d
    assert unit_box["congvuMailboxClass"] == ["unit"]
    admins = directory.entries[f"cn=admins,o=stttt,{base}"]
    assert admins["member"] == [f"uid=nguyenvanhung,o=stttt,{base}"]  # Gia Lai Art 5.2 model
    nobody = "cn=nobody,ou=groups,dc=hanam,dc=gov,dc=vn"  # the openldap role's placeholder
    assert directory.entries[f"cn=admins,o=sldtbxh,{base}"]["member"] == [nobody]
    kinds = {c["kind"] for c in result.created}
    assert kinds == {"organisation", "mailbox", "person"}
    assert {c["key"] for c in result.credentials} >= {"HN-1", "HN-2", "HN-3", "org:stttt"}
    assert {c["role"] for c in result.credentials if c["key"] == "HN-2"} == {"admin"}
    assert not result.pending


def test_unchanged_reapply_and_reordered_roster_plan_nothing(hanam):
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    again = run(hanam, directory, roster(*PEOPLE), now=LATER)
    assert again.changes == []
    reordered = run(hanam, directory, roster(*reversed(PEOPLE)), now=LATER)
    assert reordered.changes == []
    assert reordered.summary()["operations"] == 0


@pytest.mark.parametrize("hand_made_first", [False, True])
def test_a_second_mailbox_naming_the_organisation_is_left_alone(hanam, hand_made_first):
    """An agency-class entry an admin (or a test) made for an organisation that already has its own
    mailbox: the roster keeps converging the real one and never writes the organisation's address on
    the other (the unique overlay would refuse it at commit and abort the transaction, a path on which
    slapd 2.5 crashed once: docs/accounts.md). Whatever order the search returns them in."""
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    base = "ou=organisations,dc=hanam,dc=gov,dc=vn"
    extra_dn = f"uid=hopthu-rieng,o=stttt,{base}"
    extra = {"objectClass": ["inetOrgPerson", "congvuMailAccount"], "uid": ["hopthu-rieng"],
             "cn": ["Hộp thư riêng"], "sn": ["Hộp thư riêng"], "mail": ["hopthu-rieng@hanam.gov.vn"],
             "congvuMailboxClass": ["agency"], "congvuOrganisationDN": [f"o=stttt,{base}"]}
    if hand_made_first:
        directory.entries = {extra_dn: extra, **directory.entries}
    else:
        directory.entries[extra_dn] = extra
    again = run(hanam, directory, roster(*PEOPLE), now=LATER)
    assert again.changes == [], [(c.op, c.dn) for c in again.changes]
    assert again.summary()["unmanaged"] == 1
    assert directory.entries[extra_dn]["mail"] == ["hopthu-rieng@hanam.gov.vn"]


def test_file_order_does_not_decide_who_gets_the_plain_address(hanam):
    twins = (person("B", "Lê Văn Nam", "stttt"), person("A", "Lê Văn Nam", "sldtbxh"))
    one, two = Directory(), Directory()
    run(hanam, one, roster(*twins))
    run(hanam, two, roster(*reversed(twins)))
    mails = lambda d: sorted(e["mail"][0] for e in d.entries.values() if e.get("employeeNumber"))  # noqa: E731
    assert mails(one) == mails(two)


def test_new_namesake_in_another_agency_gets_the_clash_code(hanam):
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    newcomer = person("HN-9", "Nguyễn Văn Hùng", "sldtbxh", birth="1970-01-01")
    result = run(hanam, directory, roster(*PEOPLE, newcomer))
    # Hà Nam Art 5.2.b: the later namesake gets .<two-letter code of the agency>
    assert [c["mail"] for c in result.created] == ["nguyenvanhung.ld@hanam.gov.vn"]
    assert len(result.changes) == 1


def test_changed_attributes_are_updated_and_the_address_never_changes(hanam):
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    promoted = dataclasses.replace(PEOPLE[0], position="Phó Giám đốc")
    renamed = dataclasses.replace(PEOPLE[2], name="Trần Văn Ân", org="sldtbxh")
    result = run(hanam, directory, roster(promoted, PEOPLE[1], renamed), now=LATER)
    by_key = {c["key"]: c for c in result.changed}
    assert by_key["HN-1"]["attributes"] == ["congvuPosition"]
    assert set(by_key["HN-3"]["attributes"]) == {"cn", "congvuOrganisationDN", "displayName", "givenName",
                                                 "dn", "o", "ou"}
    moved = directory.entries["uid=tranvanan,o=sldtbxh,ou=organisations,dc=hanam,dc=gov,dc=vn"]
    assert moved["mail"] == ["tranvanan@hanam.gov.vn"]
    assert moved["displayName"] == ["Trần Văn Ân - Sở Lao động - Thương binh và Xã hội"]
    # the address book shows the new agency, and no unit any more (ou replaced by nothing: deleted)
    assert moved["o"] == ["Sở Lao động - Thương binh và Xã hội"]
    assert "ou" not in moved
    [modify] = [c for c in result.changes if c.op == "modify" and c.key == "HN-3"]
    assert modify.attrs["ou"] == [] and modify.before["ou"] == ["Phòng Thông tin - Báo chí - Xuất bản"]
    assert run(hanam, directory, roster(promoted, PEOPLE[1], renamed)).changes == []


STTTT = "Sở Thông tin và Truyền thông"
PTTBCXB = "Phòng Thông tin - Báo chí - Xuất bản"


def test_people_carry_their_agency_in_o_and_their_unit_in_ou(hanam):
    # Roundcube's address book ("Danh bạ") maps o to the organisation and ou to the department.
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    base = "ou=organisations,dc=hanam,dc=gov,dc=vn"
    ha = directory.entries[f"uid=nguyenthithanhha,o=stttt,{base}"]  # agency level: no unit
    assert ha["o"] == [STTTT]
    assert "ou" not in ha
    an = directory.entries[f"uid=tranvanan,o=pttbcxb,o=stttt,{base}"]  # in a unit of the agency
    assert an["o"] == [STTTT]
    assert an["ou"] == [PTTBCXB]
    # organisation mailboxes keep o = their code (the key organisations are found by), not a name
    assert directory.entries[f"o=stttt,{base}"]["o"] == ["stttt"]
    assert "ou" not in directory.entries[f"uid=stttt,o=stttt,{base}"]
    # a commune's people: their commune is the agency (the district is not a unit)
    run(hanam, directory, roster(*PEOPLE, person("TS-1", "Lê Văn Tiến", "tienson")))
    [tien] = [e for e in directory.entries.values() if e.get("employeeNumber") == ["TS-1"]]
    assert tien["o"] == [hanam[1].catalogue["tienson"].name]
    assert "ou" not in tien


def test_directory_without_o_and_ou_gets_them_on_the_next_run(hanam):
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    for entry in directory.entries.values():  # as written before people carried o/ou
        if entry.get("employeeNumber"):
            entry.pop("o")
            entry.pop("ou", None)
    result = run(hanam, directory, roster(*PEOPLE), now=LATER)
    assert all(c.op == "modify" and c.kind == "person" for c in result.changes)
    assert {c["key"]: c["attributes"] for c in result.changed} == {
        "HN-1": ["o"], "HN-2": ["o"], "HN-3": ["o", "ou"]}
    assert {c.key: c.attrs for c in result.changes}["HN-3"] == {"o": [STTTT], "ou": [PTTBCXB]}
    assert not result.created and not result.leaving
    assert run(hanam, directory, roster(*PEOPLE), now=LATER).changes == []


def test_renamed_agency_updates_o_of_its_people_and_units(hanam):
    import yaml

    policy, _ = hanam
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    data = yaml.safe_load((ROOT / "data/catalogues/hanam.yml").read_text(encoding="utf-8"))
    renamed_name = "Sở Khoa học, Công nghệ và Thông tin"
    for org in data["organisations"]:
        if org["code"] == "stttt":
            org["name"] = renamed_name
    renamed = (policy, make_scheme(policy["naming"], load_catalogue(data)))
    result = run(renamed, directory, roster(*PEOPLE), now=LATER)
    people = {c["key"]: c["attributes"] for c in result.changed if c["kind"] == "person"}
    assert people == {"HN-1": ["displayName", "o"], "HN-2": ["displayName", "o"],
                      "HN-3": ["displayName", "o"]}  # the unit's name (ou) did not change
    base = "ou=organisations,dc=hanam,dc=gov,dc=vn"
    an = directory.entries[f"uid=tranvanan,o=pttbcxb,o=stttt,{base}"]
    assert an["o"] == [renamed_name] and an["ou"] == [PTTBCXB]
    assert an["mail"] == ["tranvanan@hanam.gov.vn"]  # the address never changes
    assert run(renamed, directory, roster(*PEOPLE), now=LATER).changes == []


def test_the_district_tier_removed_rehomes_communes_and_reports_the_districts(hanam):
    """Issue 16 item 3, the 2025 reform (docs/restructuring.md, "Re-homing communes"): the catalogue
    drops the districts and their units, its communes attach to the province with clash codes of their
    own (Hà Nam Art 5.2.b). Each commune's mailbox takes the address the scheme now gives and keeps the
    old one as an alias; people moved to a commune keep their address (Hà Nam does not re-address a
    move) and their mailbox; the dissolved districts are reported with their mailboxes (still
    delivered) and the accounts left under them, and nothing of them is changed or deleted."""
    import yaml

    policy, _ = hanam
    base = "ou=organisations,dc=hanam,dc=gov,dc=vn"
    before = (person("HN-1", "Nguyễn Văn Hùng", "tienson"), person("HN-2", "Trần Thị Mai", "kimbang"),
              person("HN-3", "Lê Văn Tám", "ptp-binhluc"), person("HN-4", "Phạm Thu Hà", "kimbang"))
    directory = Directory()
    run(hanam, directory, roster(*before))
    data = yaml.safe_load((ROOT / "data/catalogues/hanam.yml").read_text(encoding="utf-8"))
    districts = {o["code"] for o in data["organisations"] if o["kind"] == "district"}
    kept = []
    for org in data["organisations"]:
        if org["kind"] == "district" or (org.get("parent") in districts and org["kind"] == "unit"):
            continue
        if org["kind"] == "commune":
            org = {k: v for k, v in org.items() if k != "parent"} | {"clash_code": org["code"][:1] + "x"}
        kept.append(org)
    reformed = (policy, make_scheme(policy["naming"], load_catalogue({**data, "organisations": kept})))
    # HN-4 leaves with the district (not on the new rosters); the others work for the commune
    after = (person("HN-1", "Nguyễn Văn Hùng", "tienson"), person("HN-2", "Trần Thị Mai", "tienson"),
             person("HN-3", "Lê Văn Tám", "tienson"))
    district = {dn: copy.deepcopy(e) for dn, e in directory.entries.items()
                if dn.endswith(f"o=kimbang,{base}") and "tranthimai" not in dn and "phamthuha" not in dn}
    result = run(reformed, directory, roster(*after), now=LATER)
    commune = directory.entries[f"uid=ubndtienson.dt,o=tienson,{base}"]
    assert commune["mail"] == ["ubndtienson@hanam.gov.vn"]  # Hà Nam Art 5.1.c, no district to add
    assert commune["congvuMailAlias"] == ["ubndtienson.dt@hanam.gov.vn"]  # still delivered
    mai = directory.entries[f"uid=tranthimai,o=tienson,{base}"]
    assert mai["mail"] == ["tranthimai@hanam.gov.vn"]  # so the same mailbox (its path is the address)
    assert f"uid=levantam,o=tienson,{base}" in directory.entries
    assert [c["mail"] for c in result.leaving] == ["phamthuha@hanam.gov.vn"]
    assert {"from": "ubndtienson.dt@hanam.gov.vn", "to": "ubndtienson@hanam.gov.vn"} in result.logins
    dissolved = {d["code"]: d for d in result.dissolved}
    assert sorted(dissolved) == ["binhluc", "duytien", "kimbang", "ptp-binhluc", "thanhliem"]
    assert dissolved["kimbang"] == {"dn": f"o=kimbang,{base}", "code": "kimbang",
                                    "name": "Ủy ban nhân dân huyện Kim Bảng",
                                    "mailboxes": ["ubndkb@hanam.gov.vn"], "accounts": 1}  # the leaver
    assert dissolved["ptp-binhluc"]["mailboxes"] == ["ptp.bl@hanam.gov.vn"]
    assert dissolved["ptp-binhluc"]["accounts"] == 0  # Lê Văn Tám moved out
    assert result.summary()["dissolved"] == 5
    assert len(district) == 3  # Kim Bảng's entry, its mailbox and its admin group: unchanged
    assert {dn: directory.entries[dn] for dn in district} == district
    again = run(reformed, directory, roster(*after), now=LATER)
    assert again.changes == [] and len(again.dissolved) == 5


def test_missing_person_is_marked_leaving_once_then_returns(hanam):
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    gone = run(hanam, directory, roster(*PEOPLE[:2]), now=LATER)
    assert [(c["key"], c["mail"]) for c in gone.leaving] == [("HN-3", "tranvanan@hanam.gov.vn")]
    entry = directory.entries["uid=tranvanan,o=pttbcxb,o=stttt,ou=organisations,dc=hanam,dc=gov,dc=vn"]
    assert entry["congvuLeavingSince"] == [LATER]
    assert run(hanam, directory, roster(*PEOPLE[:2])).changes == []  # not deleted, not re-marked
    # a newcomer cannot take the leaver's address
    other = run(hanam, directory, roster(*PEOPLE[:2], person("HN-7", "Trần Văn An", "pttbcxb", "1999-09-09")))
    assert other.created[0]["mail"] != "tranvanan@hanam.gov.vn"
    back = run(hanam, directory, roster(*PEOPLE))
    assert [c["key"] for c in back.returning] == ["HN-3"]
    assert "congvuLeavingSince" not in entry


def test_fourth_namesake_waits_for_the_operator_then_takes_the_approved_address(cantho):
    names = [person(f"CT-{i}", "Nguyễn Văn Minh", "snv", birth=f"198{i}-01-01") for i in range(1, 5)]
    directory = Directory()
    first = run(cantho, directory, roster(*names))
    # Cần Thơ Art 4.2.c: nvminh, nvanminh, nguyenvanminh, then the operator chooses
    assert sorted(c["mail"] for c in first.created if c["kind"] == "person") == [
        "nguyenvanminh@cantho.gov.vn", "nvanminh@cantho.gov.vn", "nvminh@cantho.gov.vn"]
    [case] = first.pending
    assert case["person_id"] == "CT-4" and case["suggestion"].endswith("@cantho.gov.vn")
    assert case["where"] == "test.csv:CT-4"
    assert not any(c.key == "CT-4" for c in first.changes)
    still = run(cantho, directory, roster(*names))
    assert still.pending and still.changes == []
    done = run(cantho, directory, roster(*names), overrides={"CT-4": "minhnv.snv"})
    assert [c["mail"] for c in done.created] == ["minhnv.snv@cantho.gov.vn"]
    assert not done.pending


def test_check_mode_diff_never_shows_a_password(hanam):
    result = plan(policy=hanam[0], scheme=hanam[1], roster=roster(*PEOPLE), current=[], now=NOW)
    text = "".join(c.as_ldif()[1] for c in result.changes)
    assert "userPassword: (initial password, not shown)" in text
    assert "{CRYPT}" not in text


def test_organisation_dns_nest_units_only(hanam):
    dns = org_dns(hanam[1].catalogue, "dc=hanam,dc=gov,dc=vn")
    assert dns["pttbcxb"] == "o=pttbcxb,o=stttt,ou=organisations,dc=hanam,dc=gov,dc=vn"
    assert dns["tienson"] == "o=tienson,ou=organisations,dc=hanam,dc=gov,dc=vn"


@pytest.mark.parametrize("province,role", [("hanam", "user"), ("gialai", "user"), ("ninhbinh", "admin"),
                                           ("cantho", "organisation")])
def test_derived_initial_passwords_meet_the_policy(province, role):
    policy = load_policy(ROOT / f"policies/{province}.yml")
    passwords = {derive_password(SECRET, f"id-{i}", policy, role) for i in range(200)}
    assert len(passwords) == 200
    assert all(not password_violations(p, policy, role) for p in passwords)
    assert derive_password(SECRET, "id-1", policy, role) == derive_password(SECRET, "id-1", policy, role)
    assert derive_password(SECRET, "id-1", policy, role) != derive_password("t" * 40, "id-1", policy, role)


def test_short_secret_is_refused(hanam):
    with pytest.raises(ReconcileError):
        derive_password("short", "x", hanam[0])


def test_organisations_placed_by_the_openldap_role_stay_where_they_are(hanam):
    directory = Directory()
    base = "ou=organisations,dc=hanam,dc=gov,dc=vn"
    # the role nested the commune under its district (openldap_organisations parent)
    directory.entries[f"o=duytien,{base}"] = {"objectClass": ["organization", "congvuOrganisation"],
                                              "o": ["duytien"]}
    directory.entries[f"o=tienson,o=duytien,{base}"] = {"objectClass": ["organization", "congvuOrganisation"],
                                                        "o": ["tienson"]}
    result = run(hanam, directory, roster(person("TS-1", "Lê Văn Tiến", "tienson")),
                 manage_organisations=False)
    assert f"uid=levantien,o=tienson,o=duytien,{base}" in directory.entries
    assert not any(c.op == "modify" and c.kind == "organisation" for c in result.changes)
    # its people's credentials go to the top-level organisation's focal person, whose admins manage it
    assert {c["agency"] for c in result.credentials if c["key"] == "TS-1"} == {"duytien"}


def test_overrides_file_keeps_operator_entries_and_adds_new_cases():
    import yaml

    from congvu.reconcile import approved_overrides, merge_overrides

    current = {"overrides": {"CT-4": {"address": "minhnv.snv@cantho.gov.vn", "approved": True}}}
    pending = [{"person_id": "CT-4", "suggestion": "x@cantho.gov.vn"},
               {"person_id": "CT-9", "full_name": "Nguyễn Văn Minh", "org": "snv", "reason": "fourth",
                "rule": "Cần Thơ Art 4", "suggestion": "nguyenvanminh2@cantho.gov.vn", "where": "snv.csv:9"}]
    text = merge_overrides(current, pending)
    assert text.startswith("# Operator-chosen addresses")
    data = yaml.safe_load(text)
    assert data["overrides"]["CT-4"] == {"address": "minhnv.snv@cantho.gov.vn", "approved": True}
    assert data["overrides"]["CT-9"]["approved"] is False
    assert data["overrides"]["CT-9"]["name"] == "Nguyễn Văn Minh"
    assert approved_overrides(data) == {"CT-4": "minhnv.snv@cantho.gov.vn"}


def test_initial_credentials_per_agency_match_the_hashed_passwords(hanam):
    from congvu.reconcile import initial_credentials

    result = plan(policy=hanam[0], scheme=hanam[1], roster=roster(*PEOPLE), current=[], now=NOW)
    files = initial_credentials(result.credentials, SECRET, hanam[0])
    stttt = {a["Địa chỉ thư"]: a for a in files["stttt"]}
    expected = derive_password(SECRET, "HN-1", hanam[0])
    assert stttt["nguyenthithanhha@hanam.gov.vn"]["Mật khẩu ban đầu"] == expected
    assert stttt["nguyenvanhung@hanam.gov.vn"]["Loại tài khoản"] == "quản trị đơn vị"
    assert "tranvanan@hanam.gov.vn" in stttt  # a unit's people go to their agency's file


def test_a_reserved_address_is_never_issued_again(hanam):
    # issue 12 item 3: an address the lifecycle took out of service (a dropped alias, kept in
    # congvuReservedAddress of the old holder's entry) counts as taken, like a retired account's.
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    holder = next(dn for dn, e in directory.entries.items() if e.get("mail") == ["tranvanan@hanam.gov.vn"])
    directory.entries[holder]["congvuReservedAddress"] = ["nguyenvanbinh@hanam.gov.vn"]
    result = run(hanam, directory, roster(*PEOPLE, person("HN-7", "Nguyễn Văn Bình", "sldtbxh")))
    assert [c["mail"] for c in result.created] != ["nguyenvanbinh@hanam.gov.vn"]
    assert len(result.created) == 1 and result.created[0]["mail"].startswith("nguyenvanbinh.")


def by_mail(directory: Directory, address: str) -> dict:
    """The account (not the organisation entry, which names its mailbox's address too) of ``address``."""
    return next(e for e in directory.entries.values()
                if e.get("mail") == [address] and "congvuMailAccount" in e.get("objectClass", []))


def test_roster_aliases_reach_the_account_and_are_never_issued_to_anybody_else(hanam):
    # issue 16: the "Bí danh" of a roster (addresses kept from a former system) become aliases of the
    # new account, are added later to an existing one, and are taken for the naming of everybody else
    directory = Directory()
    kept = person("HN-8", "Lê Văn Tám", aliases=("nguyenvanbinh@hanam.gov.vn", "tam.lv@hanam.gov.vn"))
    result = run(hanam, directory, roster(*PEOPLE, kept, person("HN-9", "Nguyễn Văn Bình", "sldtbxh")))
    by_key = {c["key"]: c.get("mail") for c in result.created if c["kind"] == "person"}
    assert by_key["HN-8"] == "levantam@hanam.gov.vn"
    assert by_key["HN-9"].startswith("nguyenvanbinh.")  # the plain address is Tám's alias
    entry = by_mail(directory, "levantam@hanam.gov.vn")
    assert entry["congvuMailAlias"] == ["nguyenvanbinh@hanam.gov.vn", "tam.lv@hanam.gov.vn"]
    # a later roster adds one; none is removed when the roster forgets them
    later = dataclasses.replace(kept, aliases=("tam@hanam.gov.vn",))
    run(hanam, directory, roster(*PEOPLE, later, person("HN-9", "Nguyễn Văn Bình", "sldtbxh")))
    assert by_mail(directory, "levantam@hanam.gov.vn")["congvuMailAlias"] == [
        "nguyenvanbinh@hanam.gov.vn", "tam.lv@hanam.gov.vn", "tam@hanam.gov.vn"]
    again = run(hanam, directory, roster(*PEOPLE, later, person("HN-9", "Nguyễn Văn Bình", "sldtbxh")))
    assert again.changes == []


def test_roster_aliases_in_use_elsewhere_or_unserved_stop_the_run_naming_each(hanam):
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    before = copy.deepcopy(directory.entries)
    bad = (person("HN-8", "Lê Văn Tám", aliases=("tranvanan@hanam.gov.vn", "tam@ninhbinh.gov.vn",
                                                 "tam@hanam.gov.vn")),
           person("HN-9", "Lê Văn Chín", aliases=("tam@hanam.gov.vn",)))
    with pytest.raises(ReconcileError) as info:
        run(hanam, directory, roster(*PEOPLE, *bad))
    text = str(info.value)
    assert "3 alias(es) cannot be given" in text
    assert "test.csv:HN-8: Bí danh tranvanan@hanam.gov.vn is already in use by uid=tranvanan," in text
    assert "test.csv:HN-8: Bí danh tam@ninhbinh.gov.vn: @ninhbinh.gov.vn is not a domain served here" in text
    assert "test.csv:HN-9: Bí danh tam@hanam.gov.vn is also given at test.csv:HN-8: Bí danh" in text
    assert directory.entries == before


def test_the_aliases_file_is_checked_like_the_roster_s_aliases(hanam):
    # accounts_aliases_file (primary address -> further addresses): applied to organisation mailboxes
    # and people, and refused whole when an alias is someone else's, unserved, or given twice
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    run(hanam, directory, roster(*PEOPLE), aliases={"stttt@hanam.gov.vn": ["sotttt@hanam.gov.vn"]})
    assert by_mail(directory, "stttt@hanam.gov.vn")["congvuMailAlias"] == ["sotttt@hanam.gov.vn"]
    before = copy.deepcopy(directory.entries)
    with pytest.raises(ReconcileError) as info:
        run(hanam, directory, roster(*PEOPLE), aliases={
            "stttt@hanam.gov.vn": ["tranvanan@hanam.gov.vn", "x@gmail.com"],
            "tranvanan@hanam.gov.vn": ["sotttt@hanam.gov.vn"]})
    text = str(info.value)
    assert "3 alias(es) cannot be given" in text
    assert "aliases file: stttt@hanam.gov.vn: alias tranvanan@hanam.gov.vn is already in use by uid=" in text
    assert "alias x@gmail.com: @gmail.com is not a domain served here" in text
    assert ("aliases file: tranvanan@hanam.gov.vn: alias sotttt@hanam.gov.vn is already in use by uid=stttt,"
            in text)
    assert directory.entries == before


def test_a_new_person_s_alias_in_both_inputs_is_theirs_and_new_mailboxes_addresses_are_taken(hanam):
    # the same alias from the roster and the aliases file for one new person is no clash; an alias
    # equal to an organisation mailbox's address made in the same run is
    directory = Directory()
    tam = person("HN-8", "Lê Văn Tám", address="tam.lv", aliases=("tam.old@hanam.gov.vn",))
    run(hanam, directory, roster(*PEOPLE, tam), aliases={"tam.lv@hanam.gov.vn": ["tam.old@hanam.gov.vn"]})
    assert by_mail(directory, "tam.lv@hanam.gov.vn")["congvuMailAlias"] == ["tam.old@hanam.gov.vn"]
    fresh = Directory()
    with pytest.raises(ReconcileError, match=r"Bí danh stttt@hanam.gov.vn is already in use by the mailbox "
                                             r"of stttt"):
        run(hanam, fresh, roster(*PEOPLE, person("HN-9", "Lê Văn Chín", aliases=("stttt@hanam.gov.vn",))))
    assert fresh.entries == {}


def test_deletions_are_kept_out_of_ldap_transactions():
    # slapd 2.5.13 fails a transaction holding a delete at commit (MDB_NOTFOUND, seen with the lifecycle
    # run's request entries): Directory.apply writes the rest in transactions, in order, then deletes.
    from congvu.reconcile import Change

    changes = [Change("modify", "uid=a", "lifecycle", "a"), Change("delete", "cn=r1", "request", "a"),
               Change("add", "uid=b", "person", "b"), Change("delete", "cn=r2", "request", "b"),
               Change("move", "uid=c", "person", "c", new_dn="uid=c2")]
    held, after = transaction_order(changes)
    assert [c.dn for c in held] == ["uid=a", "uid=b", "uid=c"]
    assert [c.dn for c in after] == ["cn=r1", "cn=r2"]


# --- transfers (issue 12 item 7) ----------------------------------------------------------------------

GL = "ou=organisations,dc=gialai,dc=gov,dc=vn"


def test_a_transfer_gets_the_new_agency_s_address_and_keeps_mailbox_and_old_address(gialai):
    # Gia Lai Art 4.2.a: the address carries the agency's subdomain; Art 5.3: a move ends the old
    # agency's account. The old address stays deliverable (transfer_alias_keep: null, for good) and the
    # mailbox stays where it is: nothing is lost.
    directory = Directory()
    mover = person("GL-1", "Nguyễn Văn Minh", "skhcn")
    run(gialai, directory, roster(mover))
    dn = f"uid=minhnv,o=skhcn,{GL}"
    assert directory.entries[dn]["mail"] == ["minhnv@skhcn.gialai.gov.vn"]
    moved = dataclasses.replace(mover, org="dakpo")
    result = run(gialai, directory, roster(moved), now=LATER)
    entry = directory.entries[f"uid=minhnv,o=dakpo,{GL}"]
    assert entry["mail"] == ["minhnv@dakpo.gialai.gov.vn"]
    assert entry["congvuMailAlias"] == ["minhnv@skhcn.gialai.gov.vn"]
    assert entry["congvuMailHome"] == ["/var/vmail/skhcn.gialai.gov.vn/minhnv"]
    assert "congvuLifecycle" in entry["objectClass"]
    assert "congvuExpiringAlias" not in entry
    assert result.transferred == [{"key": "GL-1", "name": "Nguyễn Văn Minh", "org": "dakpo",
                                   "from": "minhnv@skhcn.gialai.gov.vn",
                                   "mail": "minhnv@dakpo.gialai.gov.vn"}]
    # the webmail carries the user over to the new login (docs/webmail.md), in this run and after it
    pair = {"from": "minhnv@skhcn.gialai.gov.vn", "to": "minhnv@dakpo.gialai.gov.vn"}
    assert result.logins == [pair]
    # done once: the next apply has nothing to do
    again = run(gialai, directory, roster(moved), now=LATER)
    assert again.changes == [] and again.logins == [pair]
    # the old address is not issued to a namesake who joins the old agency
    namesake = person("GL-2", "Nguyễn Văn Minh", "skhcn", birth="1990-01-01")
    run(gialai, directory, roster(moved, namesake), now=LATER)
    [new] = [e for e in directory.entries.values() if e.get("employeeNumber") == ["GL-2"]]
    assert new["mail"] != ["minhnv@skhcn.gialai.gov.vn"]


def test_a_transfer_alias_expires_when_the_policy_says(gialai):
    policy, scheme = gialai
    keeping = {**policy, "lifecycle": {**policy["lifecycle"], "transfer_alias_keep": 90}}
    directory = Directory()
    mover = person("GL-1", "Nguyễn Văn Minh", "skhcn")
    run((keeping, scheme), directory, roster(mover))
    run((keeping, scheme), directory, roster(dataclasses.replace(mover, org="pleiku")), now=LATER,
        mail_home="/srv/vmail/")
    entry = directory.entries[f"uid=minhnv,o=pleiku,{GL}"]
    # 90 days after 2026-12-01; the lifecycle run's drop_alias retires it then (docs/lifecycle.md)
    assert entry["congvuExpiringAlias"] == ["minhnv@skhcn.gialai.gov.vn 20270301"]
    assert entry["congvuMailHome"] == ["/srv/vmail/skhcn.gialai.gov.vn/minhnv"]
    # the lifecycle run reads it back as the day it stops delivering the alias
    stamped = {dn: {**e, "createTimestamp": [NOW]} for dn, e in directory.entries.items()}  # slapd's own
    entries = [(dn, {k: [v.encode() for v in values] for k, values in e.items()})
               for dn, e in stamped.items()]
    [account] = [a for a in snapshot(entries).accounts if a.mail == "minhnv@pleiku.gialai.gov.vn"]
    assert [(alias, str(until)) for alias, until in account.expiring_aliases] == [
        ("minhnv@skhcn.gialai.gov.vn", "2027-03-01")]


def test_a_move_inside_the_agency_or_where_addresses_do_not_carry_it_keeps_the_address(gialai, hanam):
    directory = Directory()
    mover = person("GL-1", "Nguyễn Văn Minh", "skhcn")
    run(gialai, directory, roster(mover))
    result = run(gialai, directory, roster(dataclasses.replace(mover, org="ttcds")), now=LATER)
    assert result.transferred == []
    assert directory.entries[f"uid=minhnv,o=ttcds,o=skhcn,{GL}"]["mail"] == ["minhnv@skhcn.gialai.gov.vn"]
    # Hà Nam Art 5.2: one domain, the address does not name the agency (transfer_readdress: false)
    directory = Directory()
    run(hanam, directory, roster(PEOPLE[0]))
    result = run(hanam, directory, roster(dataclasses.replace(PEOPLE[0], org="sldtbxh")), now=LATER)
    assert result.transferred == []


def test_former_logins_follow_a_second_move_and_lists_are_not_logins(gialai):
    # Gia Lai Art 5.3 twice: skhcn -> dakpo -> pleiku. Both former addresses lead to the last login;
    # a list's alias is not a login (docs/webmail.md, "When an address changes").
    directory = Directory()
    mover = person("GL-1", "Nguyễn Văn Minh", "skhcn")
    run(gialai, directory, roster(mover))
    run(gialai, directory, roster(dataclasses.replace(mover, org="dakpo")), now=LATER)
    directory.entries[f"cn=hop,o=skhcn,{GL}"] = {"objectClass": ["congvuMailList"], "cn": ["hop"],
                                                "mail": ["hop.skhcn@skhcn.gialai.gov.vn"],
                                                "congvuMailAlias": ["hop@skhcn.gialai.gov.vn"]}
    result = run(gialai, directory, roster(dataclasses.replace(mover, org="pleiku")), now=LATER)
    assert result.logins == [{"from": "minhnv@dakpo.gialai.gov.vn", "to": "minhnv@pleiku.gialai.gov.vn"},
                             {"from": "minhnv@skhcn.gialai.gov.vn", "to": "minhnv@pleiku.gialai.gov.vn"}]
