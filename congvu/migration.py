"""Mailboxes copied in from the incumbent system's IMAP server, and the proof that nothing was lost.

docs/migration.md. The accounts exist in the directory first (the roster apply, docs/accounts.md);
this module copies each listed mailbox from the old server with Dovecot's own tool (``doveadm sync -1
-R`` with an ``imapc:`` source: one way, incremental, a pass interrupted and run again goes on where it
stopped without copying twice) and then compares, folder by folder, the source as an IMAP client sees
it with the mailbox as Dovecot holds it: message counts, sizes and Message-IDs. A folder passes when
every source message is in the target as many times as in the source (mail delivered to the new
mailbox since is reported, not an error).

Pure functions (``load``, ``decode_mutf7``, ``compare``, ``sync_config``) are unit tested; ``run``
talks to the servers and is driven by ``playbooks/migrate.yml`` through ``python3 -m congvu.migration``
on the first mailbox server (the job, passwords included, on standard input: never on a command line).
"""

from __future__ import annotations

import contextlib
import csv
import imaplib
import io
import json
import os
import re
import ssl
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from congvu.addresses import ADDRESS_RE
from congvu.errors import MigrationError
from congvu.mutf7 import decode_mutf7

__all__ = [
    "FolderContent",
    "FolderReport",
    "Migration",
    "compare",
    "load",
    "report_csv",
    "run",
    "sync_config",
]

TLS_MODES = ("imaps", "starttls")
HOST_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$|^\[?[0-9A-Fa-f:.]+\]?$")
#: The system's CA bundle (Debian's ca-certificates, with the CAs the common role adds).
SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"
#: Dovecot's own configuration, which the per-mailbox configuration of a copy includes.
DOVECOT_CONF = "/etc/dovecot/dovecot.conf"
MAILBOX_KEYS = frozenset({"source", "target", "password", "password_hash", "id"})
#: An LDAP userPassword value: {SCHEME} and the hash, one line, no blank.
HASH_RE = re.compile(r"^\{[A-Za-z0-9.+-]+\}\S+$")
#: The hashes this directory checks at a bind as they are (slapd's built-in {SSHA}; {CRYPT} through
#: libxcrypt: SHA-256/512-crypt, yescrypt, bcrypt), so a user keeps the old system's password.
#: Anything else (unsalted {SHA}/{MD5}, {SSHA512} without slapd's pw-sha2 module, {PBKDF2}...) is not
#: carried over: the account keeps its initial password and must change it.
CARRIED_RE = re.compile(r"^(\{SSHA\}|\{CRYPT\}\$(5|6|y|2b|2y)\$)", re.I)
#: The key of a message without a Message-ID header (counted, with its size, like any other key).
NO_ID = "(không có Message-ID, {size} byte)"


@dataclass(frozen=True)
class Source:
    host: str
    port: int
    tls: str
    ca_file: str = ""
    master_user: str = ""
    master_password: str = field(default="", repr=False)


@dataclass(frozen=True)
class Mailbox:
    source: str  #: login on the old server
    target: str  #: address of the account here
    password: str = field(default="", repr=False)
    #: the account's password hash on the old system (its LDAP userPassword), "" when not given
    password_hash: str = field(default="", repr=False)
    #: the person's id (Mã cán bộ, ``employeeNumber``) the target must belong to, "" when not given
    id: str = ""


@dataclass(frozen=True)
class Migration:
    source: Source
    mailboxes: tuple[Mailbox, ...]

    def summary(self) -> dict[str, Any]:
        """What may be shown: no password."""
        return {
            "source": f"{self.source.host}:{self.source.port} ({self.source.tls})",
            "login": "master user" if self.source.master_user else "each mailbox's password",
            "mailboxes": len(self.mailboxes),
        }


def load(data: Any, *, source: str = "migration file") -> Migration:
    """The migration file's content validated in one pass: every problem, each naming its entry and
    rule, in one MigrationError; nothing is copied from a file with a problem."""
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise MigrationError(
            "must be a mapping with the keys source and mailboxes", source=source, rule="migration file"
        )
    for key in sorted(set(data) - {"source", "mailboxes"}):
        problems.append(f"{key}: unknown key (known: source, mailboxes) [migration file]")
    src = data.get("source")
    if not isinstance(src, Mapping):
        problems.append("source: missing, or not a mapping with host, port, tls [migration file]")
        src = {}
    for key in sorted(set(src) - {"host", "port", "tls", "ca_file", "master_user", "master_password"}):
        problems.append(
            f"source.{key}: unknown key (known: host, port, tls, ca_file, master_user, "
            "master_password) [migration file]"
        )
    host = str(src.get("host") or "")
    if not HOST_RE.match(host):
        problems.append(f"source.host: {host!r} is not a host name or address [IMAP server]")
    tls = str(src.get("tls") or "imaps")
    if tls not in TLS_MODES:
        problems.append(
            f"source.tls: {tls!r} is not one of {', '.join(TLS_MODES)} "
            "[TLS to the old server: never a password in clear]"
        )
    port = src.get("port", 993 if tls == "imaps" else 143)
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        problems.append(f"source.port: {port!r} is not a port number [IMAP server]")
        port = 0
    master, master_password = str(src.get("master_user") or ""), str(src.get("master_password") or "")
    for key, value in (("host", host), ("master_user", master), ("master_password", master_password)):
        if _multiline(value):
            problems.append(f"source.{key}: a line break [one line: it goes into Dovecot's configuration]")
    if bool(master) != bool(master_password):
        problems.append("source.master_user and source.master_password: give both or neither [master user]")
    boxes: list[Mailbox] = []
    raw = data.get("mailboxes")
    if not isinstance(raw, list) or not raw:
        problems.append("mailboxes: missing or empty (a list of {source, target, password}) [migration file]")
        raw = []
    seen_source: dict[str, int] = {}
    seen_target: dict[str, int] = {}
    for i, entry in enumerate(raw, 1):
        where = f"mailboxes[{i}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: not a mapping with source, target, password [migration file]")
            continue
        target = str(entry.get("target") or "").strip().lower()
        login = str(entry.get("source") or target).strip()
        where = f"{where} ({target or login or '?'})"
        for key in sorted(set(entry) - MAILBOX_KEYS):
            problems.append(
                f"{where}: {key}: unknown key (known: {', '.join(sorted(MAILBOX_KEYS))}) [migration file]"
            )
        if not ADDRESS_RE.match(target):
            problems.append(f"{where}: target {target!r} is not a mail address [the account's address here]")
        if not login:
            problems.append(f"{where}: no source login [migration file]")
        password = str(entry.get("password") or "")
        for key, value in (("source", login), ("password", password)):
            if _multiline(value):
                problems.append(
                    f"{where}: {key}: a line break [one line: it goes into Dovecot's configuration]"
                )
        if not password and not master:
            problems.append(
                f"{where}: no password, and the source has no master user [login to the old server]"
            )
        if target in seen_target:
            first = seen_target[target]
            problems.append(
                f"{where}: target {target} is also the target of mailboxes[{first}] "
                "[one source mailbox per account: two would merge into one]"
            )
        if login.lower() in seen_source:
            first = seen_source[login.lower()]
            problems.append(
                f"{where}: source {login} is also the source of mailboxes[{first}] [each source mailbox once]"
            )
        seen_target.setdefault(target, i)
        seen_source.setdefault(login.lower(), i)
        hashed = str(entry.get("password_hash") or "")
        if hashed and not HASH_RE.match(hashed):
            problems.append(
                f"{where}: password_hash: not an LDAP password value such as {{CRYPT}}$6$... or "
                "{SSHA}... [the old directory's userPassword, one line]"
            )
        pid = str(entry.get("id") or "").strip()
        if pid and (_multiline(pid) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$", pid)):
            problems.append(f"{where}: id {pid!r} is not a Mã cán bộ [the person's employeeNumber]")
        boxes.append(Mailbox(login, target, password, hashed, pid))
    if problems:
        raise MigrationError(
            f"{len(problems)} problem(s), nothing copied:\n  - " + "\n  - ".join(problems),
            source=source,
            rule="docs/migration.md",
        )
    return Migration(
        Source(host, int(port), tls, str(src.get("ca_file") or ""), master, master_password), tuple(boxes)
    )


def _multiline(value: str) -> bool:
    return "\n" in value or "\r" in value


def password_plan(
    mailboxes: Iterable[Mailbox], found: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """What becomes of each old password hash. ``found``: target address -> its entry here (``dn``,
    ``must_change``: the account is still on the initial password the roster apply gave it, i.e.
    both ``congvuMustChangePassword`` and ppolicy's ``pwdReset`` are TRUE), absent when there is none.

    A hash is carried over only onto an account still on its initial password, never over one the
    user has set here; only schemes the directory checks as they are (``CARRIED_RE``). The forced
    first change (Hà Nam Art 8.2.a, Gia Lai Art 9.1, Ninh Bình Art 6.3) is about the initial password
    the system issued: a carried password is the user's own, and its change is not forced."""
    plan = []
    for box in mailboxes:
        if not box.password_hash:
            continue
        entry = found.get(box.target)
        scheme = box.password_hash.split("}", 1)[0] + "}"
        item = {
            "mail": (entry or {}).get("mail") or box.target,
            "dn": entry["dn"] if entry else "",
            "scheme": scheme,
            "hash": box.password_hash,
        }
        if entry is None:
            item.update(
                action="none", why="no account with this address here: create it first (docs/accounts.md)"
            )
        elif not entry.get("must_change"):
            item.update(action="kept", why="the user has set a password here already: left as it is")
        elif not CARRIED_RE.match(box.password_hash):
            item.update(
                action="reset",
                why=f"{scheme} is not a hash this directory checks: the initial password stays",
            )
        else:
            item.update(action="carry", why="the old password works here; no forced change")
        plan.append(item)
    return plan


def hashes(migration: Migration) -> list[dict[str, str]]:
    """What the LDAP host needs of the file: each target, with its old hash where the file gives one
    (no IMAP password). The host also finds the account each target is (:func:`resolve`)."""
    return [{"target": m.target, "password_hash": m.password_hash, "id": m.id} for m in migration.mailboxes]


def account_problems(mailboxes: Iterable[Mailbox], found: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Why the accounts the LDAP host found for the file's targets (``found``: target -> ``dn``,
    ``id`` (its employeeNumber)) cannot take the mailboxes: a target whose account is not the person
    the file names (``id``: the roster apply gave the old address to somebody else), two targets that
    are one account (an address and its alias: the mailboxes would merge). Checked before anything is
    written."""
    problems, by_dn = [], {}
    for box in mailboxes:
        entry = found.get(box.target)
        if entry is None:
            continue
        if box.id and entry.get("id") != box.id:
            problems.append(f"{box.target} is the address of {entry['dn']} (Mã cán bộ "
                            f"{entry.get('id') or 'none'}), not of {box.id}: correct the mailbox's target")
        if entry["dn"] in by_dn:
            problems.append(f"{by_dn[entry['dn']]} and {box.target} are one account ({entry['dn']}): one "
                            "source mailbox per account, two would merge into one")
        by_dn.setdefault(entry["dn"], box.target)
    return problems


def resolve(migration: Migration, accounts: Mapping[str, str]) -> Migration:
    """``migration`` with each target replaced by the login of the account it is an address of
    (``accounts``: target -> that account's ``mail``, found by the LDAP host through ``mail`` or
    ``congvuMailAlias``), so an old address kept as an alias (the intake, docs/migration.md) names its
    account. Two mailboxes landing on one account would merge: :class:`MigrationError`."""
    boxes, seen, problems = [], {}, []
    for box in migration.mailboxes:
        target = (accounts.get(box.target) or box.target).lower()
        if target in seen:
            problems.append(f"mailboxes: {seen[target]!r} and {box.source!r} both reach the account "
                            f"{target} (a target is an alias of it) [one source mailbox per account: two "
                            "would merge into one]")
        seen.setdefault(target, box.source)
        boxes.append(replace(box, target=target))
    if problems:
        raise MigrationError(f"{len(problems)} problem(s), nothing copied:\n  - " + "\n  - ".join(problems),
                             rule="docs/migration.md")
    return replace(migration, mailboxes=tuple(boxes))


def from_job(job: Mapping[str, Any]) -> Migration:
    return load({"source": job["source"], "mailboxes": job["mailboxes"]}, source="job")


# --- names and messages --------------------------------------------------------------------------------
def folder_name(name: str, separator: str | None) -> str:
    """One spelling for a folder on both sides: '/' between levels, INBOX in capitals."""
    parts = name.split(separator) if separator and separator != "/" else [name]
    text = "/".join(parts)
    return "INBOX" + text[5:] if text[:5].upper() == "INBOX" and (len(text) == 5 or text[5] == "/") else text


def message_key(message_id: str | None, size: int) -> str:
    found = re.search(r"<[^<>\s]+>", message_id or "")
    return found.group(0) if found else NO_ID.format(size=size)


@dataclass
class FolderContent:
    keys: Counter = field(default_factory=Counter)
    messages: int = 0
    size: int = 0

    def add(self, message_id: str | None, size: int) -> None:
        self.keys[message_key(message_id, size)] += 1
        self.messages += 1
        self.size += size


@dataclass(frozen=True)
class FolderReport:
    mailbox: str
    folder: str
    source_messages: int
    target_messages: int
    source_bytes: int
    target_bytes: int
    missing: tuple[str, ...]
    duplicated: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.missing and not self.duplicated

    def row(self) -> dict[str, Any]:
        return {
            "mailbox": self.mailbox,
            "folder": self.folder,
            "source_messages": self.source_messages,
            "target_messages": self.target_messages,
            "source_bytes": self.source_bytes,
            "target_bytes": self.target_bytes,
            "missing": len(self.missing),
            "duplicated": len(self.duplicated),
            "ok": self.ok,
            "missing_ids": list(self.missing[:20]),
            "duplicated_ids": list(self.duplicated[:20]),
        }


def compare(
    mailbox: str, source: Mapping[str, FolderContent], target: Mapping[str, FolderContent]
) -> list[FolderReport]:
    """Folder by folder: a source message missing from the target, or there more times than in the
    source, fails the folder; target-only mail (delivered since) does not."""
    reports = []
    for folder in sorted(source, key=lambda f: (f != "INBOX", f)):
        have, got = source[folder], target.get(folder, FolderContent())
        missing = tuple(sorted(k for k, n in have.keys.items() if got.keys[k] < n))
        duplicated = tuple(sorted(k for k, n in have.keys.items() if got.keys[k] > n))
        reports.append(
            FolderReport(
                mailbox, folder, have.messages, got.messages, have.size, got.size, missing, duplicated
            )
        )
    return reports


# --- the copy -----------------------------------------------------------------------------------------
def _setting(value: str) -> str:
    if "\n" in value or "\r" in value:
        raise MigrationError("a setting may not span lines", rule="migration file")
    return value.replace("\\", "\\\\").replace('"', '\\"')


def sync_config(source: Source, mailbox: Mailbox, ca_file: str = "") -> str:
    """Dovecot configuration of one mailbox's copy: the server's own, plus the old server as imapc.
    The password is in this text (a root-only file for the copy's duration), never on a command line."""
    lines = [
        f"!include {DOVECOT_CONF}",
        f'imapc_host = "{_setting(source.host)}"',
        f"imapc_port = {source.port}",
        f"imapc_ssl = {source.tls}",
        "imapc_ssl_verify = yes",
        f'imapc_user = "{_setting(mailbox.source)}"',
        # sizes from the server and headers for dsync's message identity (no GUIDs over IMAP)
        "imapc_features = rfc822.size fetch-headers",
        "mail_prefetch_count = 20",
    ]
    if source.master_user:
        lines += [
            f'imapc_master_user = "{_setting(source.master_user)}"',
            f'imapc_password = "{_setting(source.master_password)}"',
        ]
    else:
        lines.append(f'imapc_password = "{_setting(mailbox.password)}"')
    # the old server's CA, else the system's (public CAs, and the internal CA where it is trusted): the
    # same trust as the verification's IMAP client, whatever Dovecot's own ssl_client_ca_file says
    lines.append(f"ssl_client_ca_file = {ca_file or SYSTEM_CAS}")
    return "\n".join(lines) + "\n"


def sync(source: Source, mailbox: Mailbox, ca_file: str = "", timeout: int = 86400) -> tuple[bool, str]:
    """``doveadm sync -1 -R`` from the old server into the account: (succeeded, what doveadm said)."""
    with tempfile.TemporaryDirectory(prefix="congvu-migrate-") as tmp:
        conf = os.path.join(tmp, "dovecot.conf")
        with open(os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8") as f:
            f.write(sync_config(source, mailbox, ca_file))
        proc = subprocess.run(
            ["doveadm", "-c", conf, "sync", "-1", "-R", "-u", mailbox.target, "imapc:"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    said = (proc.stderr + proc.stdout).strip()
    return proc.returncode == 0, said[-2000:]


# --- reading both sides -------------------------------------------------------------------------------
_LIST_RE = re.compile(r'^\((?P<flags>[^)]*)\) (?:"(?P<sep>(?:[^"\\]|\\.)*)"|NIL) (?P<name>.+)$')


def _unquote(text: str) -> str:
    text = text.strip()
    if text.startswith('"') and text.endswith('"'):
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def read_imap(source: Source, mailbox: Mailbox, ca_file: str = "") -> dict[str, FolderContent]:
    """Every selectable folder of the source mailbox: its messages' Message-IDs and sizes (read-only)."""
    context = ssl.create_default_context(cafile=ca_file or None)
    if source.tls == "imaps":
        conn = imaplib.IMAP4_SSL(source.host, source.port, ssl_context=context, timeout=60)
    else:
        conn = imaplib.IMAP4(source.host, source.port, timeout=60)
        conn.starttls(context)
    try:
        if source.master_user:
            creds = f"{mailbox.source}\0{source.master_user}\0{source.master_password}".encode()
            conn.authenticate("PLAIN", lambda _: creds)
        else:
            conn._encoding = "utf-8"  # a password with Vietnamese letters goes as UTF-8
            conn.login(mailbox.source, mailbox.password)
        folders: dict[str, FolderContent] = {}
        _, listed = conn.list()
        for item in listed:
            line = b" ".join(item) if isinstance(item, tuple) else item
            found = _LIST_RE.match(line.decode("utf-8", "replace"))
            if not found or "\\noselect" in found.group("flags").lower():
                continue
            raw = _unquote(found.group("name"))
            name = folder_name(decode_mutf7(raw), found.group("sep"))
            content = folders.setdefault(name, FolderContent())
            typ, data = conn.select('"' + raw.replace("\\", "\\\\").replace('"', '\\"') + '"', readonly=True)
            if typ != "OK" or int(data[0] or 0) == 0:
                continue
            _, fetched = conn.fetch("1:*", "(RFC822.SIZE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            for part in fetched:
                if not isinstance(part, tuple):
                    continue
                size = re.search(rb"RFC822\.SIZE (\d+)", part[0])
                header = part[1].decode("utf-8", "replace")
                value = re.sub(r"^message-id:\s*", "", header.strip(), flags=re.I)
                content.add(" ".join(value.split()) or None, int(size.group(1)) if size else 0)
        return folders
    finally:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            conn.logout()


def read_dovecot(address: str) -> dict[str, FolderContent]:
    """Every folder of the account as Dovecot holds it (doveadm, on the mailbox server)."""
    fields = "mailbox size.virtual hdr.message-id"
    proc = subprocess.run(
        ["doveadm", "-f", "json", "fetch", "-u", address, fields, "all"],
        capture_output=True,
        text=True,
        timeout=3600,
        check=True,
    )
    folders: dict[str, FolderContent] = {}
    for message in json.loads(proc.stdout or "[]"):
        name = folder_name(message["mailbox"], "/")
        folders.setdefault(name, FolderContent()).add(
            message.get("hdr.message-id") or None, int(message.get("size.virtual") or 0)
        )
    proc = subprocess.run(
        ["doveadm", "mailbox", "list", "-u", address], capture_output=True, text=True, timeout=600, check=True
    )
    for line in proc.stdout.splitlines():
        folders.setdefault(folder_name(line.strip(), "/"), FolderContent())
    return folders


def _message_count(address: str) -> int:
    """Messages the account holds now, every folder (0 when it has none yet or Dovecot cannot say)."""
    proc = subprocess.run(
        ["doveadm", "-f", "flow", "mailbox", "status", "-u", address, "messages", "*"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return sum(int(n) for n in re.findall(r"messages=(\d+)", proc.stdout))


def run(job: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The job of playbooks/migrate.yml: copy (unless ``verify_only``) and verify every mailbox."""
    migration = from_job(job)
    ca_file = str(job.get("ca_file") or "")
    results = []
    for box in migration.mailboxes:
        result: dict[str, Any] = {
            "mailbox": box.target,
            "source": box.source,
            "copied": None,
            "added": 0,
            "error": "",
        }
        before = _message_count(box.target)
        if not job.get("verify_only"):
            try:
                ok, said = sync(migration.source, box, ca_file)
            except (OSError, subprocess.SubprocessError) as exc:
                ok, said = False, f"copy: {exc}"
            result["copied"] = ok
            if not ok:
                result["error"] = said
        try:
            held = read_dovecot(box.target)
            result["added"] = sum(f.messages for f in held.values()) - before
            folders = compare(box.target, read_imap(migration.source, box, ca_file), held)
        except (OSError, imaplib.IMAP4.error, subprocess.SubprocessError, ValueError) as exc:
            result["error"] = (result["error"] + "\n" if result["error"] else "") + f"verification: {exc}"
            folders = []
        result["folders"] = [f.row() for f in folders]
        result["ok"] = bool(folders) and all(f.ok for f in folders) and not result["error"]
        results.append(result)
    return results


REPORT_COLUMNS = (
    "mailbox",
    "source",
    "folder",
    "source_messages",
    "target_messages",
    "source_bytes",
    "target_bytes",
    "missing",
    "duplicated",
    "ok",
)


def report_csv(results: Iterable[Mapping[str, Any]]) -> str:
    """The verification report: one line per mailbox and folder (what :func:`run` returned)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REPORT_COLUMNS)
    for box in results:
        for folder in box.get("folders") or [{}]:
            row = {
                **folder,
                "mailbox": box["mailbox"],
                "source": box["source"],
                "ok": folder.get("ok", False),
            }
            writer.writerow([row.get(c, "") for c in REPORT_COLUMNS])
    return out.getvalue()


def main(argv: Iterable[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["run"]:
        print("usage: python3 -m congvu.migration run < job.json", file=sys.stderr)
        return 2
    try:
        print(json.dumps(run(json.load(sys.stdin)), ensure_ascii=False))
    except MigrationError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
