"""congvu.usage: the use of the mail system per agency, for any province (issue 15, item 4), as CSV and
as an HTML page with charts. Over the wire: tests/layouts/demo/test_report.py."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from xml.etree import ElementTree

import pytest

from congvu.audit import Record
from congvu.errors import PolicyError
from congvu.orgs import load_catalogue
from congvu.report import Period
from congvu.usage import build_usage, count_search, parse_quota, usage_csv, usage_html
from congvu.workdays import VN_TZ

ROOT = Path(__file__).resolve().parents[2]
BASE = "ou=organisations,dc=cantho,dc=gov,dc=vn"
SKHDT = f"o=skhdt,{BASE}"
PERIOD = Period(dt.date(2026, 6, 6), dt.date(2026, 12, 5), dt.date(2026, 12, 5))

# what Dovecot 2.3 prints (doveadm -f tab quota get -A; doveadm -f tab search -A ...)
QUOTA = """Username\tQuota name\tType\tValue\tLimit\t%
a@cantho.gov.vn\tUser quota\tSTORAGE\t512000\t1024000\t50
a@cantho.gov.vn\tUser quota\tMESSAGE\t120\t-\t0
b@cantho.gov.vn\tUser quota\tSTORAGE\t1024000\t1024000\t100
skhdt@cantho.gov.vn\tUser quota\tSTORAGE\t2048\t-\t0
c@cantho.gov.vn\tUser quota\tSTORAGE\t999\t1024000\t0
"""
SENT = """Username\tmailbox-guid\tuid
a@cantho.gov.vn\t5f1c0e2a9b\t1
a@cantho.gov.vn\t5f1c0e2a9b\t2
skhdt@cantho.gov.vn\t8a7d\t7
"""


def _accounts():
    return [
        {"dn": f"uid=a,{SKHDT}", "mail": "a@cantho.gov.vn", "congvuOrganisationDN": SKHDT,
         "congvuAccountState": "active"},
        {"dn": f"uid=b,o=vp-skhdt,{SKHDT}", "mail": "B@cantho.gov.vn",
         "congvuOrganisationDN": f"o=vp-skhdt,{SKHDT}", "congvuAccountState": "locked"},
        {"dn": f"uid=c,{SKHDT}", "mail": "c@cantho.gov.vn", "congvuOrganisationDN": SKHDT,
         "congvuAccountState": "retired"},  # reclaimed: not counted
        {"dn": f"uid=skhdt,{SKHDT}", "mail": "skhdt@cantho.gov.vn", "congvuOrganisationDN": SKHDT,
         "congvuAccountState": "active"},
        {"dn": f"uid=x,o=snv,{BASE}", "mail": "x@cantho.gov.vn", "congvuOrganisationDN": f"o=snv,{BASE}",
         "congvuAccountState": "active"},
    ]


def _record(day: str, action: str, org: str) -> Record:
    ts = dt.datetime.fromisoformat(f"{day}T09:00:00").replace(tzinfo=VN_TZ)
    return Record(ts=ts, actor="lifecycle", source="lifecycle", action=action, mail="a@cantho.gov.vn",
                  organisation=org)


@pytest.fixture
def lines():
    catalogue = load_catalogue(ROOT / "data" / "catalogues" / "cantho.yml")
    records = [_record("2026-06-05", "lock_inactive", "skhdt"),  # the previous period
               _record("2026-07-01", "lock_inactive", "skhdt"),
               _record("2026-08-01", "unlock_returned", "skhdt"),
               _record("2026-08-02", "warn_inactive", "skhdt"),  # a warning: no account changed
               _record("2026-09-01", "create", "snv")]
    return build_usage(catalogue, _accounts(), PERIOD, parse_quota(QUOTA), count_search(SENT),
                       {"b@cantho.gov.vn": 4, "a@cantho.gov.vn": 1}, records)


def test_dovecots_output_is_read():
    quotas = parse_quota(QUOTA)
    assert quotas["a@cantho.gov.vn"] == (512000 * 1024, 1024000 * 1024)  # kibibytes; STORAGE rows only
    assert quotas["skhdt@cantho.gov.vn"] == (2048 * 1024, None)  # "-": no limit
    assert count_search(SENT) == {"a@cantho.gov.vn": 2, "skhdt@cantho.gov.vn": 1}
    assert count_search("Username\tmailbox-guid\tuid\n") == {}  # nothing matched: the header alone


def test_the_figures_of_each_agency(lines):
    by_code = {line.code: line for line in lines}
    assert "vp-skhdt" not in by_code and {"skhdt", "snv"} <= set(by_code)  # per top-level organisation
    skhdt = by_code["skhdt"]
    assert (skhdt.active, skhdt.locked) == (2, 1)  # the unit's locked person counts; the reclaimed not
    assert (skhdt.sent, skhdt.received) == (3, 5)  # addresses compared without case
    assert skhdt.used_bytes == (512000 + 1024000 + 2048) * 1024
    assert skhdt.quota_bytes == 2 * 1024000 * 1024 and skhdt.unlimited == 1
    assert skhdt.used_share == pytest.approx((512000 + 1024000) / (2 * 1024000))  # the unlimited one apart
    assert skhdt.actions == {"lock_inactive": 1, "unlock_returned": 1}  # in the period, account changes
    assert by_code["snv"].actions == {"create": 1} and by_code["snv"].used_share is None


def test_only_the_agencies_asked_for_and_no_unknown_one():
    catalogue = load_catalogue(ROOT / "data" / "catalogues" / "cantho.yml")
    assert [line.code for line in build_usage(catalogue, _accounts(), PERIOD, agencies=["snv"])] == ["snv"]
    with pytest.raises(PolicyError, match=r"not a top-level organisation.*vp-skhdt"):
        build_usage(catalogue, _accounts(), PERIOD, agencies=["vp-skhdt"])


def test_the_csv(lines):
    text = usage_csv(lines, PERIOD)
    assert text.startswith("\ufeff")  # spreadsheets read the Vietnamese
    rows = {r["Mã cơ quan"]: r for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))}
    skhdt = rows["skhdt"]
    assert (skhdt["Từ ngày"], skhdt["Đến ngày"]) == ("06/06/2026", "05/12/2026")
    assert (skhdt["Hộp thư đang hoạt động"], skhdt["Hộp thư bị khóa"]) == ("2", "1")
    assert (skhdt["Thư gửi"], skhdt["Thư nhận"], skhdt["Đã dùng so với hạn mức (%)"]) == ("3", "5", "75.0")
    assert skhdt["Thay đổi tài khoản trong kỳ"] == "tạm khóa (không sử dụng): 1; mở khóa: 1"
    assert rows["snv"]["Đã dùng so với hạn mức (%)"] == ""  # no quota: no share


def test_the_page_draws_three_charts_and_a_table(lines):
    page = usage_html(lines, PERIOD, "thành phố Cần Thơ")
    assert page.startswith("<!DOCTYPE html>") and '<html lang="vi">' in page
    assert "từ 06/06/2026 đến 05/12/2026" in page
    root = ElementTree.fromstring(page.split("\n", 1)[1].replace("<!DOCTYPE html>", ""))  # well-formed
    svg = "{http://www.w3.org/2000/svg}"
    charts = list(root.iter(f"{svg}svg"))
    assert [c.find(f"{svg}title").text for c in charts] == [
        "Hộp thư đang hoạt động và bị khóa", "Thư gửi và nhận trong kỳ", "Dung lượng đã dùng so với hạn mức"]
    names = {line.name for line in lines}
    for chart in charts:  # every agency on every chart, its figure written beside its bar
        labels = [t.text for t in chart.iter(f"{svg}text")]
        assert names <= set(labels)
    boxes = [t.text for t in charts[0].iter(f"{svg}text")]
    assert "2 / 1" in boxes
    widths = [float(r.get("width")) for r in charts[2].iter(f"{svg}rect") if r.get("height") != "12"]
    assert max(widths) <= 420  # a share over 100 % does not run off the chart
    assert len(list(root.iter("tr"))) == len(lines) + 1
    assert "75,0 % (" in page and "<td>75,0</td>" in page  # decimals as Vietnamese writes them


def test_a_long_agency_name_is_cut_visibly(lines):
    lines[0].name = "Ban Quản lý các khu chế xuất và công nghiệp thành phố Cần Thơ"
    page = usage_html(lines, PERIOD, "thành phố Cần Thơ")
    assert "Ban Quản lý các khu chế xuất và công nghiệp…" in page
