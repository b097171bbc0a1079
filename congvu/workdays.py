"""Working days for the lifecycle deadlines.

Several deadlines are counted in working days ("ngày làm việc"): 15 working days between the suspension
notice and the removal of a mailbox (Cần Thơ Art 5.4, Ninh Bình Art 7.1), 3 working days to answer a
request (Hà Nam Art 6.2.b, Gia Lai Art 6.3.b, Ninh Bình Art 6.2 and 7.2), 2 or 3 working days' notice of
planned downtime (Hà Nam Art 10.5, Gia Lai Art 8.2).

A working day is Monday to Friday, except Vietnamese public holidays (the ``holidays`` package, country
``VN``: New Year, the lunar New Year (Tết), Hùng Kings, 30 April, 1 May, National Day, and the days off the
government moves), plus the Saturdays the government turns into working days to compensate for a bridge
(e.g. 26 April 2025), minus any extra days the operator lists.

Counting convention: the day of the event (receipt of a request, sending of a notice) is day 0 and is not
counted; ``add_working_days(d, 3)`` is the third working day after ``d``. This is how Vietnamese
administrative deadlines are read ("trong thời hạn 03 ngày làm việc kể từ ngày nhận").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from functools import lru_cache

import holidays

from congvu.errors import PolicyError

#: A deadline further than this is certainly a mistake (and would loop for a long time).
MAX_WORKING_DAYS = 3660


@lru_cache(maxsize=64)
def _vn_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=year)


def _to_date(value: object, key: str = "date") -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            pass
    raise PolicyError(f"expected a date as YYYY-MM-DD, got {value!r}", key=key, rule="ISO 8601 date")


def _date_set(values: Iterable[object] | None, key: str) -> frozenset[dt.date]:
    return frozenset(_to_date(v, key) for v in (values or ()))


def is_working_day(day: object, *, extra_holidays: Iterable[object] | None = None,
                   extra_workdays: Iterable[object] | None = None) -> bool:
    """True when ``day`` is a working day in Vietnam (see the module docstring)."""
    date = _to_date(day)
    if date in _date_set(extra_holidays, "extra_holidays"):
        return False
    if date in _date_set(extra_workdays, "extra_workdays"):
        return True
    calendar = _vn_holidays(date.year)
    if date in calendar:
        return False
    if date in getattr(calendar, "weekend_workdays", ()):
        return True  # a Saturday worked to make up for a bridge day
    return date.weekday() < 5


def add_working_days(start: object, days: int, *, extra_holidays: Iterable[object] | None = None,
                     extra_workdays: Iterable[object] | None = None) -> dt.date:
    """Return the ``days``-th working day after ``start`` (``start`` itself is not counted).

    ``days`` = 0 returns ``start`` unchanged. Negative ``days`` count backwards (the latest date a notice
    can be sent for a deadline). ``extra_holidays``/``extra_workdays`` are dates the province declares
    in a given year (a provincial anniversary, a day the operator must treat as closed).
    """
    if isinstance(days, bool) or not isinstance(days, int):
        raise PolicyError(f"the number of working days must be an integer, got {days!r}",
                          key="days", rule="integer")
    if abs(days) > MAX_WORKING_DAYS:
        raise PolicyError(f"{days} working days is more than ten years", key="days",
                          rule=f"|days| <= {MAX_WORKING_DAYS}")
    date = _to_date(start, "start")
    holidays_extra = _date_set(extra_holidays, "extra_holidays")
    workdays_extra = _date_set(extra_workdays, "extra_workdays")
    step = dt.timedelta(days=1 if days >= 0 else -1)
    remaining = abs(days)
    while remaining:
        date += step
        if is_working_day(date, extra_holidays=holidays_extra, extra_workdays=workdays_extra):
            remaining -= 1
    return date


def working_days_between(start: object, end: object, *, extra_holidays: Iterable[object] | None = None,
                         extra_workdays: Iterable[object] | None = None) -> int:
    """Number of working days after ``start`` up to and including ``end`` (0 when ``end <= start``)."""
    first, last = _to_date(start, "start"), _to_date(end, "end")
    count = 0
    day = first
    while day < last:
        day += dt.timedelta(days=1)
        if is_working_day(day, extra_holidays=extra_holidays, extra_workdays=extra_workdays):
            count += 1
    return count
