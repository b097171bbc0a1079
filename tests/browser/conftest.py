"""Browser tests of the webmail (Playwright driving Debian's chromium, never a downloaded browser).

Run by the molecule scenario's verifier (molecule/webmail, `additional_files_or_dirs`), so the
testinfra `host` fixture points at the scenario's container: the browser reaches its HTTPS on the
container's address with the real host name mapped to it, and the tests read the directory's state
through `host` (ldapsearch over ldapi as root). Screenshots go to $WEBMAIL_ARTIFACTS
(default: artifacts/browser/ at the project root, git-ignored).
"""

from __future__ import annotations

import os
import pathlib
import re

import pytest

PROJECT = pathlib.Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]

@pytest.fixture(scope="session")
def artifacts():
    path = pathlib.Path(os.environ.get("WEBMAIL_ARTIFACTS", PROJECT / "artifacts" / "browser"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def passwords():
    """Passwords the scenario generated (molecule/webmail/converge.yml)."""
    base = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets"
    return {"initial": "Cv#7" + (base / "initial").read_text().split()[0]}


@pytest.fixture(scope="module")
def webvars(host):
    return host.ansible.get_variables()


@pytest.fixture(scope="module")
def server(host, webvars):
    """(host name, address) of the webmail: the browser maps the name to the container's address."""
    address = host.check_output("hostname -I").split()[0]
    return webvars["webmail_hostname"], address


@pytest.fixture(scope="module")
def browser(server):
    from playwright.sync_api import sync_playwright

    name, address = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {name} {address}"],
        )
        yield browser
        browser.close()


class Webmail:
    """One browser context (one person at one computer) on the webmail."""

    def __init__(self, browser, server, artifacts, label):
        self.base = f"https://{server[0]}"
        # chromium does not know the internal test CA; testinfra's curl verifies the chain instead
        self.context = browser.new_context(ignore_https_errors=True, locale="vi-VN",
                                           viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(30_000)
        self.page = self.context.new_page()
        self.artifacts = artifacts
        self.label = label
        self.shots = 0

    def shot(self, what):
        self.shots += 1
        name = re.sub(r"[^a-z0-9-]+", "-", f"{self.label}-{self.shots:02d}-{what}".lower())
        self.page.screenshot(path=str(self.artifacts / f"{name}.png"), full_page=True)

    def goto(self, query=""):
        self.page.goto(f"{self.base}/{query}")
        self.page.wait_for_load_state("networkidle")

    def login(self, user, password):
        self.goto()
        self.page.fill("#rcmloginuser", user)
        self.page.fill("#rcmloginpwd", password)
        self.page.click("#rcmloginsubmit")
        self.page.wait_for_load_state("networkidle")

    def messages(self):
        """Texts of the notices Roundcube shows (the message stack)."""
        self.page.wait_for_timeout(500)
        return " ".join(self.page.locator("#messagestack div").all_inner_texts())

    def close(self):
        self.context.close()


@pytest.fixture()
def webmail(browser, server, artifacts, request):
    opened = []

    def open_session(label=None):
        session = Webmail(browser, server, artifacts, label or request.node.name)
        opened.append(session)
        return session

    yield open_session
    for session in opened:
        if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
            session.shot("failure")
        session.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, "rep_" + report.when, report)


@pytest.fixture(scope="module")
def directory(host, webvars):
    """Reads an account's entry as root over ldapi (operational attributes included)."""
    base_dn = ",".join(f"dc={p}" for p in webvars["webmail_domains"][0].split("."))

    def read(mail, *attrs):
        out = host.check_output(
            f"ldapsearch -Q -LLL -o ldif-wrap=no -Y EXTERNAL -H ldapi:/// -b {base_dn} "
            f"'(mail={mail})' {' '.join(attrs)}")
        values = {}
        for line in out.splitlines():
            if ": " in line:
                key, value = line.split(": ", 1)
                values.setdefault(key.rstrip(":"), []).append(value)
        return values

    return read
