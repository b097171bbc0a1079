"""Scheme.assign guarantees: stability, determinism, overrides, one-pass operator cases, bad input;
validate_naming and make_scheme."""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import pytest

from congvu.errors import NamingError, PolicyError
from congvu.names import generate_people
from congvu.naming import Person, make_scheme, validate_naming
from congvu.orgs import load_catalogue
from congvu.policy import province_codes

CATALOGUES = Path(__file__).resolve().parents[2] / "data" / "catalogues"
PROVINCES = province_codes(Path(__file__).resolve().parents[2] / "policies")


def person(pid, name, org, **kw):
    return {"id": pid, "full_name": name, "org": org, **kw}


@pytest.mark.parametrize("province", PROVINCES)
def test_issued_addresses_survive_additions_and_reordering(make, province):
    scheme = make(province)
    orgs = list(scheme.catalogue)
    first = generate_people(300, orgs, seed=7, province=province)
    issued = scheme.assign(first)
    assert issued.new  # something was issued
    later = generate_people(300, orgs, seed=8, province=province, id_prefix="q")
    everybody = first + later
    random.Random(3).shuffle(everybody)
    again = scheme.assign(everybody, issued.new)
    for pid, address in issued.new.items():
        assert again.addresses[pid] == address
    assert not set(again.new) & set(issued.new)
    # Every address is unique, and none is an organisation mailbox.
    values = list(again.addresses.values())
    assert len(values) == len(set(values))
    assert not set(values) & set(scheme.org_addresses().values())


@pytest.mark.parametrize("province", PROVINCES)
def test_same_input_same_output(make, province):
    scheme = make(province)
    people = generate_people(500, list(scheme.catalogue), seed=11, province=province)
    a, b = scheme.assign(people), make(province).assign(list(people))
    assert a.addresses == b.addresses
    assert a.needs_operator == b.needs_operator
    assert list(a.addresses) == [p.id for p in people if p.id in a.addresses]  # input order


def test_new_people_are_assigned_in_input_order(make):
    # Hà Giang Art 4.2: the number goes to whoever comes later in the input.
    scheme = make("hagiang")
    a = scheme.assign([person("x", "Nguyễn Văn Minh", "stttt"), person("y", "Nguyễn Văn Minh", "stttt")])
    b = scheme.assign([person("y", "Nguyễn Văn Minh", "stttt"), person("x", "Nguyễn Văn Minh", "stttt")])
    assert a.new["x"] == b.new["y"] == "nvminh.stttt@hagiang.gov.vn"


def test_existing_and_taken_are_respected(make):
    # Cần Thơ Art 4.2.đ: the first registered keeps the short form.
    scheme = make("cantho")
    result = scheme.assign([person("new", "Nguyễn Văn Minh", "snv"), person("old", "Nguyễn Văn Minh", "snv")],
                           {"old": "NVMinh@cantho.gov.vn", "gone": "nvanminh@cantho.gov.vn"})
    assert result.addresses == {"new": "nguyenvanminh@cantho.gov.vn", "old": "nvminh@cantho.gov.vn"}
    assert result.new == {"new": "nguyenvanminh@cantho.gov.vn"}
    result = scheme.assign([person("a", "Nguyễn Văn Minh", "snv")], taken=["nvminh@cantho.gov.vn"])
    assert result.new["a"] == "nvanminh@cantho.gov.vn"


def test_organisation_mailboxes_are_never_given_to_people():
    # An agency whose agreed abbreviation equals a person's short form (Cần Thơ Art 4.2.a, c).
    catalogue = {"organisations": [{"code": "x", "name": "Ban Nghiệp vụ Minh", "kind": "agency",
                                    "abbr": "nvminh"}]}
    scheme = make_scheme({"scheme": "cantho", "domain": "cantho.gov.vn"}, catalogue)
    result = scheme.assign([person("1", "Nguyễn Văn Minh", "x")])
    assert result.new["1"] == "nvanminh@cantho.gov.vn"


def test_operator_cases_collected_in_one_pass(make):
    scheme = make("cantho")
    people = [person(f"a{i}", "Nguyễn Văn Minh", "snv") for i in range(5)]
    people += [person(f"b{i}", "Trần Thị Lan", "skhdt") for i in range(4)]
    result = scheme.assign(people)
    assert [c.person_id for c in result.needs_operator] == ["a3", "a4", "b3"]
    suggestions = [c.suggestion for c in result.needs_operator]
    assert len(set(suggestions)) == 3  # never the same suggestion twice
    assert not set(suggestions) & set(result.addresses.values())
    with pytest.raises(NamingError) as info:
        result.raise_for_problems("roster.yml")
    text = str(info.value)
    assert text.startswith("roster.yml: 3 person(s) need an operator decision")
    assert "a3 (Nguyễn Văn Minh, snv)" in text and "b3 (Trần Thị Lan, skhdt)" in text
    assert result.needs_operator[0].as_dict()["rule"] == "Cần Thơ Art 4.2.d"


def test_valid_override_is_reserved_before_automatic_choices(make):
    # The override of a later person is honoured even though an earlier one would get it otherwise.
    result = make("cantho").assign([person("1", "Nguyễn Văn Minh", "snv"),
                                    person("2", "Ngô Văn Minh", "snv", address="nvminh@cantho.gov.vn")])
    assert result.addresses == {"1": "nvanminh@cantho.gov.vn", "2": "nvminh@cantho.gov.vn"}


def test_override_resolves_a_fourth_clash(make):
    scheme = make("cantho")
    people = [person(str(i), "Nguyễn Văn Minh", "snv") for i in range(3)]
    people.append(person("3", "Nguyễn Văn Minh", "snv", address="minhnguyen.ct@cantho.gov.vn"))
    result = scheme.assign(people)
    assert result.ok
    assert result.new["3"] == "minhnguyen.ct@cantho.gov.vn"


@pytest.mark.parametrize(("address", "reason"), [
    ("nguyen van minh@cantho.gov.vn", "local part must be lower-case ASCII"),
    ("NVMinh@cantho.gov.vn", "local part must be lower-case ASCII"),
    ("minh@@cantho.gov.vn", "is not local@domain"),
    ("minh", "is not local@domain"),
    ("minh@hanam.gov.vn", "must end in @cantho.gov.vn"),
    ("sonv@cantho.gov.vn", "is already taken"),  # Sở Nội vụ's mailbox
    ("taken@cantho.gov.vn", "is already taken"),
    ("a" * 65 + "@cantho.gov.vn", "at most 64"),
])
def test_bad_overrides_are_reported_with_a_suggestion(make, address, reason):
    result = make("cantho").assign([person("1", "Nguyễn Văn Minh", "snv", address=address)],
                                   taken=["taken@cantho.gov.vn"])
    [case] = result.needs_operator
    assert reason in case.reason
    assert case.rule == "override"
    assert case.suggestion == "nvminh@cantho.gov.vn"
    assert "1" not in result.addresses


def test_check_override_public(make):
    scheme = make("gialai")
    someone = person("1", "Trần Đình Nguyên", "dakpo")
    assert scheme.check_override(someone, "nguyen.td@dakpo.gialai.gov.vn") is None
    taken = {"a@dakpo.gialai.gov.vn"}
    assert "already taken" in scheme.check_override(someone, "a@dakpo.gialai.gov.vn", taken)
    assert "must end in @dakpo.gialai.gov.vn" in scheme.check_override(someone, "a@pleiku.gialai.gov.vn")


def test_gialai_override_must_use_the_subdomain(make):
    # Gia Lai Art 4.2.a: people live under their organisation's subdomain.
    scheme = make("gialai")
    result = scheme.assign([person("1", "Trần Đình Nguyên", "dakpo", address="nguyen@gialai.gov.vn"),
                            person("2", "Trần Đình Nguyên", "ttcds",
                                   address="nguyentd2@skhcn.gialai.gov.vn")])
    assert "must end in @dakpo.gialai.gov.vn" in result.needs_operator[0].reason
    assert result.new == {"2": "nguyentd2@skhcn.gialai.gov.vn"}


def test_override_differing_from_issued_address(make):
    result = make("hagiang").assign([person("1", "Nguyễn Văn Minh", "stttt", address="minh@hagiang.gov.vn")],
                                    {"1": "nvminh.stttt@hagiang.gov.vn"})
    assert result.addresses == {"1": "nvminh.stttt@hagiang.gov.vn"}
    assert "differs from the issued address" in result.needs_operator[0].reason


def test_bad_input_lists_every_entry(make):
    people = [person("1", "Nguyễn Văn Minh", "stttt"), person("1", "Trần Văn Nam", "stttt"),
              person("2", "Lê Thị Hoa", "nowhere"), {"id": "3", "org": "stttt"},
              person("4", "Lê Văn Tám", "stttt", birth_date="15/03/1980"),
              person("5", "Lê Văn Tám", "stttt", colour="red"), "not a person",
              person("7", "Lê Văn ---", "stttt"), person("8", "Лев", "stttt")]
    with pytest.raises(NamingError) as info:
        make("hagiang").assign(people, {"x": "a@hagiang.gov.vn", "y": "A@hagiang.gov.vn", "z": None},
                               ["b@hagiang.gov.vn", 7], source="staff.yml")
    text = str(info.value)
    for expected in ["staff.yml: people[1]: id: duplicate id '1' (first at people[0])",
                     "people[2]: org: organisation 'nowhere' is not in the catalogue",
                     "people[3]: full_name: missing or empty 'full_name'",
                     "people[4]: birth_date: birth date '15/03/1980' is not YYYY-MM-DD",
                     "people[5]: unknown field(s) colour",
                     "people[6]: a person is a mapping",
                     "people[7]: full_name: given name of 'Lê Văn ---' folds to nothing",
                     "people[8]: cannot fold",
                     "a@hagiang.gov.vn is held by both 'x' and 'y'",
                     "existing['z']: None is not an address",
                     "taken[1]: 7 is not an address"]:
        assert expected in text


def test_existing_ids_may_be_numbers(make):
    result = make("hagiang").assign([person(7, "Nguyễn Văn Minh", "stttt")], {7: "minh@hagiang.gov.vn"})
    assert result.addresses == {"7": "minh@hagiang.gov.vn"}


def test_person_coercion():
    p = Person.coerce({"id": 12, "full_name": "Lê Văn Tám", "org": "s",
                       "birth_date": dt.datetime(1980, 3, 15, 8)}, "here")
    assert p.id == "12" and p.birth_date == dt.date(1980, 3, 15)
    assert Person.coerce(p, "here") is p


# --- validate_naming / make_scheme ------------------------------------------------------------------

def test_validate_naming_defaults():
    out = validate_naming({"scheme": "hanam", "domain": "hanam.gov.vn"}, "policies/hanam.yml")
    assert out == {"scheme": "hanam", "domain": "hanam.gov.vn", "sequence_start": 2,
                   "birth_date_format": "%d%m%Y", "catalogue": None}


@pytest.mark.parametrize(("section", "key", "message"), [
    ([], "naming", "must be a mapping"),
    ({"scheme": "hanam", "domain": "hanam.gov.vn", "colour": 1}, "naming.colour", "unknown key"),
    ({"scheme": "saigon", "domain": "hanam.gov.vn"}, "naming.scheme", "must be one of"),
    ({"domain": "hanam.gov.vn"}, "naming.scheme", "must be one of"),
    ({"scheme": "hanam"}, "naming.domain", "lower-case domain"),
    ({"scheme": "hanam", "domain": "HaNam.gov.vn"}, "naming.domain", "lower-case domain"),
    ({"scheme": "hanam", "domain": "hanam.gov.vn", "sequence_start": 0}, "naming.sequence_start", ">= 1"),
    ({"scheme": "hanam", "domain": "hanam.gov.vn", "sequence_start": True}, "naming.sequence_start", ">= 1"),
    ({"scheme": "hanam", "domain": "hanam.gov.vn", "birth_date_format": "%d/%m"},
     "naming.birth_date_format", "strftime"),
    ({"scheme": "hanam", "domain": "hanam.gov.vn", "catalogue": 3}, "naming.catalogue", "file path"),
])
def test_validate_naming_errors(section, key, message):
    with pytest.raises(PolicyError) as info:
        validate_naming(section, "policies/hanam.yml")
    assert info.value.source == "policies/hanam.yml"
    assert info.value.key == key
    assert message in info.value.message


def test_make_scheme_catalogue_sources():
    section = {"scheme": "ninhbinh", "domain": "ninhbinh.gov.vn"}
    by_path = make_scheme({**section, "catalogue": str(CATALOGUES / "ninhbinh.yml")})
    by_object = make_scheme(section, load_catalogue(CATALOGUES / "ninhbinh.yml"))
    assert by_path.org_addresses() == by_object.org_addresses()
    with pytest.raises(PolicyError, match="no organisation catalogue"):
        make_scheme(section)
    with pytest.raises(NamingError, match="catalogue is for 'ninhbinh'"):
        make_scheme({"scheme": "hagiang", "domain": "hagiang.gov.vn"},
                    load_catalogue(CATALOGUES / "ninhbinh.yml"), province="hagiang")
    # The catalogue belongs to a province, not to a scheme: another scheme may read it.
    assert make_scheme({"scheme": "hagiang", "domain": "ninhbinh.gov.vn"},
                       load_catalogue(CATALOGUES / "ninhbinh.yml"), province="ninhbinh").org_addresses()


def test_hanam_scheme_rejects_catalogue_without_clash_codes():
    catalogue = {"organisations": [{"code": "stnmt", "name": "Sở Tài nguyên và Môi trường",
                                    "kind": "agency"}]}
    with pytest.raises(NamingError, match=r"add a two-letter clash_code .*Hà Nam Art 5.2.b"):
        make_scheme({"scheme": "hanam", "domain": "hanam.gov.vn"}, catalogue)


def test_clashing_organisation_mailboxes_are_an_error():
    catalogue = {"organisations": [{"code": "a", "name": "Sở Tư pháp", "kind": "agency"},
                                   {"code": "b", "name": "Sở Tài chính", "kind": "agency", "abbr": "stp"}]}
    with pytest.raises(NamingError, match=r"b: address stp@hagiang.gov.vn is already the mailbox of 'a'"):
        make_scheme({"scheme": "hagiang", "domain": "hagiang.gov.vn"}, catalogue)


def test_fifty_thousand_people_quickly(make):
    # Brief: 50,000 people in one province well under 2 s (bench/naming_bench.py measures it properly).
    import time
    scheme = make("ninhbinh")
    people = generate_people(50_000, list(scheme.catalogue), seed=5)
    start = time.perf_counter()
    result = scheme.assign(people)
    assert time.perf_counter() - start < 4  # generous: the machine is shared
    assert len(result.addresses) == 50_000
