"""Jinja2 filters of playbooks/intake.yml: thin wrappers around :func:`congvu.intake.plan_for_province`
(docs/migration.md, "From the old system's export")."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from congvu.errors import CongvuError
from congvu.intake import Intake, plan_for_province

DOCUMENTATION = r"""
name: congvu_intake
short_description: Turn an old mail system's export into rosters and a migration file
description:
  - Reads the export (LDIF of a congvu-mail, Zimbra or other LDAP directory, or CSV) as the intake
    file says and checks it in three rounds (the intake file, the export's syntax, the accounts), each
    failing with every problem of its round, with its entry and rule.
  - Returns C(rosters) (file name -> CSV text) and C(summary); never a password hash.
    C(congvu_intake_migration) returns the migration file's content (with the hashes).
options:
  _input:
    description: The export's text.
    type: str
    required: true
  intake:
    description: The intake file's content (format, fields, organisations, addresses, source).
    type: dict
    required: true
  policy:
    description: The province policy (C(congvu_policy)).
    type: dict
    required: true
  catalogue:
    description: The organisation catalogue file (C(congvu_catalogue_file)).
    type: str
    required: true
  export_source:
    description: The export's path, named in the errors.
    type: str
    default: export
  source:
    description: The intake file's path, named in the errors.
    type: str
    default: intake file
"""

EXAMPLES = r"""
intake: >-
  {{ lookup('ansible.builtin.file', export)
     | congvu_intake(intake_data, congvu_policy, congvu_catalogue_file) }}
"""

RETURN = r"""
_value:
  description: C(rosters) (file name -> CSV text) and C(summary).
  type: dict
"""


def _plan(export: Any, intake: Any, policy: Any, catalogue: Any, export_source: Any, source: Any) -> Intake:
    try:
        return plan_for_province(str(export), intake, policy, str(catalogue),
                                 export_source=str(export_source), source=str(source))
    except CongvuError as exc:
        raise AnsibleFilterError(str(exc)) from None


def congvu_intake(export: Any, intake: Any, policy: Any, catalogue: Any, export_source: Any = "export",
                  source: Any = "intake file") -> dict[str, Any]:
    result = _plan(export, intake, policy, catalogue, export_source, source)
    return {"rosters": result.rosters, "summary": result.summary()}


def congvu_intake_migration(export: Any, intake: Any, policy: Any, catalogue: Any,
                            export_source: Any = "export", source: Any = "intake file") -> dict[str, Any]:
    """The migration file (docs/migration.md) for the accounts taken in: old hashes included."""
    return _plan(export, intake, policy, catalogue, export_source, source).migration


class FilterModule:
    """congvu intake filters."""

    def filters(self) -> dict[str, Any]:
        return {"congvu_intake": congvu_intake, "congvu_intake_migration": congvu_intake_migration}
