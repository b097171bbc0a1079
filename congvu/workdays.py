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

The government announces each year's swap days (a Saturday worked in exchange for a bridge day off)
some months ahead, and the ``holidays`` package only knows the ones released before it was built. A
province policy therefore lists them itself (``calendar`` in ``policies/<province>.yml``, each day
with the decision that set it) and says which years its operator has checked
(``calendar.confirmed_years``). :class:`Calendar` combines both: it answers from a precomputed index
of working days (a bisection per deadline instead of a walk day by day) and refuses to count working
days in a year nobody has confirmed, naming the policy file, the key and the rule.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from congvu.errors import PolicyError

#: A deadline further than this is certainly a mistake (and would loop for a long time).
MAX_WORKING_DAYS = 3660
#: Vietnam's time zone (ICT, no daylight saving): a lifecycle "day" and the audit log's timestamps.
VN_TZ = dt.timezone(dt.timedelta(hours=7), "ICT")


@lru_cache(maxsize=64)
def _vn_holidays(year: int) -> Any:
    import holidays  # only where the calendar is computed: the control node (see public_calendar)

    return holidays.country_holidays("VN", years=year)


def public_calendar(years: Iterable[int]) -> dict[str, list[str]]:
    """The public holidays and the worked Saturdays the ``holidays`` package knows for ``years``, as ISO
    dates: what :class:`Calendar` needs on a host without the package (``public=``). The lifecycle role
    computes it on the control node for the policy's confirmed years (docs/lifecycle.md)."""
    days_off: set[dt.date] = set()
    worked: set[dt.date] = set()
    for year in sorted(set(years)):
        calendar = _vn_holidays(int(year))
        days_off.update(d for d in calendar if d.year == int(year))
        worked.update(d for d in getattr(calendar, "weekend_workdays", ()) if d.year == int(year))
    return {"years": sorted({int(y) for y in years}),
            "days_off": [d.isoformat() for d in sorted(days_off)],
            "weekend_workdays": [d.isoformat() for d in sorted(worked)]}


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
                   extra_workdays: Iterable[object] | None = None,
                   public: tuple[frozenset[dt.date], frozenset[dt.date]] | None = None) -> bool:
    """True when ``day`` is a working day in Vietnam (see the module docstring). ``public``: the public
    days off and worked Saturdays as (days off, worked days), for a host without the ``holidays``
    package (:func:`public_calendar`); None asks the package."""
    date = _to_date(day)
    if date in _date_set(extra_holidays, "extra_holidays"):
        return False
    if date in _date_set(extra_workdays, "extra_workdays"):
        return True
    if public is None:
        calendar = _vn_holidays(date.year)
        days_off, worked = calendar, getattr(calendar, "weekend_workdays", ())
    else:
        days_off, worked = public
    if date in days_off:
        return False
    if date in worked:
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


#: The rule a plan breaks when it counts working days in a year the operator has not confirmed.
CONFIRMED_RULE = "working days are only counted in calendar.confirmed_years"
#: ``add`` extends its index by whole years; a deadline is never further than this many years away.
_INDEX_MARGIN_YEARS = 1


class Calendar:
    """Vietnamese working days with a province's own swap days and confirmed years.

    ``extra_workdays`` / ``extra_days_off``: dates (or ``{date, source}`` mappings as in the policy)
    that are worked / off whatever the ``holidays`` package says; ``confirmed_years``: the years an
    operator has checked against the government's announcements (``None``: no check, for library use).
    ``source`` names the policy file in errors. ``public``: the package's days as
    :func:`public_calendar` gives them, for a host without the package; its years are the only ones with
    public holidays (any other year counts Monday to Friday, and is refused anyway unless confirmed).
    """

    def __init__(self, *, extra_workdays: Iterable[Any] = (), extra_days_off: Iterable[Any] = (),
                 confirmed_years: Iterable[int] | None = None, source: str = "<calendar>",
                 public: Mapping[str, Any] | None = None) -> None:
        self.source = source
        self.public = None if public is None else (
            frozenset(_to_date(d, "public.days_off") for d in public.get("days_off") or ()),
            frozenset(_to_date(d, "public.weekend_workdays") for d in public.get("weekend_workdays") or ()))
        self.extra_workdays = frozenset(_to_date(_day(v), "calendar.extra_workdays") for v in extra_workdays)
        self.extra_days_off = frozenset(_to_date(_day(v), "calendar.extra_days_off") for v in extra_days_off)
        self.confirmed_years = None if confirmed_years is None else frozenset(int(y) for y in confirmed_years)
        self._first_year = 0
        self._last_year = -1
        self._ordinals: list[int] = []

    @classmethod
    def from_policy(cls, policy: Mapping[str, Any], public: Mapping[str, Any] | None = None) -> Calendar:
        """The calendar of an effective policy (``congvu.policy.load_policy``)."""
        section = policy.get("calendar") or {}
        return cls(extra_workdays=section.get("extra_workdays") or (),
                   extra_days_off=section.get("extra_days_off") or (),
                   confirmed_years=section.get("confirmed_years") or (),
                   source=str(policy.get("source") or "<policy>"), public=public)

    def is_working_day(self, day: object) -> bool:
        return is_working_day(day, extra_holidays=self.extra_days_off, extra_workdays=self.extra_workdays,
                              public=self.public)

    # --- confirmed years ------------------------------------------------------------------------

    def require_years(self, first: int, last: int, why: str = "") -> None:
        """Raise :class:`PolicyError` unless every year from ``first`` to ``last`` is confirmed."""
        if self.confirmed_years is None:
            return
        missing = [y for y in range(first, last + 1) if y not in self.confirmed_years]
        if not missing:
            return
        years = ", ".join(str(y) for y in missing)
        confirmed = ", ".join(str(y) for y in sorted(self.confirmed_years)) or "none"
        raise PolicyError(
            f"the calendar of {years} is not confirmed (confirmed: {confirmed})"
            + (f"; needed for {why}" if why else "")
            + f". List the government's swap days for {years} under calendar.extra_workdays and "
            f"calendar.extra_days_off, each with its decision, then add {years} to calendar.confirmed_years",
            source=self.source, key="calendar.confirmed_years", rule=CONFIRMED_RULE)

    # --- the index ------------------------------------------------------------------------------

    def _ensure(self, first: int, last: int) -> None:
        if self._first_year <= first and last <= self._last_year:
            return
        if self._ordinals:
            first, last = min(first, self._first_year), max(last, self._last_year)
        day, end = dt.date(first, 1, 1), dt.date(last, 12, 31)
        ordinals = []
        while day <= end:
            if self.is_working_day(day):
                ordinals.append(day.toordinal())
            day += dt.timedelta(days=1)
        self._first_year, self._last_year, self._ordinals = first, last, ordinals

    def add(self, start: object, days: int, *, why: str = "") -> dt.date:
        """As :func:`add_working_days`, from the index; the years counted must be confirmed."""
        if isinstance(days, bool) or not isinstance(days, int) or abs(days) > MAX_WORKING_DAYS:
            return add_working_days(start, days)  # raises the same error as the plain function
        date = _to_date(start, "start")
        if days == 0:
            return date
        span = abs(days) // 240 + _INDEX_MARGIN_YEARS  # at least 240 working days in a year
        self._ensure(date.year - (span if days < 0 else 0), date.year + (span if days > 0 else 0))
        ordinal = date.toordinal()
        if days > 0:
            index = bisect.bisect_right(self._ordinals, ordinal) + days - 1
            result = dt.date.fromordinal(self._ordinals[index])
            self.require_years((date + dt.timedelta(days=1)).year, result.year, why)
        else:
            index = bisect.bisect_left(self._ordinals, ordinal) + days
            result = dt.date.fromordinal(self._ordinals[index])
            self.require_years(result.year, (date - dt.timedelta(days=1)).year, why)
        return result

    def between(self, start: object, end: object, *, why: str = "") -> int:
        """As :func:`working_days_between`, from the index; the years counted must be confirmed."""
        first, last = _to_date(start, "start"), _to_date(end, "end")
        if last <= first:
            return 0
        self.require_years((first + dt.timedelta(days=1)).year, last.year, why)
        self._ensure(first.year, last.year)
        return (bisect.bisect_right(self._ordinals, last.toordinal())
                - bisect.bisect_right(self._ordinals, first.toordinal()))


def _day(value: object) -> object:
    """A calendar entry: a date, or the policy's ``{date, source}`` mapping."""
    return value.get("date") if isinstance(value, Mapping) else value
