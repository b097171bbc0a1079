"""Every service of the all-in-one layout comes back by itself after a crash (Ninh Bình Art 15.2:
running 24/24 hours, faults fixed promptly; issue 14, item 0; docs/topology.md, "Restart on
failure"): each daemon's main process is killed with SIGKILL in turn, then systemd must have
restarted the unit (NRestarts grew, a new main PID) and the service must answer again, with nobody
at the console. Before the drop-ins, Postfix and Dovecot stayed down.
"""

from __future__ import annotations

import time

import pytest
from filtermail import CLAMD_PING

HTTPS = ("python3 -c \"import ssl, urllib.error, urllib.request\n"
         "try: urllib.request.urlopen('https://127.0.0.1{path}', timeout=10, "
         "context=ssl._create_unverified_context())\n"
         "except {accept}: pass\"")

#: unit -> a command run inside the host that succeeds only when the service answers
SERVICES = {
    "slapd": "ldapsearch -Q -Y EXTERNAL -H ldapi:/// -s base -b '' namingContexts",
    "postfix@-": "python3 -c \"import smtplib; smtplib.SMTP('127.0.0.1', 25, timeout=5).quit()\"",
    "dovecot": "doveadm who",
    # the normal worker's /ping (rspamc's commands other than scanning are the controller's)
    "rspamd": "python3 -c \"import urllib.request; assert urllib.request.urlopen("
              "'http://127.0.0.1:11333/ping', timeout=5).read().strip() == b'pong'\"",
    "redis-server": "redis-cli ping | grep -qx PONG",
    "clamav-daemon": CLAMD_PING,
    # the login page is PHP behind nginx: with php-fpm down nginx answers 502, which urlopen raises
    "php8.2-fpm": HTTPS.format(path="/?_task=login", accept="()"),
    "nginx": HTTPS.format(path="/", accept="(urllib.error.HTTPError,)"),
}


def unit_state(mx, unit: str) -> dict[str, str]:
    out = mx.out(f"systemctl show -p MainPID -p NRestarts -p ActiveState {unit}")
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


@pytest.mark.parametrize("unit", list(SERVICES))
def test_service_comes_back_after_sigkill(mx, unit):
    before = unit_state(mx, unit)
    assert before["ActiveState"] == "active" and before["MainPID"] != "0", before
    assert mx.run(SERVICES[unit]).returncode == 0, f"{unit} does not answer before the kill"
    mx.out(f"kill -KILL {before['MainPID']}")
    deadline = time.monotonic() + 120
    while True:
        now = unit_state(mx, unit)
        back = (now["ActiveState"] == "active" and now["MainPID"] not in ("0", before["MainPID"])
                and int(now["NRestarts"]) > int(before["NRestarts"]))
        if back and mx.run(SERVICES[unit]).returncode == 0:
            break
        assert time.monotonic() < deadline, f"{unit} did not come back within 120 s: {now}"
        time.sleep(0.5)


#: the units whose restart the roles set (a drop-in, or the openldap role's own unit)
RESTARTED_BY_THE_ROLES = ("slapd", "postfix@-", "dovecot", "clamav-daemon", "php8.2-fpm", "nginx")


@pytest.mark.parametrize("unit", RESTARTED_BY_THE_ROLES)
def test_a_crash_loop_stops_and_stays_visible(mx, unit):
    # docs/topology.md, "Restart on failure": back 2 s after a crash, and a unit that fails 5 times in
    # 10 minutes stays failed for the operators to see rather than restarting for ever
    wanted = {"Restart": "on-failure", "RestartUSec": "2s", "StartLimitBurst": "5",
              "StartLimitIntervalUSec": "10min"}
    out = mx.out(f"systemctl show {' '.join(f'-p {name}' for name in wanted)} {unit}")
    assert dict(line.split("=", 1) for line in out.splitlines() if "=" in line) == wanted
