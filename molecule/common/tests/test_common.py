"""Verify the `common` role on the molecule container: real checks with real clients.

Run by `molecule verify` (testinfra); the firewall checks connect from the test runner (outside the
container, over the podman network `congvu-common`) to listeners started inside the container.
"""

import json
import socket
import subprocess
import time

import pytest

FQDN = "mail.hanam.gov.vn"
CONTAINER = "congvu-common"
# testinfra's podman backend (podman exec) instead of molecule's default ansible:// one: the same
# checks, ten times faster (an ad-hoc ansible run per command costs seconds).
testinfra_hosts = [f"podman://{CONTAINER}"]


@pytest.fixture(scope="module")
def container_ip():
    out = subprocess.run(
        ["podman", "inspect", CONTAINER], check=True, capture_output=True, text=True
    ).stdout
    networks = json.loads(out)[0]["NetworkSettings"]["Networks"]
    return next(iter(networks.values()))["IPAddress"]


def connect(address, port, timeout=5.0):
    """'open', 'refused' or 'timeout' for a TCP connection attempt."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return "open"
    except ConnectionRefusedError:
        return "refused"
    except TimeoutError:
        return "timeout"


@pytest.fixture(scope="module")
def listeners(host):
    """Listeners inside the container on declared and undeclared ports."""
    ports = [25, 8025, 2525, 389, 11443]
    for port in ports:
        unit = f"congvu-probe-{port}"
        host.run(f"systemctl stop {unit} 2>/dev/null; systemctl reset-failed {unit}")
        cmd = host.run(f"systemd-run --unit congvu-probe-{port} python3 -m http.server --bind 0.0.0.0 {port}")
        assert cmd.rc == 0, cmd.stderr
    deadline = time.time() + 20
    while time.time() < deadline:
        if all(host.socket(f"tcp://0.0.0.0:{port}").is_listening for port in ports):
            break
        time.sleep(0.5)
    yield ports
    for port in ports:
        host.run(f"systemctl stop congvu-probe-{port}")


def journal_on_failure(host, unit):
    return host.run(f"journalctl -u {unit} --no-pager -n 30").stdout


# --- name, time, locales -----------------------------------------------------------------------

def test_fqdn(host):
    assert host.run("hostname -f").stdout.strip() == FQDN
    assert host.run("hostname").stdout.strip() == "mail"


def test_timezone(host):
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Asia/Ho_Chi_Minh"
    assert host.file("/etc/timezone").content_string.strip() == "Asia/Ho_Chi_Minh"
    assert host.run("date +%z").stdout.strip() == "+0700"


def test_locales(host):
    available = host.run("locale -a").stdout.split()
    assert "vi_VN.utf8" in available
    assert "en_US.utf8" in available
    # Vietnamese really usable: a Vietnamese-specific collation name resolves.
    cmd = host.run("LC_ALL=vi_VN.UTF-8 locale LC_TIME | head -n 3")
    assert cmd.rc == 0 and "Thứ" in cmd.stdout + host.run("LC_ALL=vi_VN.UTF-8 locale day").stdout


def test_chrony_running(host):
    chrony = host.service("chrony")
    assert chrony.is_enabled
    assert chrony.is_running, journal_on_failure(host, "chrony")
    assert host.run("chronyc -n sources").rc == 0
    assert "pool vn.pool.ntp.org iburst" in host.file("/etc/chrony/chrony.conf").content_string


# --- firewall ----------------------------------------------------------------------------------

def test_firewall_loaded(host):
    assert host.service("nftables").is_enabled
    ruleset = host.run("nft list ruleset")
    assert ruleset.rc == 0, ruleset.stderr
    assert "table inet congvu" in ruleset.stdout
    assert "policy drop" in ruleset.stdout
    assert 'tcp dport 993 accept comment "imaps"' in ruleset.stdout
    assert 'ip saddr 198.51.100.0/24 tcp dport 22 accept comment "ssh from admin networks"' in ruleset.stdout
    assert ('ip saddr 198.51.100.0/24 tcp dport 11443 accept comment "11443/tcp from admin networks"'
            in ruleset.stdout)
    # The rules on disk are what is loaded, and they pass nft's own check.
    assert host.run("nft -c -f /etc/nftables.conf").rc == 0


def test_listeners_really_listen_inside(host, listeners):
    for port in listeners:
        probe = f"import socket; socket.create_connection(('127.0.0.1', {port}), 3)"
        assert host.run(f'python3 -c "{probe}"').rc == 0


@pytest.mark.parametrize("port", [25, 8025])
def test_declared_port_connects(container_ip, listeners, port):
    assert connect(container_ip, port) == "open"


@pytest.mark.parametrize("port", [2525, 389, 11443])
def test_undeclared_port_refused(container_ip, listeners, port):
    # 2525 is declared nowhere; 389 (ldap) only for 192.0.2.0/24 and 11443 only for the admin network
    # 198.51.100.0/24, neither of which the runner is in.
    assert connect(container_ip, port) == "refused"


# --- upgrades and logs ---------------------------------------------------------------------------

def test_unattended_upgrades(host):
    assert host.package("unattended-upgrades").is_installed
    dump = host.run("apt-config dump").stdout
    assert 'APT::Periodic::Unattended-Upgrade "1";' in dump
    assert "Debian-Security" in host.file("/etc/apt/apt.conf.d/50unattended-upgrades").content_string


def test_journald_retention(host):
    # Gia Lai Art 7.2: mail logs (in the journal too) kept at least 3 months.
    conf = host.run("systemd-analyze cat-config systemd/journald.conf").stdout
    assert "MaxRetentionSec=100day" in conf
    assert "Storage=persistent" in conf
    assert host.file("/var/log/journal").is_directory
    assert host.service("systemd-journald").is_running


def test_logrotate_mail_retention(host):
    # Gia Lai Art 7.2: mail logs kept 3 months: daily files, 90 of them.
    conf = host.file("/etc/logrotate.d/congvu-mail").content_string
    assert "rotate 90" in conf and "maxage 90" in conf and "daily" in conf
    assert "/var/log/mail.log" not in host.file("/etc/logrotate.d/rsyslog").content_string
    # The whole logrotate configuration parses (no file rotated by two entries).
    check = host.run("logrotate -d /etc/logrotate.conf")
    assert check.rc == 0, check.stderr
    assert "duplicate log entry" not in check.stderr
    assert "/var/log/mail.log" in check.stderr + check.stdout


# --- TLS ---------------------------------------------------------------------------------------

def test_tls_permissions(host):
    key_dir = host.file("/etc/ssl/congvu/private")
    assert key_dir.is_directory
    assert (key_dir.user, key_dir.group, key_dir.mode) == ("root", "ssl-cert", 0o710)
    key = host.file("/etc/ssl/congvu/private/host.key")
    assert (key.user, key.group, key.mode) == ("root", "ssl-cert", 0o640)
    assert key.mode & 0o007 == 0
    for name in ("ca.crt", "host.crt"):
        assert host.file(f"/etc/ssl/congvu/{name}").mode == 0o644


def test_certificate_verifies_against_ca(host):
    cmd = host.run("openssl verify -CAfile /etc/ssl/congvu/ca.crt /etc/ssl/congvu/host.crt")
    assert cmd.rc == 0 and "OK" in cmd.stdout, cmd.stdout + cmd.stderr
    # The CA is in the system trust store: verification without -CAfile works too.
    assert host.run("openssl verify /etc/ssl/congvu/host.crt").rc == 0
    assert host.file("/etc/ssl/certs/congvu-ca.pem").exists


def test_certificate_names_and_key(host):
    text = host.run("openssl x509 -in /etc/ssl/congvu/host.crt -noout -text").stdout
    for name in (FQDN, "webmail.hanam.gov.vn", "ldap.hanam.gov.vn"):
        assert f"DNS:{name}" in text
    cert_pub = host.run("openssl x509 -in /etc/ssl/congvu/host.crt -noout -pubkey").stdout
    key_pub = host.run("openssl pkey -in /etc/ssl/congvu/private/host.key -pubout").stdout
    assert cert_pub and cert_pub == key_pub
    # host.crt is the full chain: host certificate then the CA.
    assert host.file("/etc/ssl/congvu/host.crt").content_string.count("BEGIN CERTIFICATE") == 2


def test_tls_handshake_with_the_certificate(host):
    """A real TLS server on the key and chain, verified by a client that trusts only the CA."""
    host.run("systemctl stop congvu-probe-tls 2>/dev/null; systemctl reset-failed congvu-probe-tls")
    host.run(
        "systemd-run --unit congvu-probe-tls openssl s_server -quiet -accept 127.0.0.1:4433 "
        "-cert /etc/ssl/congvu/host.crt -key /etc/ssl/congvu/private/host.key -www"
    )
    time.sleep(1)
    cmd = host.run(
        f"echo | openssl s_client -connect 127.0.0.1:4433 -servername {FQDN} "
        f"-verify_hostname {FQDN} -CAfile /etc/ssl/congvu/ca.crt -verify_return_error"
    )
    host.run("systemctl stop congvu-probe-tls")
    assert "Verify return code: 0 (ok)" in cmd.stdout, cmd.stdout[-800:] + cmd.stderr[-800:]
