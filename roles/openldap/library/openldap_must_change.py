#!/usr/bin/python
# Copyright: congvu-mail contributors
# Apache License 2.0 (see LICENSE)
"""Converge an existing directory to the must-change rule of docs/security.md (finding 4)."""

from __future__ import annotations

import datetime as dt

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: openldap_must_change
short_description: Set pwdReset on the accounts still on their initial password
description:
  - ppolicy's C(pwdReset) is the must-change signal every service honours (Dovecot's passdb, the
    webmail); slapd sets it on every password administrator's change and clears it when the user
    changes the password. Accounts made before it was the signal may lack it.
  - Sets C(pwdReset=TRUE) on every C(congvuMailAccount) below O(base) that has no C(pwdReset) and
    either still carries C(congvuMustChangePassword=TRUE), or whose password was never changed since
    the entry was created (C(pwdChangedTime) absent or within O(tolerance_seconds) of
    C(createTimestamp)): the old access rules let a user clear its own flag without changing the
    password (Hà Nam Art 8.2.a, Gia Lai Art 9.1).
  - Binds over C(ldapi:///) with SASL EXTERNAL as local root (the rootDN); needs python3-ldap.
  - Supports check mode (reports the accounts it would mark).
options:
  base:
    description: Subtree searched (C(ou=organisations,<base>)).
    type: str
    required: true
  uri:
    description: LDAP URI.
    type: str
    default: ldapi:///
  tolerance_seconds:
    description: A password changed within this many seconds of the creation is the initial one.
    type: int
    default: 5
author:
  - congvu-mail contributors
"""

EXAMPLES = r"""
- name: Mark the accounts still on their initial password
  openldap_must_change:
    base: ou=organisations,dc=hanam,dc=gov,dc=vn
"""

RETURN = r"""
marked:
  description: DNs given pwdReset=TRUE (or that would be, in check mode).
  returned: always
  type: list
  elements: str
"""

ATTRS = ["pwdReset", "congvuMustChangePassword", "pwdChangedTime", "createTimestamp"]
FILTER = "(&(objectClass=congvuMailAccount)(userPassword=*)(!(pwdReset=TRUE)))"


def _time(value: str | None) -> dt.datetime | None:
    """LDAP GeneralizedTime (``20260101120000Z``, optional fraction) as an aware datetime."""
    if not value:
        return None
    text = value.rstrip("Z").split(".")[0]
    try:
        return dt.datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    except ValueError:
        return None


def needs_reset(entry: dict, tolerance_seconds: int = 5) -> bool:
    """Whether an entry (attribute name -> list of str values) must get pwdReset=TRUE."""
    def first(name):
        values = entry.get(name) or []
        return values[0] if values else None

    if (first("pwdReset") or "").upper() == "TRUE":
        return False
    if (first("congvuMustChangePassword") or "").upper() == "TRUE":
        return True
    changed, created = _time(first("pwdChangedTime")), _time(first("createTimestamp"))
    if created is None:
        return False
    return changed is None or abs((changed - created).total_seconds()) <= tolerance_seconds


def main():
    module = AnsibleModule(
        argument_spec={
            "base": {"type": "str", "required": True},
            "uri": {"type": "str", "default": "ldapi:///"},
            "tolerance_seconds": {"type": "int", "default": 5},
        },
        supports_check_mode=True,
    )
    try:
        import ldap
        import ldap.sasl
    except ImportError:
        module.fail_json(msg="python3-ldap is needed on the LDAP host")
    params = module.params
    try:
        conn = ldap.initialize(params["uri"], bytes_mode=False)
        conn.sasl_interactive_bind_s("", ldap.sasl.external())
        found = conn.search_s(params["base"], ldap.SCOPE_SUBTREE, FILTER, ATTRS)
    except ldap.NO_SUCH_OBJECT:
        module.exit_json(changed=False, marked=[])
    except ldap.LDAPError as exc:
        module.fail_json(msg=f"LDAP search under {params['base']} failed: {exc}")
    marked = []
    for dn, attrs in found:
        entry = {k: [v.decode("utf-8", "replace") for v in vs] for k, vs in (attrs or {}).items()}
        if dn and needs_reset(entry, params["tolerance_seconds"]):
            marked.append(dn)
    if marked and not module.check_mode:
        for dn in marked:
            try:
                conn.modify_s(dn, [(ldap.MOD_REPLACE, "pwdReset", [b"TRUE"])])
            except ldap.LDAPError as exc:
                module.fail_json(msg=f"could not set pwdReset on {dn}: {exc}", marked=marked)
    module.exit_json(changed=bool(marked), marked=marked)


if __name__ == "__main__":
    main()
