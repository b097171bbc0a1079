"""Organisation catalogues: loading, validation and abbreviations by each province's convention."""

from __future__ import annotations

from pathlib import Path

import pytest

from congvu.errors import NamingError
from congvu.orgs import Org, load_catalogue, place_words
from congvu.policy import load_policy, province_codes
from congvu.schemes import derive_abbr

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = ROOT / "data" / "catalogues"


def org(name, kind="agency", **kw):
    return Org(code="x", name=name, kind=kind, **kw)


@pytest.mark.parametrize("province", province_codes(ROOT / "policies"))
def test_example_catalogues_load(province):
    # The catalogue is found by province code and names that code, whatever scheme the province uses.
    scheme = load_policy(ROOT / "policies" / f"{province}.yml")["naming"]["scheme"]
    catalogue = load_catalogue(CATALOGUES / f"{province}.yml", scheme=scheme, province=province)
    assert catalogue.province == province
    assert len(catalogue) >= 4


@pytest.mark.parametrize(("name", "kind", "convention", "expected"), [
    ("Sở Thông tin và Truyền thông", "agency", "hanam", "stttt"),  # Hà Nam Art 5.1.a
    ("Phòng Thông tin - Báo chí - Xuất bản", "unit", "hanam", "pttbcxb"),  # Hà Nam Art 5.1.d
    ("Phòng Tư pháp", "unit", "hanam", "ptp"),  # Hà Nam Art 5.1.đ
    ("Ủy ban nhân dân huyện Kim Bảng", "district", "hanam", "kb"),  # Hà Nam Art 5.1.b
    ("UBND thị xã Duy Tiên", "district", "hanam", "dt"),  # Hà Nam Art 5.1.c
    ("Ủy ban nhân dân xã Tiên Sơn", "commune", "hanam", "tienson"),  # Hà Nam Art 5.1.c
    ("Sở Khoa học và Công nghệ", "agency", "gialai", "skhcn"),  # Gia Lai Art 4.1.a
    ("Ủy ban nhân dân phường Pleiku", "commune", "gialai", "pleiku"),  # Gia Lai Art 4.1.b
    ("UBND xã Đak Pơ", "commune", "gialai", "dakpo"),  # Gia Lai Art 4.2.a
    ("Phòng Văn hóa – Xã hội", "unit", "gialai", "vanhoa-xahoi"),  # Gia Lai Art 4.1.c
    ("Sở Nội vụ", "agency", "cantho", "sonv"),  # Cần Thơ Art 4.2.a
    ("Sở Kế hoạch và Đầu tư", "agency", "cantho", "sokhdt"),  # Cần Thơ Art 4.2.b
    ("Văn phòng", "unit", "cantho", "vanphong"),  # Cần Thơ Art 4.2.b
    ("Sở Thông tin và Truyền thông", "agency", "hagiang", "stttt"),  # Hà Giang Art 4.1
    ("Sở Lao động - Thương binh và Xã hội", "agency", "ninhbinh", "sldtbxh"),  # Ninh Bình Art 5.1.a
    ("Ủy ban nhân dân tỉnh Ninh Bình", "province", "ninhbinh", "ubnd"),  # Ninh Bình Art 5.1.a
    ("Ủy ban nhân dân huyện Nho Quan", "district", "ninhbinh", "nhoquan"),  # Ninh Bình Art 5.1.b
    ("Văn phòng UBND tỉnh", "agency", "hagiang", "vpubndt"),  # acronyms kept whole
])
def test_derive_abbr(name, kind, convention, expected):
    assert derive_abbr(org(name, kind), convention) == expected


def test_catalogue_abbr_overrides_derivation():
    assert derive_abbr(org("Trung tâm Chuyển đổi số", "unit", abbr="ttcds"), "gialai") == "ttcds"
    assert derive_abbr(org("Trung tâm Chuyển đổi số", "unit"), "gialai") == "trungtamchuyendoiso"


def test_unknown_convention():
    with pytest.raises(NamingError, match="unknown naming convention"):
        derive_abbr(org("Sở Nội vụ"), "saigon")


def test_place_words():
    assert place_words("Ủy ban nhân dân thành phố Ninh Bình") == ["Ninh", "Bình"]
    assert place_words("UBND thị trấn Me") == ["Me"]


def test_every_problem_reported_with_file_and_entry():
    data = {"organisations": [
        {"code": "a", "name": "Sở A", "kind": "agency"},
        {"code": "a", "name": "Sở A bis", "kind": "agency"},  # duplicate
        {"code": "u", "name": "Phòng U", "kind": "unit", "parent": "nope"},  # unknown parent
        {"code": "b", "name": "Sở B", "kind": "ministry"},  # bad kind
        {"code": "c", "name": "Phòng C", "kind": "unit"},  # unit without parent
        {"code": "d", "kind": "agency"},  # no name
        {"code": "e", "name": "Sở E", "kind": "agency", "colour": "red"},  # unknown field
        {"code": "F", "name": "Sở F", "kind": "agency", "clash_code": "abc"},  # bad code + clash code
        {"code": "x1", "name": "Phòng X1", "kind": "unit", "parent": "x2"},  # cycle x1 <-> x2
        {"code": "x2", "name": "Phòng X2", "kind": "unit", "parent": "x1"},
        {"code": "k", "name": "Xã K", "kind": "commune", "parent": "a"},  # commune under an agency
    ]}
    with pytest.raises(NamingError) as info:
        load_catalogue(data, source="cat.yml")
    text = str(info.value)
    for expected in ["organisations[1] (code 'a'): duplicate code 'a' (first at organisations[0])",
                     "organisations[2] (code 'u'): unknown parent 'nope'",
                     "organisations[3] (code 'b'): kind 'ministry' is not one of",
                     "organisations[4] (code 'c'): a unit needs a parent",
                     "organisations[5] (code 'd'): missing required field 'name'",
                     "organisations[6] (code 'e'): unknown field 'colour'",
                     "organisations[7] (code 'F'): code must be lower-case",
                     "clash_code 'abc' must be two lower-case ASCII letters",
                     "parent cycle: x1 -> x2 -> x1",
                     "organisations[10] (code 'k'): a commune cannot sit under 'a', which is of kind agency"]:
        assert expected in text
    assert text.startswith("cat.yml: 10 problem(s) in the catalogue")
    assert all(line.strip().startswith("cat.yml:") for line in text.splitlines()[1:])


def test_hanam_needs_clash_codes():
    # Hà Nam Art 5.2.b: later holders of a name get .<two-letter code of their agency>.
    data = {"organisations": [
        {"code": "s", "name": "Sở S", "kind": "agency", "clash_code": "ss"},
        {"code": "h", "name": "Huyện H", "kind": "district"},
        {"code": "x", "name": "Xã X", "kind": "commune", "parent": "h"},
        {"code": "p", "name": "Phòng P", "kind": "unit", "parent": "s"},  # inherits ss
    ]}
    with pytest.raises(NamingError) as info:
        load_catalogue(data, source="hanam.yml", scheme="hanam")
    text = str(info.value)
    assert "(code 'h'): no clash_code here or on a parent: add a two-letter clash_code" in text
    assert "(code 'x')" in text
    assert "the first two initials of its name give 'hh'" not in text  # "Huyện H" has one word
    bad = {"organisations": [{"code": "l", "name": "Sở Lao động - Thương binh và Xã hội", "kind": "agency"}]}
    with pytest.raises(NamingError, match="the first two initials of its name give 'ld'"):
        load_catalogue(bad, scheme="hanam")
    assert "(code 'p')" not in text and "(code 's')" not in text
    load_catalogue(data, source="gialai.yml", scheme="gialai")  # other schemes don't need them


def test_catalogue_for_another_province():
    with pytest.raises(NamingError, match="catalogue is for 'hanam' but the province is 'cantho'"):
        load_catalogue(CATALOGUES / "hanam.yml", province="cantho")
    with pytest.raises(NamingError, match="catalogue is for 'hanam' but the province is 'cantho'"):
        load_catalogue(CATALOGUES / "hanam.yml", scheme="hanam", province="cantho")


def test_a_province_may_use_another_provinces_scheme():
    # The catalogue's province is the province code, not the scheme: any scheme may read it.
    data = {"province": "somewhere", "organisations": [
        {"code": "s", "name": "Sở Khoa học và Công nghệ", "kind": "agency", "clash_code": "kh"}]}
    for scheme in ("hanam", "gialai", "cantho", "hagiang", "ninhbinh"):
        assert load_catalogue(data, scheme=scheme, province="somewhere").province == "somewhere"


def test_unknown_scheme_names_the_registered_ones():
    with pytest.raises(NamingError, match=r"unknown naming scheme 'saigon' \(registered: hanam, gialai"):
        load_catalogue(CATALOGUES / "hanam.yml", scheme="saigon")


def test_file_errors(tmp_path):
    with pytest.raises(NamingError, match="cannot read catalogue"):
        load_catalogue(tmp_path / "missing.yml")
    bad = tmp_path / "bad.yml"
    bad.write_text("organisations: [\n", encoding="utf-8")
    with pytest.raises(NamingError, match=r"bad.yml: not valid YAML"):
        load_catalogue(bad)
    bad.write_text("- a\n", encoding="utf-8")
    with pytest.raises(NamingError, match="a catalogue is a mapping"):
        load_catalogue(bad)
    bad.write_text("organisations: {}\nextra: 1\n", encoding="utf-8")
    with pytest.raises(NamingError) as info:
        load_catalogue(bad)
    assert "unknown top-level key 'extra'" in str(info.value)
    assert "'organisations' must be a list" in str(info.value)


def test_catalogue_navigation():
    catalogue = load_catalogue(CATALOGUES / "hanam.yml")
    assert [o.code for o in catalogue.ancestors("tienson")] == ["tienson", "duytien"]
    assert catalogue.agency_of("pttbcxb").code == "stttt"
    assert catalogue.clash_code_of("thanhha") == "tl"  # Hà Nam Art 5.2.b: the district's code
    with pytest.raises(NamingError, match="'nowhere' is not in the catalogue"):
        catalogue.get_org("nowhere")
