#!/usr/bin/python
"""Ansible module congvu_reconcile: bring a province's LDAP directory to its rosters in one task."""

from __future__ import annotations

# ruff: noqa: E402 - Ansible modules put their imports after DOCUMENTATION/EXAMPLES/RETURN

DOCUMENTATION = r"""
---
module: congvu_reconcile
short_description: Bring the congvu LDAP directory to the province's rosters (accounts at scale)
description:
  - Reads the whole C(ou=organisations) subtree once, plans with the pure C(congvu.reconcile) engine
    and applies the changes in batches (organisations and their mailboxes, delegated admin groups
    (C(cn=admins), Gia Lai Art 5.2), new people with addresses from the province's naming scheme,
    changed attributes, leavers marked with C(congvuLeavingSince), never deleted).
  - An address once issued never changes; new people are named in the order of their ids.
  - People the naming scheme cannot name alone (Cần Thơ Art 4.2.c fourth namesake, identical names
    in one agency) are returned in C(pending) with a deterministic suggestion each; while any remain
    the module writes nothing (C(applied=false)) so that nothing is half-applied.
  - New accounts get a random initial password derived from O(password_secret) (HMAC-SHA256), stored
    as C({CRYPT}$6$) with C(pwdReset=TRUE) and C(congvuMustChangePassword=TRUE) (must change it
    first). No password is ever returned; the controller derives them from the same secret for the
    vault-encrypted credential files.
  - Runs on the LDAP host and binds over C(ldapi:///) with SASL EXTERNAL as root by default. Needs
    python3-ldap, python3-yaml and python3-passlib there. The pure C(congvu) package travels in
    module_utils (C(module_utils/congvu) is a symlink to the project's package).
  - Keeps the agencies' mailing lists of the lists file O(lists) (Cần Thơ Art 11.5, docs/lists.md);
    each list's address follows the naming scheme, and the file's display name, rule, owners, and the
    members and named senders when it gives them, are written. A list marked C(state=absent) is
    deleted (returned in C(removed)), one with C(renamed_from) is renamed and keeps its former address
    as an alias. Lists not in the file are never changed;
    every list of the directory whose address does not follow the naming scheme is returned in
    C(misnamed_lists) and warned about, without failing the run.
  - An organisation of the directory the catalogue no longer has is never changed or deleted (its
    mailboxes keep receiving); it is returned in C(dissolved) and warned about.
  - Check mode plans without writing; with C(--diff) every added or changed entry is shown as LDIF
    (password hashes replaced by a placeholder).
version_added: "0.1.0"
author: congvu-mail
options:
  policy:
    description: The province policy file content (parsed YAML), validated with O(policy_source).
    type: dict
    required: true
  policy_source:
    description: Where the policy came from (for messages).
    type: str
    default: policy
  policy_overrides:
    description: Operator overrides of the policy (C(congvu_policy_overrides)).
    type: dict
    default: {}
  catalogue:
    description:
      - The organisation catalogue content (parsed YAML), C(data/catalogues/<province code>.yml).
      - Its C(province) key, when set, must be the policy's C(province.code); the policy's
        C(naming.scheme) may be any registered scheme.
    type: dict
    required: true
  catalogue_source:
    description: Where the catalogue came from (for messages).
    type: str
    default: catalogue
  rosters:
    description: Roster files, each C(source) (the file name shown in messages) and C(content) (text).
    type: list
    elements: dict
    required: true
  overrides:
    description:
      - The operator-reviewed overrides file content, C(overrides) mapping person id to
        C({address, approved}). Only approved entries are used.
    type: dict
    default: {}
  aliases:
    description: Primary address to further addresses (added, never removed).
    type: dict
    default: {}
  lists:
    description:
      - The lists file (C(lists.yml) beside the rosters), C(source) (the file name shown in messages)
        and C(content) (text); see docs/lists.md, "Lists kept from the roster". Without it no list is
        created or changed (the naming check of the directory's lists still runs).
    type: dict
  password_secret:
    description: The run's secret (at least 32 characters) the initial passwords derive from.
    type: str
    required: true
  password_policies:
    description: Role (user, admin, organisation) to ppolicy DN set as C(pwdPolicySubentry) on new entries.
    type: dict
    default: {}
  hash_rounds:
    description: SHA512-crypt rounds of initial password hashes (see docs/accounts.md for the choice).
    type: int
    default: 1000
  ldap_uri:
    description: LDAP URI; the default binds with SASL EXTERNAL over the local socket.
    type: str
    default: ldapi:///
  bind_dn:
    description: Simple bind DN instead of SASL EXTERNAL.
    type: str
  bind_pw:
    description: Password of O(bind_dn).
    type: str
  write_mode:
    description:
      - C(txn) LDAP transactions (RFC 5805) of O(batch_size) operations, one durable commit each;
      - C(async) pipelined operations, one durable commit per operation;
      - C(sync) one operation at a time.
    type: str
    choices: [txn, async, sync]
    default: txn
  batch_size:
    description: Operations per transaction.
    type: int
    default: 2000
  manage_organisations:
    description:
      - Converge the attributes of existing organisation entries. Set it off when the openldap role
        owns them (C(openldap_organisations)); missing organisations are created either way and
        existing ones are never moved.
    type: bool
    default: true
  mail_home:
    description:
      - Dovecot's mail store (C(dovecot_vmail_home)). A person moved to another agency where the
        province re-addresses moves (C(lifecycle.transfer_readdress)) keeps the mailbox in
        C(<mail_home>/<old domain>/<old local part>), recorded in C(congvuMailHome).
    type: str
    default: /var/vmail
  now:
    description: The run's time as GeneralizedTime (tests); default the current UTC time.
    type: str
  audit_dir:
    description:
      - Directory of the audit log (C(congvu.audit), one JSON Lines file a month) on the LDAP host. Every
        account and list change the server accepted is appended (create, change, readdress, move,
        mark_leaving, return, reserve_address, delete; attribute names, never values), also when a
        later write fails. Empty writes none.
    type: str
    default: /var/lib/congvu/audit
  actor:
    description: Who ran the apply, as the audit log names it (the operator's name or login).
    type: str
    default: roster
"""

EXAMPLES = r"""
- name: Bring the directory to the rosters
  congvu_reconcile:
    policy: "{{ lookup('ansible.builtin.file', 'policies/hanam.yml') | from_yaml }}"
    catalogue: "{{ lookup('ansible.builtin.file', 'data/catalogues/hanam.yml') | from_yaml }}"
    rosters:
      - source: data/demo/hanam/stttt.csv
        content: "{{ lookup('ansible.builtin.file', 'data/demo/hanam/stttt.csv') }}"
    password_secret: "{{ __accounts_secret }}"
  register: accounts_reconcile
"""

RETURN = r"""
applied:
  description: Whether the plan was written (false in check mode and while cases are pending).
  type: bool
  returned: always
summary:
  description: Counts of created, changed, leaving, returning, pending accounts and operations.
  type: dict
  returned: always
created:
  description: New accounts (kind, key, mail, name, org) - never passwords.
  type: list
  returned: always
modified:
  description: Accounts and organisations whose attributes changed (with the attribute names).
  type: list
  returned: always
leaving:
  description: People missing from the roster, now marked with congvuLeavingSince.
  type: list
  returned: always
transferred:
  description:
    - People moved to another agency who got its address (key, name, from, mail, org); the old
      address stays an alias of the same mailbox.
  type: list
  returned: always
logins:
  description:
    - Every former login of a mailbox (an alias now) with the login that replaced it (from, to), after
      this run; playbooks/accounts.yml carries the webmail's users over with them.
  type: list
  returned: always
removed:
  description:
    - Mailing lists the lists file marks C(state=absent), deleted (kind, key, mail, dn).
  type: list
  returned: always
misnamed_lists:
  description:
    - Mailing lists of the directory whose address does not follow the naming scheme (dn, mail,
      expected, reason), for the operator to look at; they are not changed (Cần Thơ Art 11.5).
  type: list
  returned: always
dissolved:
  description:
    - Organisations of the directory the catalogue no longer has (dn, code, name, mailboxes - their
      addresses, still delivered - and accounts, how many stay under it after this run). Nothing of
      them is changed (docs/restructuring.md, "Re-homing communes").
  type: list
  returned: always
pending:
  description: People needing an operator-chosen address, with reason, article and suggestion.
  type: list
  returned: always
credentials:
  description: For each new account, the key, role, mail, name and agency the controller needs to derive
    and file its initial password (no password).
  type: list
  returned: always
primed_attributes:
  description:
    - How many attribute types the throw-away probe entry registered before the first transaction
      (O(write_mode=txn) only; see docs/accounts.md, "slapd 2.5 and LDAP transactions").
  type: int
  returned: when the directory was written in transactions
replayed:
  description:
    - Why each transaction whose commit failed was written again one operation at a time, every
      operation then accepted (for example the server going away under the commit); the run
      succeeded. An operation the replay cannot write fails the run instead.
  type: list
  elements: str
  returned: when a transaction had to be replayed
timings:
  description: Seconds spent reading, planning, hashing and writing.
  type: dict
  returned: always
"""

import datetime as dt
import os
import secrets
import sys
import time
import traceback

# The pure congvu package ships in module_utils; its modules import each other as ``congvu.*``,
# so the package is registered under that name too. The explicit imports below make AnsiballZ
# include every file of it.
import ansible.module_utils.congvu as _congvu_pkg
from ansible.module_utils.basic import AnsibleModule, missing_required_lib

sys.modules.setdefault("congvu", _congvu_pkg)
try:
    from ansible.module_utils.congvu import (  # noqa: F401 - imported so AnsiballZ ships them
        addresses,
        audit,
        errors,
        fold,
        lists,
        naming,
        orgs,
        passwords,
        policy,
        reconcile,
        roster,
        schemes,
        sizes,
        workdays,
    )

    from congvu.audit import append as audit_append
    from congvu.audit import prune as audit_prune
    from congvu.audit import records_from_changes
    from congvu.errors import CongvuError
    from congvu.lists import load_lists
    from congvu.naming import make_scheme
    from congvu.orgs import load_catalogue
    from congvu.policy import validate_policy
    from congvu.reconcile import (
        PASSWORD_PLACEHOLDER,
        SEARCH_ATTRS,
        approved_overrides,
        base_dn,
        derive_password,
        plan,
    )
    from congvu.roster import load_rosters
    from congvu.workdays import VN_TZ
    IMPORT_ERROR = None
except ImportError:  # pragma: no cover - python3-yaml / python3-passlib missing on the host
    IMPORT_ERROR = traceback.format_exc()

try:
    import ldap
    from ansible.module_utils.congvu import ldapdir  # noqa: F401 - shipped by AnsiballZ

    from congvu.ldapdir import BatchError, Directory
    from congvu.ldapdir import ldap_text as _ldap_text
    LDAP_ERROR = None
except ImportError:  # pragma: no cover
    LDAP_ERROR = traceback.format_exc()

try:
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt as _crypt  # glibc crypt(3): 2x faster than passlib's builtin backend
except ImportError:  # pragma: no cover - Python >= 3.13
    _crypt = None

SALT_CHARS = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SEARCH_FILTER = ("(|(objectClass=congvuMailAccount)(objectClass=congvuOrganisation)(objectClass=groupOfNames)"
                 "(objectClass=congvuMailList))")


def _hash(item):
    """``{CRYPT}$6$rounds=N$salt$...`` of one password (runs in a worker process)."""
    password, rounds = item
    salt = "".join(secrets.choice(SALT_CHARS) for _ in range(16))
    if _crypt is not None:
        return "{CRYPT}" + _crypt.crypt(password, f"$6$rounds={rounds}${salt}$")
    return passwords.hash_password(password, rounds)


def hash_all(items, workers):
    """Hash in parallel: SHA512-crypt dominates a first load (about 0.27 ms per hash at 1000 rounds)."""
    if len(items) < 200 or workers <= 1:
        return [_hash(i) for i in items]
    import multiprocessing
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.map(_hash, items, chunksize=max(50, len(items) // (workers * 8)))


def _audit(module, p, directory, current, now, report, retention):
    """Append the changes the server accepted to the audit log; returns how many records. A log that
    cannot be written fails the task (the directory keeps what was written)."""
    if not p["audit_dir"] or not directory.written:
        return 0
    mails = {dn.lower(): entry["mail"][0].decode("utf-8") for dn, entry in current if entry.get("mail")}
    ts = dt.datetime.strptime(now, "%Y%m%d%H%M%SZ").replace(tzinfo=dt.UTC)
    try:
        written = audit_append(p["audit_dir"], records_from_changes(directory.written, mails, ts, p["actor"]))
        # months past the policy's logs.audit_retention go, as the lifecycle run prunes its own
        audit_prune(p["audit_dir"], retention, ts.astimezone(VN_TZ).date())
        return written
    except CongvuError as exc:
        module.fail_json(msg=f"the directory was written, but the audit log was not: {exc}", changed=True,
                         **report)


def main():
    module = AnsibleModule(
        argument_spec={
            "policy": {"type": "dict", "required": True},
            "policy_source": {"type": "str", "default": "policy"},
            "policy_overrides": {"type": "dict", "default": {}},
            "catalogue": {"type": "dict", "required": True},
            "catalogue_source": {"type": "str", "default": "catalogue"},
            "rosters": {"type": "list", "elements": "dict", "required": True},
            "overrides": {"type": "dict", "default": {}},
            "lists": {"type": "dict"},
            "aliases": {"type": "dict", "default": {}},
            "password_secret": {"type": "str", "required": True, "no_log": True},
            "password_policies": {"type": "dict", "default": {}, "no_log": False},
            "hash_rounds": {"type": "int", "default": 1000},
            "ldap_uri": {"type": "str", "default": "ldapi:///"},
            "bind_dn": {"type": "str"},
            "bind_pw": {"type": "str", "no_log": True},
            "write_mode": {"type": "str", "choices": ["txn", "async", "sync"], "default": "txn"},
            "batch_size": {"type": "int", "default": 2000},
            "now": {"type": "str"},
            "manage_organisations": {"type": "bool", "default": True},
            "mail_home": {"type": "str", "default": "/var/vmail"},
            "audit_dir": {"type": "str", "default": "/var/lib/congvu/audit"},
            "actor": {"type": "str", "default": "roster"},
        },
        required_together=[["bind_dn", "bind_pw"]],
        supports_check_mode=True,
    )
    if IMPORT_ERROR:
        module.fail_json(msg=missing_required_lib("PyYAML and passlib (python3-yaml, python3-passlib)"),
                         exception=IMPORT_ERROR)
    if LDAP_ERROR:
        module.fail_json(msg=missing_required_lib("python-ldap (python3-ldap)"), exception=LDAP_ERROR)
    p = module.params
    timings = {}
    started = time.monotonic()
    now = p["now"] or dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%SZ")
    try:
        pol = validate_policy(p["policy"], p["policy_source"], p["policy_overrides"] or None)
        catalogue = load_catalogue(p["catalogue"], source=p["catalogue_source"])
        scheme = make_scheme(pol["naming"], catalogue, source=p["policy_source"],
                             province=pol["province"]["code"])
        files = []
        for index, item in enumerate(p["rosters"]):
            if not isinstance(item.get("source"), str) or not isinstance(item.get("content"), str):
                module.fail_json(msg=f"rosters[{index}] needs 'source' and 'content' (text)")
            files.append((item["source"], item["content"]))
        people = load_rosters(files, catalogue)
        mail_lists = None
        if p["lists"]:
            item = p["lists"]
            if not isinstance(item.get("source"), str) or not isinstance(item.get("content"), str):
                module.fail_json(msg="lists needs 'source' and 'content' (text)")
            # before the directory is read: a wrong lists file writes nothing (Cần Thơ Art 11.5)
            mail_lists = load_lists(item["content"], item["source"], scheme, people)
        approved = approved_overrides(p["overrides"])
    except CongvuError as exc:
        module.fail_json(msg=str(exc), problems=getattr(exc, "problems", [str(exc)]))
    timings["parse"] = round(time.monotonic() - started, 3)

    try:
        directory = Directory(p["ldap_uri"], p["bind_dn"], p["bind_pw"])
        mark = time.monotonic()
        base = base_dn(pol["domains"]["primary"])
        current = directory.search(f"ou=organisations,{base}", SEARCH_FILTER, SEARCH_ATTRS)
        timings["read"] = round(time.monotonic() - mark, 3)
    except ldap.LDAPError as exc:
        module.fail_json(msg=f"cannot read ou=organisations,{base_dn(pol['domains']['primary'])} at "
                         f"{p['ldap_uri']}: {_ldap_text(exc)} (does the openldap role run first?)")

    mark = time.monotonic()
    try:
        result = plan(policy=pol, scheme=scheme, roster=people, current=current, now=now,
                      overrides=approved, aliases=p["aliases"],
                      password_policies=p["password_policies"],
                      manage_organisations=p["manage_organisations"], mail_home=p["mail_home"],
                      lists=mail_lists)
    except CongvuError as exc:
        module.fail_json(msg=str(exc))
    timings["plan"] = round(time.monotonic() - mark, 3)

    report = {
        "summary": result.summary(), "created": result.created, "modified": result.changed,
        "leaving": result.leaving, "returning": result.returning, "transferred": result.transferred,
        "pending": result.pending, "removed": result.removed, "misnamed_lists": result.misnamed_lists,
        "dissolved": result.dissolved, "logins": result.logins,
        "credentials": [{k: c[k] for k in ("key", "role", "mail", "name", "agency")}
                        for c in result.credentials],
        "timings": timings, "write_mode": p["write_mode"], "now": now,
    }
    for item in result.misnamed_lists:
        module.warn(f"mailing list {item['dn']} ({item['mail']}): {item['reason']}")
    for item in result.dissolved:
        boxes = (f"its mailboxes keep receiving ({', '.join(item['mailboxes'])})" if item["mailboxes"]
                 else "it has no mailbox")
        module.warn(f"organisation {item['dn']} ({item['name'] or item['code']}) is no longer in the "
                    f"catalogue: nothing of it is changed; {boxes}; {item['accounts']} account(s) are "
                    "left under it (docs/restructuring.md, \"Re-homing communes\")")
    if module._diff and result.changes:
        diffs = []
        for change in result.changes:
            before, after = change.as_ldif()
            diffs.append({"before_header": change.dn, "after_header": change.new_dn or change.dn,
                          "before": before, "after": after})
        report["diff"] = diffs
    changed = bool(result.changes)
    if result.pending or module.check_mode or not changed:
        timings["total"] = round(time.monotonic() - started, 3)
        cpu = os.times()
        timings["cpu"] = round(cpu.user + cpu.system, 3)
        module.exit_json(changed=changed and not result.pending, applied=False, **report)

    # Initial passwords: derived (never returned), hashed in parallel.
    mark = time.monotonic()
    by_dn = {c["dn"]: c for c in result.credentials}
    items = [(derive_password(p["password_secret"], c["key"], pol, c["role"]), p["hash_rounds"])
             for c in result.credentials]
    hashes = dict(zip([c["dn"] for c in result.credentials],
                      hash_all(items, min(os.cpu_count() or 1, 4)), strict=True))
    for change in result.changes:
        if change.op == "add" and change.attrs.get("userPassword") == [PASSWORD_PLACEHOLDER]:
            # Never returned (the result lists keys and addresses only). Not registered as no-log values
            # either: exit_json would then scan every returned string against 20,000 hashes.
            change.attrs["userPassword"] = [hashes[change.dn]]
    del items, by_dn
    timings["hash"] = round(time.monotonic() - mark, 3)

    mark = time.monotonic()
    retention = pol["logs"]["audit_retention"]  # days the audit log keeps its months
    # Organisations first, in their own commits: people need their parents to exist.
    # Moves (modrdn, rare) one by one outside any transaction: RFC 5805 support for them varies.
    first = [c for c in result.changes if c.kind in ("organisation", "mailbox")]
    moves = [c for c in result.changes if c.op == "move"]
    rest = [c for c in result.changes if c.kind not in ("organisation", "mailbox") and c.op != "move"]
    try:
        if p["write_mode"] == "txn":
            report["primed_attributes"] = directory.prime(f"ou=organisations,{base}", first + rest)
        directory.apply(first, p["write_mode"], p["batch_size"])
        directory.apply(moves, "sync", p["batch_size"])
        directory.apply(rest, p["write_mode"], p["batch_size"])
    except BatchError as exc:
        report["audited"] = _audit(module, p, directory, current, now, report, retention)
        module.fail_json(msg=f"{len(exc.failures)} LDAP write(s) failed; nothing of the failed batch "
                         "is lost: re-run after fixing", failures=exc.failures[:200], **report)
    except ldap.LDAPError as exc:
        report["audited"] = _audit(module, p, directory, current, now, report, retention)
        module.fail_json(msg=f"LDAP write failed: {_ldap_text(exc)}", **report)
    timings["write"] = round(time.monotonic() - mark, 3)
    if directory.replayed:
        report["replayed"] = directory.replayed
    report["audited"] = _audit(module, p, directory, current, now, report, retention)
    timings["total"] = round(time.monotonic() - started, 3)
    cpu = os.times()
    # CPU seconds of the module and its hashing workers: the wall clock depends on the host's load.
    timings["cpu"] = round(cpu.user + cpu.system + cpu.children_user + cpu.children_system, 3)
    module.exit_json(changed=True, applied=True, **report)


if __name__ == "__main__":
    main()
