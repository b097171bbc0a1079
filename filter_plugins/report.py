"""Jinja2 filter of playbooks/report.yml: a thin wrapper around :func:`congvu.report.period_for`
(docs/operations.md, "Periodic reports")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ansible.errors import AnsibleFilterError

from congvu.errors import CongvuError
from congvu.report import period_for, period_span
from congvu.workdays import VN_TZ

DOCUMENTATION = r"""
name: congvu_report_period
short_description: The period a report covers
description:
  - The period of the report due next under the policy's C(operations.report_due) (from the day after
    the previous due day to the next one, Vietnam's today), or the one asked for.
  - Fails naming the key and the rule when the policy sets no due day and no period is given.
options:
  _input:
    description: The effective policy (the fact C(congvu_policy)).
    type: dict
    required: true
  start:
    description: First day asked for, C(YYYY-MM-DD) (empty for the report due next).
    type: str
  end:
    description: Last day asked for, C(YYYY-MM-DD).
    type: str
"""

EXAMPLES = r"""
period: "{{ congvu_policy | congvu_report_period(report_start | default(''), report_end | default('')) }}"
"""

RETURN = r"""
_value:
  description: C(start), C(end), C(due) (None when asked for) and C(before), the day after the end.
  type: dict
"""


def _day(value: Any, key: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise AnsibleFilterError(f"{key}: {value!r} is not a day as YYYY-MM-DD") from None


def congvu_report_period(policy: Any, start: Any = "", end: Any = "") -> dict:
    if not isinstance(policy, dict) or "operations" not in policy:
        raise AnsibleFilterError("congvu_report_period: the input must be the effective policy "
                                 "(congvu_policy)")
    try:
        period = period_for(policy, dt.datetime.now(VN_TZ).date(), _day(start, "report_start"),
                            _day(end, "report_end"))
    except CongvuError as exc:
        raise AnsibleFilterError(str(exc)) from None
    return period_span(period)


class FilterModule:
    """congvu report filter."""

    def filters(self) -> dict[str, Any]:
        return {"congvu_report_period": congvu_report_period}
