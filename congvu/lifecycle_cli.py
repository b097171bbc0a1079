"""``congvu-lifecycle``: one lifecycle run on the first mail host (docs/lifecycle.md, "The run").

The ``lifecycle`` role installs this package under ``/usr/local/lib/congvu``, writes the run's
configuration (``/etc/congvu/lifecycle.json``: the effective policy, the public holidays of its confirmed
years, where the directory and the mail store are) and a systemd timer that calls it every morning;
``playbooks/lifecycle.yml`` calls the same command, with ``--check`` in a dry run. Options:

``--today YYYY-MM-DD``
    the day in Vietnam the run acts on (default: today there). Staging and the tests move the clock
    with it; a day before the last run's is not refused, but nothing is dated after it either.
``--check``
    plan only: print who would be warned, locked, notified, reclaimed, on which date and by which
    article; change nothing (not even the journal cursor).
``--requests FILE``
    the operator's requests (letters from agencies, ``source: operator``), YAML or JSON: a list of
    mappings with ``kind`` (``reopen``, ``hold``, ``reclaim``), ``mail``, ``received``, ``by`` and, for a
    hold, ``until``; one bad entry refuses the whole run before any change, each problem named.
``--json``
    print the report as JSON (the playbook reads it) instead of lines.

With ``"replica": true`` in the configuration (the role sets it on every mail server but the first) the
command runs the replica's part instead (:func:`congvu.lifecycle_run.replica_run`): this server's logins
and mail activity recorded, its copies of retired mailboxes archived and removed; ``--requests`` is
refused there.

Exit status: 0 done (or planned), 1 some actions failed and are retried next run (each named), 2 the
input was refused (nothing changed), 3 the directory or the mail store could not be reached.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from congvu.errors import CongvuError
from congvu.workdays import VN_TZ, Calendar

__all__ = ["load_config", "main", "settings"]

DEFAULT_CONFIG = "/etc/congvu/lifecycle.json"


def load_config(path: str | Path) -> dict[str, Any]:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CongvuError(f"cannot read the lifecycle configuration: {exc}", source=str(path),
                          rule="JSON written by the lifecycle role") from None


def _requests(path: str | None) -> list[Mapping[str, Any]]:
    if not path:
        return []
    text = Path(path).read_text(encoding="utf-8")
    if path.endswith(".json"):
        data = json.loads(text)
    else:
        import yaml  # python3-yaml: only for an operator's YAML file

        data = yaml.safe_load(text)
    data = data.get("requests", data) if isinstance(data, Mapping) else data
    if not isinstance(data, list) or not all(isinstance(r, Mapping) for r in data):
        raise CongvuError("expected a list of requests (mappings)", source=path, rule="requests file")
    return [{**r, "source": r.get("source", "operator")} for r in data]


def settings(config: Mapping[str, Any], *, today: dt.date | None = None, check: bool = False,
             requests: Sequence[Mapping[str, Any]] = (), now: dt.datetime | None = None) -> Any:
    """The run's :class:`congvu.lifecycle_run.Settings` from the role's configuration."""
    from congvu.lifecycle_run import Settings

    now = now or dt.datetime.now(VN_TZ)
    if today is None:
        today = now.astimezone(VN_TZ).date()
    elif today != now.astimezone(VN_TZ).date():
        now = dt.datetime.combine(today, now.astimezone(VN_TZ).time(), VN_TZ)
    policy = config["policy"]
    return Settings(policy=policy, base=config["ldap"]["base"], today=today, now=now, check=check,
                    requests=list(requests), operators=list(config.get("operators") or []),
                    audit_dir=config.get("audit_dir"), write_mode=config.get("write_mode", "txn"),
                    scope=list(config.get("organisations") or []), workers=int(config.get("workers", 4)),
                    calendar=Calendar.from_policy(policy, public=config.get("calendar_public")))


def _collaborators(config: Mapping[str, Any]) -> tuple[Any, Any, Any, Any]:
    from congvu.activity import Journal
    from congvu.ldapdir import Directory
    from congvu.mailbox import Lmtp, Mailboxes, Sendmail

    ldap = config["ldap"]
    password = None
    if ldap.get("password_file"):
        password = Path(ldap["password_file"]).read_text(encoding="utf-8").strip()
    directory = Directory(ldap.get("uri", "ldapi:///"), ldap.get("bind_dn"), password,
                          bool(ldap.get("start_tls")), ldap.get("ca_file"))
    store = config.get("mailboxes") or {}
    mailboxes = Mailboxes(store.get("vmail_home", "/var/vmail"),
                          store.get("archive_root", "/var/lib/congvu/archive"),
                          owner=(int(store.get("uid", 5000)), int(store.get("gid", 5000))))
    domain = config["policy"]["domains"]["primary"]
    mailer: Any = Sendmail(config.get("sendmail", "/usr/sbin/sendmail"), domain)
    if config.get("lmtp_socket"):  # straight into the mailboxes; Postfix for what Dovecot refuses
        mailer = Lmtp(config["lmtp_socket"], mailer, domain)
    journal = Journal(config.get("journal_state", "/var/lib/congvu/lifecycle/journal.cursor"))
    return directory, mailboxes, mailer, journal


def _print(report: Mapping[str, Any], out: Any) -> None:
    mode = "plan" if not report.get("applied") else "applied"
    mode += ", replica" if report.get("replica") else ""
    counts = ", ".join(f"{k} {v}" for k, v in sorted(report.get("counts", {}).items())) or "nothing to do"
    print(f"congvu-lifecycle {report['today']} ({mode}): {counts}", file=out)
    for line in report.get("diff", []):
        print(f"  {line}", file=out)
    for item in report.get("refused", []):
        print(f"  refused {item['entry']}: {item['problem']}", file=out)
    for item in report.get("messages", []):
        how = f" ({item['by']})" if item.get("by") else ""
        state = "" if "sent" not in item else (f" sent{how}" if item["sent"] else " NOT SENT")
        print(f"  mail {item['kind']} to {', '.join(item['to'])}{state}: {item['subject']}", file=out)
    for item in report.get("archives", []):
        what = "pruned" if item.get("pruned") else "archived"
        print(f"  {what} {item.get('mail')}: {item.get('archive')}", file=out)
    for failure in report.get("failures", []):
        print(f"  FAILED {failure}", file=out)


def main(argv: Sequence[str] | None = None, out: Any = None) -> int:
    from congvu.lifecycle_run import replica_run, run

    out = out or sys.stdout
    parser = argparse.ArgumentParser(prog="congvu-lifecycle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=DEFAULT_CONFIG)
    parser.add_argument("--today", type=dt.date.fromisoformat)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--requests")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
        replica = bool(config.get("replica"))
        if replica and args.requests:
            raise CongvuError("requests go to the run on the first mail server; this one is a replica",
                              source=args.config, rule="replica")
        s = settings(config, today=args.today, check=args.check, requests=_requests(args.requests))
    except (CongvuError, OSError, ValueError) as exc:
        print(f"congvu-lifecycle: {exc}", file=sys.stderr)
        return 2
    try:
        directory, mailboxes, mailer, journal = _collaborators(config)
    except Exception as exc:
        print(f"congvu-lifecycle: cannot reach the directory or the mail store: {exc}", file=sys.stderr)
        return 3
    try:
        if replica:
            report = replica_run(s, directory, mailboxes, journal)
        else:
            report = run(s, directory, mailboxes, mailer, journal)  # a dry run commits no cursor
    except CongvuError as exc:
        print(f"congvu-lifecycle: nothing changed: {exc}", file=sys.stderr)
        return 2
    finally:
        if hasattr(mailer, "close"):
            mailer.close()
    if args.json:
        json.dump(report, out, ensure_ascii=False, default=str)
        out.write("\n")
    else:
        _print(report, out)
    return 1 if report.get("failures") else 0


if __name__ == "__main__":
    sys.exit(main())
