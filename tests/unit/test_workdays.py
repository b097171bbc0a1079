"""Vietnamese working days for lifecycle deadlines (congvu.workdays)."""

from __future__ import annotations

import datetime as dt

import pytest

from congvu.errors import PolicyError
from congvu.workdays import add_working_days, is_working_day, working_days_between

D = dt.date


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
