"""Jinja2 filter of the backup server role: a thin wrapper around :func:`congvu.backup.stale_keys`
(docs/backup.md, "Backup server")."""

from __future__ import annotations

from typing import Any

from congvu.backup import stale_keys

DOCUMENTATION = r"""
name: congvu_backup_stale_keys
short_description: Hosts whose backup key lines the backup server no longer needs
description:
  - Reads an authorized_keys text and returns, sorted, the host names of the lines the backup role
    wrote (comment C(congvu-backup@<host>)) that are not in O(keep). Other lines are not looked at.
options:
  _input:
    description: The authorized_keys file's text.
    type: str
    required: true
  keep:
    description: The hosts that keep their repository on the server.
    type: list
    elements: str
    required: true
"""

EXAMPLES = r"""
stale: "{{ keys_text | congvu_backup_stale_keys(['mail.gialai.gov.vn', 'ldap.gialai.gov.vn']) }}"
"""

RETURN = r"""
_value:
  description: Host names, sorted.
  type: list
  elements: str
"""


def congvu_backup_stale_keys(authorized_keys: str, keep: Any) -> list[str]:
    return stale_keys(authorized_keys or "", keep or [])


class FilterModule:
    def filters(self):
        return {"congvu_backup_stale_keys": congvu_backup_stale_keys}
