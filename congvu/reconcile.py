"""Accounts reconciliation: the directory as it is, the roster as it should be, and the changes between.

Pure planning, no LDAP import: :func:`plan` takes the entries one subtree search returned and
gives the list of LDAP operations (:class:`Change`) that bring the directory to the roster, plus
what to report (created, changed, leaving, pending operator decisions). ``library/congvu_reconcile.py``
reads the directory, calls :func:`plan` and applies the changes in batches.

Rules (docs/accounts.md):

* A person is matched by the roster's "Mã cán bộ", stored in ``employeeNumber``. Their address, once
  issued, never changes (re-apply, reordered roster, renamed person, move to another organisation).
* New people get addresses from the province's naming scheme (``congvu.naming``), every address in
  the directory counting as taken, in the order of their ids (so the file order does not matter).
* People the scheme cannot name alone (Cần Thơ's fourth namesake, identical names in one Hà Nam or
  Gia Lai agency without a distinguishing detail...) are *pending*: the plan holds them and their
  suggestions, and the module applies nothing until the operator has approved an address for each.
* A managed person missing from the roster is never deleted: ``congvuLeavingSince`` is set once;
  the lifecycle rules act on it. A leaver who comes back has it removed.
* New accounts (people and organisation mailboxes) get an initial password derived from a secret
  the controller generates per run (see :func:`derive_password`), ppolicy's ``pwdReset: TRUE`` (the
  must-change signal every service honours; slapd clears it only when the user changes the password)
  and ``congvuMustChangePassword: TRUE`` (the webmail's forced-change form; docs/security.md)
  (Hà Nam Art 8.2.a, Gia Lai Art 9.1, Cần Thơ Art 10.3, Hà Giang Art 12.1, Ninh Bình Art 6.3).
* Display names follow the policy's ``display_name.format`` ("full name - agency": Cần Thơ Art 4.2.đ).
* Mailing lists of the lists file (``lists.yml``, :mod:`congvu.lists`; Cần Thơ Art 11.5) are created
  and kept: address from the naming scheme (``Scheme.list_address``), display name, rule, owners, and
  the members and named senders when the file gives them. Their members are never retired or leaving
  accounts, nor people gone from the roster. A list the file marks ``state: absent`` is deleted, one
  with ``renamed_from`` is moved to its new name (its former address kept as an alias). Lists not in
  the file are never changed; every list whose address does not follow the naming scheme is reported
  (``misnamed_lists``), never changed.
* An organisation the catalogue no longer has (the districts of the 2025 reform, merged communes) is
  never changed or deleted: its mailboxes keep receiving; it is reported (``dissolved``) with what is
  left under it, for the operator (docs/restructuring.md, "Re-homing communes").
* A **transfer** (a person the roster puts in another top-level agency) where the address carries the
  agency (``lifecycle.transfer_readdress``: Gia Lai Art 4.2.a, Gia Lai Art 5.3; Hà Giang Art 4.2,
  Hà Giang Art 5.1.a; Ninh Bình Art 5.2.a, Ninh Bình Art 7.2) gets the address the scheme gives in the
  new agency. The old one stays deliverable as an alias (until ``lifecycle.transfer_alias_keep`` ends,
  when set: ``congvuExpiringAlias``, which the lifecycle run retires), and the mailbox stays where it is
  (``congvuMailHome``): nothing is moved and no message is lost. Elsewhere (Hà Nam Art 6.2.a,
  Cần Thơ Art 5.2) the entry moves and keeps its address.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from congvu.errors import CongvuError
from congvu.fold import split_name
from congvu.lists import AGENCY_OWNER, Lists
from congvu.naming import Person as NamingPerson
from congvu.naming import Scheme
from congvu.passwords import AMBIGUOUS, DEFAULT_GENERATED_LENGTH, password_violations
from congvu.roster import Person, Roster
from congvu.schemes.base import LIST_NAME_RE

__all__ = ["LIFECYCLE_CLASS", "PASSWORD_PLACEHOLDER", "Change", "Plan", "base_dn", "derive_password",
           "org_dns", "plan", "with_lifecycle_class"]

#: Stands for the initial password hash in a planned entry; the module replaces it.
PASSWORD_PLACEHOLDER = "{CRYPT}(initial password)"
PERSON_CLASSES = ["top", "inetOrgPerson", "congvuMailAccount"]
ORG_CLASSES = ["top", "organization", "congvuOrganisation"]
GROUP_CLASSES = ["top", "groupOfNames"]
#: An agency's mailing list (docs/lists.md, Cần Thơ Art 11.5).
LIST_CLASSES = ["top", "congvuMailList"]
#: List attributes the lists file always owns; ``member`` and ``congvuListSender`` only when the
#: file gives them (else the list's owners keep them).
LIST_MANAGED = ("mail", "displayName", "congvuListAccept", "owner")
#: Person attributes the roster owns: compared and replaced on every run.
#: ``o``/``ou`` carry the agency's and the unit's names for the address book ("Danh bạ" in Roundcube
#: shows them as organisation and department); an existing directory gets them on its next run.
PERSON_MANAGED = ("cn", "sn", "givenName", "displayName", "congvuPosition", "congvuBirthDate",
                  "congvuOrganisationDN", "o", "ou")
#: Attributes only written when the entry is created (the lifecycle and the users own them later).
CREATE_ONLY = ("userPassword", "congvuMustChangePassword", "pwdReset", "congvuAccountState",
               "congvuStateChanged", "congvuMailQuota", "pwdPolicySubentry")
ORG_MANAGED = ("displayName", "congvuOrgKind", "congvuOrgCode", "congvuOrgAbbr", "mail", "associatedDomain")
MAILBOX_MANAGED = ("cn", "sn", "displayName", "congvuOrganisationDN")
#: Auxiliary class carrying the lifecycle's attributes (docs/directory.md): added to an entry with the
#: first of them it stores (the lifecycle run's state, a transfer's ``congvuMailHome``).
LIFECYCLE_CLASS = "congvuLifecycle"
#: Where a mailbox lives by default: Dovecot's home, ``<vmail home>/<domain>/<local part>``.
DEFAULT_MAIL_HOME = "/var/vmail"
#: Attributes read by the one subtree search.
SEARCH_ATTRS = sorted({"objectClass", "uid", "mail", "employeeNumber", "congvuMailboxClass",
                       "congvuMailAlias", "congvuReservedAddress", "congvuLeavingSince", "member", "o",
                       "congvuMailHome", "congvuExpiringAlias",
                       # retired accounts never join a list; the lists' own attributes
                       "congvuAccountState", "owner", "congvuListAccept", "congvuListSender",
                       *PERSON_MANAGED,
                       *ORG_MANAGED, *MAILBOX_MANAGED})
_CANON = {a.lower(): a for a in (*SEARCH_ATTRS, *CREATE_ONLY, "congvuMailboxClass")}


class ReconcileError(CongvuError):
    """The inputs cannot be reconciled (the message lists every problem)."""


def base_dn(domain: str) -> str:
    """``hanam.gov.vn`` → ``dc=hanam,dc=gov,dc=vn`` (docs/directory.md)."""
    return ",".join(f"dc={part}" for part in domain.split("."))


def org_dns(catalogue: Mapping[str, Any], base: str,
            found: Mapping[str, str] | None = None) -> dict[str, str]:
    """Organisation code → DN. An organisation already in the directory stays where it is (``found``:
    code → DN, e.g. placed by the openldap role); a new unit nests under its parent, every other new
    organisation sits directly under ``ou=organisations`` (its own delegated admins manage it:
    Gia Lai Art 5.2)."""
    out: dict[str, str] = dict(found or {})

    def dn(code: str) -> str:
        if code not in out:
            org = catalogue[code]
            parent = (dn(org.parent) if org.kind == "unit" and org.parent
                      else f"ou=organisations,{base}")
            out[code] = f"o={code},{parent}"
        return out[code]

    for code in catalogue:
        dn(code)
    return out


def top_code(dn: str) -> str:
    """The top-level organisation of an organisation DN: the ``o=`` right above ``ou=organisations``."""
    parts = [p.strip() for p in dn.split(",")]
    for i, part in enumerate(parts):
        if part.lower() == "ou=organisations" and i > 0:
            return parts[i - 1].partition("=")[2]
    return parts[0].partition("=")[2]


def _norm(dn: str) -> str:
    return dn.replace(" ", "").lower()


# --- initial passwords --------------------------------------------------------------------------

class _Stream:
    """Deterministic bytes: HMAC-SHA256(secret, key || counter), a standard PRF construction."""

    def __init__(self, secret: str, key: str) -> None:
        self.secret, self.key, self.counter, self.buf = secret.encode(), key.encode(), 0, b""

    def below(self, n: int) -> int:
        """Uniform integer in [0, n) by rejection sampling on single bytes (n <= 256)."""
        limit = 256 - 256 % n
        while True:
            if not self.buf:
                self.counter += 1
                self.buf = hmac.new(self.secret, self.key + b"\0" + str(self.counter).encode(),
                                    hashlib.sha256).digest()
            byte, self.buf = self.buf[0], self.buf[1:]
            if byte < limit:
                return byte % n


def derive_password(secret: str, key: str, policy: Mapping[str, Any], role: str = "user") -> str:
    """The initial password of account ``key`` for this run's ``secret`` (at least 256 bits, random).

    Same construction as :func:`congvu.passwords.generate_password` (one character of each required
    class, unambiguous characters, shuffled) but drawn from HMAC-SHA256(secret, key): the module on
    the LDAP host stores only the hash and returns no password; the controller, holding the same
    secret, derives the passwords of the accounts the module reports as created and writes them into
    the vault-encrypted credential files. The secret is never stored.
    """
    if len(secret) < 32:
        raise ReconcileError("the initial-password secret must be at least 32 characters",
                             key="password_secret", rule="secret length")
    rules = policy["passwords"][role]
    size = max(rules["min_length"], DEFAULT_GENERATED_LENGTH)
    pools = {"upper": "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "lower": "abcdefghijklmnopqrstuvwxyz",
             "digit": "0123456789", "special": rules["special_chars"]}
    pools = {n: "".join(c for c in chars if c not in AMBIGUOUS) for n, chars in pools.items()}
    wanted = [c for c in ("upper", "lower", "digit", "special") if c in rules["classes"]] or [
        "lower", "upper", "digit"]
    alphabet = "".join(pools[n] for n in wanted if n != "special") or pools["special"]
    stream = _Stream(secret, f"{role}:{key}")
    chars = [pools[n][stream.below(len(pools[n]))] for n in wanted]
    chars += [alphabet[stream.below(len(alphabet))] for _ in range(size - len(chars))]
    for i in range(len(chars) - 1, 0, -1):
        j = stream.below(i + 1)
        chars[i], chars[j] = chars[j], chars[i]
    password = "".join(chars)
    if password_violations(password, policy, role):  # pragma: no cover - guarded by construction
        raise ReconcileError("derived password breaks the policy", key=f"passwords.{role}", rule="generator")
    return password


# --- the plan -----------------------------------------------------------------------------------

@dataclass
class Change:
    """One LDAP operation. ``attrs``: the whole entry (add) or attribute → new values, ``[]`` meaning
    delete (modify). ``before``: current values of the changed attributes (for the diff)."""

    op: str  # add | modify | move | delete
    dn: str
    kind: str  # organisation | group | mailbox | person
    key: str  # person id or organisation code
    attrs: dict[str, list[str]] = field(default_factory=dict)
    before: dict[str, list[str]] = field(default_factory=dict)
    new_dn: str = ""
    why: str = ""

    def as_ldif(self) -> tuple[str, str]:
        """(before, after) texts for ``--diff``; password hashes never appear."""
        def show(attrs: Mapping[str, list[str]]) -> str:
            lines = []
            for name, values in attrs.items():
                for value in values:
                    shown = "(initial password, not shown)" if name == "userPassword" else value
                    lines.append(f"{name}: {shown}")
            return "\n".join(lines)
        if self.op == "add":
            return "", f"dn: {self.dn}\n{show(self.attrs)}\n"
        if self.op == "move":
            return f"dn: {self.dn}\n", f"dn: {self.new_dn}\n"
        return (f"dn: {self.dn}\n{show(self.before)}\n", f"dn: {self.dn}\n{show(self.attrs)}\n")


def transaction_order(changes: list[Change]) -> tuple[list[Change], list[Change]]:
    """``changes`` split into what LDAP transactions may hold (in order) and the deletions, which are
    written one at a time after them: slapd 2.5.13's back-mdb fails a transaction holding a delete at
    commit (``mdb_delete: txn_commit failed: MDB_NOTFOUND``, seen with the lifecycle run's request
    entries), and an aborted transaction is what the attribute-numbering guard exists for
    (docs/accounts.md). :meth:`congvu.ldapdir.Directory.apply` writes them so."""
    return [c for c in changes if c.op != "delete"], [c for c in changes if c.op == "delete"]


@dataclass
class Plan:
    """Everything one run would do, and what to tell the operator."""

    changes: list[Change] = field(default_factory=list)
    created: list[dict[str, str]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    leaving: list[dict[str, str]] = field(default_factory=list)
    returning: list[dict[str, str]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    transferred: list[dict[str, str]] = field(default_factory=list)
    """People given their new agency's address: key, name, from (old address), mail, org."""
    credentials: list[dict[str, str]] = field(default_factory=list)
    """Accounts needing an initial password: key, role, dn, mail, name, agency (code)."""
    logins: list[dict[str, str]] = field(default_factory=list)
    """Former logins and the login each now is (from, to: lower-case addresses): every alias of a
    mailbox after this run, and every address this run replaces. The webmail carries its users over
    (roles/roundcube, ``congvu-webmail-rename``; docs/webmail.md)."""
    removed: list[dict[str, str]] = field(default_factory=list)
    """Mailing lists the lists file removes (``state: absent``): kind, key, mail, dn."""
    misnamed_lists: list[dict[str, str]] = field(default_factory=list)
    """Mailing lists in the directory whose address does not follow the naming scheme (dn, mail,
    expected or "", reason): for the operator to look at; nothing is changed (Cần Thơ Art 11.5)."""
    dissolved: list[dict[str, Any]] = field(default_factory=list)
    """Organisations of the directory that the catalogue no longer has (a district of the tier removed
    in 2025, merged communes): dn, code, name, mailboxes (their addresses, still delivered), accounts
    (how many stay under it after this run). Nothing is changed or deleted: for the operator
    (docs/restructuring.md, "Re-homing communes")."""
    unmanaged: int = 0

    def summary(self) -> dict[str, int]:
        return {"created": len(self.created), "changed": len(self.changed), "leaving": len(self.leaving),
                "returning": len(self.returning), "transferred": len(self.transferred),
                "pending": len(self.pending), "removed": len(self.removed),
                "misnamed_lists": len(self.misnamed_lists), "dissolved": len(self.dissolved),
                "operations": len(self.changes), "unmanaged": self.unmanaged}


def _entries(current: Iterable[tuple[str, Mapping[str, Iterable[Any]]]]) -> dict[str, dict[str, list[str]]]:
    """Normalise search results: lower-cased DN → {canonical attribute: [str values]} (+ ``dn``)."""
    out: dict[str, dict[str, list[str]]] = {}
    for dn, attrs in current:
        entry: dict[str, list[str]] = {"dn": [dn]}
        for name, values in attrs.items():
            canon = _CANON.get(name.lower(), name)
            entry[canon] = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]
        out[_norm(dn)] = entry
    return out


def _transfers(policy: Mapping[str, Any], people: Iterable[Person],
               by_id: Mapping[str, Mapping[str, list[str]]], top: Mapping[str, str],
               existing: Mapping[str, str]) -> dict[str, str]:
    """Person id -> current address, for the people the roster puts in another top-level agency than
    the directory holds them in, where the province re-addresses a move (``transfer_readdress``)."""
    if not (policy.get("lifecycle") or {}).get("transfer_readdress"):
        return {}
    out = {}
    for person in people:
        entry = by_id.get(person.id)
        if entry is None:
            continue
        was = _first(entry, "congvuOrganisationDN") or entry["dn"][0].split(",", 1)[1]
        if top_code(was).lower() != top[person.org].lower():
            out[person.id] = existing[person.id].lower()
    return out


def _readdress(want: dict[str, list[str]], entry: Mapping[str, list[str]], old: str, new: str,
               policy: Mapping[str, Any], now: str, mail_home: str) -> list[str]:
    """The attributes of a transfer (module docstring) into ``want``; returns their names."""
    want["mail"] = [new]
    kept = set(want.get("congvuMailAlias") or entry.get("congvuMailAlias", [])) | {old}
    want["congvuMailAlias"] = sorted(a for a in kept if a.lower() != new)
    names = ["mail", "congvuMailAlias"]
    if not entry.get("congvuMailHome"):
        local, _, domain = old.partition("@")
        want["congvuMailHome"] = [f"{mail_home.rstrip('/')}/{domain}/{local}"]
        names.append("congvuMailHome")
    keep = (policy.get("lifecycle") or {}).get("transfer_alias_keep")
    if keep is not None:
        today = dt.date(int(now[:4]), int(now[4:6]), int(now[6:8]))
        until = today + dt.timedelta(days=int(keep))
        want["congvuExpiringAlias"] = sorted(set(entry.get("congvuExpiringAlias", []))
                                             | {f"{old} {until:%Y%m%d}"})
        names.append("congvuExpiringAlias")
    return names


def served_domains(policy: Mapping[str, Any], scheme: Scheme) -> set[str]:
    """Every domain the province's servers accept mail for: the policy's primary and extra domains
    and each organisation's own (Gia Lai Art 4.1 subdomains)."""
    domains = policy["domains"]
    return ({domains["primary"], *(domains.get("extra") or [])}
            | {scheme.org_domain(code) for code in scheme.catalogue})


def _check_aliases(claims: Iterable[tuple[str, str, str]], entries: Mapping[str, Mapping[str, list[str]]],
                   planned: Mapping[str, str], policy: Mapping[str, Any], scheme: Scheme) -> None:
    """Check every alias the inputs give, all at once, before anything is written. ``claims``: (where
    and what it is, e.g. ``file:line: Bí danh``; the entry it is for: its DN, or ``id:<person id>``
    / ``new:<address>`` while it does not exist; the alias). ``planned``: addresses this run gives
    (new organisation mailboxes, the lists file's lists) -> what holds them. Each alias must be in a
    domain served here, not held by another entry (a mailbox, an alias, a list, a reserved address of
    a retired account) or planned for one, and not given to two entries; an alias the entry already
    holds is fine. Raises :class:`ReconcileError` listing every problem."""
    served = served_domains(policy, scheme)
    holders: dict[str, str] = {}
    for entry in entries.values():
        for name in ("mail", "congvuMailAlias", "congvuReservedAddress"):
            for address in entry.get(name, []):
                holders.setdefault(address.lower(), entry["dn"][0])
    for address, what in planned.items():
        holders.setdefault(address.lower(), what)
    claimed: dict[str, tuple[str, str]] = {}
    problems: list[str] = []
    for where, owner, alias in claims:
        alias = alias.lower()
        local, at, domain = alias.partition("@")
        holder = holders.get(alias)
        if not at or not local or domain not in served:
            problems.append(f"{where} {alias}: @{domain} is not a domain served here "
                            "(policy domains.primary/extra, organisation domains)")
        elif holder is not None and _norm(holder) != _norm(owner):
            problems.append(f"{where} {alias} is already in use by {holder}")
        elif alias in claimed and _norm(claimed[alias][1]) != _norm(owner):
            problems.append(f"{where} {alias} is also given at {claimed[alias][0]}: two accounts "
                            "cannot share an address")
        else:
            claimed.setdefault(alias, (where, owner))
    if problems:
        raise ReconcileError(f"{len(problems)} alias(es) cannot be given:\n  " + "\n  ".join(problems),
                             rule="roster")


def _roster_aliases(people: Iterable[Any], by_id: Mapping[str, Mapping[str, list[str]]]
                    ) -> list[tuple[str, str, str]]:
    """The roster's "Bí danh" claims (:func:`_check_aliases`): (file:line, the person's DN or
    ``id:<person id>``, alias)."""
    claims = []
    for person in people:
        owner = by_id[person.id]["dn"][0] if person.id in by_id else f"id:{person.id}"
        claims += [(f"{person.where}: Bí danh", owner, alias) for alias in person.aliases]
    return claims


def _file_aliases(aliases: Mapping[str, Iterable[str]] | None, entries: Mapping[str, Mapping[str, list[str]]],
                  people: Iterable[Any], scheme: Scheme) -> list[tuple[str, str, str]]:
    """The aliases file's claims (:func:`_check_aliases`): (where; the account holding the primary
    address, ``id:<person id>`` for a new person the roster gives that address, else
    ``new:<primary>``; alias)."""
    owners = {m.lower(): e["dn"][0] for e in entries.values() for m in e.get("mail", [])
              if "congvumailaccount" in {c.lower() for c in e.get("objectClass", [])}}
    for person in people:
        if person.address:
            domain = "" if "@" in person.address else f"@{scheme.org_domain(person.org)}"
            owners.setdefault(f"{person.address}{domain}".lower(), f"id:{person.id}")
    return [(f"aliases file: {primary}: alias", owners.get(primary.lower(), f"new:{primary.lower()}"), alias)
            for primary, further in (aliases or {}).items() for alias in further
            if alias.lower() != primary.lower()]


def with_lifecycle_class(classes: Iterable[str], attrs: dict[str, list[str]]) -> dict[str, list[str]]:
    """``attrs`` plus the lifecycle's auxiliary class when ``classes`` (the entry's objectClass values)
    lack it: added, never replaced (``+`` marks added values, :class:`Change`)."""
    if LIFECYCLE_CLASS.lower() not in {c.lower() for c in classes}:
        return {"+objectClass": [LIFECYCLE_CLASS], **attrs}
    return attrs


def _first(entry: Mapping[str, list[str]] | None, name: str) -> str:
    values = entry.get(name) if entry else None
    return values[0] if values else ""


def _diff(entry: Mapping[str, list[str]], desired: Mapping[str, list[str]], managed: Iterable[str],
          dn_attrs: Iterable[str] = ()) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Changed attributes: {name: new values}, {name: old values}. DN-valued ones compare normalised."""
    new, old = {}, {}
    dn_like = set(dn_attrs)
    for name in managed:
        want = desired.get(name, [])
        have = entry.get(name, [])
        if name in dn_like:
            same = sorted(map(_norm, want)) == sorted(map(_norm, have))
        else:
            same = sorted(want) == sorted(have)
        if not same:
            new[name], old[name] = want, have
    return new, old


def _display_name(fmt: str, full_name: str, agency: str, unit: str, parts: Any) -> str:
    if not fmt:
        return full_name
    text = fmt.format(full_name=full_name, agency=agency, unit=unit, given_name=parts.given,
                      surname=parts.surname)
    return " ".join(text.replace(" -  - ", " - ").split()).strip(" -")


def _quota(policy: Mapping[str, Any], kind: str) -> str:
    value = (policy.get("quota") or {}).get(kind)
    return "0" if value is None else str(int(value))  # 0: unlimited (docs/directory.md)


def plan(*, policy: Mapping[str, Any], scheme: Scheme, roster: Roster,
         current: Iterable[tuple[str, Mapping[str, Iterable[Any]]]], now: str,
         overrides: Mapping[str, str] | None = None, aliases: Mapping[str, Iterable[str]] | None = None,
         admins: Iterable[str] = (), password_policies: Mapping[str, str] | None = None,
         manage_organisations: bool = True, mail_home: str = DEFAULT_MAIL_HOME,
         lists: Lists | None = None) -> Plan:
    """Plan the changes bringing ``current`` (one subtree search) to ``roster``.

    ``now``: the run's time as LDAP GeneralizedTime (``20260510083000Z``). ``overrides``: approved
    operator addresses, person id → address (local part or full address). ``aliases``: primary
    address → further addresses (added, never removed: an issued address stays deliverable).
    ``admins``: person ids who are their organisation's delegated admins (``cn=admins``,
    Gia Lai Art 5.2, 10.8).
    ``password_policies``: role → ppolicy DN (``pwdPolicySubentry``), optional.
    ``manage_organisations``: converge the attributes of existing organisation entries; off when the
    openldap role owns them (``openldap_organisations``), then missing organisations are still created.
    ``mail_home``: Dovecot's mail store (``dovecot_vmail_home``): a transferred person's mailbox stays in
    ``<mail_home>/<old domain>/<old local part>``.
    ``lists``: the lists file (:func:`congvu.lists.load_lists`), kept as the module docstring says.
    """
    catalogue = scheme.catalogue
    base = base_dn(policy["domains"]["primary"])
    entries = _entries(current)
    found = {}
    for entry in entries.values():
        if "congvuorganisation" in {c.lower() for c in entry.get("objectClass", [])} and entry.get("o"):
            code = entry["o"][0]
            if code in catalogue:
                found[code] = entry["dn"][0]
    dns = org_dns(catalogue, base, found)
    top = {code: top_code(dn) for code, dn in dns.items()}  # whose cn=admins manages it (the ACLs)
    placeholder = f"cn=nobody,ou=groups,{base}"  # the openldap role's empty-group member
    ppol = dict(password_policies or {})
    fmt = (policy.get("display_name") or {}).get("format") or ""
    result = Plan()
    admins = set(admins) | {p.id for p in roster if p.admin}

    # -- what the directory holds ------------------------------------------------------------
    by_id: dict[str, dict[str, list[str]]] = {}
    # org DN (normalised) → the unit/agency mailbox entries that name it (its own is chosen below)
    mailboxes: dict[str, list[dict[str, list[str]]]] = {}
    taken: set[str] = set()
    mail_lists: dict[str, dict[str, list[str]]] = {}  # normalised DN -> a congvuMailList entry
    for entry in entries.values():
        classes = {c.lower() for c in entry.get("objectClass", [])}
        if "congvumaillist" in classes:
            # a list's addresses are in use like a mailbox's: nobody is given one (docs/directory.md)
            mail_lists[_norm(entry["dn"][0])] = entry
            taken.update(m.lower() for m in entry.get("mail", []) + entry.get("congvuMailAlias", []))
            continue
        if "congvumailaccount" not in classes:
            continue
        # Retired accounts keep their addresses, and a dropped alias stays reserved: never reissued
        # (docs/lifecycle.md, "Reclaim loses nothing silently").
        taken.update(m.lower() for m in entry.get("mail", []) + entry.get("congvuMailAlias", [])
                     + entry.get("congvuReservedAddress", []))
        mailbox_class = _first(entry, "congvuMailboxClass")
        pid = _first(entry, "employeeNumber")
        if mailbox_class == "personal" and pid:
            by_id[pid] = entry
        elif mailbox_class in ("unit", "agency") and entry.get("congvuOrganisationDN"):
            mailboxes.setdefault(_norm(entry["congvuOrganisationDN"][0]), []).append(entry)
        else:
            result.unmanaged += 1

    # -- organisations, their mailboxes, admin groups ----------------------------------------
    primary = policy["domains"]["primary"]
    box_dns: dict[str, str] = {}  # organisation code -> the DN of its own mailbox
    for code, org in catalogue.items():
        dn = dns[code]
        address = scheme.org_address(code)
        domain = scheme.org_domain(code)
        desired = {"objectClass": ORG_CLASSES, "o": [code], "displayName": [org.name],
                   "congvuOrgKind": [org.kind], "congvuOrgAbbr": [scheme.abbr(code)], "mail": [address]}
        if org.clash_code:
            desired["congvuOrgCode"] = [org.clash_code]
        owns_domain = domain != primary and catalogue.top_of(code).code == code
        if owns_domain:
            desired["associatedDomain"] = [domain]  # Gia Lai Art 4.1: the organisation's subdomain
        _converge(result, entries.get(_norm(dn)), dn, desired, ORG_MANAGED if manage_organisations else (),
                  "organisation", code)
        # its own mailbox: agency or unit class (Cần Thơ Art 4.1 quotas; docs/directory.md)
        box_class = "unit" if org.kind == "unit" else "agency"
        local = address.partition("@")[0]
        candidates = mailboxes.get(_norm(dn), [])
        box = own_mailbox(candidates, address, local)
        result.unmanaged += len(candidates) - (box is not None)
        box_dns[code] = box["dn"][0] if box is not None else f"uid={local},{dn}"
        desired_box = {"cn": [org.name], "sn": [org.name], "displayName": [org.name],
                       "congvuOrganisationDN": [dn]}
        if box is None:
            box_dn = f"uid={local},{dn}"
            attrs = {"objectClass": PERSON_CLASSES, "uid": [local], "mail": [address], **desired_box,
                     "congvuMailboxClass": [box_class], "congvuMailQuota": [_quota(policy, box_class)],
                     "congvuAccountState": ["active"], "congvuStateChanged": [now],
                     "congvuMustChangePassword": ["TRUE"], "pwdReset": ["TRUE"],
                     "userPassword": [PASSWORD_PLACEHOLDER]}
            if aliases and aliases.get(address):
                attrs["congvuMailAlias"] = sorted(set(aliases[address]))
            if ppol.get("organisation"):
                attrs["pwdPolicySubentry"] = [ppol["organisation"]]
            result.changes.append(Change("add", box_dn, "mailbox", code, attrs,
                                         why="new organisation mailbox"))
            result.created.append({"kind": "mailbox", "key": code, "mail": address, "name": org.name,
                                   "org": code})
            result.credentials.append({"key": f"org:{code}", "role": "organisation", "dn": box_dn,
                                       "mail": address, "name": org.name, "agency": top[code]})
            taken.add(address)
        else:
            want = dict(desired_box)
            old_mail = _first(box, "mail")
            want_aliases = set(box.get("congvuMailAlias", [])) | set((aliases or {}).get(address, []))
            names = list(MAILBOX_MANAGED)
            if old_mail.lower() != address:
                # The catalogue renamed the organisation: new address, the old one stays an alias.
                want["mail"] = [address]
                want_aliases.add(old_mail.lower())
                names.append("mail")
            want["congvuMailAlias"] = sorted(want_aliases - {address})
            names.append("congvuMailAlias")
            new, old = _diff(box, want, names, ("congvuOrganisationDN",))
            if new:
                result.changes.append(Change("modify", box["dn"][0], "mailbox", code, new, old,
                                             why="organisation mailbox"))
                result.changed.append({"kind": "mailbox", "key": code, "mail": address,
                                       "attributes": sorted(new)})

    # -- the lists file's addresses: nobody new is given one (Cần Thơ Art 11.5) --------------
    list_problems = _list_addresses(lists, dns, entries, mail_lists, taken, box_dns, scheme.catalogue)
    if list_problems:
        raise ReconcileError(f"{len(list_problems)} list(s) of {lists.source} cannot have their "
                             "address:\n  " + "\n  ".join(list_problems), rule="Cần Thơ Art 11.5")
    taken |= {spec.address for spec in lists or () if spec.state != "absent"}

    # -- people: the roster's aliases (Bí danh: addresses kept from a former system, issue 16) --
    people = sorted(roster, key=lambda p: p.id)
    planned = {scheme.org_address(code): f"the mailbox of {code}" for code in catalogue}
    planned.update({spec.address: f"the list {spec.name} of the lists file" for spec in lists or ()
                    if spec.state != "absent"})
    _check_aliases([*_roster_aliases(people, by_id), *_file_aliases(aliases, entries, people, scheme)],
                   entries, planned, policy, scheme)
    kept_aliases = {p.id: p.aliases for p in people if p.aliases}
    taken |= {a for owned in kept_aliases.values() for a in owned}

    # -- people: addresses -------------------------------------------------------------------
    overrides = dict(overrides or {})
    existing = {p.id: _first(by_id[p.id], "mail") for p in people if p.id in by_id}
    movers = _transfers(policy, people, by_id, top, existing)
    fixed = {pid: address for pid, address in existing.items() if pid not in movers}
    if len(fixed) == len(people):
        # Nobody new: issued addresses never change, so there is nothing to name (re-apply fast path).
        addresses = {pid: address.lower() for pid, address in existing.items()}
        needs_operator = []
    else:
        to_name = []
        for person in people:
            address = overrides.get(person.id) or person.address or None
            if address and "@" not in address:
                address = f"{address}@{scheme.person_domain(_naming_person(person, None))}"
            if address and address.lower() == movers.get(person.id):
                address = None  # the roster still names the old agency's address: the scheme decides
            to_name.append(_naming_person(person, None if person.id in fixed else address))
        # a mover's old addresses stay taken: they remain theirs, as aliases
        taken_elsewhere = taken - {a.lower() for a in fixed.values()}
        assigned = scheme.assign(to_name, fixed, taken_elsewhere,
                                 source=", ".join(roster.sources) or "<roster>")
        addresses, needs_operator = assigned.addresses, assigned.needs_operator
    for case in needs_operator:
        item = case.as_dict()
        item["where"] = roster.people[case.person_id].where
        result.pending.append(item)

    # -- people: entries ---------------------------------------------------------------------
    group_members: dict[str, list[str]] = {}
    person_dns: dict[str, str] = {}  # person id -> DN after this run, for the lists
    for person in people:
        address = addresses.get(person.id)
        if address is None:
            continue  # pending: nothing is written for them until the operator decides
        org_dn = dns[person.org]
        parts = split_name(person.name)
        agency = catalogue.agency_of(person.org)
        unit = catalogue[person.org].name if catalogue[person.org].kind == "unit" else ""
        desired = {"cn": [person.name], "sn": [parts.surname or parts.given], "givenName": [parts.given],
                   "displayName": [_display_name(fmt, person.name, agency.name, unit, parts)],
                   "congvuPosition": [person.position] if person.position else [],
                   "congvuBirthDate": [person.birth_date], "congvuOrganisationDN": [org_dn],
                   # The address book ("Danh bạ") shows the agency and the unit by name.
                   "o": [agency.name], "ou": [unit] if unit else []}
        entry = by_id.get(person.id)
        role = "admin" if person.id in admins else "user"
        if entry is None:
            local = address.partition("@")[0]
            dn = f"uid={local},{org_dn}"
            attrs = {"objectClass": PERSON_CLASSES, "uid": [local], "mail": [address],
                     "employeeNumber": [person.id], **{k: v for k, v in desired.items() if v},
                     "congvuMailboxClass": ["personal"], "congvuMailQuota": [_quota(policy, "personal")],
                     "congvuAccountState": ["active"], "congvuStateChanged": [now],
                     "congvuMustChangePassword": ["TRUE"], "pwdReset": ["TRUE"],
                     "userPassword": [PASSWORD_PLACEHOLDER]}
            extra = (set((aliases or {}).get(address, ())) | set(kept_aliases.get(person.id, ()))) - {address}
            if extra:
                attrs["congvuMailAlias"] = sorted(extra)
            if ppol.get(role):
                attrs["pwdPolicySubentry"] = [ppol[role]]
            result.changes.append(Change("add", dn, "person", person.id, attrs, why=person.where))
            result.created.append({"kind": "person", "key": person.id, "mail": address, "name": person.name,
                                   "org": person.org})
            result.credentials.append({"key": person.id, "role": role, "dn": dn, "mail": address,
                                       "name": person.name, "agency": top[person.org]})
        else:
            dn = entry["dn"][0]
            parent = dn.split(",", 1)[1]
            if _norm(parent) != _norm(org_dn):
                new_dn = f"{dn.split(',', 1)[0]},{org_dn}"
                result.changes.append(Change("move", dn, "person", person.id, new_dn=new_dn,
                                             why=f"{person.where}: moved to {person.org}"))
                dn = new_dn
            want = dict(desired)
            names = list(PERSON_MANAGED)
            if entry.get("congvuLeavingSince"):
                want["congvuLeavingSince"] = []
                names.append("congvuLeavingSince")
                result.returning.append({"key": person.id, "mail": address, "name": person.name})
            extra = set((aliases or {}).get(address, ())) | set(kept_aliases.get(person.id, ()))
            if extra - {address}:
                want["congvuMailAlias"] = sorted((set(entry.get("congvuMailAlias", [])) | extra) - {address})
                names.append("congvuMailAlias")
            if person.id in movers:
                names += _readdress(want, entry, movers[person.id], address, policy, now, mail_home)
                result.transferred.append({"key": person.id, "name": person.name, "from": movers[person.id],
                                           "mail": address, "org": person.org})
            new, old = _diff(entry, want, names, ("congvuOrganisationDN",))
            if "congvuMailHome" in new or "congvuExpiringAlias" in new:
                new = with_lifecycle_class(entry.get("objectClass", []), new)
            if new:
                result.changes.append(Change("modify", dn, "person", person.id, new, old, why=person.where))
            moved = _norm(dn) != _norm(entry["dn"][0])
            if new or moved:
                result.changed.append({"kind": "person", "key": person.id, "mail": address,
                                       "attributes": sorted(new) + (["dn"] if moved else [])})
        if person.id in admins:
            group_members.setdefault(top[person.org], []).append(dn)
        if entry is None or _first(entry, "congvuAccountState") != "retired":
            person_dns[person.id] = dn  # a retired account never joins a list (docs/lists.md)

    # -- leavers: in the directory, not in the roster ----------------------------------------
    roster_ids = set(roster.people)
    for pid in sorted(set(by_id) - roster_ids):
        entry = by_id[pid]
        if entry.get("congvuLeavingSince"):
            continue
        result.changes.append(Change("modify", entry["dn"][0], "person", pid, {"congvuLeavingSince": [now]},
                                     {"congvuLeavingSince": []}, why="not in the roster any more"))
        result.leaving.append({"key": pid, "mail": _first(entry, "mail"), "name": _first(entry, "cn")})

    # -- delegated admin groups of top-level organisations (Gia Lai Art 5.2, 10.8) -----------
    for code in catalogue:
        if top[code] != code:
            continue  # only top-level organisations' groups grant rights (docs/directory.md)
        dn = f"cn=admins,{dns[code]}"
        members = sorted(group_members.get(code, []), key=_norm) or [placeholder]  # a member is a MUST
        desired = {"objectClass": GROUP_CLASSES, "cn": ["admins"], "member": members}
        _converge(result, entries.get(_norm(dn)), dn, desired, ("member",), "group", code, ("member",))

    # -- mailing lists of the lists file, and the naming check of every list ------------------
    kept = _plan_lists(result, lists, scheme, roster, dns, box_dns, person_dns, entries, mail_lists)
    _check_list_names(result, scheme, dns, mail_lists, kept)
    result.dissolved = _dissolved(catalogue, entries, result.changes)
    _order(result)
    result.logins = _logins(result.changes, entries)
    return result


def _dissolved(catalogue: Any, entries: Mapping[str, Mapping[str, list[str]]],
               changes: Iterable[Change]) -> list[dict[str, Any]]:
    """The directory's organisations whose code the catalogue no longer has (Plan.dissolved), with
    their organisation mailboxes and the accounts left under them once ``changes`` moved people out
    (a roster only names catalogue organisations: whoever stays is a leaver, or not roster-kept)."""
    gone: dict[str, dict[str, Any]] = {}
    for key, entry in entries.items():
        code = _first(entry, "o")
        if code and code not in catalogue and "congvuorganisation" in {
                c.lower() for c in entry.get("objectClass", [])}:
            gone[key] = {"dn": entry["dn"][0], "code": code, "name": _first(entry, "displayName"),
                         "mailboxes": [], "accounts": 0}
    if not gone:
        return []
    moved = {_norm(c.dn) for c in changes if c.op == "move"}
    for key, entry in entries.items():  # mailboxes and people are their organisation's direct children
        org = gone.get(key.partition(",")[2])
        if org is None or key in moved:
            continue
        if "congvumailaccount" not in {c.lower() for c in entry.get("objectClass", [])}:
            continue
        if _first(entry, "congvuMailboxClass") in ("unit", "agency"):
            org["mailboxes"].extend(m.lower() for m in entry.get("mail", []))
        elif _first(entry, "congvuAccountState") != "retired":
            org["accounts"] += 1
    for org in gone.values():
        org["mailboxes"].sort()
    return sorted(gone.values(), key=lambda g: g["dn"].lower())


def _logins(changes: Iterable[Change],
            entries: Mapping[str, Mapping[str, list[str]]]) -> list[dict[str, str]]:
    """Every address that was a mailbox's login, with the login it has after ``changes``: the aliases
    of the directory's mailboxes, and the addresses the changes replace (a transfer, a renamed
    organisation). Lists are not logins."""
    pairs: dict[str, str] = {}
    for entry in entries.values():
        if "congvumaillist" in {c.lower() for c in entry.get("objectClass", [])} or not entry.get("mail"):
            continue
        for alias in entry.get("congvuMailAlias", []):
            pairs[alias.lower()] = _first(entry, "mail").lower()
    for change in changes:
        if change.op != "modify" or change.kind == "list" or not change.attrs.get("mail"):
            continue
        new = change.attrs["mail"][0].lower()
        for old in [*change.before.get("mail", []), *(change.attrs.get("congvuMailAlias") or [])]:
            pairs[old.lower()] = new
        for old, target in list(pairs.items()):  # an alias of the address that changed
            if target in {m.lower() for m in change.before.get("mail", [])}:
                pairs[old] = new
    return [{"from": old, "to": new} for old, new in sorted(pairs.items()) if old != new]


def _list_dn(spec: Any, dns: Mapping[str, str]) -> str:
    return f"cn={spec.name},{dns[spec.organisation]}"


def _list_addresses(lists: Lists | None, dns: Mapping[str, str],
                    entries: Mapping[str, Mapping[str, list[str]]],
                    mail_lists: Mapping[str, Mapping[str, list[str]]], taken: set[str],
                    box_dns: Mapping[str, str], catalogue: Any) -> list[str]:
    """Why lists of the file cannot have their scheme address: another entry holds it (a person, a
    mailbox or another list: the ``unique`` overlay would refuse it), it is reserved, or the list's DN
    is an entry that is not a list. One message per list, naming the file's entry. An address the
    list's own agency mailbox reserves (a list of that agency removed earlier) may be its list's again."""
    problems = []
    holders: dict[str, str] = {}
    reserved_by: dict[str, str] = {}
    for entry in entries.values():
        for address in entry.get("mail", []) + entry.get("congvuMailAlias", []):
            holders.setdefault(address.lower(), entry["dn"][0])
        for address in entry.get("congvuReservedAddress", []):
            reserved_by.setdefault(address.lower(), _norm(entry["dn"][0]))
    for spec in lists or ():
        dn = _list_dn(spec, dns)
        own = entries.get(_norm(dn))
        if own is not None and _norm(dn) not in mail_lists:
            problems.append(f"{spec.where}: {dn} is an entry but not a mailing list (congvuMailList)")
            continue
        if spec.state == "absent":
            continue
        former = _former(spec, dns, entries, mail_lists)
        if isinstance(former, str):
            problems.append(f"{spec.where}: {former}")
            continue
        holder = holders.get(spec.address)
        if holder is not None and former is not None and _norm(holder) == _norm(former["dn"][0]):
            holder = None  # the list's own address before its rename
        if holder is not None and _norm(holder) != _norm(dn):
            problems.append(f"{spec.where}: its address {spec.address} is already {holder}'s: choose "
                            "another name for the list")
        elif holder is None and spec.address in taken and reserved_by.get(spec.address) != _norm(
                box_dns.get(catalogue.agency_of(spec.organisation).code, "")):
            problems.append(f"{spec.where}: its address {spec.address} is reserved (an address no longer "
                            "delivered is never given out again): choose another name for the list")
    return problems


def _former(spec: Any, dns: Mapping[str, str], entries: Mapping[str, Mapping[str, list[str]]],
            mail_lists: Mapping[str, Mapping[str, list[str]]]) -> Mapping[str, list[str]] | str | None:
    """The entry a renamed list (``renamed_from``) still has under its former name: None when there
    is none (renamed already, or never made), a text saying why the rename cannot be done."""
    if not spec.renamed_from:
        return None
    old_dn = f"cn={spec.renamed_from},{dns[spec.organisation]}"
    entry = entries.get(_norm(old_dn))
    if entry is None:
        return None
    if _norm(old_dn) not in mail_lists:
        return f"renamed_from: {old_dn} is an entry but not a mailing list (congvuMailList)"
    if _norm(_list_dn(spec, dns)) in entries:
        return (f"renamed_from: both {old_dn} and {_list_dn(spec, dns)} exist: remove one (state: "
                "absent) before renaming")
    return entry


def _within(catalogue: Any, org: str, code: str) -> bool:
    """Whether a person of ``org`` is a person of ``code``: ``code`` itself or one of its units."""
    while True:
        if org == code:
            return True
        item = catalogue[org]
        if item.kind != "unit" or not item.parent:
            return False
        org = item.parent


def _plan_lists(result: Plan, lists: Lists | None, scheme: Scheme, roster: Roster, dns: Mapping[str, str],
                box_dns: Mapping[str, str], person_dns: Mapping[str, str],
                entries: Mapping[str, Mapping[str, list[str]]],
                mail_lists: Mapping[str, Mapping[str, list[str]]]) -> set[str]:
    """Add, converge, rename or remove the lists of the file (Cần Thơ Art 11.5: the agency's mailbox or
    an authorised person keeps each list). Returns their normalised DNs. ``person_dns`` holds the
    people who may join a list: on the roster, not pending, not retired (a leaver is not on the
    roster)."""
    kept: set[str] = set()
    if not lists:
        return kept
    catalogue = scheme.catalogue
    by_org: dict[str, list[str]] = {}
    for person in roster:
        by_org.setdefault(person.org, []).append(person.id)
    list_dns = [_list_dn(spec, dns) for spec in lists]
    reserve: dict[str, tuple[str, set[str]]] = {}  # agency mailbox DN -> (agency, list addresses)
    for index, spec in enumerate(lists):
        dn = list_dns[index]
        kept.add(_norm(dn))
        if spec.state == "absent":
            # the entry goes; slapd's refint overlay takes it out of the lists that held it
            entry = entries.get(_norm(dn))
            if entry is not None:
                result.changes.append(Change("delete", entry["dn"][0], "list", spec.name,
                                             why=f"{spec.where}: state: absent"))
                result.removed.append({"kind": "list", "key": spec.name, "mail": _first(entry, "mail"),
                                       "dn": entry["dn"][0]})
                agency = catalogue.agency_of(spec.organisation).code
                if agency in box_dns:
                    reserve.setdefault(box_dns[agency], (agency, set()))[1].update(
                        entry.get("mail", []) + entry.get("congvuMailAlias", []))
            continue
        former = _former(spec, dns, entries, mail_lists)
        if isinstance(former, Mapping):
            # renamed: the entry moves to its new cn (refint follows in the lists that hold it), then
            # converges below; its former address stays deliverable as an alias
            kept.add(_norm(former["dn"][0]))
            result.changes.append(Change("move", former["dn"][0], "list", spec.name, new_dn=dn,
                                         why=f"{spec.where}: renamed from {spec.renamed_from}"))
            entries = {**entries, _norm(dn): {**former, "dn": [dn], "cn": [spec.name]}}
        owners = []
        for owner in spec.owners:
            if owner == AGENCY_OWNER:
                owners.append(box_dns[catalogue.agency_of(spec.organisation).code])
            elif owner in person_dns:
                owners.append(person_dns[owner])
        desired: dict[str, list[str]] = {
            "objectClass": LIST_CLASSES, "cn": [spec.name], "mail": [spec.address],
            "displayName": [spec.display_name], "congvuListAccept": [spec.accept],
            "owner": sorted(set(owners), key=_norm)}
        managed = list(LIST_MANAGED)
        if spec.senders is not None:
            desired["congvuListSender"] = list(spec.senders)
            managed.append("congvuListSender")
        if spec.members is not None:
            # Members never include retired accounts, leavers or people gone from the roster: the
            # lifecycle run takes a retired account off every list (docs/lists.md), and this apply
            # must not put it back. A locked account stays: it keeps receiving.
            ids = [pid for pid in spec.members.people if pid in person_dns]
            for code in spec.members.organisations:
                ids += [pid for org, pids in by_org.items() if _within(catalogue, org, code)
                        for pid in pids if pid in person_dns]
            members = {_norm(person_dns[pid]): person_dns[pid] for pid in ids}
            members.update({_norm(list_dns[i]): list_dns[i] for i in spec.members.lists})
            desired["member"] = sorted(members.values(), key=_norm)
            managed.append("member")
        entry = entries.get(_norm(dn))
        if entry is None:
            attrs = {k: v for k, v in desired.items() if v}
            result.changes.append(Change("add", dn, "list", spec.name, attrs, why=spec.where))
            result.created.append({"kind": "list", "key": spec.name, "mail": spec.address, "dn": dn,
                                   "org": spec.organisation})
            continue
        want = dict(desired)
        old_mail = _first(entry, "mail").lower()
        if old_mail != spec.address:
            # an address the list had before (made by hand, a renamed organisation) stays deliverable
            want["congvuMailAlias"] = sorted((set(entry.get("congvuMailAlias", [])) | {old_mail})
                                             - {spec.address})
            managed.append("congvuMailAlias")
        new, old = _diff(entry, want, managed, ("owner", "member"))
        if new:
            result.changes.append(Change("modify", entry["dn"][0], "list", spec.name, new, old,
                                         why=spec.where))
            result.changed.append({"kind": "list", "key": spec.name, "mail": spec.address,
                                   "dn": entry["dn"][0], "attributes": sorted(new)})
    # A removed list's addresses are never given again (mail meant for the list must not reach a
    # person): they are kept on the agency's mailbox as congvuReservedAddress, which the planning
    # counts as taken, written before the list's entry is deleted (deletions come last).
    for box_dn, (agency, addresses) in reserve.items():
        box = entries.get(_norm(box_dn))
        if box is None:
            continue
        held = box.get("congvuReservedAddress", [])
        if {a.lower() for a in addresses} <= {a.lower() for a in held}:
            continue
        attrs: dict[str, list[str]] = {"congvuReservedAddress": sorted(set(held) | addresses)}
        if "congvulifecycle" not in {c.lower() for c in box.get("objectClass", [])}:
            attrs["+objectClass"] = ["congvuLifecycle"]
        result.changes.append(Change("modify", box["dn"][0], "mailbox", agency, attrs,
                                     before={"congvuReservedAddress": list(held)},
                                     why="the addresses of its agency's removed list(s), never reissued"))
    return kept


def _check_list_names(result: Plan, scheme: Scheme, dns: Mapping[str, str],
                      mail_lists: Mapping[str, Mapping[str, list[str]]], kept: set[str]) -> None:
    """Every list in the directory whose address does not follow the naming scheme, for the operator
    (``misnamed_lists``; the list is not changed). The lists of the file are right by construction."""
    orgs = {_norm(dn): code for code, dn in dns.items()}
    for key in sorted(mail_lists):
        if key in kept:
            continue
        entry = mail_lists[key]
        dn = entry["dn"][0]
        mail, name = _first(entry, "mail"), _first(entry, "cn")
        parts = [p.strip() for p in dn.split(",")]
        code = next((orgs[_norm(",".join(parts[i:]))] for i in range(1, len(parts))
                     if _norm(",".join(parts[i:])) in orgs), None)
        if code is None:
            why, expected = "it is not below an organisation of the catalogue", ""
        else:
            why = scheme.check_list_address(code, name, mail)
            if why is None:
                continue
            expected = scheme.list_address(code, name) if LIST_NAME_RE.match(name) else ""
        result.misnamed_lists.append({"dn": dn, "mail": mail, "expected": expected,
                                      "reason": f"{why} (Cần Thơ Art 11.5, docs/lists.md)"})


def _naming_person(person: Person, address: str | None) -> NamingPerson:
    return NamingPerson(id=person.id, full_name=person.name, org=person.org,
                        birth_date=_date(person.birth_date), home_town=person.hometown or None,
                        birthplace=person.birthplace or None, address=address)


def _date(text: str):
    import datetime as dt
    return dt.date.fromisoformat(text) if text else None


def own_mailbox(candidates: list[dict[str, list[str]]], address: str, local: str
                ) -> dict[str, list[str]] | None:
    """An organisation's own mailbox among the unit/agency mailbox entries naming it
    (``congvuOrganisationDN``): the one that holds its address, else the one whose uid is the
    address's local part, else the only one. Another entry an admin or a test made for the same
    organisation is left alone (unmanaged): taking it would write the organisation's address onto a
    second entry, which the ``unique`` overlay refuses at commit and which aborts the whole
    transaction (docs/accounts.md, "slapd 2.5 and LDAP transactions")."""
    address = address.lower()
    for owns in (lambda e: address in {m.lower() for m in e.get("mail", [])},
                 lambda e: _first(e, "uid").lower() == local.lower()):
        found = [e for e in candidates if owns(e)]
        if found:
            return found[0]
    return candidates[0] if len(candidates) == 1 else None


def _converge(result: Plan, entry: Mapping[str, list[str]] | None, dn: str, desired: dict[str, list[str]],
              managed: Iterable[str], kind: str, key: str, dn_attrs: Iterable[str] = ()) -> None:
    if entry is None:
        result.changes.append(Change("add", dn, kind, key, desired, why=f"new {kind}"))
        if kind != "group":
            result.created.append({"kind": kind, "key": key, "dn": dn})
        return
    new, old = _diff(entry, desired, managed, dn_attrs)
    if new:
        result.changes.append(Change("modify", entry["dn"][0], kind, key, new, old, why=kind))
        result.changed.append({"kind": kind, "key": key, "dn": entry["dn"][0], "attributes": sorted(new)})


_RANK = {("add", "organisation"): 0, ("modify", "organisation"): 1, ("add", "mailbox"): 2,
         ("modify", "mailbox"): 3, ("move", "person"): 4, ("add", "person"): 5, ("modify", "person"): 6,
         ("add", "group"): 7, ("modify", "group"): 8, ("move", "list"): 9, ("add", "list"): 10,
         ("modify", "list"): 11, ("delete", "list"): 12}


def _order(result: Plan) -> None:
    """Parents before children (organisations by depth), then people, then groups."""
    result.changes.sort(key=lambda c: (_RANK[(c.op, c.kind)],
                                       c.dn.count(",") if c.kind == "organisation" else 0))


# --- operator-chosen addresses and initial credentials (controller side) -----------------------

OVERRIDES_HEADER = """\
# Operator-chosen addresses (docs/accounts.md). congvu_reconcile writes a case here for every person
# the naming scheme cannot name alone (Cần Thơ Art 4.2.c fourth namesake, identical names in one
# agency: Hà Nam Art 5.2.c, Gia Lai Art 4.2.c, ...), with a suggestion in the scheme's own shape.
# Review each one, change the address if needed, set approved: true and commit this file; the next
# run creates those accounts. While a case is unapproved the run changes nothing in the directory.
"""


def merge_overrides(current: Mapping[str, Any] | None, pending: Iterable[Mapping[str, Any]]) -> str:
    """The overrides file text: ``current`` (parsed file, may be empty) plus new ``pending`` cases.

    Existing entries (approved or not) are kept as the operator left them; a new case is added with
    ``approved: false`` and the suggestion as its address. Entries are sorted by person id.
    """
    import yaml

    entries = dict((current or {}).get("overrides") or {})
    for case in pending:
        pid = str(case["person_id"])
        if pid in entries:
            continue
        entries[pid] = {"address": case.get("suggestion") or "", "approved": False,
                        "name": case.get("full_name", ""), "org": case.get("org", ""),
                        "reason": case.get("reason", ""), "rule": case.get("rule", ""),
                        "roster": case.get("where", "")}
    body = yaml.safe_dump({"overrides": dict(sorted(entries.items()))}, allow_unicode=True,
                          sort_keys=False, width=100, default_flow_style=False)
    return OVERRIDES_HEADER + "---\n" + body


def approved_overrides(data: Mapping[str, Any] | None) -> dict[str, str]:
    """person id → address of the approved entries of an overrides file."""
    out = {}
    for pid, entry in ((data or {}).get("overrides") or {}).items():
        if isinstance(entry, Mapping) and entry.get("approved") is True and entry.get("address"):
            out[str(pid)] = str(entry["address"]).strip().lower()
    return out


def initial_credentials(created: Iterable[Mapping[str, str]], secret: str,
                        policy: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    """Per agency (top-level organisation code), the new accounts with their initial passwords.

    ``created`` is the module's ``credentials`` list (key, role, mail, name, agency). The texts are in
    Vietnamese: the files go to each agency's focal person.
    """
    out: dict[str, list[dict[str, str]]] = {}
    for item in created:
        out.setdefault(item["agency"], []).append({
            "Địa chỉ thư": item["mail"], "Họ và tên": item["name"],
            "Loại tài khoản": {"user": "cá nhân", "admin": "quản trị đơn vị",
                               "organisation": "hộp thư cơ quan/đơn vị"}[item["role"]],
            "Mật khẩu ban đầu": derive_password(secret, item["key"], policy, item["role"]),
        })
    for accounts in out.values():
        accounts.sort(key=lambda a: a["Địa chỉ thư"])
    return dict(sorted(out.items()))
