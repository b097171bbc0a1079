"""Fixtures of the webmail verifier (testinfra side): the scenario's variables and, when a test fails,
the journals and logs of the services involved."""

from __future__ import annotations

import pytest

LOGS = (
    "/var/log/roundcube/errors.log",
    "/var/log/roundcube/congvu.log",
    "/var/log/nginx/roundcube-error.log",
    "/var/log/nginx/rspamd-webui-error.log",
)
UNITS = ("nginx", "php8.2-fpm", "slapd", "dovecot", "postfix@-", "rspamd", "clamav-daemon")


@pytest.fixture(scope="module")
def hostvars(host):
    return host.ansible.get_variables()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or "host" not in item.funcargs:
        return
    host = item.funcargs["host"]
    parts = []
    for unit in UNITS:
        parts.append(f"--- journal {unit}\n" + host.run(f"journalctl -u {unit} -n 20 --no-pager").stdout)
    for path in LOGS:
        parts.append(f"--- {path}\n" + host.run(f"tail -n 20 {path}").stdout)
    report.sections.append(("service logs", "\n".join(parts)))
