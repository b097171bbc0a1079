"""When a test of the webmail-pgsql scenario fails, its report carries the recent journal of each
service involved and the tail of Roundcube's and nginx's logs (PostgreSQL's own log included)."""

from __future__ import annotations

import pytest

UNITS = ("postgresql@15-main", "php8.2-fpm", "nginx", "dovecot", "slapd")
LOGS = ("/var/log/roundcube/errors.log", "/var/log/roundcube/congvu.log",
        "/var/log/nginx/roundcube-error.log", "/var/log/postgresql/postgresql-15-main.log")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or "host" not in item.funcargs:
        return
    host = item.funcargs["host"]
    parts = [f"--- journal {unit}\n" + host.run(f"journalctl -u {unit} -n 15 --no-pager").stdout
             for unit in UNITS]
    parts += [f"--- {path}\n" + host.run(f"tail -n 15 {path}").stdout for path in LOGS]
    report.sections.append(("service logs", "\n".join(parts)))
