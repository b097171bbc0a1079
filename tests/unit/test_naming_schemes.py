"""Every seed example and collision rule of the five naming schemes."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest

from congvu.errors import NamingError


def person(pid, name, org, **kw):
    return {"id": pid, "full_name": name, "org": org, **kw}


def assign(scheme, *people, existing=None, taken=()):
    result = scheme.assign(list(people), existing or {}, taken)
    return result


# --- Hà Nam Art 5 ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "address"), [
    ("stttt", "stttt@hanam.gov.vn"),  # Hà Nam Art 5.1.a
    ("kimbang", "ubndkb@hanam.gov.vn"),  # Hà Nam Art 5.1.b
    ("tienson", "ubndtienson.dt@hanam.gov.vn"),  # Hà Nam Art 5.1.c
    ("pttbcxb", "pttbcxb.stttt@hanam.gov.vn"),  # Hà Nam Art 5.1.d
    ("ptp-binhluc", "ptp.bl@hanam.gov.vn"),  # Hà Nam Art 5.1.đ
])
def test_hanam_org_examples(make, code, address):
    assert make("hanam").org_address(code) == address


def test_hanam_personal_examples(make):
    scheme = make("hanam")
    result = assign(scheme,
                    person("1", "Nguyễn Thị Thanh Hà", "stttt"),  # Hà Nam Art 5.2.a
                    person("2", "Nguyễn Văn Hùng", "stttt"),
                    person("3", "Nguyễn Văn Hùng", "sldtbxh"),  # Hà Nam Art 5.2.b: .ld
                    person("4", "Nguyễn Văn Nam", "stttt"),
                    person("5", "Nguyễn Văn Nam", "thanhha"))  # Hà Nam Art 5.2.b: district code .tl
    assert result.ok
    assert result.addresses == {
        "1": "nguyenthithanhha@hanam.gov.vn",
        "2": "nguyenvanhung@hanam.gov.vn",
        "3": "nguyenvanhung.ld@hanam.gov.vn",
        "4": "nguyenvannam@hanam.gov.vn",
        "5": "nguyenvannam.tl@hanam.gov.vn",
    }


def test_hanam_same_agency_uses_distinguishing_parts_in_order(make):
    # Hà Nam Art 5.2.c: same agency → the general form plus date of birth, home town, birthplace.
    scheme = make("hanam")
    result = assign(scheme,
                    person("1", "Trần Văn An", "stttt"),
                    person("2", "Trần Văn An", "pttbcxb", birth_date="1980-03-15"),  # unit of stttt
                    person("3", "Trần Văn An", "stttt", birth_date="1980-03-15", home_town="Duy Tiên"),
                    person("4", "Trần Văn An", "stttt", birthplace="Phủ Lý"),
                    person("5", "Trần Văn An", "stttt"))
    assert result.new == {
        "1": "tranvanan@hanam.gov.vn",
        "2": "tranvanan15031980@hanam.gov.vn",
        "3": "tranvananduytien@hanam.gov.vn",  # same birth date: next part, home town
        "4": "tranvananphuly@hanam.gov.vn",
    }
    [case] = result.needs_operator
    assert case.person_id == "5"
    assert "no birth date, home town or birthplace" in case.reason and "Hà Nam Art 5.2.c" in case.reason
    assert case.suggestion == "tranvanan2@hanam.gov.vn"


def test_hanam_birth_date_format_option(make):
    scheme = make("hanam", birth_date_format="%Y")
    result = assign(scheme, person("1", "Lê Văn Tám", "stttt"),
                    person("2", "Lê Văn Tám", "stttt", birth_date=dt.date(1975, 1, 2)))
    assert result.new["2"] == "levantam1975@hanam.gov.vn"


def test_hanam_third_agency_with_both_forms_taken(make):
    scheme = make("hanam")
    # nguyenvannam.tl belongs to the district; a commune of that district shares the code "tl".
    result = assign(scheme, person("1", "Nguyễn Văn Nam", "stttt"),
                    person("2", "Nguyễn Văn Nam", "thanhliem"),
                    person("3", "Nguyễn Văn Nam", "thanhha", birth_date="1990-12-01"),
                    person("4", "Nguyễn Văn Nam", "tienson"))
    assert result.new["2"] == "nguyenvannam.tl@hanam.gov.vn"
    assert result.new["3"] == "nguyenvannam01121990@hanam.gov.vn"
    assert result.new["4"] == "nguyenvannam.dt@hanam.gov.vn"


# --- Gia Lai Art 4 --------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "address"), [
    ("skhcn", "skhcn@skhcn.gialai.gov.vn"),  # Gia Lai Art 4.1.a: @skhcn.gialai.gov.vn
    ("pleiku", "pleiku@pleiku.gialai.gov.vn"),  # Gia Lai Art 4.1.b: @pleiku.gialai.gov.vn
    ("vhxh-pleiku", "vanhoa-xahoi@pleiku.gialai.gov.vn"),  # Gia Lai Art 4.1.c
    ("ttcds", "ttcds@skhcn.gialai.gov.vn"),  # Gia Lai Art 4.1.c
])
def test_gialai_org_examples(make, code, address):
    assert make("gialai").org_address(code) == address


def test_gialai_personal_examples(make):
    scheme = make("gialai")
    result = assign(scheme, person("1", "Hoàng Thị Như Quỳnh", "skhcn"),  # Gia Lai Art 4.2.a
                    person("2", "Trần Đình Nguyên", "dakpo"))
    assert result.addresses == {"1": "quynhhtn@skhcn.gialai.gov.vn", "2": "nguyentd@dakpo.gialai.gov.vn"}


def test_gialai_clash_different_full_names_example(make):
    # Gia Lai Art 4.2.b: both named together take the long form.
    result = assign(make("gialai"), person("1", "Trương Hoàng Tiến Minh", "skhcn"),
                    person("2", "Trần Huỳnh Tấn Minh", "skhcn"))
    assert result.addresses == {"1": "tienminhth@skhcn.gialai.gov.vn", "2": "tanminhth@skhcn.gialai.gov.vn"}


def test_gialai_clash_with_issued_address_keeps_it(make):
    # The first holder keeps minhtht (issued earlier); the newcomer takes the long form (Art 4.2.b).
    result = assign(make("gialai"), person("1", "Trương Hoàng Tiến Minh", "skhcn"),
                    person("2", "Trần Huỳnh Tấn Minh", "ttcds"),
                    existing={"1": "minhtht@skhcn.gialai.gov.vn"})
    assert result.addresses == {"1": "minhtht@skhcn.gialai.gov.vn", "2": "tanminhth@skhcn.gialai.gov.vn"}


def test_gialai_clash_rules_are_per_subdomain(make):
    result = assign(make("gialai"), person("1", "Trần Đình Nguyên", "dakpo"),
                    person("2", "Trần Đình Nguyên", "pleiku"), person("3", "Trần Đình Nguyên", "skhcn"))
    assert result.addresses == {"1": "nguyentd@dakpo.gialai.gov.vn", "2": "nguyentd@pleiku.gialai.gov.vn",
                                "3": "nguyentd@skhcn.gialai.gov.vn"}


def test_gialai_identical_names_birth_date_then_home_town_then_birthplace(make):
    # Gia Lai Art 4.2.c: order of preference: date of birth, home town, birthplace.
    result = assign(make("gialai"),
                    person("1", "Hoàng Thị Như Quỳnh", "skhcn"),
                    person("2", "Hoàng Thị Như Quỳnh", "skhcn", birth_date="1990-05-04", home_town="Huế"),
                    person("3", "Hoàng Thị Như Quỳnh", "skhcn", home_town="An Khê", birthplace="Pleiku"),
                    person("4", "Hoàng Thị Như Quỳnh", "skhcn", birthplace="Kon Tum"),
                    person("5", "Hoàng Thị Như Quỳnh", "skhcn"),
                    person("6", "Hoàng Thị Như Quỳnh", "ttcds"))
    assert result.new == {"1": "quynhhtn@skhcn.gialai.gov.vn",
                          "2": "quynhhtn04051990@skhcn.gialai.gov.vn",
                          "3": "quynhhtnankhe@skhcn.gialai.gov.vn",
                          "4": "quynhhtnkontum@skhcn.gialai.gov.vn"}
    # Collected in one pass, each with its own suggestion.
    assert [(c.person_id, c.suggestion) for c in result.needs_operator] == [
        ("5", "quynhhtn2@skhcn.gialai.gov.vn"), ("6", "quynhhtn3@skhcn.gialai.gov.vn")]
    assert all("Gia Lai Art 4.2.c" in c.reason for c in result.needs_operator)


def test_gialai_minority_names(make):
    result = assign(make("gialai"), person("1", "Ksor H'Nhiên", "pleiku"),
                    person("2", "Rơ Mah Pơloang", "pleiku"), person("3", "Nay Y Phích", "pleiku"),
                    person("4", "Kpă Thuyên", "dakpo"), person("5", "Ksor Thuyên", "dakpo"))
    assert result.new["1"] == "hnhienk@pleiku.gialai.gov.vn"
    assert result.new["2"] == "poloangrm@pleiku.gialai.gov.vn"
    assert result.new["3"] == "phichny@pleiku.gialai.gov.vn"
    assert result.new["4"] == "thuyenk@dakpo.gialai.gov.vn"
    # No middle name, so no long form: an operator decision (nothing to distinguish with).
    assert [c.person_id for c in result.needs_operator] == ["5"]
    assert result.needs_operator[0].suggestion == "thuyenk2@dakpo.gialai.gov.vn"


# --- Cần Thơ Art 4 --------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "address"), [
    ("snv", "sonv@cantho.gov.vn"),  # Cần Thơ Art 4.2.a
    ("sngv", "songoaivu@cantho.gov.vn"),  # Cần Thơ Art 4.2.a: clash → longer form
    ("vp-skhdt", "vanphong.sokhdt@cantho.gov.vn"),  # Cần Thơ Art 4.2.b
    ("vp-ninhkieu", "vpubndninhkieu@cantho.gov.vn"),  # Cần Thơ Art 4.2.b: agreed name
])
def test_cantho_org_examples(make, code, address):
    assert make("cantho").org_address(code) == address


def test_cantho_abbreviation_after_a_clash(make):
    # Cần Thơ Art 4.2.a: the abbreviation itself is the longer form (used as congvuOrgAbbr).
    scheme = make("cantho")
    assert (scheme.abbr("snv"), scheme.abbr("sngv")) == ("sonv", "songoaivu")


def test_cantho_four_nguyen_van_minh(make):
    # Cần Thơ Art 4.2.c, đ: nvminh → nvanminh → nguyenvanminh → operator.
    people = [person(str(i), "Nguyễn Văn Minh", "snv", birth_date=f"1970-01-0{i + 1}") for i in range(5)]
    result = make("cantho").assign(people)
    assert result.new == {"0": "nvminh@cantho.gov.vn", "1": "nvanminh@cantho.gov.vn",
                          "2": "nguyenvanminh@cantho.gov.vn"}
    assert [c.person_id for c in result.needs_operator] == ["3", "4"]
    assert all("Cần Thơ Art 4.2.d" in c.reason for c in result.needs_operator)
    assert [c.suggestion for c in result.needs_operator] == ["nvminh04011970@cantho.gov.vn",
                                                             "nvminh05011970@cantho.gov.vn"]


def test_cantho_forms_are_tried_whatever_the_full_name(make):
    # Ngô Viết Minh shares nvminh with Nguyễn Văn Minh: he takes his own second form.
    result = assign(make("cantho"), person("1", "Nguyễn Văn Minh", "snv"),
                    person("2", "Ngô Viết Minh", "sngv"),
                    person("3", "Nguyễn Thị Thanh Hà", "snv"), person("4", "Nguyễn Thị Thanh Hà", "snv"))
    assert result.new == {"1": "nvminh@cantho.gov.vn", "2": "nvietminh@cantho.gov.vn",
                          "3": "nttha@cantho.gov.vn", "4": "nthithanhha@cantho.gov.vn"}


def test_cantho_fourth_without_birth_date(make):
    people = [person(str(i), "Lê Văn Tám", "snv") for i in range(4)]
    [case] = make("cantho").assign(people).needs_operator
    assert case.suggestion == "levantam2@cantho.gov.vn"


# --- Hà Giang Art 4 -------------------------------------------------------------------------------

def test_hagiang_units_and_people(make):
    scheme = make("hagiang")
    assert scheme.org_address("stttt") == "stttt@hagiang.gov.vn"  # Hà Giang Art 4.1
    assert scheme.org_address("ttcntt") == "ttcntt.stttt@hagiang.gov.vn"  # Hà Giang Art 4.1 sub-unit
    result = assign(scheme, person("1", "Nguyễn Văn Minh", "stttt"), person("2", "Nguyễn Văn Minh", "stttt"),
                    person("3", "Nguyễn Văn Minh", "ttcntt"), person("4", "Nông Văn Minh", "stttt"),
                    person("5", "Giàng A Páo", "stttt"))
    assert result.new == {"1": "nvminh.stttt@hagiang.gov.vn",  # Hà Giang Art 4.2
                          "2": "nvminh2.stttt@hagiang.gov.vn",  # Hà Giang Art 4.2: number after the name
                          "3": "nvminh.ttcntt.stttt@hagiang.gov.vn",
                          "4": "nvminh3.stttt@hagiang.gov.vn",
                          "5": "gapao.stttt@hagiang.gov.vn"}


def test_sequence_start_option(make):
    result = assign(make("hagiang", sequence_start=1), person("1", "Nguyễn Văn Minh", "stttt"),
                    person("2", "Nguyễn Văn Minh", "stttt"))
    assert result.new["2"] == "nvminh1.stttt@hagiang.gov.vn"


# --- Ninh Bình Art 5 ------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "address"), [
    ("ubnd", "ubnd@ninhbinh.gov.vn"),  # Ninh Bình Art 5.1.a
    ("stttt", "stttt@ninhbinh.gov.vn"),
    ("sldtbxh", "sldtbxh@ninhbinh.gov.vn"),  # Ninh Bình Art 5.1.a: without "và" and "-"
    ("vp-stttt", "vp.stttt@ninhbinh.gov.vn"),  # Ninh Bình Art 5.1.c
    ("tpnb", "tpnb@ninhbinh.gov.vn"),  # Ninh Bình Art 5.1.b
    ("nhoquan", "nhoquan@ninhbinh.gov.vn"),  # Ninh Bình Art 5.1.b
    ("cucphuong", "cucphuong.nhoquan@ninhbinh.gov.vn"),  # Ninh Bình Art 5.1.b
    ("ptp-nhoquan", "ptp.nhoquan@ninhbinh.gov.vn"),  # Ninh Bình Art 5.1.c
])
def test_ninhbinh_org_examples(make, code, address):
    assert make("ninhbinh").org_address(code) == address


def test_ninhbinh_people(make):
    result = assign(make("ninhbinh"), person("1", "Nguyễn Văn Minh", "stttt"),
                    person("2", "Nguyễn Văn Minh", "vp-stttt"),  # a unit's staff use the agency
                    person("3", "Phạm Thị Hoa", "cucphuong"))
    assert result.new == {"1": "minhnv.stttt@ninhbinh.gov.vn",  # Ninh Bình Art 5.2.a
                          "2": "minhnv2.stttt@ninhbinh.gov.vn",  # Ninh Bình Art 5.2.b
                          "3": "hoapt.cucphuong.nhoquan@ninhbinh.gov.vn"}


# --- common ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("province", ["hanam", "gialai", "cantho", "hagiang", "ninhbinh"])
def test_nfd_and_spacing_give_the_same_address(make, province):
    org = {"hanam": "stttt", "gialai": "skhcn", "cantho": "snv", "hagiang": "stttt",
           "ninhbinh": "stttt"}[province]
    a = make(province).assign([person("1", "Đặng Thị Ánh Tuyết", org)]).new["1"]
    b = make(province).assign([person("1", unicodedata.normalize("NFD", "  ĐẶNG\u00a0thị  ánh tuyết "),
                                       org)]).new["1"]
    assert a == b
    assert a.isascii() and a == a.lower()


def test_org_address_unknown_code(make):
    with pytest.raises(NamingError, match="'nope' is not in the catalogue"):
        make("hanam").org_address("nope")
