"""Activity from the mail host's journal: who logged in, who sent or received mail, and on which day.

The regulations measure inactivity by logins (Gia Lai Art 5.4, Cần Thơ Art 5.4, Ninh Bình Art 7.1), by
mail sent or received (Hà Nam Art 7.2.a, 6.2.c) or by both (Gia Lai Art 6.2.a). Nothing on the mail path
or the login path writes to the directory for it (slapd 2.5's lastbind would write ``pwdLastSuccess`` on
every bind, with no precision setting: docs/openldap.md, "lastbind"): the lifecycle run reads the
journal since its last run and keeps, per address, the latest day (in Vietnam) on which

* Dovecot logged ``imap-login: Login: user=<address>`` (or ``pop3-login``, ``managesieve-login``): a
  login over IMAP, POP3 or ManageSieve, the webmail's included (it logs in over IMAP). Dovecot admits
  only the primary address (its passdb filter), lower-cased (``auth_username_format``);
* Postfix's submission services logged ``sasl_username=<login>``: mail sent through authenticated
  submission (587, 465, and their ``-front`` twins behind a front; the webmail sends through it too),
  which is a login and mail activity both;
* Dovecot's delivery logged ``lmtp(<address>)`` or ``lda(<address>)`` with ``saved mail to`` or
  ``stored mail into mailbox``: mail delivered, to locked mailboxes too (Hà Nam Art 7.1). The system's
  own messages are not the person's mail activity: a delivery whose Message-ID carries
  :data:`NOTICE_MSGID` (every message :func:`congvu.mailbox.render` makes: lifecycle warnings and
  notices, downtime notices) is skipped. Counted, an inactivity warning would be the mail activity
  that keeps its reader from ever being locked (Hà Nam Art 7.2.a, Gia Lai Art 6.2.a).

:func:`parse` is pure (journal records as ``journalctl -o json`` gives them); :class:`Journal` runs
``journalctl`` from a saved cursor, so each record is read once and none is skipped between runs. The run
then writes ``congvuLastLogin`` and ``congvuLastMailActivity`` only where the day advanced
(``congvu.lifecycle_dir``): at most one write per account per run (the daily timer's).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from congvu.workdays import VN_TZ

__all__ = ["IDENTIFIERS", "NOTICE_MSGID", "Journal", "Seen", "parse"]

#: syslog identifiers the activity is read from (the postfix role's master.cf names its services; the
#: ``-front`` ones take the submission a front proxies: docs/topology.md, "The front").
IDENTIFIERS = ("postfix/submission/smtpd", "postfix/submissions/smtpd", "postfix/submission-front/smtpd",
               "postfix/submissions-front/smtpd", "dovecot")
_SENT = re.compile(r"\bsasl_username=([^,\s]+)")
_LOGIN = re.compile(r"^(?:imap|pop3|managesieve)-login: Login: user=<([^>\s]+@[^>\s]+)>")
#: the last part of the left side of the system's own Message-IDs (``make_msgid(idstring=...)``), which
#: Dovecot's delivery log line carries (``msgid=<...>``, its default deliver_log_format)
NOTICE_MSGID = "congvu-notice"
_NOTICE = re.compile(rf"\bmsgid=<[^>@\s]*\.{NOTICE_MSGID}@")
_DELIVERED = re.compile(r"\b(?:lmtp|lda)\(([^)\s]+@[^)\s]+)\).*?(?:saved mail to |stored mail into mailbox )")


def _day(record: Mapping[str, Any]) -> dt.date | None:
    stamp = record.get("__REALTIME_TIMESTAMP")
    try:
        seconds = int(stamp) / 1_000_000
    except (TypeError, ValueError):
        return None
    return dt.datetime.fromtimestamp(seconds, dt.UTC).astimezone(VN_TZ).date()


@dataclass
class Seen:
    """What the journal showed: address (lower case) -> the latest day it sent or received mail
    (``mail``), and the latest day it logged in (``logins``)."""

    mail: dict[str, dt.date] = field(default_factory=dict)
    logins: dict[str, dt.date] = field(default_factory=dict)

    def until(self, today: dt.date) -> Seen:
        """Only the days up to ``today`` (a run with the clock moved back must not date anything later)."""
        return Seen({k: d for k, d in self.mail.items() if d <= today},
                    {k: d for k, d in self.logins.items() if d <= today})


def _keep(out: dict[str, dt.date], address: str, day: dt.date) -> None:
    if address not in out or day > out[address]:
        out[address] = day


def parse(records: Iterable[Mapping[str, Any]]) -> Seen:
    """The logins and the mail activity in ``records`` (see the module's description)."""
    seen = Seen()
    for record in records:
        message = record.get("MESSAGE")
        if not isinstance(message, str):
            continue  # journald gives binary messages as byte lists: not ours
        ident = record.get("SYSLOG_IDENTIFIER", "")
        if ident.startswith("postfix/"):
            match, kinds = _SENT.search(message), (seen.mail, seen.logins)
        elif ident == "dovecot":
            match, kinds = _LOGIN.match(message), (seen.logins,)
            if not match and not _NOTICE.search(message):
                match, kinds = _DELIVERED.search(message), (seen.mail,)
        else:
            continue
        day = _day(record) if match else None
        if day is None:
            continue
        for out in kinds:
            _keep(out, match.group(1).lower(), day)
    return seen


class Journal:
    """The activity journald recorded since the last run (cursor kept in ``state``).

    :meth:`read` returns the activity and the new cursor; :meth:`commit` saves the cursor once the run has
    written what it read (a run that fails reads the same records again next time).
    """

    def __init__(self, state: str | Path, command: str = "journalctl") -> None:
        self.state = Path(state)
        self.command = command

    def read(self) -> tuple[Seen, str | None]:
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
