"""The backup schedule and retention a province policy asks for (docs/backup.md).

The policy's ``backup:`` section (``weekday``, ``time``, ``keep``) becomes what the ``backup`` role
writes: a systemd ``OnCalendar=`` expression in the host's time zone (Asia/Ho_Chi_Minh, set by the
``common`` role) and the ``borg prune`` options. Hà Giang Art 10.2.d (kept by Tuyên Quang after the
2025 merger): every Friday at the end of the working day; the other regulations ask for a backup
regime without a schedule, and their policies choose nightly.

A Friday that is a public holiday is not moved: the timer fires at the same hour, because the
servers run every day and the week's mail is what the copy must hold (docs/backup.md, "Schedule").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from congvu.policy import parse_duration

#: systemd's weekday abbreviations (systemd.time(7)).
_SYSTEMD_DAYS = {"monday": "Mon", "tuesday": "Tue", "wednesday": "Wed", "thursday": "Thu",
                 "friday": "Fri", "saturday": "Sat", "sunday": "Sun"}
#: Archives kept however old they are, so that a host whose backups stopped keeps its last copies.
KEEP_LAST_MIN = 3
#: On a backup server (roles/backup_server): the account the other hosts' Borg connects as, and the
#: directory that holds one repository per host.
SERVER_USER = "congvu-borg"
SERVER_HOME = "/var/lib/congvu-borg"
SERVER_ROOT = "/srv/congvu-backup"


class BackupPolicyError(ValueError):
    """The policy's backup section cannot be turned into a schedule."""


def on_calendar(weekday: str, time: str) -> str:
    """systemd OnCalendar= for ``weekday`` (``daily`` or a day name) at ``time`` (HH:MM)."""
    hour, _, minute = str(time).partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise BackupPolicyError(f"backup.time: {time!r} is not HH:MM (24 h)")
    stamp = f"*-*-* {int(hour):02d}:{int(minute):02d}:00"
    if weekday == "daily":
        return stamp
    try:
        return f"{_SYSTEMD_DAYS[weekday]} {stamp}"
    except KeyError:
        raise BackupPolicyError(f"backup.weekday: {weekday!r} is not 'daily' or a day name") from None


def schedule(policy: Mapping[str, Any]) -> dict[str, Any]:
    """The backup role's schedule and retention from a loaded policy.

    Returns ``on_calendar`` (systemd), ``keep_within_days`` (archives younger than this are all
    kept: the policy's ``backup.keep``), ``keep_last`` (at least this many are kept whatever their
    age: one period more than the copies the schedule makes in ``keep``, and never fewer than
    ``KEEP_LAST_MIN``).
    """
    section = policy.get("backup") or {}
    weekday = section.get("weekday", "daily")
    days = parse_duration(section.get("keep", "30 days"))
    if not days:
        raise BackupPolicyError("backup.keep: at least one day of backups must be kept")
    per_period = 1 if weekday == "daily" else 7
    return {
        "on_calendar": on_calendar(weekday, section.get("time", "23:00")),
        "keep_within_days": days,
        "keep_last": max(KEEP_LAST_MIN, days // per_period + 1),
    }


#: The comment the backup role ends each host's key line with on the backup server.
KEY_COMMENT = "congvu-backup@"
_KEY_LINE = re.compile(r"\s" + re.escape(KEY_COMMENT) + r"(\S+)\s*$")


def clients(server: str | None, hosts: Iterable[str]) -> list[str]:
    """The hosts that keep their repository on ``server`` (the backup server role's
    ``backup_server_clients``): every host but the server itself; none without a server."""
    return [host for host in hosts if remote(server, host)]


def stale_keys(authorized_keys: str, keep: Iterable[str]) -> list[str]:
    """The hosts whose key line (``... congvu-backup@<host>``) ``authorized_keys`` holds but that are not
    in ``keep``: hosts removed from the layout, whose key must stop writing to the server. Lines the
    backup role did not write are not looked at."""
    kept = set(keep)
    found = (match.group(1) for line in authorized_keys.splitlines() if (match := _KEY_LINE.search(line)))
    return sorted({host for host in found if host not in kept})


def remote(server: str | None, host: str) -> dict[str, str]:
    """Where ``host`` keeps its repository when the layout has a backup server (the backup role's
    ``backup_remote``): the server, the account, the repository's path there and the account's
    authorized_keys. Empty when there is no backup server, and for the backup server itself, whose
    own copy stays on its disk."""
    if not server or server == host:
        return {}
    return {"server": server, "user": SERVER_USER, "path": f"{SERVER_ROOT}/{host}",
            "authorized_keys": f"{SERVER_HOME}/.ssh/authorized_keys"}
