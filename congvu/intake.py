"""The intake: the accounts of an old mail system (an LDAP or CSV export) turned into this province's
rosters and a migration file (issue 16, items 2 and 4; docs/migration.md, "From the old system's
export").

The old system is an incumbent server (Zimbra, any LDAP directory, a CSV list) or another congvu-mail
system whose province merged into this one. :func:`plan` reads the export with an intake file that
says where each roster field comes from, which old organisation becomes which organisation of this
province's catalogue, and whether old addresses stay the primary address (``addresses: keep``,
where the province's scheme allows them) or become aliases beside the address the scheme gives
(``addresses: scheme``). It returns:

- one CSV roster per organisation (the headings of :mod:`congvu.roster`, the old addresses in
  "Bí danh"), to review, complete (a birth date or Mã cán bộ the old system did not hold) and put
  beside the province's rosters; the roster apply then creates the accounts and checks them against
  the directory (an old address someone here holds already stops it, naming the line);
- the migration file of :mod:`congvu.migration` (each mailbox's old login, its old address as the
  target, the old password hash);
- a summary (who, where, what was left out and why).

Everything is checked before anything is written, in three rounds (the intake file, the export's
syntax, the accounts), each raising one :class:`IntakeError` with every problem of the round, its
entry and rule: an export that cannot be read, an old organisation the intake file
does not map, a code that is not in the catalogue, an address that is not one, an old address in a
domain this system does not serve (it would stop receiving: add the domain to ``domains.extra``), two
accounts with one address. No Ansible import: ``filter_plugins/intake.py`` wraps it.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from congvu.addresses import ADDRESS_RE, LOCAL_RE
from congvu.errors import CongvuError
from congvu.migration import MigrationError
from congvu.migration import load as load_migration
from congvu.roster import ALIAS_SEPARATORS, CSV_HEADINGS, clean

__all__ = ["PROFILES", "Intake", "IntakeError", "parse_ldif", "plan"]


#: Where each roster field comes from in each kind of export: the first attribute present wins. ``org``
#: is the value the intake file's ``organisations`` maps; ``login`` the old IMAP login.
PROFILES: dict[str, dict[str, tuple[str, ...]]] = {
    # another congvu-mail system (a province merged into this one): its directory as ldapsearch or
    # slapcat writes it (docs/directory.md); ``org`` is the old organisation's code
    "congvu": {"id": ("employeeNumber",), "name": ("cn",), "birth_date": ("congvuBirthDate",),
               "org": ("congvuOrganisationDN",), "position": ("congvuPosition",), "address": ("mail",),
               "aliases": ("congvuMailAlias",), "password_hash": ("userPassword",), "login": ("mail",),
               "state": ("congvuAccountState",), "must_change": ("congvuMustChangePassword", "pwdReset")},
    # Zimbra's directory (ldapsearch of its OpenLDAP): accounts are zimbraAccount entries
    "zimbra": {"id": ("employeeNumber",), "name": ("displayName", "cn"), "birth_date": (),
               "org": ("ou", "company"), "position": ("title",),
               "address": ("zimbraMailDeliveryAddress", "mail"), "aliases": ("zimbraMailAlias",),
               "password_hash": ("userPassword",), "login": ("zimbraMailDeliveryAddress", "mail"),
               "state": ("zimbraAccountStatus",), "must_change": ("zimbraPasswordMustChange",)},
    # any directory of inetOrgPerson entries with a mail attribute
    "ldap": {"id": ("employeeNumber",), "name": ("displayName", "cn"), "birth_date": (),
             "org": ("ou", "o"), "position": ("title",), "address": ("mail",),
             "aliases": ("mailAlternateAddress",), "password_hash": ("userPassword",),
             "login": ("uid", "mail"), "state": (), "must_change": ()},
    # a CSV list: the column headings are named in the intake file's ``fields``
    "csv": {"id": ("id",), "name": ("name",), "birth_date": ("birth_date",), "org": ("org",),
            "position": ("position",), "address": ("address", "mail", "email"), "aliases": ("aliases",),
            "password_hash": ("password_hash",), "login": ("login",), "state": (), "must_change": ()},
}
FIELDS = tuple(PROFILES["congvu"])
#: Account states of the old system whose accounts are not brought over (listed in the summary).
SKIPPED_STATES = {"closed", "retired"}
#: Zimbra's own accounts (spam training, GAL sync, quarantine): never people.
_SYSTEM_FLAGS = ("zimbraIsSystemAccount", "zimbraIsSystemResource")
KEYS = {"export", "format", "fields", "organisations", "addresses", "skip_states", "source"}


class IntakeError(CongvuError):
    """The export or the intake file cannot be taken in (the message lists every problem)."""


@dataclass
class Account:
    """One account of the export, where it came from (``where``: entry DN or ``file:line``)."""

    where: str
    values: dict[str, list[str]]


@dataclass
class Intake:
    rosters: dict[str, str] = field(default_factory=dict)  # file name -> CSV text
    migration: dict[str, Any] = field(default_factory=dict)
    people: list[dict[str, Any]] = field(default_factory=list)  # one line per account taken in
    skipped: list[dict[str, str]] = field(default_factory=list)
    incomplete: list[dict[str, Any]] = field(default_factory=list)  # fields the operator must fill in

    def summary(self) -> dict[str, Any]:
        orgs: dict[str, int] = {}
        for person in self.people:
            orgs[person["org"]] = orgs.get(person["org"], 0) + 1
        return {"accounts": len(self.people), "organisations": orgs,
                "kept_addresses": sum(1 for p in self.people if p["address"]),
                "new_addresses": sum(1 for p in self.people if not p["address"]),
                "aliases": sum(len(p["aliases"]) for p in self.people),
                "password_hashes": sum(1 for p in self.people if p["hash"]),
                "readdressed": [{"entry": p["entry"], "address": p["old_address"], "why": p["readdressed"]}
                                for p in self.people if p["readdressed"]],
                "skipped": self.skipped, "incomplete": self.incomplete,
                "rosters": sorted(self.rosters)}


# --- reading exports --------------------------------------------------------------------------------
def parse_ldif(text: str, source: str = "export") -> list[Account]:
    """Entries of an LDIF file (ldapsearch or slapcat): folded lines, base64 values (``::``), comments.
    Attribute names keep their case in ``values`` under their lower-case spelling; options such as
    ``;binary`` are dropped. Raises :class:`IntakeError` naming each bad line."""
    problems: list[str] = []
    accounts: list[Account] = []
    lines: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if raw.startswith(" ") and lines and lines[-1][1]:
            lines[-1] = (lines[-1][0], lines[-1][1] + raw[1:])
        elif not raw.startswith("#"):
            lines.append((number, raw))
    dn, values = "", {}

    def close() -> None:
        if dn:
            accounts.append(Account(dn, values))

    for number, line in lines:
        if not line.strip():
            close()
            dn, values = "", {}
            continue
        name, colon, value = line.partition(":")
        if not colon:
            problems.append(f"{source}:{number}: not an LDIF line (attribute: value)")
            continue
        name = name.split(";", 1)[0].strip().lower()
        if value.startswith(":"):
            try:
                value = base64.b64decode(value[1:].strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                problems.append(f"{source}:{number}: {name}:: is not base64 of UTF-8 text")
                continue
        elif value.startswith("<"):
            problems.append(f"{source}:{number}: {name}:< (a value in another file) is not read")
            continue
        else:
            value = value.strip()
        if name == "version" and not dn:
            continue
        if name == "dn":
            close()
            dn, values = value, {}
            continue
        if not dn:
            problems.append(f"{source}:{number}: {name}: before any dn:")
            continue
        values.setdefault(name, []).append(value)
    close()
    if problems:
        raise IntakeError(f"{len(problems)} problem(s) reading {source}:\n  " + "\n  ".join(problems),
                          source=source, rule="LDIF (RFC 2849)")
    return accounts


def parse_csv(text: str, source: str = "export") -> list[Account]:
    """Rows of a CSV export (``,`` ``;`` or tab), keyed by lower-case heading; ``where`` is file:line."""
    text = text.lstrip("\ufeff")
    try:
        dialect: Any = csv.Sniffer().sniff(text.splitlines()[0] if text else ",", delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    header = [clean(h).lower() for h in next(reader, [])]
    accounts = []
    for cells in reader:
        if any(clean(c) for c in cells):
            values = {h: [clean(c)] for h, c in zip(header, cells, strict=False) if h and clean(c)}
            accounts.append(Account(f"{source}:{reader.line_num}", values))
    return accounts


# --- the intake file --------------------------------------------------------------------------------
def _check_intake(data: Any, source: str, catalogue: Iterable[str]) -> tuple[dict, list[str]]:
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise IntakeError(f"{source}: an intake file is a mapping (export, format, organisations, ...)",
                          source=source, rule="intake file")
    for key in sorted(set(data) - KEYS):
        problems.append(f"{source}: unknown key {key!r} (allowed: {', '.join(sorted(KEYS))})")
    fmt = data.get("format")
    if fmt not in PROFILES:
        problems.append(f"{source}: format {fmt!r} is not one of {', '.join(PROFILES)}")
        fmt = "csv"
    fields = dict(PROFILES[fmt])
    given = data.get("fields") or {}
    if not isinstance(given, Mapping):
        problems.append(f"{source}: fields: a mapping of roster field -> attribute or column")
        given = {}
    for name, attr in given.items():
        if name not in fields:
            problems.append(f"{source}: fields.{name}: not a field (allowed: {', '.join(FIELDS)})")
        elif attr is None:
            fields[name] = ()
        elif isinstance(attr, str) and attr.strip():
            fields[name] = (attr.strip(),)
        else:
            problems.append(f"{source}: fields.{name}: an attribute or column name, or null")
    codes = set(catalogue)
    orgs = data.get("organisations")
    if not isinstance(orgs, Mapping) or not orgs:
        problems.append(f"{source}: organisations: map each old organisation to a catalogue code "
                        "(or 'skip')")
        orgs = {}
    for old, code in orgs.items():
        if code != "skip" and code not in codes:
            problems.append(f"{source}: organisations.{old}: {code!r} is not an organisation code of the "
                            "catalogue (or 'skip')")
    mode = data.get("addresses", "keep")
    if mode not in ("keep", "scheme"):
        problems.append(f"{source}: addresses: 'keep' (an old address the scheme allows stays the "
                        f"primary one) or 'scheme' (every account gets the scheme's), not {mode!r}")
    states = data.get("skip_states", sorted(SKIPPED_STATES))
    if not isinstance(states, list) or not all(isinstance(s, str) for s in states):
        problems.append(f"{source}: skip_states: a list of account states")
        states = []
    if not isinstance(data.get("source"), Mapping):
        problems.append(f"{source}: source: the old IMAP server, as in a migration file (docs/migration.md)")
    settings = {"format": fmt, "fields": fields, "organisations": {str(k): v for k, v in orgs.items()},
                "addresses": mode, "skip_states": {s.lower() for s in states}}
    return settings, problems


def _first(account: Account, names: Iterable[str]) -> str:
    for name in names:
        values = account.values.get(name.lower())
        if values and values[0].strip():
            return values[0].strip()
    return ""


def _all(account: Account, names: Iterable[str]) -> list[str]:
    """Every value of ``names`` (a CSV cell may hold several, separated by spaces, ';' or ',')."""
    out: list[str] = []
    for name in names:
        for value in account.values.get(name.lower(), []):
            out += [v for v in ALIAS_SEPARATORS.split(value) if v]
    return out


def _org_key(value: str, fmt: str) -> str:
    """The old organisation named by ``value``: for a congvu export the code in ``o=<code>,...``."""
    if fmt == "congvu" and "=" in value:
        return value.split(",", 1)[0].partition("=")[2].strip()
    return clean(value)


def _is_person(account: Account, fmt: str, address_fields: Iterable[str]) -> bool:
    classes = {c.lower() for c in account.values.get("objectclass", [])}
    if fmt == "congvu":
        return ("congvumailaccount" in classes
                and _first(account, ["congvuMailboxClass"]).lower() in ("", "personal"))
    if fmt == "zimbra":
        return ("zimbraaccount" in classes
                and not any(_first(account, [f]).upper() == "TRUE" for f in _SYSTEM_FLAGS))
    if fmt == "ldap":
        return bool(classes & {"inetorgperson", "person"}) and bool(_first(account, address_fields))
    return True


# --- the plan ---------------------------------------------------------------------------------------
def plan(export: str, data: Any, *, catalogue: Iterable[str], served: Iterable[str],
         person_domain: Mapping[str, str], export_source: str = "export",
         source: str = "intake file") -> Intake:
    """The rosters and migration file for ``export`` (the export's text) under the intake file
    ``data`` (module docstring). ``catalogue``: this province's organisation codes; ``served``: the
    domains its servers accept mail for; ``person_domain``: organisation code -> the domain of the
    personal addresses the scheme gives there (an old address in another stays an alias)."""
    settings, problems = _check_intake(data, source, catalogue)
    fmt, fields = settings["format"], settings["fields"]
    served = {d.lower() for d in served}
    if problems:
        raise IntakeError(f"{len(problems)} problem(s) in {source}:\n  " + "\n  ".join(problems),
                          source=source, rule="intake file")
    accounts = parse_csv(export, export_source) if fmt == "csv" else parse_ldif(export, export_source)
    result = Intake()
    unmapped: dict[str, list[str]] = {}
    holders: dict[str, str] = {}  # address (primary or alias) -> where
    logins: dict[str, str] = {}
    rows: dict[str, list[dict[str, str]]] = {}
    boxes: list[dict[str, str]] = []
    for account in accounts:
        if not _is_person(account, fmt, fields["address"]):
            continue
        where = account.where
        state = _first(account, fields["state"]).lower()
        address = _first(account, fields["address"]).lower()
        if state in settings["skip_states"]:
            result.skipped.append({"entry": where, "address": address, "why": f"state {state}"})
            continue
        old_org = _org_key(_first(account, fields["org"]), fmt)
        code = settings["organisations"].get(old_org)
        if code is None:
            unmapped.setdefault(old_org or "(none)", []).append(where)
            continue
        if code == "skip":
            result.skipped.append({"entry": where, "address": address,
                                   "why": f"organisation {old_org!r} is mapped to skip"})
            continue
        before = len(problems)
        if not ADDRESS_RE.match(address):
            problems.append(f"{where}: address {address!r} is not an address")
        aliases = sorted({a.lower() for a in _all(account, fields["aliases"])} - {address})
        for alias in aliases:
            if not ADDRESS_RE.match(alias):
                problems.append(f"{where}: alias {alias!r} is not an address")
        for addr in [address, *aliases]:
            domain = addr.partition("@")[2]
            if ADDRESS_RE.match(addr) and domain not in served:
                problems.append(f"{where}: {addr}: @{domain} is not served here, so it would stop receiving "
                                "mail (add it to the policy's domains.extra; docs/policy.md)")
            if addr in holders:
                problems.append(f"{where}: {addr} is also held by {holders[addr]}: two accounts cannot "
                                "share an address")
            holders.setdefault(addr, where)
        login = _first(account, fields["login"]) or address
        login = login.lower() if "@" in login else login  # an address: case does not matter
        if login.lower() in logins:
            problems.append(f"{where}: old login {login!r} is also {logins[login.lower()]}'s")
        logins.setdefault(login.lower(), where)
        pwd = _first(account, fields["password_hash"])
        if pwd and not re.match(r"^\{[A-Za-z0-9.-]+\}\S+$", pwd):
            pwd = ""  # not an LDAP password value (a clear text one is never carried)
        if any(_first(account, [f]).upper() == "TRUE" for f in fields["must_change"]):
            # still the old system's initial password: carried, it would skip the forced first change
            # (Hà Nam Art 8.2.a, Gia Lai Art 9.1, Ninh Bình Art 6.3); the one issued here stays
            pwd = ""
        if len(problems) > before:
            continue
        local, _, domain = address.partition("@")
        keep = (settings["addresses"] == "keep" and domain == person_domain.get(code)
                and bool(LOCAL_RE.match(local)))
        kept_aliases = aliases if keep else sorted({address, *aliases})
        why = ""
        if settings["addresses"] == "keep" and not keep:
            why = (f"@{domain} is not the domain of {code}'s addresses (@{person_domain.get(code)})"
                   if domain != person_domain.get(code) else
                   f"{local!r} is not a local part this system issues (docs/naming.md)")
        row = {"id": _first(account, fields["id"]), "name": clean(_first(account, fields["name"])),
               "birth_date": _first(account, fields["birth_date"]), "org": code,
               "position": clean(_first(account, fields["position"])),
               "address": address if keep else "", "aliases": " ".join(kept_aliases)}
        missing = [CSV_HEADINGS[f] for f in ("id", "name", "birth_date") if not row[f]]
        if missing:
            result.incomplete.append({"entry": where, "address": address, "missing": missing,
                                      "roster": f"{code}.csv"})
        rows.setdefault(code, []).append(row)
        result.people.append({"entry": where, "old_address": address, "org": code,
                              "address": row["address"], "aliases": kept_aliases, "hash": bool(pwd),
                              "readdressed": why})
        box = {"source": login, "target": address}
        if row["id"]:
            box["id"] = row["id"]  # the target must be this person's account (congvu.migration)
        if pwd:
            box["password_hash"] = pwd
        boxes.append(box)
    for old, wheres in sorted(unmapped.items()):
        problems.append(f"{wheres[0]}: organisation {old!r} is not in the intake file's organisations "
                        f"({len(wheres)} account(s); map it to a catalogue code or to 'skip')")
    migration = {"source": dict(data["source"]), "mailboxes": boxes}
    if boxes:
        try:
            load_migration(migration, source=f"{source} (the migration file it makes)")
        except MigrationError as exc:
            problems.append(str(exc))
    if problems:
        raise IntakeError(f"{len(problems)} problem(s) taking in {export_source}:\n  "
                          + "\n  ".join(problems), source=export_source, rule="intake")
    result.migration = migration
    result.rosters = {f"{code}.csv": _roster_csv(people) for code, people in sorted(rows.items())}
    return result


def _roster_csv(rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    columns = ("id", "name", "birth_date", "org", "position", "address", "aliases")
    writer.writerow([CSV_HEADINGS[c] for c in columns])
    for row in sorted(rows, key=lambda r: (r["id"] or "~", r["name"])):
        writer.writerow([row[c] for c in columns])
    return "\ufeff" + out.getvalue()  # Excel opens it as UTF-8


def plan_for_province(export: str, data: Any, policy: Mapping[str, Any], catalogue: Any, *,
                      export_source: str = "export", source: str = "intake file") -> Intake:
    """:func:`plan` for a province: its policy (``congvu_policy``) and catalogue (a path or a loaded
    one) give the organisation codes, the served domains and each organisation's personal domain."""
    # the naming engine only where a province is named (plan() itself needs neither)
    from congvu.naming import make_scheme
    from congvu.reconcile import served_domains

    scheme = make_scheme(policy["naming"], catalogue, province=policy["province"]["code"])
    codes = list(scheme.catalogue)
    return plan(export, data, catalogue=codes, served=served_domains(policy, scheme),
                person_domain={code: scheme.org_domain(code) for code in codes},
                export_source=export_source, source=source)
