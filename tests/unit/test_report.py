"""congvu.report: the periodic usage report per agency (Cần Thơ Art 15.1 Annex II; Hà Nam Art 11.8;
Ninh Bình Art 13.6). Over the wire: tests/layouts/demo/test_report.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

from congvu.audit import Record
from congvu.errors import PolicyError
from congvu.orgs import load_catalogue
from congvu.policy import load_policy
from congvu.report import Period, build, period_for, rows_csv, to_csv, to_odt
from congvu.workdays import VN_TZ

ROOT = Path(__file__).resolve().parents[2]
BASE = "ou=organisations,dc=cantho,dc=gov,dc=vn"


def policy(province: str):
    return load_policy(ROOT / "policies" / f"{province}.yml")


@pytest.mark.parametrize(("province", "today", "period"), [
    ("cantho", "2026-12-02", ("2026-06-06", "2026-12-05")),  # Cần Thơ Art 15.1: 5 June, 5 December
    ("cantho", "2026-12-05", ("2026-06-06", "2026-12-05")),
    ("cantho", "2026-12-06", ("2026-12-06", "2027-06-05")),
    ("cantho", "2026-03-01", ("2025-12-06", "2026-06-05")),
    ("hanam", "2026-11-14", ("2025-11-15", "2026-11-14")),  # Hà Nam Art 11.8: before 15 November
    ("hanam", "2026-12-02", ("2026-11-15", "2027-11-14")),
    ("ninhbinh", "2026-12-02", ("2025-12-15", "2026-12-14")),  # Ninh Bình Art 13.6: before 15 December
])
def test_the_period_is_the_one_of_the_report_due_next(province, today, period):
    found = period_for(policy(province), dt.date.fromisoformat(today))
    assert (found.start.isoformat(), found.end.isoformat()) == period
    assert found.due == found.end


def test_a_province_reporting_on_request_needs_the_period():
    gialai = policy("gialai")
    with pytest.raises(PolicyError, match=r"operations\.report_due.*report_start and report_end"):
        period_for(gialai, dt.date(2026, 12, 2))
    asked = period_for(gialai, dt.date(2026, 12, 2), dt.date(2026, 1, 1), dt.date(2026, 6, 30))
    assert (asked.start, asked.end, asked.due) == (dt.date(2026, 1, 1), dt.date(2026, 6, 30), None)
    with pytest.raises(PolicyError, match="report_start"):
        period_for(gialai, dt.date(2026, 12, 2), dt.date(2026, 6, 30), dt.date(2026, 1, 1))


def _record(day: str, action: str, mail: str, org: str, kind: str = "person", article: str = "") -> Record:
    ts = dt.datetime.fromisoformat(f"{day}T09:00:00").replace(tzinfo=VN_TZ)
    return Record(ts=ts, actor="roster", source="roster", action=action, mail=mail, organisation=org,
                  article=article, details={"kind": kind})


@pytest.fixture
def cantho_reports():
    pol = policy("cantho")
    catalogue = load_catalogue(ROOT / "data" / "catalogues" / "cantho.yml")
    skhdt = f"o=skhdt,{BASE}"
    accounts = [
        {"dn": f"uid=a,{skhdt}", "congvuMailboxClass": "personal", "congvuOrganisationDN": skhdt,
         "congvuAccountState": "active"},
        {"dn": f"uid=b,o=vp-skhdt,{skhdt}", "congvuMailboxClass": "personal",
         "congvuOrganisationDN": f"o=vp-skhdt,{skhdt}", "congvuAccountState": "locked"},
        {"dn": f"uid=c,{skhdt}", "congvuMailboxClass": "personal", "congvuOrganisationDN": skhdt,
         "congvuAccountState": "retired"},  # reclaimed: no longer counted as issued
        {"dn": f"uid=skhdt,{skhdt}", "congvuMailboxClass": "agency", "congvuOrganisationDN": skhdt,
         "congvuAccountState": "active"},
        {"dn": f"uid=vanphong.sokhdt,o=vp-skhdt,{skhdt}", "congvuMailboxClass": "unit",
         "congvuOrganisationDN": f"o=vp-skhdt,{skhdt}", "congvuAccountState": "active"},
    ]
    records = [
        _record("2026-06-05", "create", "old@cantho.gov.vn", "skhdt"),  # the previous period
        _record("2026-07-01", "create", "a@cantho.gov.vn", "skhdt"),
        _record("2026-08-01", "change", "a@cantho.gov.vn", "skhdt"),
        _record("2026-09-01", "notify_agency", "c@cantho.gov.vn", "skhdt"),  # a notice: no account change
        _record("2026-10-01", "reclaim", "c@cantho.gov.vn", "skhdt", article="Cần Thơ Art 5.4"),
        _record("2026-11-01", "create", "x@cantho.gov.vn", "snv"),
    ]
    extras = {"skhdt": {"Số công chức": 40, "Số viên chức": 12,
                        "Người quản lý hộp thư chung": {
                            "Họ và tên": "Trần Thị Bình", "Chức vụ": "Văn thư", "Điện thoại": "0292 3820 000",
                            "Thư": "binh@cantho.gov.vn"},
                        "Văn bản phát hành qua thư": 300, "Tổng văn bản phát hành": 320}}
    period = Period(dt.date(2026, 6, 6), dt.date(2026, 12, 5), dt.date(2026, 12, 5))
    return pol, build(pol, catalogue, accounts, records, period, extras)


def test_the_directory_and_the_audit_log_fill_items_2_and_3(cantho_reports):
    _, reports = cantho_reports
    by_code = {r.code: r for r in reports}
    assert "vp-skhdt" not in by_code and {"skhdt", "snv", "ninhkieu"} <= set(by_code)
    skhdt = by_code["skhdt"]
    assert (skhdt.personal, skhdt.unit_boxes) == (2, 2)  # the retired one is not counted
    assert (skhdt.units, skhdt.departments, skhdt.centres) == (1, 1, 0)  # its Văn phòng
    assert skhdt.counts() == {"Cấp mới": 1, "Thay đổi": 1, "Hủy bỏ": 1}
    assert [r["what"] for r in skhdt.rows] == ["cấp hộp thư", "cập nhật thông tin", "thu hồi hộp thư"]
    assert skhdt.rows[2]["article"] == "Cần Thơ Art 5.4" and skhdt.rows[0]["date"] == "01/07/2026"
    assert by_code["snv"].counts()["Cấp mới"] == 1


def test_the_csv_files(cantho_reports):
    _, reports = cantho_reports
    rows = list(csv.reader(io.StringIO(to_csv(reports).lstrip("\ufeff"))))
    assert rows[0][:4] == ["Mã cơ quan", "Cơ quan", "Từ ngày", "Đến ngày"]
    skhdt = next(r for r in rows if r[0] == "skhdt")
    assert skhdt[2:] == ["06/06/2026", "05/12/2026", "2", "2", "1", "1", "1", "1"]
    skhdt_report = next(r for r in reports if r.code == "skhdt")
    changes = list(csv.reader(io.StringIO(rows_csv(skhdt_report).lstrip("\ufeff"))))
    assert changes[0][0] == "STT" and [c[4] for c in changes[1:]] == ["Cấp mới", "Thay đổi", "Hủy bỏ"]


def test_the_annex_is_an_opendocument_text_in_vietnamese(cantho_reports):
    pol, reports = cantho_reports
    data = to_odt(next(r for r in reports if r.code == "skhdt"), pol)
    with zipfile.ZipFile(io.BytesIO(data)) as odt:
        first = odt.infolist()[0]
        assert (first.filename, first.compress_type) == ("mimetype", zipfile.ZIP_STORED)  # ODF 1.3 §3.3
        assert odt.read("mimetype") == b"application/vnd.oasis.opendocument.text"
        ElementTree.fromstring(odt.read("META-INF/manifest.xml"))
        ElementTree.fromstring(odt.read("styles.xml"))
        root = ElementTree.fromstring(odt.read("content.xml"))
    text = " ".join(t for t in root.itertext())
    assert "BÁO CÁO TÌNH HÌNH SỬ DỤNG THƯ ĐIỆN TỬ" in text
    assert "(thời gian từ 06/06/2026 đến 05/12/2026)" in text
    assert "khoản 1 Điều 15" in text  # Cần Thơ Art 15.1
    assert "Số lượng hộp thư điện tử người dùng: 2" in text
    assert "1. Tổng số cán bộ công chức, viên chức (không kể tạp vụ, lái xe) của cơ quan: 52" in text
    assert "Trần Thị Bình, chức vụ: Văn thư" in text and "300/320" in text
    assert "5. Họ tên người được phân công" in text and "…………" in text  # left for the agency
    assert "a@cantho.gov.vn" in text and "(Ký, ghi rõ họ tên, đóng dấu)" in text


def test_an_unknown_agency_is_refused():
    pol = policy("cantho")
    catalogue = load_catalogue(ROOT / "data" / "catalogues" / "cantho.yml")
    with pytest.raises(PolicyError, match=r"report_agencies.*vp-skhdt"):
        build(pol, catalogue, [], [], Period(dt.date(2026, 1, 1), dt.date(2026, 6, 30)),
              agencies=["vp-skhdt"])
