"""What the lifecycle run does on the mail host: archive, remove and restore mailboxes; send its mail.

**Archive** (a reclaim or a leaver's retirement: docs/lifecycle.md, "Reclaim"). Before the account is
retired, :meth:`Mailboxes.export` copies the Maildir into ``<archive root>/<address>/<YYYY-MM-DD>/Maildir``
(a plain Maildir that Dovecot reads back): every message file is hard-linked when the archive root is on
the mail store's filesystem (Maildir message files are written once and never changed in place, so the
link is a copy that costs no disk and no process) and copied otherwise; Dovecot's own small files (the
UID list, keywords, subscriptions, quota) are copied; its indexes are left out (Dovecot rebuilds them).
The export then checks that every message the live mailbox still holds is in the archive under the same
name; the account is then retired in the directory, which stops delivery. :meth:`Mailboxes.finish` copies
what was delivered between the export and the retirement (the same copy again: only what the archive
lacks), the Sieve scripts, checks the message files of every folder against the live mailbox once more,
writes ``manifest.json`` and only then removes the live
mailbox. A failed check leaves the live mailbox in place, the archive marked ``exported``, and the next
run tries again (:meth:`Mailboxes.pending`). :meth:`Mailboxes.restore` imports an archive into a live
account (``doveadm import``); :meth:`Mailboxes.prune` removes the archives past their keep date
(``lifecycle.archive_keep``; never those kept for good, Cần Thơ Art 11.3).

**Mail**: the notices and warnings of ``congvu.notices`` as MIME messages (UTF-8 body, RFC 2047 subject
and sender name). :class:`Lmtp` delivers them straight into the local mailboxes over Dovecot's LMTP
socket, one connection per worker and one transaction per recipient (Dovecot 2.3 answers DATA once per
recipient, which :mod:`smtplib` does not read); a recipient Dovecot refuses or cannot take (unknown,
over quota, Dovecot down) gets the message through :class:`Sendmail`, the local Postfix, which queues
and retries it like any mail. Why not everything through Postfix: the run's own messages need neither
the filter nor a queue, and a catch-up day of 20,000 accounts spent most of its time handing them over
(docs/lifecycle.md, "Performance").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import json
import os
import re
import shutil
import smtplib
import subprocess
import threading
from collections.abc import Mapping
from email.header import Header
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Any

from congvu.activity import NOTICE_MSGID
from congvu.errors import CongvuError
from congvu.mutf7 import decode_mutf7

__all__ = ["ArchiveError", "Lmtp", "Mailboxes", "Sendmail", "render"]

SENDER_NAME = "Hệ thống thư điện tử công vụ"


class ArchiveError(CongvuError):
    """An archive could not be made or checked: the live mailbox is kept."""


def _folders(maildir: Path) -> dict[str, set[str]]:
    """Maildir++ folder (``""`` the inbox, ``.Sent``...) -> the base names of its message files (the part
    before ``:``, which flag changes keep)."""
    out: dict[str, set[str]] = {}
    if not maildir.is_dir():
        return out
    for folder in [maildir, *sorted(p for p in maildir.iterdir() if p.is_dir() and p.name.startswith("."))]:
        key = "" if folder == maildir else folder.name
        names = set()
        for sub in ("cur", "new"):
            path = folder / sub
            if path.is_dir():
                names.update(name.split(":", 1)[0] for name in os.listdir(path))
        out[key] = names
    return out


def _files(maildir: Path, key: str) -> dict[str, Path]:
    folder = maildir if key == "" else maildir / key
    out = {}
    for sub in ("cur", "new"):
        path = folder / sub
        if path.is_dir():
            for name in os.listdir(path):
                out[name.split(":", 1)[0]] = path / name
    return out


#: Dovecot's files beside a folder's ``cur``/``new`` that are not worth archiving: its indexes and
#: caches (rebuilt from the Maildir when read) and the files being written (``tmp``, locks).
_SKIPPED = re.compile(r"^(dovecot\.(list\.)?index.*|dovecot\.mailbox\.log.*|.*\.lock|\..*)$")


def _mailbox_name(key: str) -> str:
    """A Maildir++ folder (``""``, ``.Sent``, ``.L&AOA-m vi&Hsc-c.2027``) as the mailbox name doveadm
    shows (``INBOX``, ``Sent``, ``Làm việc/2027``): the dots are the hierarchy, the name modified UTF-7
    (RFC 3501 §5.1.3)."""
    if key == "":
        return "INBOX"
    return decode_mutf7(key[1:].replace(".", "/"))  # "." is not in modified UTF-7's alphabet


class Mailboxes:
    """The mail store of this host (``vmail_home``, Dovecot's ``%Ld/%Ln`` layout) and its archive."""

    def __init__(self, vmail_home: str | Path = "/var/vmail",
                 archive_root: str | Path = "/var/lib/congvu/archive", doveadm: str = "doveadm",
                 owner: tuple[int, int] = (5000, 5000)) -> None:
        self.vmail_home = Path(vmail_home)
        self.root = Path(archive_root)
        self.doveadm = doveadm
        self.owner = owner
        self.link = True  # hard links until the archive root turns out to be on another filesystem

    def home(self, mail: str, pinned: str | None = None) -> Path:
        """The mailbox's home: ``congvuMailHome`` when the account has one (kept across a move), else
        ``<vmail_home>/<domain>/<local part>``."""
        if pinned:
            return Path(pinned)
        local, _, domain = mail.lower().partition("@")
        return self.vmail_home / domain / local

    def dest(self, mail: str, day: dt.date) -> Path:
        return self.root / mail.lower() / day.isoformat()

    def _doveadm(self, *args: str) -> str:
        proc = subprocess.run([self.doveadm, *args], capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise ArchiveError(f"doveadm {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}",
                               rule="archive before removal")
        return proc.stdout

    def _status(self, mail: str, location: str | None = None) -> dict[str, int]:
        """Folder -> message count, from ``doveadm -f tab mailbox status`` (a header line, then one
        ``<folder>\t<count>`` line per folder; a folder name may hold spaces, never a tab)."""
        args = ["-f", "tab"]
        if location:
            args += ["-o", f"mail_location={location}"]
        out = {}
        lines = self._doveadm(*args, "mailbox", "status", "-u", mail, "messages", "*").splitlines()
        for line in lines[1:]:
            name, _, count = line.rpartition("\t")
            if name and count.isdigit():
                out[name] = int(count)
        return out

    def _mkdir(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        for part in [path, *path.parents]:
            if part == self.root.parent:
                break
            os.chown(part, *self.owner)

    def _place(self, source: Path, target: Path) -> None:
        """One message file into the archive: a hard link, or a copy across filesystems."""
        if self.link:
            try:
                os.link(source, target)
                return
            except OSError as exc:
                if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):
                    raise
                self.link = False  # another filesystem (or links refused): copy from now on
        shutil.copy2(source, target)
        os.chown(target, *self.owner)

    def _copy(self, live: Path, copy: Path) -> int:
        """Bring the Maildir ``copy`` up to ``live``: every message file it lacks (by base name, which
        flag changes keep) placed (:meth:`_place`) under its own name, Dovecot's small files copied
        again, indexes and ``tmp`` left out. A message Dovecot renamed meanwhile (a flag change, ``new``
        to ``cur``) is found again under its new name; one expunged meanwhile is not archived (the check
        then leaves it out too). Returns how many message files were placed."""
        placed = 0
        if not live.is_dir():
            return placed
        for folder in [live, *sorted(p for p in live.iterdir() if p.is_dir() and p.name.startswith("."))]:
            target = copy if folder == live else copy / folder.name
            for sub in ("cur", "new", "tmp"):
                self._mkdir(target / sub)
            have = set(_files(target, ""))
            for sub in ("cur", "new"):  # cur first: Dovecot moves messages from new to cur
                if not (folder / sub).is_dir():
                    continue
                for name in os.listdir(folder / sub):
                    base = name.split(":", 1)[0]
                    if base in have:
                        continue
                    try:
                        self._place(folder / sub / name, target / sub / name)
                    except FileNotFoundError:
                        again = _files(folder, "").get(base)
                        if again is None:
                            continue
                        self._place(again, target / again.parent.name / again.name)
                    have.add(base)
                    placed += 1
            for entry in os.scandir(folder):
                if entry.name in ("cur", "new", "tmp") or _SKIPPED.match(entry.name):
                    continue
                if entry.is_file(follow_symlinks=False):
                    shutil.copy2(entry.path, target / entry.name)
                    os.chown(target / entry.name, *self.owner)
        return placed

    def _lacking(self, live: Path, copy: Path) -> dict[str, int]:
        """Folder -> how many message files of the live mailbox the archive lacks (by base name)."""
        archived = _folders(copy)
        lacking = {key: len(bases - archived.get(key, set())) for key, bases in _folders(live).items()}
        return {key: n for key, n in lacking.items() if n}

    def export(self, mail: str, home: Path, dest: Path, manifest: Mapping[str, Any]) -> dict[str, int]:
        """Copy the live mailbox to ``dest`` and check it. Returns the message count of each folder, by
        the mailbox name doveadm shows (``INBOX``, ``Sent``...)."""
        live = home / "Maildir"
        for old, data in self.manifests(mail):
            if data.get("mail") == mail and data.get("status") == "exported":
                shutil.rmtree(old)  # an earlier attempt that did not finish: this export replaces it
        if dest.exists():
            shutil.rmtree(dest)
        self._mkdir(dest)
        counts: dict[str, int] = {}
        if live.is_dir():
            copy = dest / "Maildir"
            self._copy(live, copy)
            missing = self._lacking(live, copy)
            if missing:
                shown = ", ".join(f"{_mailbox_name(key)} ({n})" for key, n in sorted(missing.items()))
                raise ArchiveError(f"{mail}: the archive in {dest} lacks messages of the mailbox: {shown}",
                                   rule="archive before removal")
            counts = {_mailbox_name(key): len(bases) for key, bases in _folders(copy).items()}
        self._manifest(dest, {**manifest, "mail": mail, "home": str(home), "counts": counts,
                              "status": "exported"})
        return counts

    def finish(self, dest: Path) -> dict[str, Any]:
        """After the retirement: copy what arrived since the export, check, remove the live mailbox."""
        manifest = json.loads((dest / "manifest.json").read_text(encoding="utf-8"))
        home = Path(manifest["home"])
        live, copy = home / "Maildir", dest / "Maildir"
        if (dest / "seen.json").is_file():
            # exported by the former doveadm code, which renamed the files: made again from the live
            # mailbox (no Dovecot needed), so that the names compare
            shutil.rmtree(copy, ignore_errors=True)
            (dest / "seen.json").unlink()
        late = self._copy(live, copy)
        short = self._lacking(live, copy)
        if short:
            raise ArchiveError(f"{manifest['mail']}: the archive in {dest} lacks messages of "
                               + ", ".join(f"{_mailbox_name(key)} ({n})" for key, n in sorted(short.items())),
                               rule="archive before removal")
        archived = _folders(copy)
        for name in ("sieve", ".dovecot.sieve"):
            source = home / name
            if source.is_symlink():
                (dest / name).unlink(missing_ok=True)
                os.symlink(os.readlink(source), dest / name)
            elif source.is_dir():
                shutil.copytree(source, dest / name, symlinks=True, dirs_exist_ok=True)
        manifest.update(status="complete", late_messages=late,
                        files={_mailbox_name(key): len(v) for key, v in archived.items()})
        self._manifest(dest, manifest)
        if home.exists():
            shutil.rmtree(home)
        return manifest

    def _manifest(self, dest: Path, data: Mapping[str, Any]) -> None:
        tmp = dest / "manifest.json.tmp"
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True, default=str) + "\n",
                       encoding="utf-8")
        tmp.replace(dest / "manifest.json")

    def manifests(self, mail: str | None = None) -> list[tuple[Path, dict[str, Any]]]:
        """Every archive's directory and manifest, or only those of ``mail`` (its own directory: a run
        archiving a thousand mailboxes must not read every manifest for each of them)."""
        where = self.root / mail.lower() if mail else self.root
        pattern = "*/manifest.json" if mail else "*/*/manifest.json"
        out = []
        for path in sorted(where.glob(pattern)) if where.is_dir() else ():
            out.append((path.parent, json.loads(path.read_text(encoding="utf-8"))))
        return out

    def manifest(self, dest: Path) -> dict[str, Any]:
        """The manifest of the archive ``dest`` ({} when there is none)."""
        path = Path(dest) / "manifest.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def pending(self) -> list[Path]:
        """Archives exported whose live mailbox is not removed yet (their account was retired since)."""
        return [dest for dest, data in self.manifests() if data.get("status") == "exported"]

    def restore(self, dest: Path, mail: str) -> dict[str, int]:
        """Import the archive ``dest`` into the live account ``mail`` (existing messages stay; folders of the
        same name receive the archived ones). Returns the account's message counts afterwards."""
        if not (dest / "manifest.json").exists():
            raise ArchiveError(f"{dest}: no manifest.json, not an archive", rule="restore")
        self._doveadm("import", "-u", mail, "-s", f"maildir:{dest}/Maildir", "", "all")
        return self._status(mail)

    def prune(self, today: dt.date) -> list[dict[str, Any]]:
        """Remove the archives whose ``keep_until`` is before ``today``; returns their manifests."""
        removed = []
        for dest, data in self.manifests():
            keep = data.get("keep_until")
            if data.get("status") == "complete" and keep and dt.date.fromisoformat(keep) < today:
                shutil.rmtree(dest)
                removed.append({**data, "archive": str(dest)})
        return removed


def render(message: Any, now: dt.datetime, domain: str) -> bytes:
    """A :class:`congvu.notices.Message` as a MIME message: UTF-8 text, the subject and the sender's name
    RFC 2047-encoded, ``Auto-Submitted: auto-generated`` (RFC 3834) so that no vacation reply answers it,
    a Message-ID ending in ``.congvu-notice@<domain>`` so that its delivery is not counted as the
    reader's mail activity (:mod:`congvu.activity`).
    A message with no recipients (a notice sent to everyone in batches) says ``undisclosed-recipients:;``.

    The subject is encoded with :class:`email.header.Header`, whose encoded words carry the spaces:
    ``EmailMessage``'s folding (``email.policy.SMTP``) puts a space between two encoded words, where RFC
    2047 readers drop it ("điện tử" read as "điệntử"; tests/unit/test_lifecycle_run.py)."""
    msg = MIMEText(message.body, "plain", "utf-8")
    msg["From"] = formataddr((SENDER_NAME, message.sender))  # a non-ASCII name is encoded (RFC 2047)
    msg["To"] = ", ".join(message.to) or "undisclosed-recipients:;"
    msg["Subject"] = Header(message.subject, "utf-8", header_name="Subject").encode(maxlinelen=76)
    msg["Date"] = format_datetime(now)
    # marked as the system's own, so that its delivery is not the reader's mail activity (congvu.activity)
    msg["Message-ID"] = make_msgid(idstring=NOTICE_MSGID, domain=domain)
    msg["Auto-Submitted"] = "auto-generated"
    notice = message.kind in ("downtime_notice", "incident_notice")  # notice.yml's, to every mailbox
    msg["X-Congvu-Notice" if notice else "X-Congvu-Lifecycle"] = message.kind
    return msg.as_bytes()


class Sendmail:
    """Hands messages to the local Postfix (``sendmail -i -f <sender> -- <recipients>``)."""

    def __init__(self, command: str = "/usr/sbin/sendmail", domain: str = "localhost") -> None:
        self.command = command
        self.domain = domain

    def send(self, message: Any, now: dt.datetime) -> str:
        self.send_bytes(message.sender, list(message.to), render(message, now, self.domain))
        return "postfix"

    def send_bytes(self, sender: str, recipients: list[str], data: bytes) -> None:
        proc = subprocess.run([self.command, "-i", "-f", sender, "--", *recipients], input=data,
                              capture_output=True, check=False)
        if proc.returncode != 0:
            raise OSError(f"sendmail exited {proc.returncode}: "
                          f"{proc.stderr.decode(errors='replace').strip()}")


class Lmtp:
    """Delivers messages into the local mailboxes over Dovecot's LMTP socket; what Dovecot does not take
    goes to ``fallback`` (a :class:`Sendmail`). Thread-safe: each thread keeps its own connection, so
    the run's workers deliver side by side. :meth:`send` says how the message went: ``"lmtp"``,
    ``"postfix"``, or ``"lmtp+postfix"`` when its recipients were split."""

    def __init__(self, socket_path: str, fallback: Any, domain: str = "localhost",
                 timeout: float = 60.0) -> None:
        self.socket_path = socket_path
        self.fallback = fallback
        self.domain = domain
        self.timeout = timeout
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[smtplib.LMTP] = []

    def _connection(self) -> smtplib.LMTP:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = smtplib.LMTP(self.socket_path, local_hostname="localhost", timeout=self.timeout)
            self._local.conn = conn
            with self._lock:
                self._open.append(conn)
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock:
                if conn in self._open:
                    self._open.remove(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def send(self, message: Any, now: dt.datetime) -> str:
        # CRLF line ends on the wire (smtplib sends bytes as they are; bare LF is not SMTP)
        data = render(message, now, self.domain)
        wire = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        left: list[str] = []
        for rcpt in message.to:
            try:
                self._connection().sendmail(message.sender, [rcpt], wire)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPDataError, smtplib.SMTPSenderRefused):
                left.append(rcpt)  # refused for this recipient; smtplib reset the transaction
            except (smtplib.SMTPException, OSError):
                self._drop()  # the connection is gone or out of step: a new one for the next
                left.append(rcpt)
        if message.to and not left:
            return "lmtp"
        self.fallback.send_bytes(message.sender, left or list(message.to), data)
        return "postfix" if not message.to or len(left) == len(message.to) else "lmtp+postfix"

    def close(self) -> None:
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()
