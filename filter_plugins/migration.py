"""Jinja2 filters of playbooks/migrate.yml: thin wrappers around :func:`congvu.migration.load`
(docs/migration.md)."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from congvu.errors import CongvuError
from congvu.migration import hashes, load, report_csv, resolve

DOCUMENTATION = r"""
name: congvu_migration_check
short_description: Validate a migration file (mailboxes copied in from an incumbent IMAP server)
description:
  - Checks the whole file in one pass and fails listing every problem, each naming its entry and rule
    (an unknown key, a target that is not an address, two sources onto one account, a mailbox with no
    way to log in to the old server).
  - Returns what may be shown (no password); C(congvu_migration_job) returns the job itself.
options:
  _input:
    description: The migration file's content (a mapping with C(source) and C(mailboxes)).
    type: dict
    required: true
  source:
    description: Where the content came from (the file's path), named in the errors.
    type: str
    default: migration file
"""

EXAMPLES = r"""
summary: >-
  {{ lookup('ansible.builtin.file', migration_file) | from_yaml | congvu_migration_check(migration_file) }}
"""

RETURN = r"""
_value:
  description: C(source) (host:port and TLS), C(login) (master user or each mailbox's password), C(mailboxes).
  type: dict
"""


def _load(data: Any, source: Any):
    try:
        return load(data, source=str(source or "migration file"))
    except CongvuError as exc:
        raise AnsibleFilterError(str(exc)) from None


def congvu_migration_check(data: Any, source: Any = "migration file") -> dict[str, Any]:
    return _load(data, source).summary()


def congvu_migration_job(data: Any, source: Any = "migration file", ca_file: str = "",
                         verify_only: bool = False, accounts: Any = None) -> dict[str, Any]:
    """The job ``python3 -m congvu.migration run`` reads on the mailbox server (passwords included).
    ``accounts``: target -> the login of its account (the LDAP host's answer), so a target that is
    an alias names its account."""
    migration = _load(data, source)
    try:
        migration = resolve(migration, dict(accounts or {}))
    except CongvuError as exc:
        raise AnsibleFilterError(str(exc)) from None
    src = migration.source
    return {"source": {"host": src.host, "port": src.port, "tls": src.tls, "master_user": src.master_user,
                       "master_password": src.master_password},
            "mailboxes": [{"source": m.source, "target": m.target, "password": m.password}
                          for m in migration.mailboxes],
            "ca_file": ca_file, "verify_only": bool(verify_only)}


def congvu_migration_hashes(data: Any, source: Any = "migration file") -> list[dict[str, str]]:
    """Each target with its old password hash, for the LDAP host (the IMAP passwords stay out)."""
    return hashes(_load(data, source))


def congvu_migration_csv(results: Any) -> str:
    """The verification report (CSV) of what ``python3 -m congvu.migration run`` printed."""
    if not isinstance(results, list):
        raise AnsibleFilterError("congvu_migration_csv: the input must be the run's list of results")
    return report_csv(results)


class FilterModule:
    """congvu migration filters."""

    def filters(self) -> dict[str, Any]:
        return {"congvu_migration_check": congvu_migration_check,
                "congvu_migration_job": congvu_migration_job,
                "congvu_migration_csv": congvu_migration_csv,
                "congvu_migration_hashes": congvu_migration_hashes}
