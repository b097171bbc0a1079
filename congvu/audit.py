"""The audit log of account changes: append-only JSON Lines, one file per month.

Every change to an account (a roster apply, a lifecycle action, an agency admin's request, an operator's
hand) is one line in ``<directory>/audit-YYYY-MM.jsonl`` (the month of its timestamp in Vietnam), by
default ``/var/lib/congvu/audit`` on the first LDAP host::

    {"action": "lock_inactive", "actor": "lifecycle", "article": "Ninh Bình Art 7.1",
     "details": {"deadline": "2026-10-28", ...}, "dn": "uid=minhnv.stttt,o=stttt,...",
     "mail": "minhnv.stttt@ninhbinh.gov.vn", "organisation": "stttt", "source": "lifecycle",
     "ts": "2026-12-02T06:00:00+07:00"}

``organisation`` is the account's agency (its top-level organisation), the unit the reports of the
regulations count by (Cần Thơ Annex II, Hà Nam Art 11.8, Ninh Bình Art 13.6); the unit is in ``dn``.
Lines are written with the file locked (``flock``), flushed and ``fsync``-ed; nothing ever rewrites a
line. :func:`prune` removes whole months older than the policy's ``logs.audit_retention``.
:func:`read` filters by period, organisation, action, source and address for the reports (issue 15);
a malformed line stops it with the file and line number rather than being skipped.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from congvu.errors import AuditError
from congvu.workdays import VN_TZ

__all__ = ["DEFAULT_DIRECTORY", "SOURCES", "Record", "agency_of_dn", "append", "file_for", "prune", "read",
           "records_from_changes", "records_from_plan"]

DEFAULT_DIRECTORY = "/var/lib/congvu/audit"
SOURCES = ("roster", "lifecycle", "console", "operator")
FIELDS = ("ts", "actor", "source", "action", "mail", "dn", "organisation", "article", "details")
_FILE_RE = re.compile(r"^audit-(\d{4})-(\d{2})\.jsonl$")


@dataclass(frozen=True, slots=True, kw_only=True)
class Record:
    """One change. ``ts`` is an aware datetime (written in ISO 8601 with +07:00)."""

    ts: dt.datetime
    actor: str  # who: "lifecycle", "roster", an admin's address, an operator's name
    source: str  # roster, lifecycle, console or operator
    action: str
    mail: str
    dn: str = ""
    organisation: str = ""  # the agency (top-level organisation) code
    article: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        where = f"audit record ({self.action or '?'} {self.mail or '?'})"
        if not isinstance(self.ts, dt.datetime) or self.ts.tzinfo is None:
            raise AuditError(f"ts must be a datetime with a time zone, got {self.ts!r}", source=where,
                             rule="ISO 8601 with offset")
        if self.source not in SOURCES:
            raise AuditError(f"source {self.source!r} is not one of {', '.join(SOURCES)}", source=where,
                             rule="known sources")
        for key in ("actor", "action", "mail"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key).strip():
                raise AuditError(f"{key} is required", source=where, rule="required")
        object.__setattr__(self, "ts", self.ts.astimezone(VN_TZ))

    def to_json(self) -> str:
        data = {k: getattr(self, k) for k in FIELDS}
        data["ts"] = self.ts.isoformat(timespec="seconds")
        data["details"] = dict(self.details)
        return json.dumps(data, ensure_ascii=False, sort_keys=True, default=_jsonable)

    @classmethod
    def from_json(cls, line: str, where: str) -> Record:
        try:
            data = json.loads(line)
            if not isinstance(data, dict) or set(data) != set(FIELDS):
                raise ValueError(f"expected the fields {', '.join(FIELDS)}")
            data["ts"] = dt.datetime.fromisoformat(data["ts"])
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise AuditError(f"malformed record: {exc}", source=where,
                             rule="one JSON record a line") from None
        except AuditError as exc:
            raise AuditError(exc.message, source=where, rule=exc.rule) from None


def _jsonable(value: object) -> object:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def file_for(directory: str | Path, ts: dt.datetime) -> Path:
    """``<directory>/audit-YYYY-MM.jsonl`` for the month of ``ts`` in Vietnam."""
    local = ts.astimezone(VN_TZ)
    return Path(directory) / f"audit-{local.year:04d}-{local.month:02d}.jsonl"


def append(directory: str | Path, records: Iterable[Record]) -> int:
    """Append ``records`` (each to the file of its month); returns how many were written."""
    by_file: dict[Path, list[str]] = {}
    for record in records:
        by_file.setdefault(file_for(directory, record.ts), []).append(record.to_json())
    if not by_file:
        return 0
    Path(directory).mkdir(mode=0o750, parents=True, exist_ok=True)
    written = 0
    for path, lines in sorted(by_file.items()):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        except OSError as exc:
            raise AuditError(f"cannot open for appending: {exc.strerror}", source=str(path),
                             rule="writable audit directory") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = "".join(line + "\n" for line in lines).encode("utf-8")
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        written += len(lines)
    return written


def _months(directory: Path) -> list[tuple[dt.date, Path]]:
    out = []
    for path in directory.iterdir() if directory.is_dir() else ():
        match = _FILE_RE.match(path.name)
        if match:
            out.append((dt.date(int(match.group(1)), int(match.group(2)), 1), path))
    return sorted(out)


def _month_end(first: dt.date) -> dt.date:
    nxt = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def _matches(value: str, wanted: str | Collection[str] | None) -> bool:
    if wanted is None:
        return True
    return value == wanted if isinstance(wanted, str) else value in wanted


def read(directory: str | Path = DEFAULT_DIRECTORY, *, start: dt.date | None = None,
         end: dt.date | None = None, organisation: str | Collection[str] | None = None,
         action: str | Collection[str] | None = None, source: str | Collection[str] | None = None,
         mail: str | None = None) -> Iterator[Record]:
    """The records from ``start`` to ``end`` (days in Vietnam, both included) that match every filter
    given, oldest first. Only the month files of the period are opened."""
    for first, path in _months(Path(directory)):
        if (end is not None and first > end) or (start is not None and _month_end(first) < start):
            continue
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                record = Record.from_json(line, f"{path}:{number}")
                day = record.ts.date()
                if (start is not None and day < start) or (end is not None and day > end):
                    continue
                if (_matches(record.organisation, organisation) and _matches(record.action, action)
                        and _matches(record.source, source) and (mail is None or record.mail == mail)):
                    yield record


def prune(directory: str | Path, retention_days: int, today: dt.date) -> list[Path]:
    """Remove the month files whose last day is more than ``retention_days`` before ``today``
    (``logs.audit_retention`` of the policy); returns what was removed."""
    if isinstance(retention_days, bool) or not isinstance(retention_days, int) or retention_days < 0:
        raise AuditError(f"retention must be a number of days, got {retention_days!r}",
                         source="logs.audit_retention", rule="duration")
    oldest_kept = today - dt.timedelta(days=retention_days)
    removed = []
    for first, path in _months(Path(directory)):
        if _month_end(first) < oldest_kept:
            path.unlink()
            removed.append(path)
    return removed


def records_from_plan(plan: Any, ts: dt.datetime, actions: Iterable[Any] | None = None) -> list[Record]:
    """Audit records for the actions of a :class:`congvu.lifecycle.Plan` once they are applied (all of
    them, or ``actions``): ``source``/``actor`` as the action says (an agency admin's request, the
    operator's, or the lifecycle's own)."""
    out = []
    for a in plan.actions if actions is None else actions:
        details = {"effective": a.effective, "deadline": a.deadline, "reason_vi": a.reason_vi,
                   "reason_en": a.reason_en, **a.details}
        out.append(Record(ts=ts, actor=a.actor, source=a.source, action=a.action, mail=a.mail, dn=a.dn,
                          organisation=a.agency, article=a.article, details=details))
    return out


#: Change kinds of the roster apply that are accounts or lists (organisations and admin groups are
#: the catalogue's, not account changes).
_ROSTER_KINDS = ("person", "mailbox", "list")


def agency_of_dn(dn: str) -> str:
    """The top-level organisation code of an entry below ``ou=organisations`` (its agency)."""
    rdns = [part.strip() for part in dn.split(",")]
    codes = [value for name, _, value in (r.partition("=") for r in rdns) if name.lower() == "o"]
    return codes[-1] if codes else ""


def _roster_action(change: Any) -> tuple[str, dict[str, Any]]:
    """What a roster-apply change did, and its details (attribute names only: never a value such as a
    password hash)."""
    attrs = change.attrs or {}
    if change.op == "add":
        return "create", {}
    if change.op == "delete":
        return "delete", {}
    if change.op == "move":
        return "move", {"new_dn": change.new_dn}
    names = sorted(name.lstrip("+") for name in attrs if name.lstrip("+").lower() != "objectclass")
    if "congvuLeavingSince" in attrs:
        return ("mark_leaving" if attrs["congvuLeavingSince"] else "return"), {"attributes": names}
    if "mail" in attrs and change.before.get("mail") and attrs["mail"] != change.before.get("mail"):
        return "readdress", {"attributes": names, "from": change.before["mail"][0]}
    if names == ["congvuReservedAddress"]:
        return "reserve_address", {"addresses": sorted(attrs["congvuReservedAddress"])}
    return "change", {"attributes": names}


def records_from_changes(changes: Iterable[Any], mails: Mapping[str, str], ts: dt.datetime, actor: str,
                         source: str = "roster") -> list[Record]:
    """Audit records for the account and list changes (:class:`congvu.reconcile.Change`) a roster apply
    wrote: create, change, readdress, move, mark_leaving, return, reserve_address, delete. ``mails``:
    entry DN (lower case) -> its address, for changes that do not carry it (a modification). The
    organisation is the agency, read from the DN; ``details`` has the attribute names changed."""
    out = []
    for change in changes:
        if change.kind not in _ROSTER_KINDS:
            continue
        action, details = _roster_action(change)
        mail = ((change.attrs or {}).get("mail") or [""])[0]  # an add, or a new address
        mail = mail or mails.get(change.dn.lower()) or mails.get((change.new_dn or "").lower()) or change.dn
        dn = change.new_dn or change.dn
        out.append(Record(ts=ts, actor=actor, source=source, action=action, mail=mail, dn=dn,
                          organisation=agency_of_dn(dn),
                          details={"kind": change.kind, "key": change.key, "why": change.why, **details}))
    return out
