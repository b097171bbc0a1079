"""The thin Ansible filter wrapper of filter_plugins/report.py (playbooks/report.yml's period)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from source_files import load

from congvu.policy import load_policy
from congvu.report import imap_date

ROOT = Path(__file__).resolve().parents[2]


PLUGIN = load("filter_plugins/report.py", "congvu_filter_report")
PERIOD = PLUGIN.FilterModule().filters()["congvu_report_period"]


def test_documented():
    assert "name: congvu_report_period" in PLUGIN.DOCUMENTATION
    for text in (PLUGIN.DOCUMENTATION, PLUGIN.EXAMPLES, PLUGIN.RETURN):
        assert text.strip()


def test_a_period_asked_for_and_the_day_after_it():
    gialai = load_policy(ROOT / "policies" / "gialai.yml")
    assert PERIOD(gialai, "2026-01-01", "2026-06-30") == {
        "start": "2026-01-01", "end": "2026-06-30", "due": None, "before": "2026-07-01",
        "search_since": "1-Jan-2026", "search_before": "1-Jul-2026"}  # IMAP dates for doveadm search


def test_the_report_due_next_ends_on_a_due_day():
    # Hà Nam Art 11.8: the yearly report before 15 November
    span = PERIOD(load_policy(ROOT / "policies" / "hanam.yml"))
    assert span["end"].endswith("-11-14") and span["due"] == span["end"]


@pytest.mark.parametrize(("start", "end", "match"), [
    ("", "", r"operations\.report_due"),  # Gia Lai sets no due day: a period must be given
    ("2026-13-01", "2026-06-30", "report_start"),
    ("2026-06-30", "2026-01-01", "report_start"),
])
def test_bad_input_names_the_key(start, end, match):
    with pytest.raises(AnsibleFilterError, match=match):
        PERIOD(load_policy(ROOT / "policies" / "gialai.yml"), start, end)


def test_doveadm_gets_imap_dates_whatever_the_locale():
    # an ISO date is an instant to doveadm search: the period's last evening fell out (CI, 18:47 in Vietnam)
    assert imap_date(dt.date(2026, 12, 8)) == "8-Dec-2026"
    assert imap_date(dt.date(2027, 1, 31)) == "31-Jan-2027"
