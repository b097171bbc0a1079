"""Mail activity from the mail host's journal: who sent or received mail, and on which day.

Hà Nam measures inactivity by mail sent or received (Art 7.2.a, 6.2.c), Gia Lai by logins, sending and
receiving (Art 6.2.a). Nothing on the mail path writes to the directory for it: the lifecycle run reads
the journal since its last run and keeps, per address, the latest day (in Vietnam) on which

* Postfix's submission services logged ``sasl_username=<login>``: mail sent through authenticated
  submission (587, 465; the webmail sends through it too); the login is the primary address;
* Dovecot's delivery logged ``lmtp(<address>)`` or ``lda(<address>)`` with ``saved mail to`` or
  ``stored mail into mailbox``: mail delivered, to locked mailboxes too (Hà Nam Art 7.1).

:func:`parse` is pure (journal records as ``journalctl -o json`` gives them); :class:`Journal` runs
``journalctl`` from a saved cursor, so each record is read once and none is skipped between runs. The run
then writes ``congvuLastMailActivity`` only where the day advanced (``congvu.lifecycle_dir``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from congvu.workdays import VN_TZ

__all__ = ["IDENTIFIERS", "Journal", "parse"]

#: syslog identifiers the activity is read from (the postfix role's master.cf names its services).
IDENTIFIERS = ("postfix/submission/smtpd", "postfix/submissions/smtpd", "dovecot")
_SENT = re.compile(r"\bsasl_username=([^,\s]+)")
_DELIVERED = re.compile(r"\b(?:lmtp|lda)\(([^)\s]+@[^)\s]+)\).*?(?:saved mail to |stored mail into mailbox )")


def _day(record: Mapping[str, Any]) -> dt.date | None:
    stamp = record.get("__REALTIME_TIMESTAMP")
    try:
        seconds = int(stamp) / 1_000_000
    except (TypeError, ValueError):
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).astimezone(VN_TZ).date()


def parse(records: Iterable[Mapping[str, Any]]) -> dict[str, dt.date]:
    """address (lower case) -> the latest day it sent (authenticated submission) or received mail."""
    out: dict[str, dt.date] = {}
    for record in records:
        message = record.get("MESSAGE")
        if not isinstance(message, str):
            continue  # journald gives binary messages as byte lists: not ours
        ident = record.get("SYSLOG_IDENTIFIER", "")
        if ident.startswith("postfix/"):
            match = _SENT.search(message)
        elif ident == "dovecot":
            match = _DELIVERED.search(message)
        else:
            continue
        if not match:
            continue
        day = _day(record)
        address = match.group(1).lower()
        if day is not None and (address not in out or day > out[address]):
            out[address] = day
    return out


class Journal:
    """The activity journald recorded since the last run (cursor kept in ``state``).

    :meth:`read` returns the activity and the new cursor; :meth:`commit` saves the cursor once the run has
    written what it read (a run that fails reads the same records again next time).
    """

    def __init__(self, state: str | Path, command: str = "journalctl") -> None:
        self.state = Path(state)
        self.command = command

    def read(self) -> tuple[dict[str, dt.date], str | None]:
        cursor = self.state.read_text(encoding="utf-8").strip() if self.state.exists() else ""
        args = [self.command, "--no-pager", "-o", "json", "--show-cursor", "-q"]
        for ident in IDENTIFIERS:
            args += ["-t", ident]
        if cursor:
            args += ["--after-cursor", cursor]
        proc = subprocess.run(args, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(args[:2])} failed: {proc.stderr.strip()}")
        records, new_cursor = [], cursor or None
        for line in proc.stdout.splitlines():
            if line.startswith("-- cursor: "):
                new_cursor = line[len("-- cursor: "):].strip()
            elif line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except ValueError:
                    continue
        return parse(records), new_cursor

    def commit(self, cursor: str | None) -> None:
        if cursor:
            self.state.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state.with_suffix(".tmp")
            tmp.write_text(cursor + "\n", encoding="utf-8")
            tmp.replace(self.state)
