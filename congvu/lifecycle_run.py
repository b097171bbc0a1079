"""One lifecycle run on the servers: read, plan, archive, write, mail, audit (docs/lifecycle.md).

:func:`run` is what ``library/congvu_lifecycle.py`` (``playbooks/lifecycle.yml``) and the daily
``congvu-lifecycle`` command (the ``lifecycle`` role's systemd timer) both call, on the first mail host:

1. **read**: one paged search of ``ou=organisations`` (accounts, organisations, admin groups, the agency
   admins' request entries) and the logins and mail activity the journal recorded since the last run
   (:mod:`congvu.activity`);
2. **plan** with :func:`congvu.lifecycle.plan`. Requests an agency admin filed badly (an unknown account,
   another agency's account, a hold ending in the past...) are set aside, each refused with a message
   naming its entry, before any change; requests the operator passes (``requests``) must all be valid or
   nothing runs;
3. in check mode, stop and report the plan;
4. **archive** every mailbox a reclaim or a leaver's retirement removes (:class:`congvu.mailbox.Mailboxes`):
   an account whose archive cannot be made or checked is not retired this time;
5. **write** the directory (locks, unlocks, holds, quotas, retirements, logins and mail activity where
   the day advanced, request entries carried out or refused) in LDAP transactions, then finish the archives
   (mail delivered meanwhile, checked again) and remove the retired mailboxes;
6. **mail** the notices and warnings through the local Postfix, and only then record them
   (``congvuNoticeSent``, ``congvuWarned*``): a failure sends again next run rather than losing a notice;
7. **audit**: one record per change (:mod:`congvu.audit`), archives past their keep date pruned, the audit
   log pruned to ``logs.audit_retention``.

Running it again the same day changes nothing. Every collaborator is passed in (``directory``,
``mailboxes``, ``mailer``, ``journal``), so the unit tests run it against fakes.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from congvu import audit
from congvu.activity import Seen
from congvu.errors import CongvuError, LifecycleError
from congvu.lifecycle import Plan, archive_keep_days, check_requests, plan, to_date
from congvu.lifecycle_dir import (
    LIFECYCLE_CLASS,
    SEARCH_ATTRS,
    SEARCH_FILTER,
    activity_changes,
    one_value,
    plan_changes,
    request_changes,
    snapshot,
)
from congvu.notices import messages, request_refusal, request_replies

__all__ = ["SENT_ACTIONS", "TERMINAL_ACTIONS", "Settings", "replica_run", "run"]

TERMINAL_ACTIONS = ("reclaim", "retire_leaver")
SENT_ACTIONS = ("notify_agency", "warn_password_expiry", "warn_inactivity")
#: Actions carried out on an agency's request: the admin who filed it gets the answer
#: (notices.request_replies).
ANSWERED_ACTIONS = ("reopen", "hold", "reclaim", "lock_violation")


@dataclass
class Settings:
    policy: Mapping[str, Any]
    base: str  # the directory's base DN
    today: dt.date
    now: dt.datetime  # aware: the audit records' time
    check: bool = False
    requests: list[Mapping[str, Any]] = field(default_factory=list)  # the operator's (source: operator)
    operators: list[str] = field(default_factory=list)  # DNs whose request entries are the operator's
    audit_dir: str | None = audit.DEFAULT_DIRECTORY
    write_mode: str = "txn"
    batch_size: int = 2000
    scope: list[str] = field(default_factory=list)  # agency codes planned for; empty: the whole province
    # doveadm exports and sendmail processes started at once: each waits on its own process and disk
    workers: int = 4
    calendar: Any = None  # congvu.workdays.Calendar; None: from the policy (needs the holidays package)


def _generalized(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ")


def _line(a: Any) -> str:
    return (f"{a.effective} {a.action:<22} {a.mail:<40} deadline {a.deadline} {a.article}: {a.reason_en}"
            + (f" (by {a.actor})" if a.source != "lifecycle" else ""))


def _refusal_answers(refused: list, policy: Any, today: dt.date) -> list:
    """The answers to the requests set aside, to the admins who filed them (congvu.notices)."""
    answers = (request_refusal(r.request, problem, policy, today) for r, problem in refused)
    return [m for m in answers if m is not None]


def run(s: Settings, directory: Any, mailboxes: Any = None, mailer: Any = None, journal: Any = None,
        ) -> dict[str, Any]:
    timings: dict[str, float] = {}
    started = mark = time.monotonic()

    def lap(name: str) -> None:
        nonlocal mark
        now = time.monotonic()
        timings[name] = round(now - mark, 3)
        mark = now

    policy = s.policy
    snap, seen, cursor = _read(s, directory, journal)
    lap("read")

    # Requests: the agency admins' entries (bad ones set aside, each named) and the operator's (all valid).
    filed = [r for r in snap.requests if r.status != "refused"]
    raw = [r.request for r in filed] + [dict(r, source=r.get("source", "operator")) for r in s.requests]
    names = [r.dn for r in filed] + [f"requests[{i}] (operator)" for i in range(len(s.requests))]
    # A scope (agency codes) limits the plan, not the reading: mail activity is recorded for every
    # account, so an agency added to the scope later is judged on its real activity.
    scope = {code.lower() for code in s.scope}
    accounts = [a for a in snap.accounts if not scope or a.agency.lower() in scope]
    _, problems = check_requests(raw, {a.mail: a for a in accounts}, s.today, names)
    operator_bad = [message for i, message in problems if i >= len(filed)]
    if operator_bad:
        raise LifecycleError(f"{len(operator_bad)} bad request(s), nothing changed:\n"
                             + "\n".join(operator_bad), source="requests", rule="valid requests")
    bad = {i: message for i, message in problems}
    refused = [(filed[i], message) for i, message in sorted(bad.items())]
    done = [r for i, r in enumerate(filed) if i not in bad]
    p = plan(policy, accounts, s.today, requests=[r for i, r in enumerate(raw) if i not in bad],
             calendar=s.calendar)
    lap("plan")

    now = _generalized(s.now)
    report: dict[str, Any] = {
        "today": s.today.isoformat(), "counts": p.counts(), "plan": p.to_dicts(),
        "diff": [_line(a) for a in p], "refused": [{"entry": r.dn, "problem": m} for r, m in refused],
        "activity": _activity_counts(seen), "archives": [], "failures": [], "messages": [],
        "timings": timings,
    }
    pending = mailboxes.pending() if mailboxes is not None else []
    expired = ([d for d, m in mailboxes.manifests()
                if m.get("status") == "complete" and m.get("keep_until")
                and dt.date.fromisoformat(m["keep_until"]) < s.today] if mailboxes is not None else [])
    updates = activity_changes(snap, seen.mail, s.today, seen.logins)
    report["activity"]["writes"] = len(updates)
    report["changed"] = bool(len(p) or updates or done or refused or pending or expired)
    if s.check:
        report["messages"] = [{"kind": m.kind, "to": list(m.to), "subject": m.subject,
                               "summary": m.summary_en}
                              for m in messages(Plan(p.province, p.today, tuple(p.of(*SENT_ACTIONS))),
                                                snap.accounts, policy)
                              + request_replies(Plan(p.province, p.today, tuple(p.of(*ANSWERED_ACTIONS))),
                                                snap.accounts, policy)
                              + _refusal_answers(refused, policy, s.today)]
        report["applied"] = False
        timings["total"] = round(time.monotonic() - started, 3)
        return report

    # 4. archive first: a mailbox goes only once its archive is made and checked
    keep = policy["lifecycle"]["archive_keep"]

    def export(action: Any) -> tuple[Any, dict[str, int]]:
        days = action.details.get("archive_keep_days", keep)
        until = (s.today + dt.timedelta(days=days)).isoformat() if days is not None else None
        manifest = {"dn": action.dn, "agency": action.agency, "archived": s.today.isoformat(),
                    "keep_until": until,
                    "action": action.action, "article": action.article, "reason_vi": action.reason_vi}
        dest = mailboxes.dest(action.mail, s.today)
        home = mailboxes.home(action.mail, one_value(snap.entries[action.mail], "congvuMailHome"))
        return dest, mailboxes.export(action.mail, home, dest, manifest)

    terminal = [a for a in p if a.action in TERMINAL_ACTIONS] if mailboxes is not None else []
    exported = dict(zip(map(id, terminal), _each(export, terminal, s.workers), strict=True))
    applied = []
    archives: dict[str, Any] = {}
    for action in p:
        if action.action not in TERMINAL_ACTIONS:
            applied.append(action)
            continue
        if mailboxes is None:
            report["failures"].append(f"{action.mail}: {action.action} needs the mail store (no mailboxes)")
            continue
        outcome = exported[id(action)]
        if isinstance(outcome, Exception):
            report["failures"].append(f"{action.mail}: not {action.action} today, its archive failed: "
                                      f"{outcome}")
            continue
        archives[action.mail] = outcome
        applied.append(action)
    lap("archive")

    # 5. the directory: everything but the records of mail still to send. A request entry goes once its
    # action is carried out (or the account already shows it); one whose action failed stays for next run.
    state = [a for a in applied if a.action not in SENT_ACTIONS]
    planned = {(a.action, a.mail) for a in p if a.source != "lifecycle"}
    carried = {(a.action, a.mail) for a in state if a.source != "lifecycle"}
    done = [r for r in done if (r.request["kind"], r.request["mail"]) not in planned - carried]
    changes = _merge(plan_changes(p, snap, now, state) + updates + request_changes(done, refused))
    _write(directory, changes, s)
    _mark_classes(snap, changes)
    retired = {a.mail for a in state if a.action in TERMINAL_ACTIONS}
    by_mail = snap.by_mail()
    for dest in [archives[m][0] for m in sorted(retired)] + pending:
        try:
            data = mailboxes.finish(dest) if _retired(by_mail, retired, dest, mailboxes) else None
        except (CongvuError, OSError) as exc:
            report["failures"].append(f"{dest}: the live mailbox is kept, the archive is not complete: {exc}")
            continue
        if data is not None:
            report["archives"].append({"mail": data["mail"], "archive": str(dest), "counts": data["counts"],
                                       "late_messages": data["late_messages"],
                                       "keep_until": data.get("keep_until")})
    lap("write")

    # 6. mail, then its records
    sent_actions = [a for a in applied if a.action in SENT_ACTIONS]
    after = {a.mail: a for a in _after(snap, p, state)}
    sent_ok = []
    outgoing = list(messages(Plan(p.province, p.today, tuple(sent_actions)), after.values(), policy))
    # the answers to the agencies' requests carried out (not retried if they fail: the run reports it)
    answered = tuple(a for a in applied if a.action in ANSWERED_ACTIONS)
    outgoing += request_replies(Plan(p.province, p.today, answered), after.values(), policy)
    # and the requests set aside, with the reason (sent once: the entry is marked refused above)
    outgoing += _refusal_answers(refused, policy, s.today)

    def send(message: Any) -> Any:
        if mailer is None:
            raise OSError("no mailer")
        return mailer.send(message, s.now)  # how it went ("lmtp", "postfix"), if the mailer says

    for message, outcome in zip(outgoing, _each(send, outgoing, s.workers), strict=True):
        item = {"kind": message.kind, "to": list(message.to), "subject": message.subject,
                "summary": message.summary_en, "sent": False}
        if isinstance(outcome, Exception):
            item["error"] = str(outcome)
            report["failures"].append(f"{message.kind} to {', '.join(message.to)} not sent: {outcome}")
        else:
            item["sent"] = True
            if isinstance(outcome, str):
                item["by"] = outcome
            kinds = ("notify_agency",) if message.kind == "agency_notice" else (message.kind,)
            sent_ok += [a for a in sent_actions if a.action in kinds and a.mail in message.mails]
        report["messages"].append(item)
    records = plan_changes(p, snap, now, sent_ok)
    _write(directory, records, s)
    lap("mail")

    # 7. the audit log and the archives past their keep date
    done_actions = state + sent_ok
    entries = audit.records_from_plan(p, s.now, done_actions)
    for mail, (dest, counts) in sorted(archives.items()):
        if mail in retired:
            entries.append(audit.Record(ts=s.now, actor="lifecycle", source="lifecycle", action="archive",
                                        mail=mail, dn=snap.entries[mail]["dn"][0],
                                        organisation=_agency(p, mail),
                                        details={"archive": str(dest), "counts": counts}))
    for r, message in refused:
        entries.append(audit.Record(ts=s.now, actor=r.request.get("by") or r.creator or "?",
                                    source=r.request.get("source") or "console", action="request_refused",
                                    mail=r.request.get("mail") or "?", dn=r.dn,
                                    details={"kind": r.request.get("kind"), "problem": message}))
    if mailboxes is not None:
        _prune(s, mailboxes, report, entries)
    if s.audit_dir:
        report["audit_records"] = audit.append(s.audit_dir, entries)
        retention = policy["logs"]["audit_retention"]
        report["audit_pruned"] = [str(x) for x in audit.prune(s.audit_dir, retention, s.today)]
    if journal is not None:
        journal.commit(cursor)
    lap("audit")
    report.update(applied=True, writes=len(changes) + len(records),
                  changed=bool(changes or records or entries))
    timings["total"] = round(time.monotonic() - started, 3)
    return report


def _read(s: Settings, directory: Any, journal: Any) -> tuple[Any, Seen, str | None]:
    """One paged search of the organisations' tree and the journal's logins and mail activity since the
    last run (up to ``s.today``); a directory entry the snapshot cannot read refuses the run before any
    change."""
    found = directory.search(f"ou=organisations,{s.base}", SEARCH_FILTER, SEARCH_ATTRS)
    seen, cursor = journal.read() if journal is not None else (Seen(), None)
    seen = seen.until(s.today)
    snap = snapshot(found, activity=seen.mail, logins=seen.logins, operators=s.operators)
    if snap.problems:
        raise LifecycleError(f"{len(snap.problems)} directory entr(ies) cannot be read, nothing changed:\n"
                             + "\n".join(snap.problems), source="ou=organisations", rule="valid snapshot")
    return snap, seen, cursor


def replica_run(s: Settings, directory: Any, mailboxes: Any, journal: Any) -> dict[str, Any]:
    """The lifecycle's part on every other mail server (``"replica": true`` in the configuration;
    docs/lifecycle.md, "Two mailbox servers"). The first server's :func:`run` plans and acts for the
    province; a second server holds its own copy of every mailbox (Dovecot replication) and its own mail
    logs, so each morning, before that run, it

    1. records the logins and the mail activity its own journal saw (logins to this server, mail
       delivered here or sent through its submission services: Gia Lai Art 5.4 and 6.2.a, Hà Nam Art
       7.2.a) where the day advanced, like :func:`run`;
    2. archives and removes its copy of every mailbox whose account the first server retired before
       today (a reclaim or a leaver's removal: Hà Nam Art 7.2, Cần Thơ Art 5.4, Ninh Bình Art 7.1-7.2):
       the copy goes into this host's archive root the way :func:`run` archives (checked, kept as
       long as the first keeps its archive, :func:`congvu.lifecycle.archive_keep_days`, then
       pruned), since a retired account is unknown to Dovecot and no replicator removes it. A day's
       wait: the first server finishes its archive, with the mail delivered meanwhile, in the run
       that retires the account.

    Nothing is planned, locked or mailed here. In check mode it reports and changes nothing."""
    timings: dict[str, float] = {}
    started = time.monotonic()
    snap, seen, cursor = _read(s, directory, journal)
    updates = activity_changes(snap, seen.mail, s.today, seen.logins)
    retired = []
    for account in snap.accounts:
        entry = snap.entries[account.mail]
        since = to_date(one_value(entry, "congvuStateChanged"), account.dn, "congvuStateChanged")
        home = mailboxes.home(account.mail, one_value(entry, "congvuMailHome"))
        if account.state == "retired" and since is not None and since < s.today and home.exists():
            retired.append((account, home))
    report: dict[str, Any] = {
        "today": s.today.isoformat(), "replica": True, "applied": not s.check,
        "counts": {"replica_archive": len(retired)} if retired else {},
        "diff": [f"{s.today} {'replica_archive':<22} {a.mail:<40} this server's copy (retired "
                 f"{one_value(snap.entries[a.mail], 'congvuStateChanged')})" for a, _ in retired],
        "activity": {**_activity_counts(seen), "writes": len(updates)}, "archives": [], "failures": [],
        "messages": [], "refused": [], "timings": timings,
        "changed": bool(updates or retired)}
    if s.check:
        timings["total"] = round(time.monotonic() - started, 3)
        return report
    _write(directory, updates, s)
    entries = []

    def until(account: Any) -> str | None:
        keep = archive_keep_days(s.policy, account.mailbox_class)
        return (s.today + dt.timedelta(days=keep)).isoformat() if keep is not None else None

    def set_aside(item: tuple[Any, Any]) -> dict[str, Any]:
        account, home = item
        dest = mailboxes.dest(account.mail, s.today)
        mailboxes.export(account.mail, home, dest,
                         {"dn": account.dn, "agency": account.agency, "archived": s.today.isoformat(),
                          "keep_until": until(account), "action": "replica_archive", "article": "",
                          "reason_vi": "Bản sao hộp thư trên máy chủ thứ hai của tài khoản đã thu hồi"})
        return {**mailboxes.finish(dest), "archive": str(dest)}

    for (account, _), outcome in zip(retired, _each(set_aside, retired, s.workers), strict=True):
        if isinstance(outcome, Exception):
            report["failures"].append(f"{account.mail}: this server's copy is kept, its archive failed: "
                                      f"{outcome}")
            continue
        report["archives"].append({"mail": account.mail, "archive": outcome["archive"],
                                   "counts": outcome.get("counts"), "keep_until": until(account)})
        entries.append(audit.Record(ts=s.now, actor="lifecycle", source="lifecycle", action="replica_archive",
                                    mail=account.mail, dn=account.dn, organisation=account.agency,
                                    details={"archive": outcome["archive"], "counts": outcome.get("counts")}))
    _prune(s, mailboxes, report, entries)
    if s.audit_dir and entries:
        report["audit_records"] = audit.append(s.audit_dir, entries)
    journal.commit(cursor)
    report["writes"] = len(updates)
    timings["total"] = round(time.monotonic() - started, 3)
    return report


def _prune(s: Settings, mailboxes: Any, report: dict[str, Any], entries: list[Any]) -> None:
    """Remove the archives past their keep date; each goes into the report and the audit log."""
    for data in mailboxes.prune(s.today):
        report["archives"].append({"mail": data.get("mail"), "archive": data["archive"], "pruned": True})
        entries.append(audit.Record(ts=s.now, actor="lifecycle", source="lifecycle", action="archive_pruned",
                                    mail=data.get("mail") or "?", dn=data.get("dn", ""),
                                    organisation=data.get("agency", ""),
                                    details={"archive": data["archive"], "keep_until": data["keep_until"]}))


def _activity_counts(seen: Seen) -> dict[str, int]:
    return {"addresses": len(seen.mail.keys() | seen.logins.keys()), "mail": len(seen.mail),
            "logins": len(seen.logins)}


def _each(func: Callable[[Any], Any], items: list[Any], workers: int) -> list[Any]:
    """``func`` of every item, ``workers`` at a time, in the items' order; an item whose call raised
    CongvuError or OSError gets the exception instead (anything else is a bug and propagates)."""
    def call(item: Any) -> Any:
        try:
            return func(item)
        except (CongvuError, OSError) as exc:
            return exc

    if workers <= 1 or len(items) <= 1:
        return [call(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(call, items))


def _agency(p: Plan, mail: str) -> str:
    return next((a.agency for a in p if a.mail == mail), "")


def _after(snap: Any, p: Plan, actions: Iterable[Any]):
    from congvu.lifecycle import apply_plan
    return apply_plan(snap.accounts, Plan(p.province, p.today, tuple(actions)))


def _retired(by_mail: Mapping[str, Any], retired: set[str], dest: Any, mailboxes: Any) -> bool:
    """Remove a live mailbox only when its account is retired in the directory (``retired``: this run's
    writes; else an earlier one whose archive could not be finished then)."""
    mail = mailboxes.manifest(dest).get("mail")
    if mail in retired:
        return True
    account = by_mail.get(mail)
    return account is not None and account.state == "retired"


def _mark_classes(snap: Any, changes: Iterable[Any]) -> None:
    """The entries written now carry the lifecycle class (a second write must not add it again)."""
    for change in changes:
        if "+objectClass" in change.attrs and change.key in snap.entries:
            classes = snap.entries[change.key].setdefault("objectclass", [])
            if LIFECYCLE_CLASS not in classes:
                classes.append(LIFECYCLE_CLASS)


def _merge(changes: list[Any]) -> list[Any]:
    """One modification per entry (the plan's and the activity's), in the order entries first appear."""
    out: list[Any] = []
    seen: dict[str, Any] = {}
    for change in changes:
        key = change.dn.lower()
        if change.op != "modify" or key not in seen:
            out.append(change)
            if change.op == "modify":
                seen[key] = change
            continue
        first = seen[key]
        first.attrs.update(change.attrs)
        for name, values in change.before.items():
            first.before.setdefault(name, values)
        first.why = ", ".join(x for x in (first.why, change.why) if x)
    return out


def _write(directory: Any, changes: list[Any], s: Settings) -> None:
    if not changes:
        return
    if s.write_mode == "txn":
        first = directory.prime_in_place(changes)
        ids = {id(c) for c in first}
        changes = [c for c in changes if id(c) not in ids]
    directory.apply(changes, s.write_mode, s.batch_size)
