"""Fixtures of the mail core verifier: the province's settings, a protocol client inside the container,
and the services' journals printed when a test fails."""

from __future__ import annotations

import base64
import json
import pathlib
import shlex

import pytest
import yaml

HERE = pathlib.Path(__file__).resolve().parent
PROJECT = HERE.parents[2]
CLIENT_PATH = "/root/mailclient.py"
PASSWORD = "Th0ngtin#CongVu"  # test-only, see converge.yml
JOURNAL_UNITS = ("slapd", "postfix@-", "dovecot")


@pytest.fixture(scope="module")
def hostvars(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def policy(hostvars):
    path = PROJECT / "policies" / f"{hostvars['mailcore_province']}.yml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def accounts(hostvars):
    return hostvars["mailcore_accounts"]


class Client:
    """Runs tests/mailclient.py inside the container and returns its JSON answer."""

    def __init__(self, host):
        self.host = host
        source = (HERE / "mailclient.py").read_bytes()
        encoded = base64.b64encode(source).decode()
        host.run_test(f"echo {encoded} | base64 -d > {CLIENT_PATH}")

    def __call__(self, command: str, timeout: int = 300, **kwargs):
        kwargs = kwargs.get("cfg", kwargs)
        kwargs.setdefault("password", PASSWORD)
        cmd = f"timeout {timeout} python3 -W ignore {CLIENT_PATH} {command} {shlex.quote(json.dumps(kwargs))}"
        out = self.host.run(cmd)
        assert out.rc == 0, f"client crashed: {out.stderr}"
        return json.loads(out.stdout)


@pytest.fixture(scope="module")
def client(host):
    return Client(host)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed and "host" in item.funcargs:
        host = item.funcargs["host"]
        units = " ".join(f"-u {u}" for u in JOURNAL_UNITS)
        journal = host.run(f"journalctl --no-pager -n 150 {units}").stdout
        queue = host.run("postqueue -p").stdout
        report.sections.append(("service journals (slapd, postfix, dovecot)", journal))
        report.sections.append(("postfix queue", queue))
