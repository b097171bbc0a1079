"""Fixtures of the layout verifiers: the staging instance under test, its hosts and their addresses,
the effective policy and wiring, shell access to each container and, when a test fails, the journals
of the services involved.

The verifiers run against any instance of a shipped staging inventory: scripts/layout-test sets
CONGVU_STAGE_NAME=ci-<layout>; against a developer's staging run
`CONGVU_STAGE_NAME=stg pytest tests/layouts/demo` (after ./stage up). The layout is the name of the
test directory (tests/layouts/<layout>/ tests inventories/<layout>/).
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
from dataclasses import dataclass, field
from functools import cached_property

import jinja2
import pytest

from congvu.orgs import load_catalogue
from congvu.policy import load_policy
from congvu.wiring import ALL_GROUPS, wire

ROOT = pathlib.Path(__file__).resolve().parents[2]
UNITS = {
    "ldap_servers": ("slapd",),
    "mail_servers": ("postfix@-", "dovecot"),
    "filter_servers": ("rspamd", "clamav-daemon", "redis-server"),
    "webmail_servers": ("nginx", "php8.2-fpm"),
    "backup_servers": ("ssh", "congvu-backup-compact"),
    "front_servers": ("haproxy",),
    "monitoring_servers": ("prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter"),
}
LOGS = ("/var/log/roundcube/errors.log", "/var/log/nginx/roundcube-error.log")


@dataclass
class Host:
    """One host of the layout: its inventory name, container, groups and address."""

    name: str
    container: str
    groups: list[str]
    address: str = ""

    def run(self, command: str, *, check: bool = False, timeout: int = 300,
            stdin: str | bytes | None = None) -> subprocess.CompletedProcess:
        """Run a shell command inside the container (as root)."""
        data = stdin.encode() if isinstance(stdin, str) else stdin
        proc = subprocess.run(["podman", "exec", "-i", self.container, "bash", "-c", command],
                              input=data, capture_output=True, timeout=timeout, check=False)
        proc.stdout_text = proc.stdout.decode(errors="replace")  # type: ignore[attr-defined]
        proc.stderr_text = proc.stderr.decode(errors="replace")  # type: ignore[attr-defined]
        if check and proc.returncode != 0:
            raise AssertionError(f"{self.name}: `{command}` exited {proc.returncode}:\n"
                                 f"{proc.stdout_text}\n{proc.stderr_text}")
        return proc

    def out(self, command: str, **kwargs) -> str:
        """stdout of a command that must succeed."""
        return self.run(command, check=True, **kwargs).stdout_text  # type: ignore[attr-defined]

    def journal(self, units: tuple[str, ...], lines: int = 40) -> str:
        spec = " ".join(f"-u {u}" for u in units)
        return self.run(f"journalctl --no-pager -n {lines} {spec}").stdout_text  # type: ignore[attr-defined]


@dataclass
class Stage:
    """The staging instance under test."""

    layout: str
    name: str
    hosts: dict[str, Host] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    hostvars: dict = field(default_factory=dict)

    @property
    def inventory(self) -> pathlib.Path:
        return ROOT / "inventories" / self.layout

    @property
    def ca_file(self) -> str:
        return str(self.inventory / ".secrets" / "tls" / "ca.crt")

    def secret(self, name: str) -> str:
        return (self.inventory / ".secrets" / name).read_text(encoding="utf-8").strip()

    @property
    def province(self) -> str:
        return next(iter(self.hostvars.values()))["congvu_province"]

    @cached_property
    def policy(self) -> dict:
        overrides = next(iter(self.hostvars.values())).get("congvu_policy_overrides") or {}
        return load_policy(ROOT / "policies" / f"{self.province}.yml", overrides=overrides,
                           province=self.province)

    @cached_property
    def catalogue(self):
        return load_catalogue(ROOT / "data" / "catalogues" / f"{self.province}.yml")

    @cached_property
    def gateway(self) -> str:
        """The containers' default gateway: the machine that runs the tests."""
        route = self.hosts[next(iter(self.hosts))].out("ip -4 route show default").split()
        return route[route.index("via") + 1]

    def render(self, value) -> str:
        """An inventory string rendered with the one fact staging inventories use in their settings:
        ``ansible_facts.default_ipv4.gateway``."""
        return jinja2.Template(str(value)).render(ansible_facts={"default_ipv4": {"gateway": self.gateway}})

    @cached_property
    def settings(self) -> dict:
        """The inventory's security settings that playbooks/policy.yml gives the wiring
        (congvu_ldaps_client_networks, congvu_trusted_relays), rendered (``render``)."""
        hostvars = next(iter(self.hostvars.values()))
        found = {}
        for key in ("ldaps_client_networks", "trusted_relays"):
            value = hostvars.get(f"congvu_{key}")
            if value is not None:
                found[key] = [self.render(v) for v in value]
        return found

    @cached_property
    def wiring(self) -> dict:
        """What congvu.wiring gives each host with the containers' real addresses."""
        addresses = {h.name: h.address for h in self.hosts.values()}
        return wire(self.policy, self.catalogue, self.groups, addresses, self.settings)

    def first(self, group: str) -> Host:
        return self.hosts[self.groups[group][0]]

    @property
    def credentials_dir(self) -> pathlib.Path:
        if self.name == "stg":
            return ROOT / "artifacts" / "credentials" / self.province
        return ROOT / "artifacts" / f"stage-{self.name}" / "credentials" / self.province

    @property
    def dns_dir(self) -> pathlib.Path:
        return ROOT / "artifacts" / "dns" / self.province


def _inventory(layout: str) -> dict:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.run(["ansible-inventory", "-i", str(ROOT / "inventories" / layout / "hosts.yml"),
                           "--playbook-dir", str(ROOT / "playbooks"), "--list"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(proc.stdout)


def _address(container: str) -> str:
    template = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
    proc = subprocess.run(["podman", "inspect", "-f", template, container],
                          capture_output=True, text=True, timeout=60, check=False)
    if proc.returncode != 0:
        pytest.exit(f"container {container} not found: bring the layout up first (./stage up, "
                    f"CONGVU_STAGE_NAME={os.environ.get('CONGVU_STAGE_NAME', 'stg')})", returncode=2)
    return proc.stdout.split()[0]


@pytest.fixture(scope="session")
def layout_name() -> str:
    """Each tests/layouts/<layout>/conftest.py names its layout."""
    raise NotImplementedError("tests/layouts/<layout>/conftest.py must define the layout_name fixture")


@pytest.fixture(scope="session")
def stage(layout_name) -> Stage:
    layout = layout_name
    name = os.environ.get("CONGVU_STAGE_NAME", "stg")
    data = _inventory(layout)
    result = Stage(layout=layout, name=name, hostvars=data["_meta"]["hostvars"])
    result.groups = {g: data.get(g, {}).get("hosts", []) for g in ALL_GROUPS}
    for host in sorted(result.hostvars):
        container = f"congvu-{name}-{host.split('.')[0]}"
        groups = [g for g in ALL_GROUPS if host in result.groups[g]]
        result.hosts[host] = Host(host, container, groups, _address(container))
    return result


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or "stage" not in item.funcargs:
        return
    stage: Stage = item.funcargs["stage"]
    parts = []
    for host in stage.hosts.values():
        units = tuple(u for g in host.groups for u in UNITS[g])
        try:
            parts.append(f"--- {host.name}: journal of {', '.join(units)}\n{host.journal(units, 25)}")
            if "mail_servers" in host.groups:
                parts.append(f"--- {host.name}: postqueue -p\n{host.out('postqueue -p')}")
            if "webmail_servers" in host.groups:
                for path in LOGS:
                    parts.append(f"--- {host.name}: {path}\n{host.run(f'tail -n 20 {path}').stdout_text}")
        except Exception as exc:
            parts.append(f"--- {host.name}: logs unavailable ({exc})")
    report.sections.append(("service logs", "\n".join(parts)))


# --- Test accounts of the verifiers (tests/layouts/testpeople.py) --------------------------------
# Made over ldapi as root in the catalogue's organisations, idempotently; what the tests change in
# the directory is put back when the session ends.

@pytest.fixture(scope="session")
def testpeople(stage):
    from testpeople import Directory  # tests/layouts/ is on sys.path (this conftest's directory)

    directory = Directory(stage)
    yield directory
    directory.cleanup()


@pytest.fixture(scope="module")
def mx(stage):
    """The layout's (first) mail host."""
    return stage.first("mail_servers")


@pytest.fixture(scope="module")
def flt(stage):
    """The layout's (first) filter host."""
    return stage.first("filter_servers")
