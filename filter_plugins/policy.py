"""Jinja2 filters for sizes, passwords and working days under a province policy.

Thin wrappers around :mod:`congvu.sizes`, :mod:`congvu.passwords` and :mod:`congvu.workdays`: they check
their arguments and turn every engine error into an ``AnsibleFilterError`` carrying the engine's message
(which names the source, the key and the rule). The rules live in ``congvu/``, ``docs/policy.md`` and
``docs/passwords.md``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from congvu import passwords, sizes, workdays
from congvu.errors import CongvuError

DOCUMENTATION = r"""
name: policy
short_description: Sizes, passwords and working days under a congvu province policy
description:
  - C(size_bytes) reads C(2GB), C(500 MB), C(10GiB), C(unlimited) or an integer and returns bytes
    (kB/MB/GB are powers of 1000, KiB/MiB/GiB powers of 1024; C(unlimited) gives C(none)).
  - C(message_size_limit) derives the Postfix C(message_size_limit) in bytes from an attachment limit
    (base64 growth 4/3, CRLF every 76 characters, 1,000,000 bytes for headers and text).
  - C(password_violations) lists every rule a password breaks for a role (C(user), C(admin),
    C(organisation)) of the effective policy C(congvu_policy); each item has C(code), C(en), C(vi) and
    C(message) (in C(lang)).
  - C(password_hash_congvu) hashes into C({CRYPT}$6$rounds=N$...) (SHA512-crypt) that slapd and Dovecot
    both verify; C(password_verify_congvu) checks a password against such a hash.
  - C(initial_password) generates a random initial password that satisfies the role's rules.
  - C(password_max_age_days) gives the change interval of a role in days (C(none) when not set).
  - C(add_working_days) adds N Vietnamese working days (weekends, public holidays and Tết skipped) to a
    date; the start day is not counted.
options:
  _input:
    description: The size, password, date or policy the filter works on.
    type: raw
    required: true
  policy:
    description: The effective policy (the C(congvu_policy) fact set by C(congvu_policy)).
    type: dict
  role:
    description: C(user), C(admin) or C(organisation).
    type: str
    default: user
  lang:
    description: Language of C(message) in C(password_violations), C(vi) or C(en).
    type: str
    default: vi
  days:
    description: Number of working days for C(add_working_days) (negative counts backwards).
    type: int
  rounds:
    description: SHA512-crypt rounds for C(password_hash_congvu).
    type: int
    default: 100000
"""

EXAMPLES = r"""
- name: Quota of a personal mailbox in bytes
  ansible.builtin.debug:
    msg: "{{ '2GB' | size_bytes }}"   # 2000000000

- name: Postfix limit for Hà Nam's 20 MB attachments (Art 8.1.b)
  ansible.builtin.debug:
    msg: "{{ congvu_policy.attachments.max_size | message_size_limit }}"   # 28368424

- name: Refuse a weak password
  ansible.builtin.assert:
    that: (pw | password_violations(congvu_policy, 'admin')) | length == 0
    fail_msg: >-
      {{ (pw | password_violations(congvu_policy, 'admin'))
         | map(attribute='message') | join('; ') }}
  no_log: true

- name: Hash for userPassword
  ansible.builtin.set_fact:
    user_hash: "{{ pw | password_hash_congvu }}"
  no_log: true

- name: Removal date after Ninh Bình's 15 working days' notice (Art 7.1)
  ansible.builtin.debug:
    msg: "{{ '2026-02-10' | add_working_days(15) }}"   # 2026-03-10
"""

RETURN = r"""
_value:
  description:
    - C(size_bytes), C(message_size_limit), C(password_max_age_days) an integer (or C(none)).
    - C(password_violations) a list of mappings C(code), C(en), C(vi), C(message).
    - C(password_hash_congvu) a string C({CRYPT}$6$rounds=N$salt$hash); C(initial_password) a string;
      C(password_verify_congvu) a boolean.
    - C(add_working_days) a date as C(YYYY-MM-DD).
  type: raw
"""


def _fail(exc: CongvuError) -> AnsibleFilterError:
    return AnsibleFilterError(f"congvu: {exc}")


def _need_policy(policy: Any, name: str) -> Mapping:
    if not isinstance(policy, Mapping) or "passwords" not in policy:
        raise AnsibleFilterError(f"{name}: the second argument must be the effective policy (congvu_policy), "
                                 f"got {type(policy).__name__}")
    return policy


def size_bytes(value: Any, allow_unlimited: bool = True) -> int | None:
    """``'2GB'`` -> ``2000000000``; ``'unlimited'`` -> ``None``."""
    try:
        return sizes.parse_size(value, allow_unlimited=allow_unlimited)
    except CongvuError as exc:
        raise _fail(exc) from None


def message_size_limit(attachment_limit: Any) -> int:
    """Postfix message_size_limit (bytes) for an attachment limit (size string or bytes)."""
    try:
        return sizes.message_size_limit(attachment_limit)
    except CongvuError as exc:
        raise _fail(exc) from None


def password_violations(password: Any, policy: Any, role: str = "user", lang: str = "vi") -> list[dict]:
    """Every rule ``password`` breaks for ``role``; empty when it is acceptable."""
    if not isinstance(password, str):
        raise AnsibleFilterError("password_violations: the input must be a string")
    try:
        return passwords.password_violations(password, _need_policy(policy, "password_violations"),
                                             role=role, lang=lang)
    except CongvuError as exc:
        raise _fail(exc) from None


def password_hash_congvu(password: Any, rounds: int = passwords.HASH_ROUNDS) -> str:
    """``{CRYPT}$6$rounds=N$...`` for OpenLDAP userPassword and Dovecot."""
    if not isinstance(password, str):
        raise AnsibleFilterError("password_hash_congvu: the input must be a string")
    try:
        return passwords.hash_password(password, rounds=rounds)
    except CongvuError as exc:
        raise _fail(exc) from None


def password_verify_congvu(password: Any, hashed: Any) -> bool:
    """True when ``password`` matches the ``{CRYPT}`` SHA512-crypt ``hashed``."""
    try:
        return passwords.verify_password(str(password), hashed)
    except CongvuError as exc:
        raise _fail(exc) from None


def initial_password(policy: Any, role: str = "user", length: int | None = None) -> str:
    """A random initial password for ``role`` (not idempotent: store it, e.g. in the vault)."""
    try:
        return passwords.generate_password(_need_policy(policy, "initial_password"), role, length)
    except CongvuError as exc:
        raise _fail(exc) from None


def password_max_age_days(policy: Any, role: str = "user") -> int | None:
    """Days between mandatory password changes for ``role``."""
    try:
        return passwords.max_age_days(_need_policy(policy, "password_max_age_days"), role)
    except CongvuError as exc:
        raise _fail(exc) from None


def add_working_days(start: Any, days: Any, extra_holidays: Any = None, extra_workdays: Any = None) -> str:
    """The ``days``-th Vietnamese working day after ``start`` (ISO date string)."""
    if isinstance(days, str) and days.lstrip("-").isdigit():
        days = int(days)
    if isinstance(start, dt.datetime):
        start = start.date()
    try:
        return workdays.add_working_days(start, days, extra_holidays=extra_holidays,
                                         extra_workdays=extra_workdays).isoformat()
    except CongvuError as exc:
        raise _fail(exc) from None


class FilterModule:
    """congvu policy filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "size_bytes": size_bytes,
            "message_size_limit": message_size_limit,
            "password_violations": password_violations,
            "password_hash_congvu": password_hash_congvu,
            "password_verify_congvu": password_verify_congvu,
            "initial_password": initial_password,
            "password_max_age_days": password_max_age_days,
            "add_working_days": add_working_days,
        }
