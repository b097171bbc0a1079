"""Errors raised by the policy engine.

Every error names where the bad input came from (file, entry or key) and the rule it breaks, so an
operator can fix it without reading code. Ansible wrappers turn these into AnsibleFilterError or
fail_json with the same message.
"""

from __future__ import annotations


class CongvuError(Exception):
    """Base class of every error the policy engine raises on bad input."""

    def __init__(self, message: str, *, source: str | None = None, key: str | None = None,
                 rule: str | None = None) -> None:
        self.message = message
        self.source = source
        self.key = key
        self.rule = rule
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ": ".join(part for part in (self.source, self.key) if part)
        text = f"{where}: {self.message}" if where else self.message
        return f"{text} [{self.rule}]" if self.rule else text


class PolicyError(CongvuError):
    """A province policy file is invalid (unknown key, wrong type, value the regulation forbids)."""


class NamingError(CongvuError):
    """An address cannot be assigned by the province's naming scheme without operator input."""


class SizeError(CongvuError):
    """A size or quota string cannot be parsed or is out of bounds."""


class PasswordError(CongvuError):
    """A password cannot be generated or hashed under the policy."""


class LifecycleError(CongvuError):
    """A lifecycle input (account snapshot, agency request) is invalid; nothing has been changed."""


class AuditError(CongvuError):
    """An audit record is malformed or the audit log cannot be written or read."""


class MigrationError(CongvuError):
    """A migration file (mailboxes copied in from an incumbent IMAP server) is invalid."""
