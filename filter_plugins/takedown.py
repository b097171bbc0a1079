"""Jinja2 filters of playbooks/takedown.yml: thin wrappers around :func:`congvu.takedown.normalise_id`
and :func:`congvu.takedown.report_vi` (docs/operations.md, "Taking a message down")."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ansible.errors import AnsibleFilterError

from congvu.errors import CongvuError
from congvu.takedown import normalise_id, report_vi
from congvu.workdays import VN_TZ

DOCUMENTATION = r"""
name: congvu_takedown_id
short_description: The Message-ID of a takedown, checked and written as headers carry it
description:
  - Returns C(<left@right>) (the angle brackets may be left out of the input); fails naming
    C(takedown_message_id) and the rule when the value is not a Message-ID.
options:
  _input:
    description: The Message-ID the operator gave.
    type: str
    required: true
"""

EXAMPLES = r"""
message_id: "{{ takedown_message_id | congvu_takedown_id }}"
report: "{{ results | congvu_takedown_report(congvu_policy, takedown_reason) }}"
"""

RETURN = r"""
_value:
  description: C(congvu_takedown_id) the Message-ID; C(congvu_takedown_report) the Vietnamese record.
  type: str
"""


def congvu_takedown_id(value: Any) -> str:
    try:
        return normalise_id(value)
    except CongvuError as exc:
        raise AnsibleFilterError(str(exc)) from None


def congvu_takedown_report(results: Any, policy: Any, reason: Any) -> str:
    """The takedown's record (Vietnamese) from each server's result (``python3 -m congvu.takedown run``)."""
    if not isinstance(results, list) or not all(isinstance(r, dict) and "message_id" in r for r in results):
        raise AnsibleFilterError("congvu_takedown_report: the input must be the servers' list of results")
    if not isinstance(policy, dict) or "classified" not in policy:
        raise AnsibleFilterError("congvu_takedown_report: the second argument must be the effective policy")
    try:
        return report_vi(results, policy, reason=str(reason or ""), ts=dt.datetime.now(VN_TZ))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"congvu_takedown_report: {exc}") from None


class FilterModule:
    def filters(self) -> dict:
        return {"congvu_takedown_id": congvu_takedown_id, "congvu_takedown_report": congvu_takedown_report}
