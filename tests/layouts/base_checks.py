"""The base of every host (role `common`), checked on each host of a shipped layout with real clients:
host name, time zone, locales, chrony, the nftables firewall seen from outside, security upgrades,
log retention (Gia Lai Art 7.2) and the host's TLS material.

Imported by a thin test file per layout (tests/layouts/<layout>/test_base*.py), which says who the
layout's admin network is (the ``admin_networks`` fixture). Tests taking ``node`` run once per host of
the layout's inventory (``test_fqdn[mx.gialai.gov.vn]``). The firewall checks connect from the test
runner (the machine running the containers: the default gateway of their podman network) and from an
*outsider*, a throwaway container on the same network that is in no group of the layout.
"""

from __future__ import annotations

import ipaddress
import json
import os
import pathlib
import re
import secrets
import socket
import subprocess
import time

import pytest
import yaml
from polling import wait_for  # tests/layouts/ is on sys.path (its conftest's directory)

LAYOUTS = pathlib.Path(__file__).resolve().parents[2] / "inventories"
PROBE_PORT = 2525  # declared by no group of any layout
SSH_PORT = 22


# --- one test per host -----------------------------------------------------------------------------

def inventory_hosts(layout: str) -> list[str]:
    """Every host of the staging inventory (without running Ansible: the names are plain YAML)."""
    data = yaml.safe_load((LAYOUTS / layout / "hosts.yml").read_text(encoding="utf-8"))
    names: set[str] = set()

    def walk(group: dict) -> None:
        names.update((group or {}).get("hosts") or {})
        for child in ((group or {}).get("children") or {}).values():
            walk(child)

    walk(data["congvu"])
    return sorted(names)


def pytest_generate_tests(metafunc):
    """``node`` tests run once per host of the layout (the test file's directory names it)."""
    if "node_name" in metafunc.fixturenames:
        layout = pathlib.Path(metafunc.module.__file__).parent.name
        metafunc.parametrize("node_name", inventory_hosts(layout))


@pytest.fixture
def node(stage, node_name):
    return stage.hosts[node_name]


# --- clients ---------------------------------------------------------------------------------------

def connect(address: str, port: int, timeout: float = 5.0) -> str:
    """'open', 'refused' or 'timeout' for a TCP connection from the test runner."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"


OUTSIDER = r"""
import json, socket, sys
out = {}
for address, port in json.loads(sys.argv[1]):
    try:
        socket.create_connection((address, port), 5).close()
        out[f"{address}:{port}"] = "open"
    except ConnectionRefusedError:
        out[f"{address}:{port}"] = "refused"
    except OSError as exc:
        out[f"{address}:{port}"] = type(exc).__name__
print(json.dumps(out))
"""


def from_outsider(stage, targets: list[tuple[str, int]]) -> dict[str, str]:
    """Connect from a throwaway container on the layout's network that belongs to no group (so no
    peer or admin rule admits it): ``{"address:port": "open" | "refused" | ...}``. The container is
    labelled like the layout's, so ``./stage down`` would remove a leftover."""
    image = os.environ.get("CONGVU_IMAGE_REPO", "localhost/congvu-debian12") + ":latest"
    proc = subprocess.run(
        ["podman", "run", "--rm", "--network", f"congvu-{stage.name}",
         "--label", f"congvu-stage={stage.name}",
         "--systemd=false", "--entrypoint", "python3", image, "-c", OUTSIDER, json.dumps(targets)],
        capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def runner_address(node) -> str:
    """The test runner's address as the containers see it: their default gateway."""
    route = node.out("ip -4 route show default").split()
    return route[route.index("via") + 1]


@pytest.fixture
def probes(node):
    """Listeners started inside the host (python3 -m http.server on every address) on a port no
    group declares and on the SSH port, so the firewall's answer is seen even where no service
    listens; stopped afterwards."""
    ports = [PROBE_PORT, SSH_PORT]
    for port in ports:
        unit = f"congvu-probe-{port}"
        node.run(f"systemctl stop {unit} 2>/dev/null; systemctl reset-failed {unit} 2>/dev/null")
        node.out(f"systemd-run --unit {unit} python3 -m http.server --bind 0.0.0.0 {port}")
    deadline = time.monotonic() + 30
    while True:
        listening = node.out("ss -Hltn").split()
        if all(f"0.0.0.0:{p}" in listening for p in ports):
            break
        assert time.monotonic() < deadline, f"probe listeners did not start on {node.name}:\n{listening}"
        time.sleep(0.5)
    yield ports
    for port in ports:
        node.run(f"systemctl stop congvu-probe-{port}")


def journal_of(node, unit: str) -> str:
    return node.run(f"journalctl -u {unit} --no-pager -n 30").stdout_text


# --- name, time, locales ---------------------------------------------------------------------------

def test_fqdn(node):
    assert node.out("hostname -f").strip() == node.name
    assert node.out("hostname").strip() == node.name.split(".")[0]


def test_timezone(node):
    assert node.out("readlink -f /etc/localtime").strip() == "/usr/share/zoneinfo/Asia/Ho_Chi_Minh"
    assert node.out("cat /etc/timezone").strip() == "Asia/Ho_Chi_Minh"
    assert node.out("date +%z").strip() == "+0700"


def test_locales(node):
    available = node.out("locale -a").split()
    assert "vi_VN.utf8" in available
    assert "en_US.utf8" in available
    # Vietnamese really usable: the day names of the vi_VN locale.
    days = node.run("LC_ALL=vi_VN.UTF-8 locale day")
    assert days.returncode == 0 and "Thứ" in days.stdout_text, days.stdout_text + days.stderr_text


def test_chrony_running(node):
    assert node.run("systemctl is-enabled chrony").returncode == 0
    assert node.run("systemctl is-active chrony").returncode == 0, journal_of(node, "chrony")
    assert node.run("chronyc -n sources").returncode == 0
    assert "pool vn.pool.ntp.org iburst" in node.out("cat /etc/chrony/chrony.conf")


# --- firewall --------------------------------------------------------------------------------------

def test_firewall_loaded(stage, node, admin_networks):
    assert node.run("systemctl is-enabled nftables").returncode == 0
    ruleset = node.out("nft list ruleset")
    assert "table inet congvu" in ruleset
    assert "policy drop" in ruleset
    assert "reject with tcp reset" in ruleset
    for rule in stage.wiring[node.name]["common_firewall_rules"]:
        if not rule["sources"]:
            assert re.search(rf"^\s*tcp dport {rule['port']} accept comment", ruleset, re.M), (rule, ruleset)
    ssh = [line.strip() for line in ruleset.splitlines() if "from admin networks" in line]
    if admin_networks:
        nets = {n.removesuffix("/32") for n in admin_networks}
        for port in (SSH_PORT, *[int(p.split("/")[0]) for p in stage_admin_ports(node)]):
            assert any(f"dport {port} accept" in line and all(n in line for n in nets) for line in ssh), \
                (port, ssh)
    else:
        assert ssh == [], f"no admin network in this layout, yet: {ssh}"
    # The rules on disk are what is loaded, and they pass nft's own check.
    assert node.run("nft -c -f /etc/nftables.conf").returncode == 0


def stage_admin_ports(node) -> list[str]:
    """The admin ports the host's firewall declares (Rspamd's web interface on a filter host)."""
    ruleset = node.out("nft list ruleset")
    admin = r"dport (\d+) accept comment \"\d+/tcp from admin networks\""
    return sorted({f"{p}/tcp" for p in re.findall(admin, ruleset) if int(p) != SSH_PORT})


def test_public_services_connect_from_anywhere(stage, node):
    """Every public service of the host's groups answers the test runner (docs/topology.md)."""
    public = sorted({r["port"] for r in stage.wiring[node.name]["common_firewall_rules"] if not r["sources"]})
    if not public:  # a filter or directory host serves its peers and listed networks only
        # (docs/topology.md; LDAPS for congvu_ldaps_client_networks, docs/security.md)
        assert set(node.groups) <= {"filter_servers", "ldap_servers"}, \
            f"{node.name} ({node.groups}) offers no public service"
    assert {port: connect(node.address, port) for port in public} == dict.fromkeys(public, "open")


def test_everything_else_refused_from_the_runner(stage, node, probes, admin_networks):
    """A port no group declares (a probe listener), and every port the host listens on beyond its
    public services (peer ports such as 389 or 11332 are for peers' addresses only), are refused with
    a TCP reset from the runner, although they answer inside the host. With the runner in the admin
    networks, SSH and the admin ports answer it."""
    for port in probes:
        probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), 3)"
        assert node.run(f'python3 -c "{probe}"').returncode == 0, f"probe {port} not listening inside"
    wiring = stage.wiring[node.name]
    public = {r["port"] for r in wiring["common_firewall_rules"] if not r["sources"]}
    runner = runner_address(node)
    admin = bool(admin_networks) and any(runner == n.removesuffix("/32") for n in admin_networks)
    admin_ports = {SSH_PORT, *(int(p.split("/")[0]) for p in stage_admin_ports(node))}
    listening = set()
    for line in node.out("ss -Hltn").splitlines():
        local = line.split()[3]
        address, _, port = local.rpartition(":")
        if not address.startswith(("127.", "[::1]", "::1")):
            listening.add(int(port))
    # a peer rule may list the runner's network too (congvu_ldaps_client_networks: LDAPS for the
    # operators' tools, docs/security.md)
    for_runner = {r["port"] for r in wiring["common_firewall_rules"]
                  if any(ipaddress.ip_address(runner) in ipaddress.ip_network(s, strict=False)
                         for s in r["sources"])}
    expected = {}
    for port in sorted(listening | {PROBE_PORT, SSH_PORT}):
        if port in public or port in for_runner or (admin and port in admin_ports):
            expected[port] = "open"
        else:
            expected[port] = "refused"
    seen = {port: connect(node.address, port) for port in expected}
    assert seen == expected, f"{node.name}: from the runner {runner}"


def test_admin_ports_refused_outside_the_admin_networks(stage, node, probes, admin_networks):
    """SSH and the admin ports (Rspamd's web interface) open to the admin networks alone: a host of
    the same network outside them gets a TCP reset, while public services answer it (control)."""
    ports = [SSH_PORT, *[int(p.split("/")[0]) for p in stage_admin_ports(node)]]
    public = sorted({r["port"] for r in stage.wiring[node.name]["common_firewall_rules"] if not r["sources"]})
    seen = from_outsider(stage, [(node.address, p) for p in ports + public[:1]])
    expected = {f"{node.address}:{p}": "refused" for p in ports}
    expected.update({f"{node.address}:{p}": "open" for p in public[:1]})
    assert seen == expected


# --- upgrades and logs -----------------------------------------------------------------------------

def test_unattended_upgrades(node):
    assert node.run("dpkg-query -W -f='${Status}' unattended-upgrades").stdout_text == "install ok installed"
    assert 'APT::Periodic::Unattended-Upgrade "1";' in node.out("apt-config dump")
    assert "Debian-Security" in node.out("cat /etc/apt/apt.conf.d/50unattended-upgrades")


def retention_days(stage, node) -> int:
    """Gia Lai Art 7.2: mail logs kept 3 months; the province policy's logs.retention, in days."""
    days = int(stage.wiring[node.name]["common_mail_log_retention_days"])
    if stage.province == "gialai":
        assert days >= 90, f"Gia Lai Art 7.2 wants 3 months of mail logs, the wiring gives {days} days"
    return days


def test_journald_retention(stage, node):
    # Gia Lai Art 7.2: mail logs (in the journal too) kept at least 3 months.
    days = int(stage.wiring[node.name]["common_journal_retention_days"])
    assert days >= retention_days(stage, node)
    conf = node.out("systemd-analyze cat-config systemd/journald.conf")
    assert f"MaxRetentionSec={days}day" in conf
    assert "Storage=persistent" in conf
    assert node.run("test -d /var/log/journal").returncode == 0
    assert node.run("systemctl is-active systemd-journald").returncode == 0
    assert "RateLimitIntervalSec=0" in conf, conf  # common_journal_rate_limit_burst: 0


def test_a_burst_of_log_lines_is_kept_whole(stage):
    # Gia Lai Art 7.2 (mail logs are records) and the lifecycle's activity (docs/lifecycle.md): journald
    # drops a service's lines past its rate limit (10,000 in 30 s, scaled up to about 50,000 with the
    # free disk space). 80,000 lines from one unit on the first mail host must all be in the journal.
    host = stage.first("mail_servers")
    unit = f"congvu-burst-{secrets.token_hex(3)}"
    res = host.run(f"systemd-run --quiet --wait --unit={unit} -p StandardOutput=journal "
                   f"/bin/sh -c 'seq -f \"{unit} %.0f\" 80000'")
    assert res.returncode == 0, res.stderr_text

    def kept() -> int:
        count = f"journalctl --no-pager -q -o cat -u {unit} | grep -c '^{unit} ' || true"
        return int(host.out(count).strip())

    wait_for(lambda: kept() == 80000, timeout=60)
    assert kept() == 80000, host.out("journalctl --no-pager -u systemd-journald -n 5")


def test_logrotate_mail_retention(stage, node):
    # Gia Lai Art 7.2: mail logs kept 3 months: daily files, one per day of the retention.
    days = retention_days(stage, node)
    conf = node.out("cat /etc/logrotate.d/congvu-mail")
    assert f"rotate {days}" in conf and f"maxage {days}" in conf and "daily" in conf
    assert "/var/log/mail.log" not in node.out("cat /etc/logrotate.d/rsyslog")
    # The whole logrotate configuration parses (no file rotated by two entries).
    check = node.run("logrotate -d /etc/logrotate.conf")
    assert check.returncode == 0, check.stderr_text
    assert "duplicate log entry" not in check.stderr_text
    assert "/var/log/mail.log" in check.stderr_text + check.stdout_text


# --- TLS -------------------------------------------------------------------------------------------

def test_tls_permissions(node):
    def owner(path):
        return node.out(f"stat -c '%U %G %a' {path}").split()

    assert owner("/etc/ssl/congvu/private") == ["root", "ssl-cert", "710"]
    assert owner("/etc/ssl/congvu/private/host.key") == ["root", "ssl-cert", "640"]
    for name in ("ca.crt", "host.crt"):
        assert owner(f"/etc/ssl/congvu/{name}")[2] == "644"


def test_certificate_verifies_against_ca(stage, node):
    cmd = node.run("openssl verify -CAfile /etc/ssl/congvu/ca.crt /etc/ssl/congvu/host.crt")
    assert cmd.returncode == 0 and "OK" in cmd.stdout_text, cmd.stdout_text + cmd.stderr_text
    # The CA is in the system trust store: verification without -CAfile works too.
    assert node.run("openssl verify /etc/ssl/congvu/host.crt").returncode == 0
    assert node.run("test -e /etc/ssl/certs/congvu-ca.pem").returncode == 0
    # ... and it is the staging CA the control node keeps (what clients are given).
    ca = node.out("cat /etc/ssl/congvu/ca.crt")
    assert ca.strip() == pathlib.Path(stage.ca_file).read_text(encoding="utf-8").strip()


def test_certificate_names_and_key(stage, node):
    text = node.out("openssl x509 -in /etc/ssl/congvu/host.crt -noout -text")
    for name in (node.name, *stage.wiring[node.name]["common_tls_san_names"]):
        assert f"DNS:{name}" in text, (name, text)
    cert_pub = node.out("openssl x509 -in /etc/ssl/congvu/host.crt -noout -pubkey")
    key_pub = node.out("openssl pkey -in /etc/ssl/congvu/private/host.key -pubout")
    assert cert_pub and cert_pub == key_pub
    # host.crt is the full chain: host certificate then the CA.
    assert node.out("cat /etc/ssl/congvu/host.crt").count("BEGIN CERTIFICATE") == 2


def test_tls_handshake_with_the_certificate(node):
    """A real TLS server on the key and chain, verified by a client that trusts only the CA."""
    unit = "congvu-probe-tls"
    node.run(f"systemctl stop {unit} 2>/dev/null; systemctl reset-failed {unit} 2>/dev/null")
    node.out(f"systemd-run --unit {unit} openssl s_server -quiet -accept 127.0.0.1:4433 "
             "-cert /etc/ssl/congvu/host.crt -key /etc/ssl/congvu/private/host.key -www")
    try:
        deadline = time.monotonic() + 20
        while "127.0.0.1:4433" not in node.out("ss -Hltn") and time.monotonic() < deadline:
            time.sleep(0.3)
        cmd = node.run(f"echo | openssl s_client -connect 127.0.0.1:4433 -servername {node.name} "
                       f"-verify_hostname {node.name} -CAfile /etc/ssl/congvu/ca.crt -verify_return_error")
    finally:
        node.run(f"systemctl stop {unit}")
    assert "Verify return code: 0 (ok)" in cmd.stdout_text, cmd.stdout_text[-800:] + cmd.stderr_text[-800:]
