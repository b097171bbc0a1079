"""Jinja2 filter of playbooks/notice.yml: a thin wrapper around :func:`congvu.downtime.plan_notice` and
:func:`congvu.downtime.plan_incident_notice` (docs/operations.md, "Planned downtime notice", "Incident
notice")."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from ansible.errors import AnsibleFilterError

from congvu.downtime import plan_incident_notice, plan_notice
from congvu.errors import CongvuError
from congvu.mailbox import render
from congvu.workdays import Calendar

DOCUMENTATION = r"""
name: congvu_downtime_notice
short_description: Check a planned stop against the province's notice rules and write the notice
description:
  - Checks the window against C(operations.downtime_notice_working_days) (whole working days between
    today and the day the stop starts, on the province's calendar) and C(operations.downtime_on_days_off),
    and returns the Vietnamese notice as a MIME message ready for C(sendmail).
  - Fails naming the policy file, the key, the article and the earliest start the rule allows.
  - With C(kind=incident), the notice of an unplanned stop sent while it lasts (no lead time; it began
    at most 7 days ago, its expected recovery C(end) is in the future), citing
    C(operations.incident_notice_article) where set.
options:
  _input:
    description: The effective policy (the fact C(congvu_policy)).
    type: dict
    required: true
  start:
    description: Start of the stop, C(YYYY-MM-DD HH:MM), Vietnam time.
    type: str
    required: true
  end:
    description: End of the stop, C(YYYY-MM-DD HH:MM), Vietnam time.
    type: str
    required: true
  reason:
    description: What the stop is for, in Vietnamese, as it completes "Để ...".
    type: str
    required: true
  contact:
    description: Who to call, printed in the notice (optional).
    type: str
    default: ""
  kind:
    description: C(planned) (a stop to come) or C(incident) (a stop under way, C(end) its expected recovery).
    type: str
    default: planned
"""

EXAMPLES = r"""
notice: >-
  {{ congvu_policy | congvu_downtime_notice('2026-12-12 22:00', '2026-12-13 06:00', 'nâng cấp máy chủ') }}
"""

RETURN = r"""
_value:
  description: >-
    C(kind), C(start), C(end), C(lead_working_days) (null for an incident), C(required_working_days),
    C(earliest_start), C(article), C(subject), C(summary_en), C(sender) and C(message) (the MIME text).
  type: dict
"""

TIMEZONE = ZoneInfo("Asia/Ho_Chi_Minh")  # every province of Vietnam


def congvu_downtime_notice(policy: Any, start: Any, end: Any, reason: Any, contact: Any = "",
                           kind: Any = "planned") -> dict:
    if not isinstance(policy, dict) or "operations" not in policy:
        raise AnsibleFilterError("congvu_downtime_notice: the input must be the effective policy "
                                 "(congvu_policy)")
    if kind not in ("planned", "incident"):
        raise AnsibleFilterError("congvu_downtime_notice: downtime_kind must be planned or incident, "
                                 f"got {kind!r}")
    now = dt.datetime.now(TIMEZONE)
    local = now.replace(tzinfo=None, second=0, microsecond=0)
    try:
        if kind == "incident":
            notice = plan_incident_notice(policy, start, end, str(reason or ""), local,
                                          contact=str(contact or ""))
        else:
            notice = plan_notice(policy, Calendar.from_policy(policy), start, end, str(reason or ""), local,
                                 contact=str(contact or ""))
    except CongvuError as exc:
        raise AnsibleFilterError(str(exc)) from None
    domain = policy["domains"]["primary"]
    return {**notice.summary(), "sender": notice.message.sender,
            "message": render(notice.message, now, domain).decode("ascii")}


class FilterModule:
    """congvu planned-downtime filter."""

    def filters(self) -> dict[str, Any]:
        return {"congvu_downtime_notice": congvu_downtime_notice}
