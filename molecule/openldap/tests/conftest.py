"""Shared fixtures of the openldap scenario: print slapd's journal when a test fails."""

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        host = item.funcargs.get("host")
        if host is not None:
            journal = host.run("journalctl -u slapd --no-pager -n 80").stdout
            report.sections.append(("slapd journal (last 80 lines)", journal))
