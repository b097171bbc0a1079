"""The base of the all-in-one host (role common): the checks of tests/layouts/base_checks.py.

Staging's admin network is the machine running the containers, each container's default gateway
(inventories/demo/group_vars/congvu/main.yml): SSH and Rspamd's web interface answer it alone.
"""

import time

import pytest
from acme_server import Pebble
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


def days_left(node, path: str) -> int:
    """Whole days until the first certificate of ``path`` on the host expires."""
    return int(node.out(f"echo $(( ($(date -d \"$(openssl x509 -in {path} -noout -enddate | cut -d= -f2)\" "
                        "+%s) - $(date +%s)) / 86400 ))"))


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
    # windows that take in the certificates as they are (an earlier run may have renewed them)
    renew = days_left(node, "/etc/ssl/congvu/host.crt") + 1
    valid = max(renew + 1, days_left(node, "/etc/ssl/congvu/ca.crt") - renew + 1)
    run = playbook(stage, "site.yml", "--tags", "common", "-e", f"common_tls_renew_days={renew}",
                   "-e", f"common_tls_cert_valid_days={valid}",
                   "-e", f"common_tls_ca_valid_days={valid + renew + 100}")
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
    # That the renewed certificate is not renewed again by a run with the shipped windows is shown by
    # the next test's last run (back to internal_ca: the same serial), which saves a run of its own.


# --- certificates from ACME (issue 15 item 7) -------------------------------------------------------
def leaf(node, what: str) -> str:
    return node.out(f"openssl x509 -in /etc/ssl/congvu/host.crt -noout {what}").strip()


def wait_served(node, serial: str) -> dict[int, str]:
    deadline = time.monotonic() + 90
    while (now := served_serials(node)) != dict.fromkeys(now, serial) and time.monotonic() < deadline:
        time.sleep(1)
    return now


def test_acme_mode_obtains_renews_and_gives_back_the_certificate(stage, tmp_path):
    """common_tls_mode: acme on the all-in-one host, against pebble as the ACME server: certbot
    obtains the host certificate by HTTP-01 (nginx serves the answer on port 80, the other names
    included), every TLS port presents it, the host's peers verify it with ca.crt; certbot's own timer
    service renews it once it is inside the renewal window, and the services present the renewed one;
    back in internal_ca mode the internal certificate returns (not re-signed: after the test above,
    the certificate it renewed is not renewed again with the shipped windows) and certbot's
    certificate is gone."""
    node = stage.first("webmail_servers")
    internal = leaf(node, "-serial")
    with Pebble(tmp_path, stage.gateway, node.address) as acme:
        acme_vars = ["-e", "common_tls_mode=acme", "-e", f"common_tls_acme_directory={acme.directory}",
                     "-e", f"common_tls_acme_email=postmaster@{stage.wiring[node.name]['openldap_domain']}",
                     "-e", f"common_tls_acme_ca_file={acme.ca_file}"]
        try:
            run = playbook(stage, "site.yml", "--tags", "common", *acme_vars)
            assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:] + acme.log.read_text()[-2000:]
            issuer = leaf(node, "-issuer")
            assert "Pebble Intermediate CA" in issuer, issuer
            names = leaf(node, "-ext subjectAltName")
            for name in [node.name, *stage.wiring[node.name]["common_tls_san_names"]]:
                assert f"DNS:{name}" in names, names
            first = leaf(node, "-serial").partition("=")[2]
            assert f"serial={first}" != internal
            served = wait_served(node, first)
            assert served == dict.fromkeys(served, first), served
            # a peer checks the ACME certificate with ca.crt (Roundcube, Postfix and Dovecot do)
            verify = node.run(f"echo | openssl s_client -connect 127.0.0.1:993 -servername {node.name} "
                              "-CAfile /etc/ssl/congvu/ca.crt -verify_return_error 2>&1")
            assert "Verify return code: 0 (ok)" in verify.stdout_text, verify.stdout_text[-1500:]
            assert node.run("systemctl is-enabled certbot.timer").stdout_text.strip() == "enabled"
            # Inside the window: what certbot.timer starts renews it, the deploy hook installs it
            renewal = "/etc/letsencrypt/renewal/congvu.conf"
            assert node.out(f"grep '^renew_before_expiry' {renewal}").strip() == \
                f"renew_before_expiry = {stage.hostvars[node.name].get('common_tls_renew_days', 30)} days"
            left = days_left(node, "/etc/ssl/congvu/host.crt")
            node.out(f"sed -i 's/^renew_before_expiry.*/renew_before_expiry = {left + 1} days/' {renewal}")
            since = node.out("date '+%Y-%m-%d %H:%M:%S'").strip()
            node.out("systemctl start certbot.service", timeout=300)
            renewed = leaf(node, "-serial").partition("=")[2]
            assert renewed != first, node.out(f"journalctl -u certbot --since '{since}' --no-pager -o cat")
            served = wait_served(node, renewed)
            journal = node.out(f"journalctl -u congvu-tls-reload --since '{since}' --no-pager -o cat")
            assert served == dict.fromkeys(served, renewed), (served, journal)
            for said in ("postfix reloaded", "dovecot reloaded", "nginx reloaded", "slapd restarted"):
                assert said in journal, journal
        finally:
            back = playbook(stage, "site.yml", "--tags", "common")
        assert back.returncode == 0, back.stdout[-4000:]
    assert leaf(node, "-serial") == internal
    served = wait_served(node, internal.partition("=")[2])
    assert served == dict.fromkeys(served, internal.partition("=")[2]), served
    assert node.run("test -e /etc/letsencrypt/renewal/congvu.conf").returncode != 0
