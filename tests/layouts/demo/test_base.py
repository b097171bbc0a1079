"""The base of the all-in-one host (role common): the checks of tests/layouts/base_checks.py.

Staging's admin network is the machine running the containers, each container's default gateway
(inventories/demo/group_vars/congvu/main.yml): SSH and Rspamd's web interface answer it alone.
"""

import time

import pytest
from backup_checks import playbook
from base_checks import *  # noqa: F403  (pytest collects the imported tests and fixtures)
from base_checks import runner_address


@pytest.fixture(scope="module")
def admin_networks(stage):
    return [f"{runner_address(stage.first('mail_servers'))}/32"]


# --- certificate renewal (issue 15 item 7) ----------------------------------------------------------
# Every TLS port of the all-in-one host, as a client reaches it: (port, s_client STARTTLS protocol).
TLS_PORTS = ((25, "smtp"), (465, None), (587, "smtp"), (993, None), (995, None), (4190, "sieve"),
             (443, None), (11443, None), (636, None), (389, "ldap"))


def served_serials(node) -> dict[int, str]:
    """Port -> serial of the certificate the service on it presents now (run on the host itself)."""
    serials = {}
    for port, proto in TLS_PORTS:
        starttls = f"-starttls {proto}" if proto else ""
        out = node.run(f"echo | timeout 10 openssl s_client -connect 127.0.0.1:{port} {starttls} "
                       f"-servername {node.name} 2>/dev/null | openssl x509 -noout -serial").stdout_text
        serials[port] = out.strip().partition("=")[2]
    return serials


def test_a_certificate_due_for_renewal_is_renewed_and_every_service_presents_it(stage):
    """The common role re-signs a certificate entering its renewal window (here: windows widened so
    that today's 825-day host certificate and 3650-day CA both fall in), and congvu-tls-reload.path
    loads it into Postfix, Dovecot, nginx and slapd, each through its configuration check."""
    node = stage.first("mail_servers")
    before = served_serials(node)
    assert all(before.values()) and len(set(before.values())) == 1, before
    ca_before = node.out("openssl x509 -in /etc/ssl/congvu/ca.crt -noout -serial -enddate")
    node.out("openssl x509 -in /etc/ssl/congvu/host.crt -out /root/congvu-old-host.crt")  # the leaf
    since = node.out("date '+%Y-%m-%d %H:%M:%S'").strip()
    run = playbook(stage, "site.yml", "--tags", "common", "-e", "common_tls_ca_valid_days=4000",
                   "-e", "common_tls_cert_valid_days=2000", "-e", "common_tls_renew_days=1900")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "Sign the host certificate with the internal CA" in run.stdout
    new = node.out("openssl x509 -in /etc/ssl/congvu/host.crt -noout -serial").strip().partition("=")[2]
    assert new and new != next(iter(before.values()))
    ca_after = node.out("openssl x509 -in /etc/ssl/congvu/ca.crt -noout -serial -enddate")
    assert ca_after != ca_before  # the CA was due too: re-signed with its own key and name
    # the renewed certificate, and one signed by the CA before its renewal, verify against the renewed CA
    assert node.run("openssl verify -CAfile /etc/ssl/congvu/ca.crt /etc/ssl/congvu/host.crt").returncode == 0
    old = node.run("openssl verify -CAfile /etc/ssl/congvu/ca.crt /root/congvu-old-host.crt")
    assert old.returncode == 0, old.stdout_text + old.stderr_text
    deadline = time.monotonic() + 90
    while (now := served_serials(node)) != dict.fromkeys(before, new) and time.monotonic() < deadline:
        time.sleep(1)
    journal = node.out(f"journalctl -u congvu-tls-reload --since '{since}' --no-pager -o cat")
    assert now == dict.fromkeys(before, new), (now, journal)
    for said in ("postfix reloaded", "dovecot reloaded", "nginx reloaded", "slapd restarted"):
        assert said in journal, journal
    # the renewed certificate is not renewed again by the next run with the shipped windows
    again = playbook(stage, "site.yml", "--tags", "common")
    assert again.returncode == 0, again.stdout[-3000:]
    assert node.out("openssl x509 -in /etc/ssl/congvu/host.crt -noout -serial").strip().endswith(new)
