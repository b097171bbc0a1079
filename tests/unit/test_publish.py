"""Published directory: CSV, vCard, HTML per agency and province (Hà Nam Art 11.5, Gia Lai Art 10.5)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from congvu.orgs import load_catalogue
from congvu.policy import load_policy
from congvu.publish import directory_files, vn_sort_key

ROOT = Path(__file__).resolve().parents[2]
ORGS = "ou=organisations,dc=hanam,dc=gov,dc=vn"


def entry(cn, mail, org_dn, position="", kind="personal", **extra):
    # the shape community.general.ldap_search returns: single values as strings
    return {"dn": f"uid={mail.split('@')[0]},{org_dn}", "cn": cn, "mail": mail, "congvuPosition": position,
            "congvuOrganisationDN": org_dn, "congvuMailboxClass": kind, "congvuAccountState": "active",
            **extra}


@pytest.fixture(scope="module")
def files():
    policy = load_policy(ROOT / "policies/hanam.yml")
    catalogue = load_catalogue(ROOT / "data/catalogues/hanam.yml")
    entries = [
        entry("Trần Văn Đức", "tranvanduc@hanam.gov.vn", f"o=stttt,{ORGS}", "Giám đốc"),
        entry("Nguyễn Thị Thanh Hà", "nguyenthithanhha@hanam.gov.vn", f"o=pttbcxb,o=stttt,{ORGS}",
              "Chuyên viên"),
        entry("Lê Văn Dũng", "levandung@hanam.gov.vn", f"o=stttt,{ORGS}"),
        entry("Sở Thông tin và Truyền thông", "stttt@hanam.gov.vn", f"o=stttt,{ORGS}", kind="agency"),
        entry("Phạm Văn Bình", "phamvanbinh@hanam.gov.vn", f"o=sldtbxh,{ORGS}", "Kế toán; thủ quỹ"),
        entry("Đỗ Văn Rời", "dovanroi@hanam.gov.vn", f"o=stttt,{ORGS}", congvuLeavingSince="20260101000000Z"),
        entry("Hoàng Văn Khóa", "hoangvankhoa@hanam.gov.vn", f"o=stttt,{ORGS}", congvuAccountState="locked"),
    ]
    return directory_files(entries, policy, catalogue, generated="22/11/2026")


def test_one_folder_per_agency_and_one_for_the_province(files):
    assert sorted(files) == sorted(f"{d}/{n}" for d in ("toan-tinh", "stttt", "sldtbxh")
                                   for n in ("danh-ba.csv", "danh-ba.vcf", "index.html"))


def test_csv_has_bom_vietnamese_headings_and_only_active_non_leaving(files):
    text = files["stttt/danh-ba.csv"]
    assert text.startswith("\ufeffSTT,Họ và tên,Chức vụ,Đơn vị,Cơ quan,Địa chỉ thư")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    mails = [r["Địa chỉ thư"] for r in rows]
    # organisation mailbox first, then people by given name in Vietnamese order: Dũng < Đức < Hà
    assert mails == ["stttt@hanam.gov.vn", "levandung@hanam.gov.vn", "tranvanduc@hanam.gov.vn",
                     "nguyenthithanhha@hanam.gov.vn"]
    assert rows[3]["Đơn vị"] == "Phòng Thông tin - Báo chí - Xuất bản"
    assert "dovanroi" not in text and "hoangvankhoa" not in text


def test_vcard_escapes_and_folds(files):
    text = files["sldtbxh/danh-ba.vcf"]
    assert "TITLE:Kế toán\\; thủ quỹ\r\n" in text
    assert "N:Phạm;Bình;Văn;;\r\n" in text
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    assert text.count("BEGIN:VCARD") == 1


def test_html_page_is_vietnamese_searchable_and_escaped(files):
    page = files["toan-tinh/index.html"]
    assert '<html lang="vi">' in page
    assert "Danh bạ thư điện tử công vụ" in page
    assert 'id="q"' in page and "normalize(\"NFD\")" in page  # client-side search, accent-insensitive
    assert "Điều 11 khoản 5" in page  # Hà Nam Art 11.5
    assert "Cập nhật ngày 22/11/2026" in page
    assert page.count("<tr") == 1 + 5  # header + active mailboxes
    assert "Kế toán; thủ quỹ" in page


def test_html_escapes_markup():
    policy = load_policy(ROOT / "policies/hanam.yml")
    catalogue = load_catalogue(ROOT / "data/catalogues/hanam.yml")
    out = directory_files([entry("Lê <b>Văn</b> A", "a@hanam.gov.vn", f"o=stttt,{ORGS}", "<script>")],
                          policy, catalogue)
    assert "<script>" not in out["stttt/index.html"].split("<script>\n(function")[0]
    assert "&lt;b&gt;" in out["stttt/index.html"]


def test_vietnamese_alphabetical_order():
    words = ["Đức", "Dũng", "Anh", "Ân", "Ăn", "Ba", "Bà", "Bá"]
    assert sorted(words, key=vn_sort_key) == ["Anh", "Ăn", "Ân", "Ba", "Bà", "Bá", "Dũng", "Đức"]
