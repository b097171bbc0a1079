"""The lifecycle's view of the directory: entries to snapshot and requests, a plan to LDAP writes.

Pure (no LDAP import): :func:`snapshot` turns the entries of the lifecycle run's one paged search into
:class:`congvu.lifecycle.Account` objects and the agency admins' request entries into
:class:`congvu.lifecycle.Request` objects; :func:`plan_changes` turns an applied plan into the LDAP
modifications that make the directory read back as :func:`congvu.lifecycle.apply_plan` says (the
writer's contract, docs/lifecycle.md). docs/directory.md lists the attributes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from congvu.errors import CongvuError, LifecycleError
from congvu.lifecycle import Account, Plan, apply_plan, to_date
from congvu.reconcile import LIFECYCLE_CLASS, Change, top_code, with_lifecycle_class
from congvu.workdays import VN_TZ

__all__ = ["ACCOUNT_WRITE_ATTRS", "LIFECYCLE_CLASS", "LIST_CLASS", "LIST_WRITE_ATTRS", "REQUEST_CLASS",
           "REQUEST_WRITE_ATTRS", "SEARCH_ATTRS",
           "SEARCH_FILTER", "RequestEntry", "Snapshot", "activity_changes", "day_time", "one_value",
           "plan_changes", "request_changes", "snapshot"]

#: Structural class of an agency admin's request, below ``cn=requests,o=<agency>``.
REQUEST_CLASS = "congvuRequest"
#: Structural class of an agency's mailing list (docs/lists.md, Cần Thơ Art 11.5).
LIST_CLASS = "congvuMailList"
SEARCH_FILTER = (f"(|(objectClass=congvuMailAccount)(objectClass=congvuOrganisation)"
                 f"(objectClass=groupOfNames)(objectClass={REQUEST_CLASS})(objectClass={LIST_CLASS}))")
#: The snapshot field each attribute feeds (dates: GeneralizedTime).
DATE_ATTRS = {"congvuLastMailActivity": "last_mail", "congvuNoticeSent": "notice_sent",
              "congvuConfirmed": "confirmed", "congvuHoldUntil": "hold_until",
              "congvuWarnedPassword": "warned_password", "congvuWarnedInactivity": "warned_inactivity",
              "congvuLeavingSince": "leaving_since", "pwdLastSuccess": "last_login",
              "createTimestamp": "created"}
SEARCH_ATTRS = sorted({"objectClass", "mail", "cn", "displayName", "o", "member", "congvuOrganisationDN",
                       "congvuMailboxClass", "congvuAccountState", "congvuLockReason", "congvuMailQuota",
                       "congvuMustChangePassword", "pwdReset", "pwdChangedTime", "congvuPasswordReset",
                       "congvuMailAlias", "congvuExpiringAlias", "congvuReservedAddress", "congvuMailHome",
                       "congvuHoldReason", "congvuRequestKind", "congvuRequestFor", "congvuRequestReason",
                       "congvuRequestRef", "congvuRequestStatus", "congvuStateChanged", "creatorsName",
                       "congvuLastLogin", *DATE_ATTRS})
#: Account fields the writer maps to one attribute each.
FIELD_ATTRS = {"state": "congvuAccountState", "lock_reason": "congvuLockReason",
               "notice_sent": "congvuNoticeSent", "confirmed": "congvuConfirmed",
               "hold_until": "congvuHoldUntil", "warned_password": "congvuWarnedPassword",
               "warned_inactivity": "congvuWarnedInactivity", "quota": "congvuMailQuota"}

#: Every attribute the run writes on an account (plan_changes, activity_changes; ``objectClass`` only
#: to add LIFECYCLE_CLASS) and on a request entry (request_changes). The directory lets the lifecycle
#: account write exactly these (roles/openldap/vars/main.yml, ``__openldap_lifecycle_write_attrs``,
#: and its ``userPassword`` rule); tests/unit/test_lifecycle_schema.py holds the three places together.
ACCOUNT_WRITE_ATTRS = frozenset({"objectClass", *FIELD_ATTRS.values(), "congvuStateChanged",
                                 "congvuHoldReason", "congvuMustChangePassword", "pwdReset", "userPassword",
                                 "congvuPasswordReset", "congvuExpiringAlias", "congvuMailAlias",
                                 "congvuReservedAddress", "congvuLastMailActivity", "congvuLastLogin"})
REQUEST_WRITE_ATTRS = frozenset({"congvuRequestStatus", "congvuRequestNote"})
#: What the run writes on a mailing list: a retired account leaves its lists.
LIST_WRITE_ATTRS = frozenset({"member"})


def _checked(attrs: dict[str, list[str]], allowed: frozenset[str]) -> dict[str, list[str]]:
    """``attrs``, refusing an attribute the directory would not let the run write (a programming error
    caught before any change rather than an LDAP insufficientAccess halfway through a run)."""
    unknown = sorted(k.lstrip("+") for k in attrs if k.lstrip("+") not in allowed)
    if unknown:
        raise ValueError(f"the lifecycle run may not write {', '.join(unknown)} "
                         "(lifecycle_dir.*_WRITE_ATTRS)")
    return attrs


def day_time(day: dt.date) -> str:
    """A day in Vietnam as GeneralizedTime: its first second, in UTC (``2027-03-05`` ->
    ``20270304170000Z``), which :func:`congvu.lifecycle.to_date` reads back as the same day."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=VN_TZ).astimezone(dt.UTC)
    return start.strftime("%Y%m%d%H%M%SZ")


def _norm(dn: str) -> str:
    return dn.replace(" ", "").lower()


Found = Iterable[tuple[str, Mapping[str, Iterable[Any]]]]


def _entries(found: Found) -> list[tuple[str, dict[str, list[str]]]]:
    out = []
    for dn, attrs in found:
        entry = {}
        for name, values in attrs.items():
            entry[name.lower()] = [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]
        out.append((dn, entry))
    return out


def one_value(entry: Mapping[str, list[str]], name: str) -> str | None:
    """The first value of attribute ``name`` of a snapshot entry (keys lower case), or None."""
    values = entry.get(name.lower())
    return values[0] if values else None


@dataclass
class RequestEntry:
    """An agency admin's request as filed in the directory, and what the run made of it."""

    dn: str
    request: dict[str, Any]  # the fields of congvu.lifecycle.Request
    creator: str  # creatorsName
    status: str = ""  # congvuRequestStatus ("refused": set aside, left for the admin to read)


@dataclass
class Snapshot:
    """What one search gives the lifecycle."""

    accounts: list[Account] = field(default_factory=list)
    entries: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # mail -> its entry
    requests: list[RequestEntry] = field(default_factory=list)
    request_containers: list[str] = field(default_factory=list)  # cn=requests,o=<agency>,... present
    lists: dict[str, list[str]] = field(default_factory=dict)  # mailing list DN -> its member values
    problems: list[str] = field(default_factory=list)

    def by_mail(self) -> dict[str, Account]:
        return {a.mail: a for a in self.accounts}


def snapshot(found: Found, *, activity: Mapping[str, dt.date] | None = None,
             logins: Mapping[str, dt.date] | None = None, operators: Iterable[str] = ()) -> Snapshot:
    """The accounts and requests of one subtree search of ``ou=organisations,<base>``.

    ``activity``: address -> the latest day mail was sent or received, from the mail logs
    (:mod:`congvu.activity`); the later of it and ``congvuLastMailActivity`` is the account's
    ``last_mail``. ``logins``: the same for logins; the latest of it, ``congvuLastLogin`` and
    ``pwdLastSuccess`` (slapd's lastbind, where it is on) is the account's ``last_login``.
    ``operators``: DNs whose requests count as the operator's (``source: operator``); every other
    creator must be an account (a delegated admin, checked by the planner).
    Every entry that cannot be read is listed in ``problems`` with its DN (the run stops on them).
    """
    entries = _entries(found)
    orgs: dict[str, dict[str, list[str]]] = {}
    groups: dict[str, set[str]] = {}
    containers = []
    lists: dict[str, list[str]] = {}
    for dn, entry in entries:
        classes = {c.lower() for c in entry.get("objectclass", [])}
        if "congvuorganisation" in classes:
            orgs[_norm(dn)] = entry
        elif "groupofnames" in classes:
            groups[_norm(dn)] = {_norm(m) for m in entry.get("member", [])}
        elif "organizationalrole" in classes and dn.lower().startswith("cn=requests,"):
            containers.append(dn)
        elif LIST_CLASS.lower() in classes:
            lists[dn] = list(entry.get("member", []))
    snap = Snapshot(request_containers=containers, lists=lists)
    activity = {k.lower(): v for k, v in (activity or {}).items()}
    logins = {k.lower(): v for k, v in (logins or {}).items()}
    by_dn: dict[str, str] = {}
    raw_requests = []
    for dn, entry in entries:
        classes = {c.lower() for c in entry.get("objectclass", [])}
        if REQUEST_CLASS.lower() in classes:
            raw_requests.append((dn, entry))
            continue
        if "congvumailaccount" not in classes:
            continue
        try:
            account = _account(dn, entry, orgs, groups, activity, logins)
        except CongvuError as exc:
            snap.problems.append(str(exc))
            continue
        snap.accounts.append(account)
        snap.entries[account.mail] = {**entry, "dn": [dn]}
        by_dn[_norm(dn)] = account.mail
    operator_dns = {_norm(d) for d in operators}
    for dn, entry in raw_requests:
        snap.requests.append(_request(dn, entry, by_dn, operator_dns))
    return snap


def _account(dn: str, entry: Mapping[str, list[str]], orgs: Mapping[str, Mapping[str, list[str]]],
             groups: Mapping[str, set[str]], activity: Mapping[str, dt.date],
             logins: Mapping[str, dt.date]) -> Account:
    mail = (one_value(entry, "mail") or "").lower()
    org_dn = one_value(entry, "congvuOrganisationDN") or dn.split(",", 1)[1]
    org_code = org_dn.split(",", 1)[0].partition("=")[2]
    agency = top_code(org_dn)
    agency_dn = next((d for d in orgs if d.startswith(f"o={agency.lower()},")), None)
    agency_name = one_value(orgs[agency_dn], "displayName") if agency_dn else None
    admins = groups.get(f"cn=admins,{agency_dn}", set()) if agency_dn else set()
    values: dict[str, Any] = {
        "mail": mail, "dn": dn, "organisation": org_code, "agency": agency,
        "agency_name": agency_name or agency,
        "name": one_value(entry, "displayName") or one_value(entry, "cn") or "",
        "mailbox_class": one_value(entry, "congvuMailboxClass") or "personal",
        "admin": _norm(dn) in admins,
        "state": one_value(entry, "congvuAccountState") or "active",
        "lock_reason": one_value(entry, "congvuLockReason"),
        "must_change_password": any((one_value(entry, a) or "").upper() == "TRUE"
                                    for a in ("congvuMustChangePassword", "pwdReset")),
    }
    for attr, name in DATE_ATTRS.items():
        values[name] = one_value(entry, attr)
    changed = [to_date(v, dn, a) for a in ("pwdChangedTime", "congvuPasswordReset")
               if (v := one_value(entry, a))]
    values["password_changed"] = max(changed) if changed else None
    logged = to_date(values["last_mail"], dn, "congvuLastMailActivity")
    values["last_mail"] = _latest(logged, activity.get(mail))
    values["last_login"] = _latest(to_date(values["last_login"], dn, "pwdLastSuccess"),
                                   to_date(one_value(entry, "congvuLastLogin"), dn, "congvuLastLogin"),
                                   logins.get(mail))
    quota = one_value(entry, "congvuMailQuota")
    try:
        values["quota"] = int(quota) if quota is not None else None
    except ValueError:
        raise LifecycleError(f"congvuMailQuota: {quota!r} is not a number of bytes", source=dn,
                             rule="quota") from None
    aliases = []
    for value in entry.get("congvuexpiringalias", []):
        alias, _, until = value.partition(" ")
        aliases.append((alias, until.strip()))
    values["expiring_aliases"] = aliases
    return Account.from_mapping(values, dn)


def _latest(*days: dt.date | None) -> dt.date | None:
    return max((d for d in days if d), default=None)


def _request(dn: str, entry: Mapping[str, list[str]], by_dn: Mapping[str, str],
             operators: set[str]) -> RequestEntry:
    creator = one_value(entry, "creatorsName") or ""
    admin_mail = by_dn.get(_norm(creator))
    operator = admin_mail is None and (_norm(creator) in operators or creator.lower().startswith(
        "gidnumber=0+uidnumber=0,"))
    request = {"kind": one_value(entry, "congvuRequestKind") or "",
               "mail": (one_value(entry, "congvuRequestFor") or "").lower(),
               "received": one_value(entry, "createTimestamp"), "by": admin_mail or creator,
               "source": "operator" if operator else "console",
               "reason": one_value(entry, "congvuRequestReason") or "",
               "ref": one_value(entry, "congvuRequestRef") or ""}
    if one_value(entry, "congvuHoldUntil"):
        request["until"] = one_value(entry, "congvuHoldUntil")
    return RequestEntry(dn=dn, request=request, creator=creator,
                        status=(one_value(entry, "congvuRequestStatus") or "").lower())


# --- writing ------------------------------------------------------------------------------------------

def _with_class(entry: Mapping[str, list[str]], attrs: dict[str, list[str]]) -> dict[str, list[str]]:
    """``attrs`` plus the lifecycle's auxiliary class when the entry does not carry it yet (the roster
    apply's accounts are created without it)."""
    return with_lifecycle_class(entry.get("objectclass", []), attrs)


def _value(name: str, value: Any) -> list[str]:
    if value is None:
        return []
    if name == "congvuMailQuota":
        return [str(int(value))]
    if isinstance(value, dt.date):
        return [day_time(value)]
    return [str(value)]


def plan_changes(plan: Plan, snap: Snapshot, now: str, actions: Sequence[Any] | None = None) -> list[Change]:
    """The modifications that carry out ``actions`` (default: the whole plan) on the directory.

    One modification per entry, computed from :func:`congvu.lifecycle.apply_plan`'s snapshot: every field
    that changes is written, and nothing else. A reopen (Hà Nam Art 7.3, Gia Lai Art 6.3) also removes the
    password (the lifecycle may remove one, never set one: the delegated admin or the operator sets the
    new initial password) and sets ``pwdReset`` and ``congvuMustChangePassword``, so the first login must
    change it; its day is ``congvuPasswordReset``. A dropped alias leaves ``congvuMailAlias`` (no longer
    delivered) for ``congvuReservedAddress`` (never reissued). ``now`` is GeneralizedTime
    (``congvuStateChanged``).
    """
    chosen = list(plan.actions if actions is None else actions)
    if not chosen:
        return []
    partial = Plan(province=plan.province, today=plan.today, actions=tuple(chosen))
    touched = {a.mail for a in chosen}
    before = {a.mail: a for a in snap.accounts if a.mail in touched}
    after = {a.mail: a for a in apply_plan(before.values(), partial)}
    reasons = {a.mail: a.details.get("reason", "") for a in chosen if a.action == "hold"}
    reopened = {a.mail for a in chosen if a.action == "reopen"}
    out = []
    for mail in sorted(touched):
        old, new = before[mail], after[mail]
        entry = snap.entries[mail]
        attrs: dict[str, list[str]] = {}
        for name, attr in FIELD_ATTRS.items():
            if getattr(old, name) != getattr(new, name):
                attrs[attr] = _value(attr, getattr(new, name))
        if old.state != new.state:
            attrs["congvuStateChanged"] = [now]
        if mail in reasons:
            attrs["congvuHoldReason"] = [reasons[mail]] if reasons[mail] else []
        if mail in reopened:
            attrs.update({"congvuMustChangePassword": ["TRUE"], "pwdReset": ["TRUE"], "userPassword": [],
                          "congvuPasswordReset": [day_time(plan.today)]})
        if old.expiring_aliases != new.expiring_aliases:
            kept = {alias for alias, _ in new.expiring_aliases}
            dropped = {alias for alias, _ in old.expiring_aliases} - kept
            attrs["congvuExpiringAlias"] = [f"{alias} {until:%Y%m%d}"
                                            for alias, until in new.expiring_aliases]
            if dropped:
                attrs["congvuMailAlias"] = [a for a in entry.get("congvumailalias", [])
                                            if a.lower() not in dropped]
                attrs["congvuReservedAddress"] = sorted(set(entry.get("congvureservedaddress", [])) | dropped)
        if attrs:
            before_attrs = {k: [] if k.startswith("+") else entry.get(k.lower(), []) for k in attrs}
            out.append(Change("modify", entry["dn"][0], "lifecycle", mail,
                              _checked(_with_class(entry, attrs), ACCOUNT_WRITE_ATTRS),
                              before_attrs, why=", ".join(a.action for a in chosen if a.mail == mail)))
    retired = {_norm(snap.entries[m]["dn"][0]): m for m in touched
               if before[m].state != "retired" and after[m].state == "retired"}
    return out + _list_changes(snap, retired)


def _list_changes(snap: Snapshot, retired: Mapping[str, str]) -> list[Change]:
    """A retired account leaves every mailing list it is a member of (docs/lists.md): Postfix would
    otherwise expand the list to an address it no longer accepts, and bounce every post to the
    list's sender. ``retired``: normalised DN -> address."""
    out = []
    for dn, members in sorted(snap.lists.items()):
        gone = [m for m in members if _norm(m) in retired]
        if gone:
            out.append(Change("modify", dn, "list", dn,
                              _checked({"member": [m for m in members if m not in gone]}, LIST_WRITE_ATTRS),
                              {"member": members},
                              why="retired: " + ", ".join(sorted(retired[_norm(m)] for m in gone))))
    return out


#: What the logs' activity writes: attribute -> what it records.
ACTIVITY_ATTRS = {"congvuLastMailActivity": "mail activity", "congvuLastLogin": "login"}


def activity_changes(snap: Snapshot, activity: Mapping[str, dt.date], today: dt.date,
                     logins: Mapping[str, dt.date] | None = None) -> list[Change]:
    """``congvuLastMailActivity`` and ``congvuLastLogin`` where the logs show a later day than the
    directory (never a day after ``today``): at most one write per account per run, none on the mail or
    login path."""
    out = []
    sources = {"congvuLastMailActivity": activity, "congvuLastLogin": logins or {}}
    for account in snap.accounts:
        entry = snap.entries[account.mail]
        attrs: dict[str, list[str]] = {}
        before: dict[str, list[str]] = {}
        for name, seen_by in sources.items():
            seen = seen_by.get(account.mail)
            if seen is None or seen > today:
                continue
            stored = one_value(entry, name)
            if stored is not None and to_date(stored, account.dn, name) >= seen:
                continue
            attrs[name] = [day_time(seen)]
            before[name] = [stored] if stored else []
        if attrs:
            out.append(Change("modify", account.dn, "activity", account.mail,
                              _checked(_with_class(entry, attrs), ACCOUNT_WRITE_ATTRS), before,
                              why=", ".join(ACTIVITY_ATTRS[name] for name in attrs)))
    return out


def request_changes(done: Iterable[RequestEntry],
                    refused: Iterable[tuple[RequestEntry, str]]) -> list[Change]:
    """Carried-out requests are deleted (the audit log keeps them); refused ones are marked with the
    reason, for the admin who filed them to read and delete."""
    out = [Change("delete", r.dn, "request", r.request.get("mail", "")) for r in done]
    for r, message in refused:
        out.append(Change("modify", r.dn, "request", r.request.get("mail", ""),
                          _checked({"congvuRequestStatus": ["refused"],
                                    "congvuRequestNote": [message[:1000]]}, REQUEST_WRITE_ATTRS),
                          why="refused"))
    return out
