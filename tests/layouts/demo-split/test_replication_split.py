"""Two directory servers on the split layout (docs/openldap.md, "Replication"; issue 14, item 1):
multi-provider replication both ways over StartTLS as cn=replicator, and mail, logins and the
webmail going on while the first directory server is down (Hà Nam Art 10.7, Gia Lai Art 8.3.a:
"khả năng dự phòng").
The loss and rebuild of a directory server is drilled in test_recovery_split.py."""

from __future__ import annotations

import secrets
import smtplib
import uuid

import polling  # tests/layouts/ is on sys.path (its conftest's directory)
import pytest
from attacks import imap_login
from testpeople import parse_ldif
from webclient import Webmail

ROOT_LDAP = "-LLL -Q -Y EXTERNAL -H ldapi:/// -o ldif-wrap=no"


@pytest.fixture(scope="module")
def providers(stage):
    names = stage.groups["ldap_servers"]
    assert len(names) >= 2, f"the split layout has two directory servers, the inventory lists {names}"
    return [stage.hosts[n] for n in names]


@pytest.fixture(scope="module")
def person(testpeople):
    org = testpeople.top_level()[0]
    password = f"Nhan#Ban{secrets.token_hex(3)}9"
    return testpeople.ensure("kiemthu.nhanban", "Nguyễn Văn Nhân Bản", org, password)


def read(host, dn: str, attr: str) -> list[str]:
    """The values of ``attr`` on ``dn`` in ``host``'s own directory (over ldapi, as root)."""
    out = host.run(f"ldapsearch {ROOT_LDAP} -b '{dn}' -s base {attr}").stdout_text
    entries = parse_ldif(out)
    return entries[0][1].get(attr, []) if entries else []


def wait_for(host, dn: str, attr: str, value: str, seconds: float = 30) -> float:
    """Seconds until ``host`` shows ``attr: value`` on ``dn`` (AssertionError after ``seconds``)."""
    return polling.wait_until(f"{host.name} showing {attr}: {value} on {dn}",
                              lambda: value in read(host, dn, attr), seconds,
                              explain=lambda: f"it has {read(host, dn, attr)}")


def modify(host, dn: str, attr: str, value: str) -> None:
    host.out("ldapmodify -Q -Y EXTERNAL -H ldapi:///",
             stdin=f"dn: {dn}\nchangetype: modify\nreplace: {attr}\n{attr}: {value}\n")


def test_each_provider_pulls_the_others_over_starttls(stage, providers):
    """Every provider has its own replica ID, the syncprov overlay and one olcSyncrepl per peer with
    StartTLS required and the CA's certificate verified, and takes writes (olcMultiProvider)."""
    ids = set()
    for host in providers:
        config = host.out("ldapsearch -LLL -Q -Y EXTERNAL -H ldapi:/// -o ldif-wrap=no "
                          "-b 'olcDatabase={1}mdb,cn=config' olcSyncrepl olcMultiProvider olcOverlay")
        ids.add(host.out("ldapsearch -LLL -Q -Y EXTERNAL -H ldapi:/// -b cn=config -s base olcServerID"
                         ).split("olcServerID: ")[1].split()[0])
        stanzas = [line for line in config.splitlines() if line.startswith("olcSyncrepl: ")]
        peers = [h.name for h in providers if h is not host]
        assert len(stanzas) == len(peers), config
        for peer in peers:
            stanza = next(s for s in stanzas if f"provider=ldap://{peer}" in s)
            assert "starttls=critical" in stanza and "tls_reqcert=demand" in stanza, stanza
        assert "olcMultiProvider: TRUE" in config
        assert "syncprov" in config
    assert len(ids) == len(providers), f"replica IDs are not distinct: {ids}"


def test_a_change_on_either_provider_reaches_the_other_within_seconds(providers, person):
    first, second = providers[0], providers[1]
    there = f"Phòng {uuid.uuid4().hex[:6]}"
    modify(first, person.dn, "roomNumber", there)
    took = wait_for(second, person.dn, "roomNumber", there)
    back = f"Phòng {uuid.uuid4().hex[:6]}"
    modify(second, person.dn, "roomNumber", back)
    took_back = wait_for(first, person.dn, "roomNumber", back)
    print(f"replication: {first.name} -> {second.name} {took:.1f} s, back {took_back:.1f} s")


def test_the_replication_account_reads_only_over_tls(stage, providers, person):
    """cn=replicator reads passwords (it must, to replicate them), so slapd refuses its bind without
    TLS (confidentialityRequired); with StartTLS it reads the person's password hash."""
    first, second = providers[0], providers[1]
    secret = stage.secret("openldap_replicator_password")
    base = person.dn.split(",ou=organisations,")[1]
    replicator = f"cn=replicator,ou=services,{base}"
    plain = second.run(f"ldapsearch -LLL -x -H ldap://{first.name} -D '{replicator}' -y /dev/stdin "
                       f"-b '{person.dn}' -s base userPassword", stdin=secret)
    assert plain.returncode == 13, (plain.returncode, plain.stdout_text, plain.stderr_text)
    tls = second.run(f"LDAPTLS_CACERT=/etc/ssl/congvu/ca.crt ldapsearch -LLL -ZZ -x -H ldap://{first.name} "
                     f"-D '{replicator}' -y /dev/stdin -b '{person.dn}' -s base userPassword", stdin=secret)
    assert tls.returncode == 0 and "userPassword::" in tls.stdout_text, tls.stderr_text


def delivered(mx, mail: str, tag: str) -> int:
    out = mx.run(f"doveadm search -u {mail} mailbox INBOX subject {tag} | wc -l").stdout_text
    return int(out.strip() or 0)


def test_mail_and_logins_go_on_while_the_first_directory_server_is_down(stage, providers, person):
    """Gia Lai Art 8.3.a (khả năng dự phòng): slapd stopped on the first directory server, the mail
    host still accepts and delivers mail to the person (Postfix's lookups fail over), the person logs
    in over IMAP (Dovecot's) and the webmail; a change made on the second server meanwhile is on the
    first once it is back."""
    first, second = providers[0], providers[1]
    mx = stage.first("mail_servers")
    first.out("systemctl stop slapd")
    try:
        assert first.run("systemctl is-active slapd").stdout_text.strip() != "active"
        tag = f"duphong{uuid.uuid4().hex[:8]}"
        with smtplib.SMTP(mx.address, 25, timeout=120) as smtp:
            smtp.ehlo("doitac.example.org")
            smtp.sendmail("congvan@example.org", [person.mail],
                          (f"From: congvan@example.org\r\nTo: {person.mail}\r\nSubject: {tag}\r\n"
                           f"Message-ID: <{uuid.uuid4()}@doitac.example.org>\r\n\r\nThư khi máy chủ "
                           "danh bạ thứ nhất dừng.\r\n").encode())
        polling.wait_until(f"{tag} delivered on {mx.name}", lambda: delivered(mx, person.mail, tag) >= 1,
                           120, step=1, explain=lambda: mx.journal(("postfix@-", "dovecot")))
        assert delivered(mx, person.mail, tag) == 1, mx.journal(("postfix@-", "dovecot"))
        assert imap_login(stage, person), "IMAP refused the person while the first directory server was down"
        ok, _ = Webmail(stage).login(person.mail, person.password)
        assert ok, "the webmail refused the person while the first directory server was down"
        meanwhile = f"Phòng {uuid.uuid4().hex[:6]}"
        modify(second, person.dn, "roomNumber", meanwhile)
    finally:
        first.out("systemctl start slapd")
    wait_for(first, person.dn, "roomNumber", meanwhile, seconds=90)
    # and the first's changes reach the second again once the second's consumer reconnects
    after = f"Phòng {uuid.uuid4().hex[:6]}"
    modify(first, person.dn, "roomNumber", after)
    wait_for(second, person.dn, "roomNumber", after, seconds=90)
    # The mail host's daemons stay on the second server until their connections drop (both are
    # current); the tests after this one write on the first and read through them at once, so they
    # are sent back to the first here.
    mx.out("systemctl reload dovecot && postfix reload")


def test_a_lockout_reached_on_one_provider_holds_on_the_other(stage, providers, testpeople):
    """docs/openldap.md, "Replication": ppolicy's failure count and lockout are replicated, so the
    province's lockout (Gia Lai Art 9, passwords.user.lockout_attempts) reached by guesses on the
    second server locks the account on the first too."""
    first, second = providers[0], providers[1]
    victim = testpeople.throwaway(testpeople.top_level()[0])
    attempts = int(stage.policy["passwords"]["user"]["lockout_attempts"])
    assert attempts > 0, "the policy has no lockout to replicate"
    wait_for_any(second, victim.dn, "uid")  # made on the first: every guess must count on the second
    for i in range(attempts):
        guess = second.run(f"LDAPTLS_CACERT=/etc/ssl/congvu/ca.crt ldapwhoami -ZZ -x -H ldap://{second.name} "
                           f"-D '{victim.dn}' -y /dev/stdin", stdin=f"Sai#Mat{i}khau2026")
        assert guess.returncode == 49, guess.stderr_text  # invalidCredentials
    locked = wait_for_any(first, victim.dn, "pwdAccountLockedTime")
    assert locked == read(second, victim.dn, "pwdAccountLockedTime"), "the lock differs between servers"


def wait_for_any(host, dn: str, attr: str, seconds: float = 30) -> list[str]:
    """The values of ``attr`` on ``dn`` as soon as ``host`` shows any (AssertionError after ``seconds``)."""
    values = polling.wait_for(lambda: read(host, dn, attr), seconds)
    assert values, f"{host.name} shows no {attr} on {dn} within {seconds} s"
    return values
