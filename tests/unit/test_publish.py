"""Published directory: CSV, vCard, HTML per agency and province (Hà Nam Art 11.5, Gia Lai Art 10.5)."""

from __future__ import annotations

import csv
import html
import io
import re
import unicodedata
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


# active people and an agency mailbox of two agencies, the base of both fixtures
PEOPLE = [
    entry("Trần Văn Đức", "tranvanduc@hanam.gov.vn", f"o=stttt,{ORGS}", "Giám đốc"),
    entry("Nguyễn Thị Thanh Hà", "nguyenthithanhha@hanam.gov.vn", f"o=pttbcxb,o=stttt,{ORGS}",
          "Chuyên viên"),
    entry("Lê Văn Dũng", "levandung@hanam.gov.vn", f"o=stttt,{ORGS}"),
    entry("Sở Thông tin và Truyền thông", "stttt@hanam.gov.vn", f"o=stttt,{ORGS}", kind="agency"),
    entry("Phạm Văn Bình", "phamvanbinh@hanam.gov.vn", f"o=sldtbxh,{ORGS}", "Kế toán; thủ quỹ"),
]


def publish(entries):
    policy = load_policy(ROOT / "policies/hanam.yml")
    catalogue = load_catalogue(ROOT / "data/catalogues/hanam.yml")
    return directory_files(entries, policy, catalogue, generated="22/11/2026")


@pytest.fixture(scope="module")
def files():
    entries = [
        *PEOPLE,
        entry("Đỗ Văn Rời", "dovanroi@hanam.gov.vn", f"o=stttt,{ORGS}", congvuLeavingSince="20260101000000Z"),
        entry("Hoàng Văn Khóa", "hoangvankhoa@hanam.gov.vn", f"o=stttt,{ORGS}", congvuAccountState="locked"),
    ]
    return publish(entries)


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
    assert "khoản 5 Điều 11" in page  # Hà Nam Art 11.5
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


# --- the agencies' mailing lists (docs/lists.md; docs/accounts.md "Publishing the directory") ------

def mail_list(cn, mail, parent_dn, display_name=None, accept=None):
    # the shape community.general.ldap_search returns: objectClass has several values, so a list
    out = {"dn": f"cn={cn},{parent_dn}", "objectClass": ["top", "congvuMailList"], "cn": cn, "mail": mail}
    if display_name is not None:
        out["displayName"] = display_name
    if accept is not None:
        out["congvuListAccept"] = accept
    return out


LISTS = [
    mail_list("toanso", "toanso.stttt@hanam.gov.vn", f"o=stttt,{ORGS}",
              "Toàn thể cán bộ Sở Thông tin và Truyền thông", "organisation"),
    mail_list("banbientap", "banbientap.pttbcxb.stttt@hanam.gov.vn", f"o=pttbcxb,o=stttt,{ORGS}"),
    mail_list("giaoban", "giaoban.sldtbxh@hanam.gov.vn", f"o=sldtbxh,{ORGS}",
              "Giao ban lãnh đạo Sở Lao động - Thương binh và Xã hội", "members"),
    mail_list("lac", "lac.khongco@hanam.gov.vn", f"o=khongco,{ORGS}", "Ngoài danh mục"),
]


@pytest.fixture(scope="module")
def with_lists():
    return publish([*PEOPLE, *LISTS])


def csv_rows(text):
    return list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))


def test_a_list_is_published_in_its_agency_after_the_organisation_mailbox_before_people(with_lists):
    rows = csv_rows(with_lists["stttt/danh-ba.csv"])
    assert [r["Địa chỉ thư"] for r in rows] == [
        "stttt@hanam.gov.vn",
        # lists by name in Vietnamese order: "banbientap" (no displayName: its cn) < "Toàn thể ..."
        "banbientap.pttbcxb.stttt@hanam.gov.vn", "toanso.stttt@hanam.gov.vn",
        "levandung@hanam.gov.vn", "tranvanduc@hanam.gov.vn", "nguyenthithanhha@hanam.gov.vn"]
    assert [r["Loại"] for r in rows] == ["Hộp thư cơ quan, đơn vị", "Danh sách thư", "Danh sách thư",
                                         "Cá nhân", "Cá nhân", "Cá nhân"]
    toanso = rows[2]
    assert toanso["Họ và tên"] == "Toàn thể cán bộ Sở Thông tin và Truyền thông"
    assert toanso["Chức vụ"] == "Danh sách thư (chỉ cán bộ của cơ quan gửi đến được)"
    assert (toanso["Đơn vị"], toanso["Cơ quan"]) == ("", "Sở Thông tin và Truyền thông")
    unit_list = rows[1]
    assert unit_list["Họ và tên"] == "banbientap"  # display name falls back to the cn
    assert unit_list["Đơn vị"] == "Phòng Thông tin - Báo chí - Xuất bản"
    assert unit_list["Chức vụ"] == "Danh sách thư (chỉ hộp thư công vụ của tỉnh gửi đến được)"  # default rule


def test_a_list_is_only_in_its_own_agency_and_every_list_in_the_province(with_lists):
    assert sorted(with_lists) == sorted(f"{d}/{n}" for d in ("toan-tinh", "stttt", "sldtbxh")
                                        for n in ("danh-ba.csv", "danh-ba.vcf", "index.html"))
    for name in ("danh-ba.csv", "danh-ba.vcf", "index.html"):
        stttt, sldtbxh, province = (with_lists[f"{d}/{name}"] for d in ("stttt", "sldtbxh", "toan-tinh"))
        assert "toanso.stttt@" in stttt and "banbientap.pttbcxb.stttt@" in stttt
        assert "giaoban.sldtbxh@" not in stttt
        assert "giaoban.sldtbxh@" in sldtbxh and "toanso.stttt@" not in sldtbxh
        assert all(m in province for m in ("toanso.stttt@", "banbientap.pttbcxb.stttt@", "giaoban.sldtbxh@"))
        # a list below no organisation of the catalogue is published nowhere, like a person
        assert all("lac.khongco@" not in text for text in with_lists.values())
    # the province: agency by agency in catalogue order, each as in its own file
    mails = [r["Địa chỉ thư"] for r in csv_rows(with_lists["toan-tinh/danh-ba.csv"])]
    assert mails == ["stttt@hanam.gov.vn", "banbientap.pttbcxb.stttt@hanam.gov.vn",
                     "toanso.stttt@hanam.gov.vn", "levandung@hanam.gov.vn", "tranvanduc@hanam.gov.vn",
                     "nguyenthithanhha@hanam.gov.vn",
                     "giaoban.sldtbxh@hanam.gov.vn", "phamvanbinh@hanam.gov.vn"]


def test_a_list_is_a_vcard_3_card_marked_by_its_category(with_lists):
    cards = with_lists["stttt/danh-ba.vcf"].replace("\r\n ", "").split("END:VCARD\r\n")  # unfolded
    card = next(c for c in cards if "toanso.stttt@" in c)
    assert card.startswith("BEGIN:VCARD\r\nVERSION:3.0\r\n")
    assert "FN:Toàn thể cán bộ Sở Thông tin và Truyền thông\r\n" in card
    assert "CATEGORIES:Danh sách thư\r\n" in card
    assert "EMAIL;TYPE=INTERNET,WORK:toanso.stttt@hanam.gov.vn\r\n" in card
    assert "NOTE:Danh sách thư (chỉ cán bộ của cơ quan gửi đến được)\r\n" in card  # who may post
    assert "KIND" not in card and "TITLE" not in card  # no vCard 4 property; not a job title
    unit_card = next(c for c in cards if "banbientap.pttbcxb" in c)
    assert "FN:banbientap\r\n" in unit_card and "N:banbientap;;;;\r\n" in unit_card
    assert "ORG:Sở Thông tin và Truyền thông;Phòng Thông tin - Báo chí - Xuất bản\r\n" in unit_card
    text = with_lists["stttt/danh-ba.vcf"]
    assert text.count("BEGIN:VCARD") == 6
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))


def _fold_like_the_page(text):
    # the page's script: NFD, drop U+0300..U+036F, đ/Đ → d/D, lower case
    text = "".join(c for c in unicodedata.normalize("NFD", text) if not 0x300 <= ord(c) <= 0x36F)
    return text.replace("đ", "d").replace("Đ", "D").lower()


def test_a_list_is_a_row_of_the_page_its_search_finds_without_diacritics(with_lists):
    page = with_lists["sldtbxh/index.html"]
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    rows = re.findall(r"<tr[^>]*>.*?</tr>", body)
    assert len(rows) == 2  # the list and Phạm Văn Bình: one table, one numbering, one search
    assert rows[0].startswith('<tr class="list"><td>1</td>')
    text = html.unescape(re.sub(r"<[^>]+>", " ", rows[0]))
    assert "Giao ban lãnh đạo Sở Lao động - Thương binh và Xã hội" in text
    assert "chỉ thành viên gửi đến được" in text
    assert 'href="mailto:giaoban.sldtbxh@hanam.gov.vn"' in rows[0]
    folded = _fold_like_the_page(text)
    assert all(w in folded for w in ("giao", "ban", "lanh", "dao", "danh", "sach", "thu"))
    assert '"tbody tr"' in page and 'replace(/[\\u0300-\\u036f]/g, "")' in page
    assert "http://" not in page and "https://" not in page and "src=" not in page  # self-contained


def test_lists_leave_the_order_of_people_as_it_was(files, with_lists):
    before = [r["Họ và tên"] for r in csv_rows(files["stttt/danh-ba.csv"])[1:]]
    after = [r["Họ và tên"] for r in csv_rows(with_lists["stttt/danh-ba.csv"]) if r["Loại"] == "Cá nhân"]
    assert before == after == ["Lê Văn Dũng", "Trần Văn Đức", "Nguyễn Thị Thanh Hà"]  # Dũng < Đức < Hà


@pytest.mark.parametrize("province, article, cited", [
    ("hanam", "Hà Nam Art 11.5", "khoản 5 Điều 11"),
    ("gialai", "Gia Lai Art 10.5", "khoản 5 Điều 10"),
    ("ninhbinh", "Ninh Bình Art 13.4", "khoản 4 Điều 13"),
    ("hagiang", "Hà Giang Art 6", "Điều 6 Quy chế"),
    ("cantho", None, None),  # Cần Thơ's regulation asks for no published directory: cited nowhere
])
def test_each_province_cites_its_own_article_for_the_published_directory(province, article, cited):
    """Hà Nam Art 11.5, Gia Lai Art 10.5, Ninh Bình Art 13.4 (each agency publishes its addresses) and
    Hà Giang Art 6 (the whole directory on the provincial portal): every page says which article it
    is published under, the province's own."""
    policy = load_policy(ROOT / f"policies/{province}.yml")
    catalogue = load_catalogue(ROOT / f"data/catalogues/{province}.yml")
    domain = policy["domains"]["primary"]
    base = ",".join(f"dc={part}" for part in domain.split("."))
    agency = next(code for code in catalogue if catalogue.agency_of(code).code == code
                  and catalogue[code].kind != "province")
    org_dn = f"o={agency},ou=organisations,{base}"
    out = directory_files([entry("Nguyễn Văn An", f"an@{domain}", org_dn, "Chuyên viên")], policy, catalogue)
    page = out["toan-tinh/index.html"]
    if cited is None:
        assert "Danh bạ công khai theo" not in page
    else:
        assert f"Danh bạ công khai theo {cited}" in page, (article, page[-800:])
