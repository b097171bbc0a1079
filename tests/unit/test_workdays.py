"""Vietnamese working days for lifecycle deadlines (congvu.workdays)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from congvu.errors import PolicyError
from congvu.workdays import Calendar, add_working_days, is_working_day, working_days_between

D = dt.date
ROOT = Path(__file__).resolve().parents[2]


def test_plain_week():
    assert add_working_days(D(2026, 3, 2), 3) == D(2026, 3, 5)  # Monday + 3 = Thursday
    assert add_working_days(D(2026, 3, 6), 1) == D(2026, 3, 9)  # Friday + 1 = Monday
    assert add_working_days(D(2026, 3, 7), 1) == D(2026, 3, 9)  # from a Saturday
    assert add_working_days(D(2026, 3, 4), 0) == D(2026, 3, 4)


def test_tet_2026_is_skipped():
    # Tết Bính Ngọ: 16-20 February 2026 are public holidays (Monday to Friday)
    for day in range(16, 21):
        assert not is_working_day(D(2026, 2, day))
    assert add_working_days(D(2026, 2, 13), 1) == D(2026, 2, 23)


def test_tet_2025_is_skipped():
    # Tết Ất Tỵ: 27 January - 1 February 2025 (plus the weekend)
    assert add_working_days(D(2025, 1, 24), 1) == D(2025, 2, 3)
    # Hà Nam Art 6.2.b: 3 working days to answer a request received on the eve of the holiday
    assert add_working_days("2025-01-24", 3) == D(2025, 2, 5)


def test_ninhbinh_fifteen_working_days_across_tet():
    # Ninh Bình Art 7.1 / Cần Thơ Art 5.4: removal 15 working days after the notice of 10 February 2026
    assert add_working_days(D(2026, 2, 10), 15) == D(2026, 3, 10)
    # without the holidays the date would be a week earlier
    assert (D(2026, 3, 10) - D(2026, 2, 10)).days == 28
    assert working_days_between(D(2026, 2, 10), D(2026, 3, 10)) == 15


def test_other_public_holidays():
    assert not is_working_day(D(2026, 4, 30))  # Reunification Day
    assert not is_working_day(D(2026, 5, 1))  # Labour Day
    assert not is_working_day(D(2026, 9, 2))  # National Day
    assert not is_working_day(D(2026, 1, 1))  # New Year
    assert add_working_days(D(2026, 4, 29), 1) == D(2026, 5, 4)


def test_compensating_saturday_is_a_working_day():
    # 2025: Friday 2 May off, Saturday 26 April worked in exchange
    assert is_working_day(D(2025, 4, 26))
    assert not is_working_day(D(2025, 5, 2))
    assert add_working_days(D(2025, 4, 25), 1) == D(2025, 4, 26)


def test_extra_holidays_and_workdays():
    assert add_working_days(D(2026, 3, 2), 1, extra_holidays=["2026-03-03"]) == D(2026, 3, 4)
    assert add_working_days(D(2026, 3, 6), 1, extra_workdays=[D(2026, 3, 7)]) == D(2026, 3, 7)


def test_backwards():
    # latest day to send a 3-working-day downtime notice (Gia Lai Art 8.2) for Monday 23 February 2026
    assert add_working_days(D(2026, 2, 23), -3) == D(2026, 2, 11)


def test_datetime_and_string_inputs():
    assert add_working_days(dt.datetime(2026, 3, 2, 15, 30), 1) == D(2026, 3, 3)
    assert add_working_days("2026-03-02", 1) == D(2026, 3, 3)


@pytest.mark.parametrize(("start", "days", "key"), [
    ("02/03/2026", 1, "start"),
    (D(2026, 3, 2), "3", "days"),
    (D(2026, 3, 2), 1.5, "days"),
    (D(2026, 3, 2), True, "days"),
    (D(2026, 3, 2), 10**6, "days"),
])
def test_errors(start, days, key):
    with pytest.raises(PolicyError) as info:
        add_working_days(start, days)
    assert info.value.key == key


# --- Calendar: the policy's swap days and confirmed years ------------------------------------------------

def _calendar(years=(2025, 2026, 2027, 2028), **extra) -> Calendar:
    from congvu.policy import load_policy
    policy = load_policy(ROOT / "policies" / "ninhbinh.yml", {"calendar": {"confirmed_years": list(years),
                                                                            **extra}})
    return Calendar.from_policy(policy)


def test_policy_swap_new_year_2026():
    # Công văn 12729/VPCP-KGVX: Friday 2 January 2026 off, Saturday 10 January worked. The holidays package
    # does not know it; the policy's calendar does.
    assert is_working_day(D(2026, 1, 2)) and not is_working_day(D(2026, 1, 10))
    cal = _calendar()
    assert not cal.is_working_day(D(2026, 1, 2)) and cal.is_working_day(D(2026, 1, 10))
    assert cal.add(D(2025, 12, 31), 3) == D(2026, 1, 7)
    assert cal.add(D(2026, 1, 9), 1) == D(2026, 1, 10)


def test_tet_2027_and_leap_2028_from_the_index():
    cal = _calendar()
    # Tết Đinh Mùi 2027 (the package's estimate): Thursday 4 to Wednesday 10 February off
    assert [cal.is_working_day(D(2027, 2, d)) for d in range(3, 12)] == [True] + [False] * 7 + [True]
    assert cal.add(D(2027, 1, 25), 15) == D(2027, 2, 22)
    assert cal.between(D(2027, 1, 25), D(2027, 2, 22)) == 15
    assert cal.add(D(2028, 2, 28), 1) == D(2028, 2, 29)  # a Tuesday in a leap year
    assert cal.add(D(2028, 3, 1), -1) == D(2028, 2, 29)


def test_index_agrees_with_the_day_by_day_walk():
    import random

    cal = _calendar(years=range(2024, 2031))
    rng = random.Random(7)
    for _ in range(2000):
        start = D(2025, 1, 1) + dt.timedelta(days=rng.randrange(4 * 365))
        days = rng.randrange(-60, 61)
        walk = add_working_days(start, days, extra_holidays=cal.extra_days_off,
                                extra_workdays=cal.extra_workdays)
        assert cal.add(start, days) == walk, (start, days)
        if days > 0:
            assert cal.between(start, walk) == days


def test_unconfirmed_year_names_file_key_rule_and_purpose():
    cal = _calendar(years=(2026,))
    assert cal.add(D(2026, 12, 1), 3) == D(2026, 12, 4)
    with pytest.raises(PolicyError) as info:
        cal.add(D(2026, 12, 22), 15, why="the reclaim deadline of x@ninhbinh.gov.vn (Ninh Bình Art 7.1)")
    err = info.value
    assert err.source.endswith("policies/ninhbinh.yml") and err.key == "calendar.confirmed_years"
    assert "the calendar of 2027 is not confirmed (confirmed: 2026)" in err.message
    assert "Ninh Bình Art 7.1" in err.message
    with pytest.raises(PolicyError):
        cal.add(D(2026, 1, 5), -3)  # back into 2025
    with pytest.raises(PolicyError):
        cal.between(D(2026, 12, 20), D(2027, 1, 4))


def test_calendar_without_policy_checks_no_year():
    assert Calendar().add(D(2031, 3, 3), 1) == D(2031, 3, 4)
