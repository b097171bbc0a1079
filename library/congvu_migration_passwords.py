#!/usr/bin/python
"""Ansible module congvu_migration_passwords: carry the old system's password hashes over."""

from __future__ import annotations

# ruff: noqa: E402 - Ansible modules put their imports after DOCUMENTATION/EXAMPLES/RETURN

DOCUMENTATION = r"""
---
module: congvu_migration_passwords
short_description: Give migrated accounts their password from the incumbent system (docs/migration.md)
description:
  - For each mailbox with a C(password_hash) (the old directory's C(userPassword)), finds the account
    with that address and, when the hash is one this directory checks as it is (C({SSHA}), C({CRYPT})
    SHA-256/512-crypt, yescrypt, bcrypt) and the account is still on its initial password
    (C(congvuMustChangePassword=TRUE)), writes the hash as its C(userPassword), clears the forced
    change (C(congvuMustChangePassword), ppolicy's C(pwdReset)) and appends an audit record.
  - Never replaces a password the user has set here; any other scheme is left alone (the account
    keeps its initial password and must change it).
  - Runs on the LDAP host and binds over C(ldapi:///) with SASL EXTERNAL as root. Check mode plans.
    The pure decision is C(congvu.migration.password_plan).
options:
  base_dn:
    description: The directory's base DN.
    type: str
    required: true
  mailboxes:
    description:
      - Each target of the file, with its old hash where the file gives one (the filter
        C(congvu_migration_hashes) of the file).
    type: list
    elements: dict
    required: true
    suboptions:
      target:
        description: An address of the account here (its C(mail) or one of its C(congvuMailAlias)).
        type: str
        required: true
      password_hash:
        description: The old directory's C(userPassword) value; empty when the file gives none.
        type: str
        default: ""
      id:
        description:
          - The person's Mã cán bộ (C(employeeNumber)) the target's account must have; empty for any.
          - Nothing is written when an account is another person's, or two targets are one account.
        type: str
        default: ""
  audit_dir:
    description: The audit log's directory on this host ("" writes none).
    type: str
    default: /var/lib/congvu/audit
  actor:
    description: Who runs the migration, as the audit log names them.
    type: str
    default: operator
author: congvu-mail
"""

EXAMPLES = r"""
- name: Carry the old passwords over
  congvu_migration_passwords:
    base_dn: dc=hanam,dc=gov,dc=vn
    mailboxes: [{target: nguyenvanan@hanam.gov.vn, password_hash: "{CRYPT}$6$..."}]
  no_log: true
"""

RETURN = r"""
passwords:
  description: >-
    Per mailbox with a hash, C(mail), C(scheme), C(action) (carry, kept, reset, none) and C(why);
    never the hash.
  type: list
  returned: always
accounts:
  description: Each target found here -> the login (C(mail)) of the account it is an address of.
  type: dict
  returned: always
"""

import datetime as dt
import sys
import traceback

import ansible.module_utils.congvu as _congvu_pkg
from ansible.module_utils.basic import AnsibleModule, missing_required_lib

sys.modules.setdefault("congvu", _congvu_pkg)
from ansible.module_utils.congvu import (  # noqa: F401 - shipped by AnsiballZ
    addresses,
    audit,
    errors,
    migration,
    mutf7,
    workdays,
)

from congvu.audit import Record
from congvu.audit import append as audit_append
from congvu.errors import CongvuError
from congvu.migration import Mailbox, account_problems, password_plan

try:
    import ldap
    from ldap.filter import escape_filter_chars

    LDAP_ERROR = None
except ImportError:  # pragma: no cover - python3-ldap missing on the host
    LDAP_ERROR = traceback.format_exc()


def _found(conn, base_dn, boxes):
    """Target -> its account: ``dn``, ``mail`` (the login) and ``must_change``. A target may be the
    account's address or one of its aliases (an old address the intake kept, docs/migration.md)."""
    found = {}
    for box in boxes:
        target = escape_filter_chars(box.target)
        flt = f"(&(objectClass=congvuMailAccount)(|(mail={target})(congvuMailAlias={target})))"
        marks = ["congvuMustChangePassword", "pwdReset"]
        for dn, attrs in conn.search_s(base_dn, ldap.SCOPE_SUBTREE, flt, [*marks, "mail", "employeeNumber"]):
            if dn:
                # the initial password of the roster apply: both marks; a user's own change clears
                # pwdReset (slapd) and then congvuMustChangePassword (the webmail)
                flags = [(attrs.get(a) or [b""])[0].decode().upper() for a in marks]
                found[box.target] = {"dn": dn, "must_change": flags == ["TRUE", "TRUE"],
                                     "mail": (attrs.get("mail") or [b""])[0].decode().lower(),
                                     "id": (attrs.get("employeeNumber") or [b""])[0].decode()}
    return found


def _carry(conn, item):
    # deleting the value TRUE fails the whole modify if the mark changed since the search
    conn.modify_s(item["dn"], [(ldap.MOD_DELETE, "congvuMustChangePassword", [b"TRUE"]),
                               (ldap.MOD_ADD, "congvuMustChangePassword", [b"FALSE"]),
                               (ldap.MOD_REPLACE, "userPassword", [item["hash"].encode()])])
    # ppolicy marks a password an administrator sets as to be changed (pwdReset): not this one
    _, attrs = conn.search_s(item["dn"], ldap.SCOPE_BASE, "(objectClass=*)", ["pwdReset"])[0]
    if attrs.get("pwdReset"):
        conn.modify_s(item["dn"], [(ldap.MOD_DELETE, "pwdReset", None)])


def main():
    module = AnsibleModule(
        argument_spec={
            "base_dn": {"type": "str", "required": True},
            # the migration file's entries as they are; only the secrets are hidden from the output
            "mailboxes": {"type": "list", "elements": "dict", "required": True, "options": {
                "target": {"type": "str", "required": True},
                "password_hash": {"type": "str", "default": "", "no_log": True},
                "id": {"type": "str", "default": ""},
            }},
            "audit_dir": {"type": "str", "default": "/var/lib/congvu/audit"},
            "actor": {"type": "str", "default": "operator"},
        },
        supports_check_mode=True,
    )
    if LDAP_ERROR:
        module.fail_json(msg=missing_required_lib("python3-ldap"), exception=LDAP_ERROR)
    p = module.params
    boxes = [Mailbox(m["target"].lower(), m["target"].lower(), "", m["password_hash"], m["id"])
             for m in p["mailboxes"]]
    conn = ldap.initialize("ldapi:///", bytes_mode=False)
    conn.sasl_external_bind_s()
    found = _found(conn, p["base_dn"], boxes)
    problems = account_problems(boxes, found)
    if problems:  # before any password is carried or any mail copied
        module.fail_json(msg=f"{len(problems)} problem(s) with the migration file's targets, nothing "
                             "changed:\n  - " + "\n  - ".join(problems))
    # each target's account login, for the mailbox play (congvu.migration.resolve)
    accounts = {target: entry["mail"] for target, entry in found.items() if entry["mail"]}
    plan = password_plan(boxes, found)
    carried = [item for item in plan if item["action"] == "carry"]
    shown = [{k: v for k, v in item.items() if k != "hash"} for item in plan]
    if module.check_mode or not carried:
        module.exit_json(changed=bool(carried), passwords=shown, accounts=accounts)
    done, failed = [], ""
    for item in carried:
        try:
            _carry(conn, item)
        except ldap.LDAPError as exc:
            failed = f"{item['mail']}: {exc}"
            break
        done.append(item)
    if p["audit_dir"] and done:  # what was written is recorded, also when a later write failed
        now = dt.datetime.now(dt.UTC)
        records = [Record(ts=now, actor=p["actor"], source="operator", action="password_carried",
                          mail=item["mail"], dn=item["dn"], organisation=audit.agency_of_dn(item["dn"]),
                          details={"scheme": item["scheme"], "from": "the incumbent system (migrate.yml)"})
                   for item in done]
        try:
            audit_append(p["audit_dir"], records)
        except CongvuError as exc:
            failed = f"{failed}; " if failed else ""
            failed += f"the passwords were carried over, but the audit log was not written: {exc}"
    if failed:
        module.fail_json(msg=f"carrying the old passwords over stopped: {failed}", changed=bool(done),
                         passwords=shown, accounts=accounts)
    module.exit_json(changed=True, passwords=shown, accounts=accounts)


if __name__ == "__main__":
    main()
