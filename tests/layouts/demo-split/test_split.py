"""The split layout over the wire: Gia Lai on four hosts (inventories/demo-split), converged by
playbooks/site.yml with the production wiring (congvu.wiring, docs/topology.md).

Mail from a commune's user (pleiku.gialai.gov.vn) to an agency's (skhcn.gialai.gov.vn) crosses every
host: submission on the mail host, the milter on the filter host, the directory on the LDAP host,
delivery on the mail host, then the webmail host shows it. Each host's firewall opens a peer port to
the peers that need it and to nothing else. The clients run on the test runner, outside the layout,
and reach the containers on their podman network addresses.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
import smtplib
import socket
import ssl
import uuid
from email.message import EmailMessage

import attacks
import dkim
import pytest
from webclient import Webmail

from congvu.passwords import hash_password

PASSWORD = "GiaLai#Thu2026nghiem"  # Gia Lai Art 9: 12+ characters, upper, lower, digit, special
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def tls(stage) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=stage.ca_file)


def ldap_root(stage, command: str) -> str:
    """An ldap* command as root over ldapi on the directory host (SASL EXTERNAL)."""
    return stage.first("ldap_servers").out(command)


def find_person(stage, domain: str, mail: str | None = None) -> tuple[str, str]:
    base = stage.wiring[stage.groups["ldap_servers"][0]]["postfix_ldap_base_dn"]
    flt = f"(mail={mail})" if mail else f"(&(mail=*@{domain})(congvuMailboxClass=personal))"
    out = ldap_root(stage, f"ldapsearch -Q -LLL -o ldif-wrap=no -Y EXTERNAL -H ldapi:/// -b {base} "
                           f"'{flt}' mail")
    dns = re.findall(r"^dn: (.+)$", out, re.M)
    mails = re.findall(r"^mail: (.+)$", out, re.M)
    assert dns, f"no person at {domain} in the directory:\n{out}"
    return dns[0], mails[0]


def set_password(stage, dn: str) -> None:
    """Test set-up: a known password, the initial-password change done (as the user would have)."""
    ldif = (f"dn: {dn}\nchangetype: modify\nreplace: userPassword\nuserPassword: "
            f"{hash_password(PASSWORD)}\n-\nreplace: congvuMustChangePassword\n"
            "congvuMustChangePassword: FALSE\n-\nreplace: pwdReset\n-\n")
    stage.first("ldap_servers").run("ldapmodify -Q -Y EXTERNAL -H ldapi:///", stdin=ldif, check=True)


@pytest.fixture(scope="module")
def people(stage):
    """A commune user (sender) and Gia Lai Art 4.2.a's own example at Sở KH&CN (recipient)."""
    sender_dn, sender = find_person(stage, "pleiku.gialai.gov.vn")
    reader_dn, reader = find_person(stage, "skhcn.gialai.gov.vn", "quynhhtn@skhcn.gialai.gov.vn")
    for dn in (sender_dn, reader_dn):
        set_password(stage, dn)
    return {"sender": sender, "reader": reader}


def imap_find(stage, user: str, subject: str, timeout: float = 90) -> bytes | None:
    """The raw message with ``subject`` in ``user``'s INBOX on the mail host, waiting for delivery.
    Searched by the subject's unique ASCII suffix: Vietnamese in a SEARCH atom is a BAD command."""
    return attacks.imap_find(stage, attacks.Account("", user, PASSWORD), subject.split()[-1], timeout)


def _no_name(stage) -> ssl.SSLContext:
    """TLS verified against the staging CA; the clients connect by address, so the name is the
    container's and the hostname check is left to the tests that use names."""
    ctx = tls(stage)
    ctx.check_hostname = False
    return ctx


@pytest.fixture(scope="module")
def delivered(stage, people):
    """Submitted on the mail host (587, STARTTLS, SASL) by the pleiku user, read back over IMAP."""
    subject = f"Công văn liên tỉnh {uuid.uuid4().hex[:8]}"
    msg = EmailMessage()
    msg["From"] = people["sender"]
    msg["To"] = people["reader"]
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4()}@pleiku.gialai.gov.vn>"
    msg.set_content("Kính gửi Sở Khoa học và Công nghệ,\n\nPhường Pleiku gửi công văn về chuyển đổi số.\n")
    mx = stage.first("mail_servers")
    with smtplib.SMTP(mx.address, 587, timeout=60) as smtp:
        smtp.starttls(context=_no_name(stage))
        smtp.login(people["sender"], PASSWORD)
        smtp.send_message(msg)
    raw = imap_find(stage, people["reader"], subject)
    assert raw is not None, f"{subject!r} never reached {people['reader']}'s INBOX"
    return {"subject": subject, "raw": raw}


# --- mail across the hosts -------------------------------------------------------------------------

def test_mail_between_agency_subdomains_crosses_every_host(stage, people, delivered):
    """Gia Lai Art 4: pleiku.gialai.gov.vn to skhcn.gialai.gov.vn, through the filter host's milter."""
    message = email.message_from_bytes(delivered["raw"], policy=email.policy.default)
    assert message["Subject"] == delivered["subject"]
    # Rspamd adds no headers to authenticated mail: its log on the filter host shows the scan
    flt = stage.first("filter_servers")
    log = flt.out(f"grep -F -- 'id: {message['Message-ID']}' /var/log/rspamd/rspamd.log || true")
    assert "rspamd_task_write_log" in log, "the milter on the filter host did not see the message"
    assert f"user: {people['sender']}" in log, log
    assert "Kính gửi Sở Khoa học và Công nghệ" in message.get_body(("plain",)).get_content()


def test_webmail_host_shows_the_mail(stage, people, delivered):
    """The reader logs in to Roundcube on the webmail host (HTTPS, its own IMAP session to the mail
    host) and the message list of the INBOX carries the subject."""
    web = Webmail(stage)
    ok, _ = web.login(people["reader"], PASSWORD)
    assert ok, f"webmail login of {people['reader']} on {web.host.name} failed"
    page = web.request("GET", "/?_task=mail&_mbox=INBOX")
    token = re.search(rb'"request_token":"([^"]+)"', page.body)
    assert token, "no request token in the webmail's mail page"
    conn_headers = {"X-Roundcube-Request": token.group(1).decode()}
    listing = web.request("GET", "/?_task=mail&_action=list&_mbox=INBOX&_remote=1", headers=conn_headers)
    assert listing.status == 200, listing.body[:500]
    text = json.loads(listing.body)["exec"]
    marker = delivered["subject"].split()[-1]  # the subject's unique suffix (ASCII: no JS escaping)
    assert marker in text, f"{delivered['subject']!r} not in the webmail's INBOX list:\n{text[:1500]}"


def test_webmail_without_a_logo_keeps_roundcubes(stage):
    """No roundcube_logo_file in this inventory: the login page shows Roundcube's own logo and the
    province logo's address answers 404 (the all-in-one layout sets one:
    tests/layouts/demo/test_webmail.py)."""
    web = Webmail(stage)
    page = web.request("GET", "/")
    assert page.status == 200 and b'<img src="skins/elastic/images/logo.svg' in page.body, page.body[:800]
    assert b"congvu-logo" not in page.body
    assert web.request("GET", "/congvu-logo.svg").status == 404


def test_subdomain_sender_is_signed_with_its_own_key(stage, delivered):
    """Gia Lai Art 4.1: the commune's subdomain signs its own mail (DMARC adkim=s aligns)."""
    message = email.message_from_bytes(delivered["raw"])
    signature = message["DKIM-Signature"]
    assert signature, "the subdomain's mail left unsigned"
    assert re.search(r"\bd=pleiku\.gialai\.gov\.vn;", signature.replace("\n", "")), signature


def dns_records(stage, domain: str) -> dict[str, str]:
    """TXT records of the published zone snippet of ``domain`` (artifacts/dns/<province>/)."""
    text = (stage.dns_dir / f"{domain}.zone").read_text(encoding="utf-8")
    records = {}
    for name, value in re.findall(r"^(\S+)\.\s+\d+ IN TXT\s+(\(.*?\)|\".*?\")\s*$", text, re.M | re.S):
        records[name] = "".join(re.findall(r'"([^"]*)"', value))
    return records


def test_signature_verifies_against_the_published_record(stage, delivered):
    """The DKIM record written for the operator to publish (docs/dns.md) verifies the signature;
    a tampered copy does not."""
    records = dns_records(stage, "pleiku.gialai.gov.vn")

    def dnsfunc(name, timeout=5):
        key = name.decode().rstrip(".") if isinstance(name, bytes) else name.rstrip(".")
        return records.get(key, "").encode()

    # The copy in the mailbox carries the headers added after signing (Received, Return-Path, ...),
    # which are not signed: the signature covers the signed headers and the body.
    assert dkim.verify(delivered["raw"], dnsfunc=dnsfunc), "DKIM signature does not verify"
    tampered = delivered["raw"].replace("Phường Pleiku".encode(), b"Phuong Pleiku", 1)
    tampered = tampered.replace(b"chuy\xe1\xbb\x83n", b"chuyen", 1)
    assert tampered != delivered["raw"]
    assert not dkim.verify(tampered, dnsfunc=dnsfunc)


def test_zone_snippets_for_every_sending_domain(stage):
    """docs/dns.md: MX, SPF, DKIM, strict DMARC and SRV for each sending domain, subdomains included."""
    mx = stage.groups["mail_servers"][0]
    for domain in stage.wiring[mx]["rspamd_domains"]:
        text = (stage.dns_dir / f"{domain}.zone").read_text(encoding="utf-8")
        assert re.search(rf"^{re.escape(domain)}\.\s+3600 IN MX\s+10 {re.escape(mx)}\.$", text, re.M), domain
        records = dns_records(stage, domain)
        assert records[domain] == "v=spf1 mx -all"
        assert records[f"_dmarc.{domain}"].startswith("v=DMARC1; p=quarantine; adkim=s; aspf=s;")
        assert records[f"congvu._domainkey.{domain}"].startswith("v=DKIM1; k=rsa; p=")
        assert f"_submissions._tcp.{domain}." in text
    assert {"skhcn.gialai.gov.vn", "pleiku.gialai.gov.vn", "dakpo.gialai.gov.vn"} <= set(
        stage.wiring[mx]["rspamd_domains"])
    hosts = (stage.dns_dir / "hosts.zone").read_text(encoding="utf-8")
    assert "mail.gialai.gov.vn" in hosts and mx in hosts


def test_gtube_from_the_internet_is_refused_by_the_remote_filter(stage):
    """Port 25 on the mail host: the milter on the filter host answers (the split-layout defect was a
    milter on loopback only, so every message was deferred with 451)."""
    mx = stage.first("mail_servers")
    msg = EmailMessage()
    msg["From"] = "spammer@example.net"
    msg["To"] = "quynhhtn@skhcn.gialai.gov.vn"
    msg["Subject"] = "GTUBE"
    msg.set_content(GTUBE)
    with smtplib.SMTP(mx.address, 25, timeout=60) as smtp:
        smtp.ehlo("client.example.net")
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.sendmail("spammer@example.net", ["quynhhtn@skhcn.gialai.gov.vn"], msg.as_bytes())
    assert refused.value.smtp_code == 554, refused.value


# --- the wiring as the hosts got it ----------------------------------------------------------------

def test_mail_host_reads_the_directory_over_starttls(stage, people):
    mx = stage.first("mail_servers")
    ldap = stage.groups["ldap_servers"][0]
    config = mx.out("cat /etc/postfix/ldap/virtual_mailbox_maps.cf")
    assert f"server_host = ldap://{ldap}" in config
    assert "start_tls = yes" in config and "tls_require_cert = yes" in config
    # a silent (dead) directory server costs a lookup 3 s, not Postfix's default 10 (docs/topology.md;
    # Ninh Bình Art 15.2, service 24/24)
    assert "\ntimeout = 3\n" in config, config
    lookup = f"postmap -q {people['reader']} proxy:ldap:/etc/postfix/ldap/virtual_mailbox_maps.cf"
    assert mx.out(lookup).strip(), "the mail host finds the recipient in the directory host"
    assert f"inet:{stage.groups['filter_servers'][0]}:11332" in mx.out("postconf -h smtpd_milters")


def test_hosts_resolve_their_peers_without_dns(stage):
    for host in stage.hosts.values():
        hosts_file = host.out("cat /etc/hosts")
        for peer in stage.hosts.values():
            if peer.name != host.name:
                line = rf"^{re.escape(peer.address)}\s+{re.escape(peer.name)}\b"
                assert re.search(line, hosts_file, re.M), f"{host.name} does not resolve {peer.name}"


# --- each host's firewall --------------------------------------------------------------------------

def reach_from_runner(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=5):
            return True
    except OSError:
        return False


def reach_from(host, address: str, port: int) -> bool:
    return host.run(f"timeout 5 bash -c '</dev/tcp/{address}/{port}'").returncode == 0


def test_public_services_are_open_on_their_hosts_only(stage):
    ldap, mx = stage.first("ldap_servers"), stage.first("mail_servers")
    web = stage.first("webmail_servers")
    assert reach_from_runner(mx.address, 25) and reach_from_runner(mx.address, 993)
    assert reach_from_runner(web.address, 443) and reach_from_runner(ldap.address, 636)
    assert not reach_from_runner(ldap.address, 25), "the directory host is no MX"
    # IMAP on the webmail host only where it is also the front (docs/topology.md, "The front")
    front = web.name in (stage.groups.get("front_servers") or [])
    assert reach_from_runner(web.address, 993) == front, f"IMAP on the webmail host: expected {front}"
    assert not reach_from_runner(stage.first("filter_servers").address, 993), "the filter host serves no IMAP"
    assert not reach_from_runner(mx.address, 443), "the mail host serves no webmail"


def test_peer_ports_open_to_their_peers_only(stage):
    """LDAP (389) for the mail and webmail hosts and the other directory servers (replication); the
    milter (11332) for the mail host; nothing else."""
    mx = stage.first("mail_servers")
    flt, web = stage.first("filter_servers"), stage.first("webmail_servers")
    providers = [stage.hosts[h] for h in stage.groups["ldap_servers"]]
    for ldap in providers:
        assert reach_from(mx, ldap.address, 389)
        assert reach_from(web, ldap.address, 389)
        assert not reach_from(flt, ldap.address, 389), "the filter needs no directory"
        assert not reach_from_runner(ldap.address, 389), "LDAP without TLS is for peers only"
        for peer in providers:
            if peer is not ldap:
                assert reach_from(peer, ldap.address, 389), f"{peer.name} cannot replicate from {ldap.name}"
    assert reach_from(mx, flt.address, 11332)
    assert not reach_from(web, flt.address, 11332), "only the mail host calls the milter"
    assert not reach_from_runner(flt.address, 11332)


def test_loopback_services_stay_on_their_host(stage):
    """Redis, clamd, the scanner and the controller of the filter, Dovecot's LMTP: not reachable."""
    flt, mx = stage.first("filter_servers"), stage.first("mail_servers")
    for port in (6379, 3310, 11333, 11334):
        assert not reach_from(mx, flt.address, port), port
    assert not reach_from(flt, mx.address, 24)
    listening = flt.out("ss -ltnH")
    assert re.search(rf"{re.escape(flt.address)}:11332\b", listening), listening
    assert not re.search(r"(0\.0\.0\.0|\*|\[::\]):(6379|11333|11334)\b", listening), listening
