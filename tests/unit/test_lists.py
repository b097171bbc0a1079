"""Agency mailing lists kept from the roster (docs/lists.md, "Lists kept from the roster";
Cần Thơ Art 11.5: each agency's lists are managed and tightly controlled by the agency's mailbox or a
person its head authorises): the list naming rule of every scheme, the lists file's loader, and the
roster apply's plan of lists against an in-memory directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fakedirectory import Directory

from congvu.lifecycle_dir import _list_changes, snapshot
from congvu.lists import ListsError, load_lists
from congvu.naming import make_scheme
from congvu.orgs import load_catalogue
from congvu.policy import load_policy
from congvu.reconcile import ReconcileError, plan
from congvu.roster import Person, Roster

ROOT = Path(__file__).resolve().parents[2]
NOW = "20261204080000Z"
LATER = "20261211080000Z"
BASE = "ou=organisations,dc=hanam,dc=gov,dc=vn"
STTTT = f"o=stttt,{BASE}"
PTTBCXB = f"o=pttbcxb,{STTTT}"


def env(province: str):
    policy = load_policy(ROOT / "policies" / f"{province}.yml")
    catalogue = load_catalogue(ROOT / "data" / "catalogues" / f"{province}.yml")
    return policy, make_scheme(policy["naming"], catalogue)


@pytest.fixture(scope="module")
def hanam():
    return env("hanam")


def person(pid: str, name: str, org: str = "stttt", birth: str = "1985-03-12") -> Person:
    return Person(id=pid, name=name, birth_date=birth, org=org, where=f"test.csv:{pid}")


PEOPLE = (
    person("HN-1", "Nguyễn Thị Thanh Hà"),
    person("HN-2", "Nguyễn Văn Hùng"),
    person("HN-3", "Trần Văn An", "pttbcxb"),
    person("HN-4", "Lê Thị Lan", "sldtbxh"),
)
HA, HUNG = f"uid=nguyenthithanhha,{STTTT}", f"uid=nguyenvanhung,{STTTT}"
AN, LAN = f"uid=tranvanan,{PTTBCXB}", f"uid=lethilan,o=sldtbxh,{BASE}"


def roster(*people: Person) -> Roster:
    return Roster({p.id: p for p in people}, ["test.csv"])


LISTS = """\
lists:
  - name: toanso
    organisation: stttt
    display_name: Toàn thể cán bộ Sở Thông tin và Truyền thông
    accept: organisation
    owners: [agency]
    members:
      organisations: [stttt]
  - name: lanhdao
    organisation: stttt
    display_name: Lãnh đạo Sở
    owners: [agency, HN-1]
"""


def lists(env_, text: str = LISTS, people: Roster | None = None):
    return load_lists(text, "lists.yml", env_[1], people or roster(*PEOPLE))


def run(env_, directory: Directory, people: Roster, text: str | None = LISTS, now: str = NOW):
    policy, scheme = env_
    result = plan(policy=policy, scheme=scheme, roster=people, current=directory.current(), now=now,
                  lists=lists(env_, text, people) if text is not None else None)
    directory.apply(result.changes)
    return result


def problems(env_, text: str, people: Roster | None = None) -> list[str]:
    with pytest.raises(ListsError) as caught:
        lists(env_, text, people)
    return caught.value.problems


# --- the lists file -----------------------------------------------------------------------------

def test_the_demo_lists_file_loads(hanam):
    from congvu.roster import load_rosters

    people = load_rosters(sorted((ROOT / "data/demo/hanam/rosters").iterdir()), hanam[1].catalogue)
    found = load_lists((ROOT / "data/demo/hanam/lists.yml").read_bytes(), "data/demo/hanam/lists.yml",
                       hanam[1], people)
    kept = {spec.address: spec.members for spec in found}
    assert set(kept) == {"toanso.stttt@hanam.gov.vn", "giaoban.sldtbxh@hanam.gov.vn"}
    assert kept["toanso.stttt@hanam.gov.vn"].organisations == ("stttt",)  # kept by the roster
    assert kept["giaoban.sldtbxh@hanam.gov.vn"] is None  # kept by the agency


def test_an_address_is_refused_with_the_reason(hanam):
    [problem] = problems(hanam, "lists:\n  - name: toanso\n    organisation: stttt\n"
                                "    display_name: Toàn sở\n    address: toanso@hanam.gov.vn\n")
    assert problem.startswith("lists.yml:2: lists[0] (toanso): 'address' is not accepted")
    assert "naming scheme" in problem


def test_every_problem_is_reported_with_file_line_entry_and_rule(hanam):
    text = """\
lists:
  - name: Toàn sở
    organisation: stttt
    display_name: Toàn sở
  - organisation: khongco
    display_name: X
    colour: blue
  - name: toanso
    organisation: stttt
    display_name: Toàn sở
    accept: thanhvien
    senders: [not-an-address]
    owners: [HN-99]
    members:
      people: [HN-1, HN-98]
      organisations: [khongco]
      lists: [khongco]
      groups: [x]
  - name: toanso
    organisation: stttt
    display_name: Lần hai
extra: 1
"""
    with pytest.raises(ListsError) as caught:
        lists(hanam, text)
    found = caught.value.problems
    assert str(caught.value).endswith("[Cần Thơ Art 11.5]")
    expected = [
        "lists.yml:1: unknown top-level key 'extra'",  # the line of the file's top mapping
        "lists.yml:2: lists[0] (Toàn sở): the list name 'Toàn sở' must be lower-case ASCII",
        "lists.yml:5: lists[1]: unknown field 'colour'",
        "lists.yml:5: lists[1]: missing 'name'",
        "lists.yml:5: lists[1]: organisation 'khongco' is not a code of the catalogue",
        "lists.yml:8: lists[2] (toanso): accept 'thanhvien' must be one of members, organisation, province, "
        "anyone",
        "lists.yml:8: lists[2] (toanso): senders: 'not-an-address' is not an address",
        "lists.yml:8: lists[2] (toanso): owners: 'HN-99' is neither 'agency' nor a Mã cán bộ of the rosters",
        "lists.yml:8: lists[2] (toanso): members: unknown field 'groups'",
        "lists.yml:8: lists[2] (toanso): members.people: 'HN-98' is not a Mã cán bộ of the rosters",
        "lists.yml:8: lists[2] (toanso): members.organisations: 'khongco' is not a code of the catalogue",
    ]
    for start in expected:
        assert any(p.startswith(start) for p in found), (start, found)


def test_a_list_twice_an_unknown_nested_list_and_a_cycle_are_refused(hanam):
    text = """\
lists:
  - {name: a, organisation: stttt, display_name: A, members: {lists: [b]}}
  - {name: b, organisation: stttt, display_name: B, members: {lists: [a]}}
  - {name: c, organisation: stttt, display_name: C, members: {lists: [khongco, c]}}
  - {name: a, organisation: stttt, display_name: A again}
"""
    found = problems(hanam, text)
    assert any(p.startswith("lists.yml:5: lists[3] (a): the list 'a' of 'stttt' is listed twice (first at "
                            "lists.yml:2") for p in found), found
    assert any("the lists hold each other (a -> b -> a)" in p for p in found), found
    assert any(p.startswith("lists.yml:4: lists[2] (c): members.lists: 'khongco' is not a list of this file")
               for p in found), found
    assert any("a list cannot be its own member" in p for p in found), found


def test_a_nested_list_is_written_before_the_list_holding_it(hanam):
    text = """\
lists:
  - {name: toanso, organisation: stttt, display_name: Toàn sở, members: {lists: [lanhdao, ldp]}}
  - {name: lanhdao, organisation: stttt, display_name: Lãnh đạo, members: {people: [HN-1]}}
  - {name: ldp, organisation: pttbcxb, display_name: Lãnh đạo phòng, members: {people: [HN-3]}}
"""
    found = lists(hanam, text)
    assert [s.name for s in found] == ["lanhdao", "ldp", "toanso"]
    directory = Directory()
    result = run(hanam, directory, roster(*PEOPLE), text)
    adds = [c.dn for c in result.changes if c.kind == "list"]
    assert adds == [f"cn=lanhdao,{STTTT}", f"cn=ldp,{PTTBCXB}", f"cn=toanso,{STTTT}"]
    assert directory.entries[f"cn=toanso,{STTTT}"]["member"] == [f"cn=lanhdao,{STTTT}", f"cn=ldp,{PTTBCXB}"]


def test_an_empty_file_keeps_nothing(hanam):
    assert len(lists(hanam, "---\n")) == 0
    assert len(lists(hanam, "lists: []\n")) == 0


def test_a_file_that_is_not_yaml_names_its_line(hanam):
    [problem] = problems(hanam, "lists:\n  - name: [unclosed\n")
    assert problem.startswith("lists.yml:3: not valid YAML")


# --- the plan ---------------------------------------------------------------------------------

def test_lists_are_added_with_the_scheme_s_address_then_nothing_changes(hanam):
    # Cần Thơ Art 11.5: the list is the agency's, kept by its mailbox and an authorised person
    directory = Directory()
    result = run(hanam, directory, roster(*PEOPLE))
    toanso = directory.entries[f"cn=toanso,{STTTT}"]
    assert toanso["objectClass"] == ["top", "congvuMailList"]
    assert toanso["mail"] == ["toanso.stttt@hanam.gov.vn"]
    assert toanso["displayName"] == ["Toàn thể cán bộ Sở Thông tin và Truyền thông"]
    assert toanso["congvuListAccept"] == ["organisation"]
    assert toanso["owner"] == [f"uid=stttt,{STTTT}"]  # the agency's own mailbox
    assert toanso["member"] == [HA, HUNG, AN]  # the agency and its unit, nobody of sldtbxh
    lanhdao = directory.entries[f"cn=lanhdao,{STTTT}"]
    assert lanhdao["congvuListAccept"] == ["province"]  # docs/lists.md: the default rule
    assert sorted(lanhdao["owner"]) == sorted([HA, f"uid=stttt,{STTTT}"])
    assert "member" not in lanhdao and "congvuListSender" not in lanhdao  # the agency keeps them
    assert {(c["kind"], c["mail"]) for c in result.created if c["kind"] == "list"} == {
        ("list", "toanso.stttt@hanam.gov.vn"), ("list", "lanhdao.stttt@hanam.gov.vn")}
    again = run(hanam, directory, roster(*reversed(PEOPLE)))
    assert again.changes == [] and again.misnamed_lists == []


def test_check_mode_diff_shows_a_list_like_any_entry(hanam):
    policy, scheme = hanam
    result = plan(policy=policy, scheme=scheme, roster=roster(*PEOPLE), current=[], now=NOW,
                  lists=lists(hanam))
    [change] = [c for c in result.changes if c.dn == f"cn=toanso,{STTTT}"]
    before, after = change.as_ldif()
    assert before == "" and "mail: toanso.stttt@hanam.gov.vn" in after and f"member: {AN}" in after


def test_the_file_s_changes_are_applied_and_only_what_it_owns(hanam):
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    # the owners change what the file leaves to them (members of lanhdao, named senders) and what
    # it keeps (the rule of toanso)
    lanhdao, toanso = directory.entries[f"cn=lanhdao,{STTTT}"], directory.entries[f"cn=toanso,{STTTT}"]
    lanhdao["member"] = [HUNG]
    lanhdao["congvuListSender"] = ["vanphong@ubnd.haugiang.gov.vn"]
    toanso["congvuListAccept"] = ["anyone"]
    toanso["description"] = ["Thông báo chung"]
    changed = LISTS.replace("Lãnh đạo Sở", "Lãnh đạo Sở TT&TT").replace("owners: [agency, HN-1]",
                                                                        "owners: [HN-2]")
    result = run(hanam, directory, roster(*PEOPLE), changed, now=LATER)
    by_dn = {c.dn: c for c in result.changes}
    assert set(by_dn) == {f"cn=lanhdao,{STTTT}", f"cn=toanso,{STTTT}"}
    assert by_dn[f"cn=lanhdao,{STTTT}"].attrs == {"displayName": ["Lãnh đạo Sở TT&TT"], "owner": [HUNG]}
    assert by_dn[f"cn=toanso,{STTTT}"].attrs == {"congvuListAccept": ["organisation"]}
    assert lanhdao["member"] == [HUNG] and lanhdao["congvuListSender"] == ["vanphong@ubnd.haugiang.gov.vn"]
    assert toanso["description"] == ["Thông báo chung"]
    assert {c["key"]: c["attributes"] for c in result.changed if c["kind"] == "list"} == {
        "lanhdao": ["displayName", "owner"], "toanso": ["congvuListAccept"]}
    assert run(hanam, directory, roster(*PEOPLE), changed, now=LATER).changes == []


def test_members_follow_the_roster_and_leavers_leave(hanam):
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    newcomer = person("HN-5", "Phạm Thị Mai", "pttbcxb")
    # HN-2 leaves the roster (congvuLeavingSince), HN-5 joins the unit
    result = run(hanam, directory, roster(PEOPLE[0], PEOPLE[2], PEOPLE[3], newcomer), now=LATER)
    assert [c["key"] for c in result.leaving] == ["HN-2"]
    members = directory.entries[f"cn=toanso,{STTTT}"]["member"]
    assert sorted(members) == sorted([HA, AN, f"uid=phamthimai,{PTTBCXB}"])
    # lanhdao is kept by the agency: a leaver there is the lifecycle run's to remove, not this apply's
    assert "member" not in directory.entries[f"cn=lanhdao,{STTTT}"]


def test_a_person_gone_from_the_roster_named_in_members_is_an_error(hanam):
    text = LISTS + "    members: {people: [HN-2]}\n"
    [problem] = problems(hanam, text, roster(*PEOPLE[:1], *PEOPLE[2:]))
    assert problem == ("lists.yml:9: lists[1] (lanhdao): members.people: 'HN-2' is not a Mã cán bộ of the "
                       "rosters")


def test_a_retired_account_never_joins_a_list_and_a_locked_one_stays(hanam):
    # The lifecycle run takes a retired account off every list (congvu.lifecycle_dir._list_changes);
    # the roster apply must not put it back, or the two would undo each other every day.
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    directory.entries[HUNG]["congvuAccountState"] = ["retired"]
    directory.entries[AN]["congvuAccountState"] = ["locked"]  # still receives (Hà Nam Art 7.1)
    found = [(dn, dict(attrs)) for dn, attrs in directory.entries.items()]
    retire = _list_changes(snapshot(found), {HUNG.lower(): "nguyenvanhung@hanam.gov.vn"})
    assert [c.dn for c in retire] == [f"cn=toanso,{STTTT}"]
    directory.apply(retire)
    result = run(hanam, directory, roster(*PEOPLE), now=LATER)
    assert result.changes == []
    assert directory.entries[f"cn=toanso,{STTTT}"]["member"] == [HA, AN]
    # and a retired person named as a member or an owner is left out too
    text = LISTS.replace("owners: [agency, HN-1]", "owners: [HN-2]\n    members: {people: [HN-2, HN-1]}")
    run(hanam, directory, roster(*PEOPLE), text, now=LATER)
    lanhdao = directory.entries[f"cn=lanhdao,{STTTT}"]
    assert lanhdao["member"] == [HA] and "owner" not in lanhdao


def test_lists_not_in_the_file_are_never_changed_and_a_removed_one_stays(hanam):
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    hand_made = f"cn=hop-giao-ban,{STTTT}"
    directory.entries[hand_made] = {"objectClass": ["congvuMailList"], "cn": ["hop-giao-ban"],
                                    "mail": ["hop-giao-ban.stttt@hanam.gov.vn"], "member": [HUNG],
                                    "congvuListAccept": ["members"]}
    # lanhdao leaves the file: it stays as it is (deleting a list is the agency's act)
    only_toanso = LISTS.split("  - name: lanhdao")[0]
    result = run(hanam, directory, roster(*PEOPLE[:1], *PEOPLE[2:]), only_toanso, now=LATER)
    assert {c.dn for c in result.changes if c.kind == "list"} == {f"cn=toanso,{STTTT}"}
    assert directory.entries[hand_made]["member"] == [HUNG]  # a leaver: the lifecycle run's business
    assert f"cn=lanhdao,{STTTT}" in directory.entries
    assert result.misnamed_lists == []
    # without a lists file nothing of any list changes either
    assert [c for c in run(hanam, directory, roster(*PEOPLE), None).changes if c.kind == "list"] == []


def test_a_misnamed_list_is_reported_and_left_alone(hanam):
    # Cần Thơ Art 11.5 lists follow the naming scheme (docs/naming.md); one made by hand with another
    # address is reported for the operator, never renamed
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    directory.entries[f"cn=kiemthu-ds,{STTTT}"] = {"objectClass": ["congvuMailList"], "cn": ["kiemthu-ds"],
                                                   "mail": ["kiemthu-ds@hanam.gov.vn"]}
    directory.entries[f"cn=Họp,{PTTBCXB}"] = {"objectClass": ["congvuMailList"], "cn": ["Họp"],
                                              "mail": ["hop@hanam.gov.vn"]}
    directory.entries[f"cn=lac,ou=groups,{BASE}"] = {"objectClass": ["congvuMailList"], "cn": ["lac"],
                                                     "mail": ["lac@hanam.gov.vn"]}
    result = run(hanam, directory, roster(*PEOPLE), now=LATER)
    assert result.changes == []
    assert result.summary()["misnamed_lists"] == 3
    by_dn = {m["dn"]: m for m in result.misnamed_lists}
    wrong = by_dn[f"cn=kiemthu-ds,{STTTT}"]
    assert wrong["expected"] == "kiemthu-ds.stttt@hanam.gov.vn" and wrong["mail"] == "kiemthu-ds@hanam.gov.vn"
    assert "should be kiemthu-ds.stttt@hanam.gov.vn" in wrong["reason"]
    assert "Cần Thơ Art 11.5" in wrong["reason"]
    assert "lower-case ASCII" in by_dn[f"cn=Họp,{PTTBCXB}"]["reason"]
    assert by_dn[f"cn=Họp,{PTTBCXB}"]["expected"] == ""
    assert "not below an organisation" in by_dn[f"cn=lac,ou=groups,{BASE}"]["reason"]


def test_a_list_in_the_file_gets_its_address_and_keeps_the_old_one(hanam):
    # a list the agency made by hand, then taken into the file: the scheme's address, the old one an alias
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE), None)
    directory.entries[f"cn=toanso,{STTTT}"] = {"objectClass": ["congvuMailList"], "cn": ["toanso"],
                                               "mail": ["toanso@hanam.gov.vn"], "member": [LAN]}
    result = run(hanam, directory, roster(*PEOPLE), now=LATER)
    entry = directory.entries[f"cn=toanso,{STTTT}"]
    assert entry["mail"] == ["toanso.stttt@hanam.gov.vn"]
    assert entry["congvuMailAlias"] == ["toanso@hanam.gov.vn"]
    assert entry["member"] == [HA, HUNG, AN]
    assert result.misnamed_lists == []
    assert run(hanam, directory, roster(*PEOPLE), now=LATER).changes == []


def test_a_list_address_held_by_someone_else_stops_the_run_before_any_write():
    # Hà Giang Art 4.2 names a person <initials><given>.<unit>, the shape of a list of that unit
    policy, scheme = hagiang = env("hagiang")
    directory = Directory()
    minh = Person(id="HG-1", name="Nguyễn Văn Minh", birth_date="1980-01-01", org="stttt", where="t.csv:2")
    run(hagiang, directory, roster(minh), None)
    assert any(e.get("mail") == ["nvminh.stttt@hagiang.gov.vn"] for e in directory.entries.values())
    text = "lists:\n  - {name: nvminh, organisation: stttt, display_name: Trùng tên}\n"
    with pytest.raises(ReconcileError) as caught:
        plan(policy=policy, scheme=scheme, roster=roster(minh), current=directory.current(), now=NOW,
             lists=load_lists(text, "lists.yml", scheme, roster(minh)))
    assert "lists.yml:2: lists[0] (nvminh): its address nvminh.stttt@hagiang.gov.vn is already uid=nvminh" \
        in str(caught.value)
    assert "[Cần Thơ Art 11.5]" in str(caught.value)


def test_a_new_person_never_takes_a_list_s_address():
    # the list comes first (the file, or a list already in the directory): the newcomer is numbered
    hagiang = env("hagiang")
    directory = Directory()
    minh = Person(id="HG-1", name="Nguyễn Văn Minh", birth_date="1980-01-01", org="stttt", where="t.csv:2")
    text = "lists:\n  - {name: nvminh, organisation: stttt, display_name: Trùng tên}\n"
    result = run(hagiang, directory, roster(minh), text)
    assert [c["mail"] for c in result.created if c["kind"] == "person"] == ["nvminh2.stttt@hagiang.gov.vn"]
    assert directory.entries["cn=nvminh,o=stttt,ou=organisations,dc=hagiang,dc=gov,dc=vn"]["mail"] == [
        "nvminh.stttt@hagiang.gov.vn"]
    # a list already in the directory, not in the file, counts as taken too
    other = Person(id="HG-2", name="Nguyễn Văn Minh", birth_date="1981-01-01", org="stttt", where="t.csv:3")
    again = run(hagiang, directory, roster(minh, other), None)
    assert [c["mail"] for c in again.created if c["kind"] == "person"] == ["nvminh3.stttt@hagiang.gov.vn"]


def test_senders_given_in_the_file_are_kept_exactly(hanam):
    directory = Directory()
    text = LISTS.replace("    owners: [agency, HN-1]\n",
                         "    owners: [agency, HN-1]\n    senders: [VanPhong@UBND.haugiang.gov.vn]\n")
    run(hanam, directory, roster(*PEOPLE), text)
    lanhdao = directory.entries[f"cn=lanhdao,{STTTT}"]
    assert lanhdao["congvuListSender"] == ["vanphong@ubnd.haugiang.gov.vn"]
    lanhdao["congvuListSender"].append("quangcao@example.net")
    result = run(hanam, directory, roster(*PEOPLE), text, now=LATER)
    assert [c.attrs for c in result.changes] == [{"congvuListSender": ["vanphong@ubnd.haugiang.gov.vn"]}]


# --- removing and renaming a list (Cần Thơ Art 11.5: the agency keeps its lists; the file says so) --

NESTED = LISTS + """\
  - name: giaoban
    organisation: stttt
    display_name: Giao ban
    owners: [agency]
    members:
      lists: [lanhdao]
"""


def test_a_list_marked_absent_is_deleted_and_leaves_the_lists_that_held_it(hanam):
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE), NESTED)
    lanhdao = f"cn=lanhdao,{STTTT}"
    assert directory.entries[f"cn=giaoban,{STTTT}"]["member"] == [lanhdao]
    removed = LISTS.replace("    display_name: Lãnh đạo Sở\n    owners: [agency, HN-1]\n",
                            "    state: absent\n") + NESTED[len(LISTS):].replace("      lists: [lanhdao]\n",
                                                                                  "      people: [HN-1]\n")
    result = run(hanam, directory, roster(*PEOPLE), removed, now=LATER)
    deletes = [c for c in result.changes if c.op == "delete"]
    assert [(c.dn, c.kind) for c in deletes] == [(lanhdao, "list")]
    assert result.changes[-1].op == "delete"  # deletions after everything else (transaction_order)
    assert result.removed == [{"kind": "list", "key": "lanhdao", "mail": "lanhdao.stttt@hanam.gov.vn",
                               "dn": lanhdao}]
    assert result.summary()["removed"] == 1
    assert lanhdao not in directory.entries
    assert directory.entries[f"cn=giaoban,{STTTT}"]["member"] == [HA]
    again = run(hanam, directory, roster(*PEOPLE), removed, now=LATER)
    assert again.changes == [] and again.removed == []


def test_a_removed_list_s_address_stays_reserved_on_its_agency_s_mailbox(hanam):
    # Cần Thơ Art 11.5 lists; mail meant for a removed list must never reach someone given its address
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    removed = LISTS.replace("    display_name: Lãnh đạo Sở\n    owners: [agency, HN-1]\n",
                            "    state: absent\n")
    result = run(hanam, directory, roster(*PEOPLE), removed, now=LATER)
    box = f"uid=stttt,{STTTT}"  # Hà Nam Art 5.1.d: the agency's own mailbox
    assert [(c.op, c.dn) for c in result.changes] == [("modify", box), ("delete", f"cn=lanhdao,{STTTT}")]
    assert directory.entries[box]["congvuReservedAddress"] == ["lanhdao.stttt@hanam.gov.vn"]
    assert "congvuLifecycle" in directory.entries[box]["objectClass"]
    assert run(hanam, directory, roster(*PEOPLE), removed, now=LATER).changes == []
    # the roster apply counts it as taken (congvuReservedAddress, like a dropped alias); the agency
    # itself may make the list again under its name
    back = run(hanam, directory, roster(*PEOPLE), LISTS, now=LATER)
    assert [c.op for c in back.changes] == ["add"]
    assert directory.entries[f"cn=lanhdao,{STTTT}"]["mail"] == ["lanhdao.stttt@hanam.gov.vn"]


def test_an_absent_list_whose_dn_is_not_a_list_stops_the_run(hanam):
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    directory.entries[f"cn=hop,{STTTT}"] = {"objectClass": ["groupOfNames"], "cn": ["hop"], "member": [HA]}
    text = LISTS + "  - name: hop\n    organisation: stttt\n    state: absent\n"
    with pytest.raises(ReconcileError, match=r"lists\[2\] \(hop\): cn=hop,.* is an entry but not a mailing"):
        run(hanam, directory, roster(*PEOPLE), text, now=LATER)
    assert f"cn=hop,{STTTT}" in directory.entries


def test_a_renamed_list_moves_keeps_its_old_address_and_its_place_in_other_lists(hanam):
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE), NESTED)
    old, new = f"cn=lanhdao,{STTTT}", f"cn=bangiamdoc,{STTTT}"
    directory.entries[old]["member"] = [HUNG]  # kept by the agency: the rename keeps it
    renamed = NESTED.replace("  - name: lanhdao\n", "  - name: bangiamdoc\n    renamed_from: lanhdao\n")
    renamed = renamed.replace("      lists: [lanhdao]", "      lists: [bangiamdoc]")
    result = run(hanam, directory, roster(*PEOPLE), renamed, now=LATER)
    moves = [c for c in result.changes if c.op == "move"]
    assert [(c.dn, c.new_dn) for c in moves] == [(old, new)]
    assert old not in directory.entries
    entry = directory.entries[new]
    assert entry["cn"] == ["bangiamdoc"] and entry["mail"] == ["bangiamdoc.stttt@hanam.gov.vn"]
    assert entry["congvuMailAlias"] == ["lanhdao.stttt@hanam.gov.vn"]  # mail to the old address arrives
    assert entry["member"] == [HUNG]
    assert directory.entries[f"cn=giaoban,{STTTT}"]["member"] == [new]
    assert result.misnamed_lists == []
    assert run(hanam, directory, roster(*PEOPLE), renamed, now=LATER).changes == []


def test_a_rename_whose_old_and_new_entries_both_exist_stops_the_run(hanam):
    directory = Directory()
    run(hanam, directory, roster(*PEOPLE))
    directory.entries[f"cn=bangiamdoc,{STTTT}"] = {"objectClass": ["congvuMailList"], "cn": ["bangiamdoc"],
                                                   "mail": ["bangiamdoc.stttt@hanam.gov.vn"]}
    renamed = LISTS.replace("  - name: lanhdao\n", "  - name: bangiamdoc\n    renamed_from: lanhdao\n")
    with pytest.raises(ReconcileError, match=r"\(bangiamdoc\): renamed_from: both cn=lanhdao,.* and "
                                             r"cn=bangiamdoc,.* exist"):
        run(hanam, directory, roster(*PEOPLE), renamed, now=LATER)


def test_removal_and_rename_mistakes_are_named_in_the_file(hanam):
    text = LISTS + """\
  - name: hop
    organisation: stttt
    state: gone
  - name: hop2
    organisation: stttt
    state: absent
    renamed_from: hop1
  - name: hop3
    organisation: stttt
    display_name: Họp 3
    renamed_from: hop3
  - name: hop4
    organisation: stttt
    display_name: Họp 4
    renamed_from: toanso
  - name: hop5
    organisation: stttt
    display_name: Họp 5
    renamed_from: Họp Cũ
  - name: hop6
    organisation: stttt
    state: absent
  - name: hop7
    organisation: stttt
    display_name: Họp 7
    members:
      lists: [hop6]
"""
    listed = problems(hanam, text)
    assert all(p.startswith("lists.yml:") for p in listed), listed  # file:line: lists[i] (name): what
    found = "\n".join(listed)
    assert "lists[2] (hop): state 'gone' must be one of present, absent" in found
    assert "lists[3] (hop2): renamed_from and state: absent together" in found
    assert "lists[4] (hop3): renamed_from is the list's own name" in found
    assert "lists[5] (hop4): renamed_from 'toanso': that list is also an entry of this file" in found
    assert "lists[6] (hop5): renamed_from 'Họp Cũ' is not a list name" in found
    assert "lists[8] (hop7): members.lists: 'hop6' is removed (state: absent)" in found
    assert "hop6" not in found.replace("'hop6' is removed", "")  # absent needs no display_name
