"""Roster parsing: CSV/YAML, Vietnamese headings, BOM and NFD text, every problem with file and line."""

from __future__ import annotations

import unicodedata

import pytest

from congvu.roster import Person, RosterError, load_rosters, parse_roster, to_csv

ORGS = ["stttt", "sldtbxh", "pttbcxb"]
HEAD = "Mã cán bộ,Họ và tên,Ngày sinh,Giới tính,Đơn vị,Chức vụ,Quê quán,Nơi sinh,Địa chỉ thư\n"


def problems_of(files, orgs=ORGS) -> list[str]:
    with pytest.raises(RosterError) as info:
        load_rosters(files, orgs)
    return info.value.problems


def test_csv_with_bom_nfd_and_headings_parses_to_nfc():
    name = unicodedata.normalize("NFD", "Nguyễn Thị Thanh Hà")
    raw = ("\ufeff" + HEAD + f"HN-1,{name},12/03/1985,Nữ,stttt,Chuyên viên,Kim Bảng,Phủ Lý,\n").encode()
    [person] = parse_roster(raw, "stttt.csv", ORGS)
    assert person.name == "Nguyễn Thị Thanh Hà"
    assert unicodedata.is_normalized("NFC", person.name)
    assert person.birth_date == "1985-03-12"
    assert person.gender == "female"
    assert person.org == "stttt"
    assert person.position == "Chuyên viên"
    assert person.where == "stttt.csv:2"


def test_csv_headings_without_diacritics_any_case_semicolons():
    raw = "ho va ten;MA CAN BO;ngay sinh;don vi\nTrần Văn An;X-9;1980-01-02;stttt\n".encode()
    [person] = parse_roster(raw, "a.csv", ORGS)
    assert (person.id, person.name, person.birth_date) == ("X-9", "Trần Văn An", "1980-01-02")


def test_organisation_by_catalogue_name():
    class Org:
        def __init__(self, name):
            self.name = name
    catalogue = {"stttt": Org("Sở Thông tin và Truyền thông")}
    raw = HEAD + "1,Lê Văn Bình,01/01/1990,Nam,Sở Thông tin và Truyền thông,,,,\n"
    [person] = parse_roster(raw, "a.csv", catalogue)
    assert person.org == "stttt"


def test_yaml_roster_with_english_and_vietnamese_keys_and_default_org():
    text = """organisation: stttt
people:
  - id: HN-2
    name: Trần Văn Bình
    birth_date: 1980-01-02
    admin: true
  - Mã cán bộ: HN-3
    Họ và tên: Ksor H'Nhiên
    Ngày sinh: 02/01/1990
    Đơn vị: pttbcxb
    Địa chỉ thư: hnhienk@hanam.gov.vn
"""
    first, second = parse_roster(text, "stttt.yml", ORGS)
    assert (first.org, first.birth_date, first.admin) == ("stttt", "1980-01-02", True)
    assert (second.org, second.name, second.address) == ("pttbcxb", "Ksor H'Nhiên", "hnhienk@hanam.gov.vn")
    assert second.where == "stttt.yml:7"


def test_every_problem_is_listed_with_file_and_line():
    csv_a = HEAD + ("HN-1,Nguyễn Văn Minh,12/03/1985,Nam,stttt,,,,\n"
                    "HN-2,Nguyễn Văn 2,12/03/1985,Nam,stttt,,,,\n"
                    "HN-3,Lê Thị Hoa,31/02/1990,Nữ,stttt,,,,\n"
                    "HN-4,Lê Thị Hồng,01/02/1990,Nữ,sxyz,,,,\n"
                    "HN-5,Phạm Văn Đức,01/02/1990,Không rõ,stttt,,,,\n"
                    "HN-6,Phạm Văn Đồng,01/02/1990,Nam,stttt,,,,Phạm Đồng\n")
    yaml_b = """people:
  - id: HN-1
    name: Trần Thị Lan
    birth_date: 1980-13-02
    org: stttt
  - id: HN-1
    name: Trần Thị Mai
    birth_date: 1981-01-02
    org: stttt
  - id: HN-7
    name: Nguyễn Văn Minh
    birth_date: 1985-03-12
    org: stttt
  - id: HN-8
    name: Hoàng
    birth_date: 1985-03-12
    org: stttt
"""
    found = problems_of([("a.csv", csv_a.encode()), ("b.yml", yaml_b)])
    text = "\n".join(found)
    assert "a.csv:3: malformed name 'Nguyễn Văn 2'" in text
    assert "a.csv:4: malformed date '31/02/1990'" in text
    assert "a.csv:5: unknown organisation 'sxyz'" in text
    assert "a.csv:6: unknown Giới tính 'Không rõ'" in text
    assert "a.csv:7: Địa chỉ thư 'Phạm Đồng' is not a mailbox name" in text
    assert "b.yml:2: malformed date '1980-13-02'" in text
    assert "b.yml:6: duplicate Mã cán bộ 'HN-1' (first at a.csv:2)" in text
    assert "b.yml:10: Nguyễn Văn Minh (1985-03-12) is listed twice in stttt (first at a.csv:2" in text
    assert "b.yml:14: malformed name 'Hoàng'" in text
    assert len(found) == 9


def test_unknown_and_missing_columns_are_reported_on_line_one():
    found = problems_of([("x.csv", "Họ và tên,Lương,Đơn vị\nLê Văn A,1,stttt\n")])
    assert "x.csv:1: unknown column 'Lương'" in found[0]
    assert any("x.csv:1: missing column 'Mã cán bộ'" in p for p in found)
    assert any("x.csv:1: missing column 'Ngày sinh'" in p for p in found)


def test_non_utf8_file_names_the_line():
    raw = (HEAD + "HN-1,Nguyen Van A,01/01/1990,Nam,stttt,,,,\n").encode() + "HN-2,Lê,".encode("cp1258")
    found = problems_of([("legacy.csv", raw)])
    assert found[0].startswith("legacy.csv:3: not UTF-8 text")


def test_quoted_multiline_cells_keep_line_numbers():
    raw = HEAD + ('"HN-1","Lê Văn A","01/01/1990","Nam","stttt","Phó\ntrưởng phòng",,,\n'
                  "HN-2,Lê Văn B,xx,Nam,stttt,,,,\n")
    found = problems_of([("m.csv", raw)])
    assert found == ["m.csv:4: malformed date 'xx' (Ngày sinh: DD/MM/YYYY or YYYY-MM-DD)"]


def test_namesakes_with_distinguishing_details_are_two_people():
    raw = HEAD + ("1,Nguyễn Văn Minh,12/03/1985,Nam,stttt,,Kim Bảng,,\n"
                  "2,Nguyễn Văn Minh,12/03/1985,Nam,stttt,,Duy Tiên,,\n")
    assert len(load_rosters([("n.csv", raw)], ORGS)) == 2


def test_to_csv_round_trip():
    people = [Person(id="A1", name="Đặng Thị Ánh", birth_date="1990-05-06", org="stttt", gender="female",
                     position="Kế toán", hometown="Lý Nhân", admin=True,
                     aliases=("anh.dt@hanam.gov.vn", "dtanh@hanam.gov.vn"))]
    [back] = parse_roster(to_csv(people), "r.csv", ORGS)
    assert back == people[0]


def test_aliases_column_and_yaml_list_give_full_lower_case_addresses():
    # issue 16: addresses kept from a former system ("Bí danh"), in either format
    raw = (HEAD.rstrip("\n") + ",Bí danh\n"
           'A1,Đặng Thị Ánh,06/05/1990,Nữ,stttt,,,,,"Anh.DT@hanam.gov.vn; dt.anh@hanam.gov.vn"\n')
    [csv_person] = parse_roster(raw, "r.csv", ORGS)
    assert csv_person.aliases == ("anh.dt@hanam.gov.vn", "dt.anh@hanam.gov.vn")
    yml = ("people:\n  - {id: A1, name: Đặng Thị Ánh, birth_date: 1990-05-06, org: stttt,\n"
           "     aliases: [dt.anh@hanam.gov.vn, anh.dt@hanam.gov.vn, anh.dt@hanam.gov.vn]}\n")
    [yaml_person] = parse_roster(yml, "r.yml", ORGS)
    assert yaml_person.aliases == csv_person.aliases


def test_an_alias_that_is_not_a_full_address_is_named():
    yml = ("people:\n  - {id: A1, name: Đặng Thị Ánh, birth_date: 1990-05-06, org: stttt,\n"
           "     aliases: [anh.dt, Ánh@hanam.gov.vn, ok@hanam.gov.vn]}\n")
    problems = problems_of([("r.yml", yml)])
    assert len(problems) == 2
    assert all(p.startswith("r.yml:2: Bí danh ") for p in problems)
    assert "'anh.dt'" in problems[0] and "'Ánh@hanam.gov.vn'" in problems[1]
