"""The planned-downtime notice: the regulation's lead time checked, the Vietnamese message written.

Hà Nam Art 10.5 (and by default the provinces whose regulation is silent) asks that agencies and users
be told at least 2 working days before the mail system stops for technical reasons; Gia Lai Art 8.2
asks 3 (``operations.downtime_notice_working_days``). Hà Nam Art 10.5 also has the work done on days
off (``operations.downtime_on_days_off``).

The lead time is counted in whole working days strictly between the day the notice is sent and the
day the stop starts: a notice sent on Monday, under a 2-day rule, allows a stop from Thursday 00:00
(Tuesday and Wednesday in between), never from Wednesday. The day of sending does not count, even
sent at 07:00, so a notice never arrives later than the rule allows, whoever reads "trước 02 ngày làm
việc" more generously. Working days are the province's calendar (``congvu.workdays.Calendar``: public
holidays, swapped days, confirmed years).

:func:`plan_notice` checks a window and returns the message (:class:`congvu.notices.Message`, no
recipients: ``playbooks/notice.yml`` sends it to every active mailbox in batches). Nothing here sends
or reads the directory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from congvu.errors import PolicyError
from congvu.lifecycle import fmt_date_vi
from congvu.notices import Message, cite_vi, place_vi, signature_vi, system_sender
from congvu.policy import bound_article
from congvu.workdays import Calendar

__all__ = ["DowntimeNotice", "parse_local", "plan_incident_notice", "plan_notice"]

LEAD_RULE = ("a planned stop is announced at least operations.downtime_notice_working_days whole working "
             "days before the day it starts")
DAYS_OFF_RULE = "with operations.downtime_on_days_off, a planned stop falls on days off only"
WINDOW_RULE = "a stop window is 'YYYY-MM-DD HH:MM' (province time), ending after it starts, in the future"
INCIDENT_RULE = ("an unplanned stop is announced while it lasts: it began at most 7 days ago and its "
                 "recovery time, in the future, is said")
MAX_WINDOW = dt.timedelta(days=7)
_WEEKDAYS_VI = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")


@dataclass(frozen=True, slots=True)
class DowntimeNotice:
    """A checked window and its message. ``lead``: whole working days between the notice and the start;
    ``earliest_start``: the first day the rules would allow a stop announced today (a day off where the
    policy asks for one)."""

    start: dt.datetime
    end: dt.datetime
    lead: int | None
    required: int
    earliest_start: dt.date
    article: str | None
    message: Message
    kind: str = "planned"

    def summary(self) -> dict[str, Any]:
        return {"kind": self.kind,
                "start": self.start.isoformat(" ", "minutes"), "end": self.end.isoformat(" ", "minutes"),
                "lead_working_days": self.lead, "required_working_days": self.required,
                "earliest_start": self.earliest_start.isoformat(), "article": self.article,
                "subject": self.message.subject, "summary_en": self.message.summary_en}


def parse_local(value: Any, key: str) -> dt.datetime:
    """``'2026-12-12 22:00'`` (province time, minutes) as a naive datetime; the error names ``key``."""
    try:
        return dt.datetime.strptime(str(value).strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise PolicyError(f"{value!r} is not a time as 'YYYY-MM-DD HH:MM'", source="notice.yml", key=key,
                          rule=WINDOW_RULE) from None


def _when_vi(moment: dt.datetime) -> str:
    weekday = _WEEKDAYS_VI[moment.weekday()].lower()
    return f"{moment:%H} giờ {moment:%M} {weekday} ngày {fmt_date_vi(moment.date())}"


def _days(start: dt.datetime, end: dt.datetime) -> list[dt.date]:
    """The calendar days the window [start, end) touches."""
    last = (end - dt.timedelta(microseconds=1)).date()
    day, out = start.date(), []
    while day <= last:
        out.append(day)
        day += dt.timedelta(days=1)
    return out


def _closing(contact: str, policy: Mapping[str, Any]) -> list[str]:
    """The end of a notice: who to call where given, the formal closing, who runs the system."""
    lines = ["", f"Mọi vướng mắc xin liên hệ: {contact.strip()}."] if contact.strip() else []
    return [*lines, "", "Trân trọng thông báo./.", "", signature_vi(policy)]


def plan_notice(policy: Mapping[str, Any], calendar: Calendar, start: Any, end: Any, reason: str,
                now: dt.datetime, contact: str = "") -> DowntimeNotice:
    """Check the window [``start``, ``end``) against the policy's notice rules and write the notice.

    ``start``/``end``: datetimes or 'YYYY-MM-DD HH:MM' strings, province time; ``now``: the province's
    local time of sending. Raises :class:`PolicyError` naming the policy key, the article and the
    earliest start the rule allows."""
    start = start if isinstance(start, dt.datetime) else parse_local(start, "downtime_start")
    end = end if isinstance(end, dt.datetime) else parse_local(end, "downtime_end")
    if end <= start:
        raise PolicyError(f"the stop ends ({end:%Y-%m-%d %H:%M}) before it starts ({start:%Y-%m-%d %H:%M})",
                          source="notice.yml", key="downtime_end", rule=WINDOW_RULE)
    if end - start > MAX_WINDOW:
        raise PolicyError(f"a stop of {end - start} is longer than {MAX_WINDOW.days} days: announce it in "
                          "parts",
                          source="notice.yml", key="downtime_end", rule=WINDOW_RULE)
    if start <= now:
        raise PolicyError(f"the stop starts ({start:%Y-%m-%d %H:%M}) before now ({now:%Y-%m-%d %H:%M})",
                          source="notice.yml", key="downtime_start", rule=WINDOW_RULE)
    if not str(reason or "").strip():
        raise PolicyError("say what the stop is for, in Vietnamese (e.g. 'nâng cấp phần mềm máy chủ')",
                          source="notice.yml", key="downtime_reason", rule="the notice names the reason")
    ops = policy["operations"]
    source = str(policy.get("source") or "<policy>")
    required = int(ops["downtime_notice_working_days"])
    article = bound_article(policy, "operations.downtime_notice_working_days")
    why = "the notice of a planned stop" + (f" ({article})" if article else "")
    today = now.date()
    # whole working days strictly between today and the start day
    day_before = start.date() - dt.timedelta(days=1)
    lead = calendar.between(today, day_before, why=why)  # 0 when the stop starts tomorrow
    earliest = calendar.add(today, required, why=why) + dt.timedelta(days=1) if required else today
    if ops.get("downtime_on_days_off"):
        while calendar.is_working_day(earliest):
            earliest += dt.timedelta(days=1)
    if lead < required:
        raise PolicyError(
            f"a stop starting {start:%Y-%m-%d %H:%M} leaves {lead} whole working day(s) after today "
            f"({today.isoformat()}); {required} are required"
            + (f" ({article})" if article else "")
            + f": start on {earliest.isoformat()} or later, or send the notice earlier",
            source=source, key="operations.downtime_notice_working_days", rule=LEAD_RULE)
    days_off_article = bound_article(policy, "operations.downtime_on_days_off")
    if ops.get("downtime_on_days_off"):
        worked = [d for d in _days(start, end) if calendar.is_working_day(d)]
        if worked:
            raise PolicyError(
                "the stop touches working day(s) " + ", ".join(d.isoformat() for d in worked)
                + (f" ({days_off_article})" if days_off_article else "")
                + ": move it to a weekend or a public holiday",
                source=source, key="operations.downtime_on_days_off", rule=DAYS_OFF_RULE)
    place = place_vi(policy)
    cite = cite_vi(article, policy) if article else None
    subject = (f"Thông báo tạm ngừng Hệ thống thư điện tử công vụ {place} "
               f"từ {start:%H:%M} ngày {fmt_date_vi(start.date())} "
               f"đến {end:%H:%M} ngày {fmt_date_vi(end.date())}")
    lines = [
        f"Kính gửi: Các cơ quan, đơn vị và cá nhân sử dụng Hệ thống thư điện tử công vụ {place}.",
        "",
        f"Để {str(reason).strip().rstrip('.')}, Hệ thống thư điện tử công vụ {place} sẽ tạm ngừng hoạt động:",
        f"- Từ {_when_vi(start)};",
        f"- Đến {_when_vi(end)}.",
        "",
        "Trong thời gian này, quý cơ quan, đơn vị và cá nhân không gửi, nhận được thư và không đăng nhập "
        "được vào hộp thư (trên trang thư điện tử và trên các ứng dụng thư). Thư do hệ thống khác gửi "
        "đến trong thời gian tạm ngừng thường được máy chủ gửi giữ lại và chuyển lại khi hệ thống hoạt "
        "động trở lại.",
        "",
        "Đề nghị quý cơ quan, đơn vị và cá nhân chủ động sắp xếp công việc, gửi trước các thư cần thiết.",
    ]
    if cite:
        lines += ["", f"Thông báo này được gửi trước {lead} ngày làm việc, theo quy định tại {cite}."]
    lines += _closing(contact, policy)
    summary_en = (f"planned stop {start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M}, announced {lead} working "
                  f"day(s) ahead ({required} required" + (f", {article})" if article else ")"))
    message = Message(kind="downtime_notice", sender=system_sender(policy), to=(), subject=subject,
                      body="\n".join(lines) + "\n", summary_en=summary_en)
    return DowntimeNotice(start=start, end=end, lead=lead, required=required, earliest_start=earliest,
                          article=article, message=message)


def plan_incident_notice(policy: Mapping[str, Any], start: Any, end: Any, reason: str, now: dt.datetime,
                         contact: str = "") -> DowntimeNotice:
    """The notice of an unplanned stop, sent while it lasts: the system stopped at ``start`` (now or in
    the last 7 days) for ``reason`` (Vietnamese, completing "Do ..."), and is expected back at ``end``
    (in the future, within 7 days). Hà Giang Art 10.2.b asks that such a notice say when the system
    will be back, Gia Lai Art 8.3.d that the agencies be told of a forced stop
    (``operations.incident_notice_article``, cited where set). No lead time applies. Raises
    :class:`PolicyError` naming the key and the rule."""
    start = start if isinstance(start, dt.datetime) else parse_local(start, "downtime_start")
    end = end if isinstance(end, dt.datetime) else parse_local(end, "downtime_end")
    if start > now:
        raise PolicyError(f"an incident began at {start:%Y-%m-%d %H:%M}, after now ({now:%Y-%m-%d %H:%M}): a "
                          "stop still to come is planned (downtime_kind=planned)",
                          source="notice.yml", key="downtime_start", rule=INCIDENT_RULE)
    if now - start > MAX_WINDOW:
        raise PolicyError(f"the incident began more than {MAX_WINDOW.days} days ago ({start:%Y-%m-%d %H:%M})",
                          source="notice.yml", key="downtime_start", rule=INCIDENT_RULE)
    if end <= now:
        raise PolicyError(f"the recovery time ({end:%Y-%m-%d %H:%M}) is not in the future: the system is "
                          "back, or say when it will be", source="notice.yml", key="downtime_end",
                          rule=INCIDENT_RULE)
    if end - now > MAX_WINDOW:
        raise PolicyError(f"a recovery more than {MAX_WINDOW.days} days ahead: announce the time known now "
                          "and send another notice when it changes", source="notice.yml", key="downtime_end",
                          rule=INCIDENT_RULE)
    if not str(reason or "").strip():
        raise PolicyError("say what happened, in Vietnamese (e.g. 'sự cố phần cứng máy chủ thư')",
                          source="notice.yml", key="downtime_reason", rule="the notice names the reason")
    article = policy["operations"].get("incident_notice_article") or None
    place = place_vi(policy)
    cite = cite_vi(article, policy) if article else None
    subject = (f"Thông báo sự cố Hệ thống thư điện tử công vụ {place}: dự kiến hoạt động trở lại "
               f"lúc {end:%H:%M} ngày {fmt_date_vi(end.date())}")
    lines = [
        f"Kính gửi: Các cơ quan, đơn vị và cá nhân sử dụng Hệ thống thư điện tử công vụ {place}.",
        "",
        f"Do {str(reason).strip().rstrip('.')}, Hệ thống thư điện tử công vụ {place} bị ngừng hoạt động "
        f"từ {_when_vi(start)}.",
        "Đơn vị vận hành đang khắc phục sự cố. Thời gian dự kiến hệ thống hoạt động trở lại: "
        f"{_when_vi(end)}.",
        "",
        "Trong thời gian này, quý cơ quan, đơn vị và cá nhân có thể không gửi, nhận được thư hoặc không "
        "đăng nhập được vào hộp thư. Thư do hệ thống khác gửi đến trong thời gian này thường được máy chủ "
        "gửi giữ lại và chuyển lại khi hệ thống hoạt động trở lại. Nếu thời gian khắc phục thay đổi, đơn vị "
        "vận hành sẽ có thông báo tiếp.",
    ]
    if cite:
        lines += ["", f"Thông báo này được gửi theo quy định tại {cite}."]
    lines += _closing(contact, policy)
    summary_en = (f"unplanned stop since {start:%Y-%m-%d %H:%M}, expected back {end:%Y-%m-%d %H:%M}"
                  + (f" ({article})" if article else ""))
    message = Message(kind="incident_notice", sender=system_sender(policy), to=(), subject=subject,
                      body="\n".join(lines) + "\n", summary_en=summary_en)
    return DowntimeNotice(start=start, end=end, lead=None, required=0, earliest_start=now.date(),
                          article=article, message=message, kind="incident")
