"""Logging in with the old address during a transition (issue 16; docs/restructuring.md, "Logging in
with the old address"). The demo inventory sets the policy's ``domains.alias_login_until``: until that
day an account's aliases (the old addresses of a merged province or of an intake) log in as well as
its address, over IMAP, POP3, SMTP AUTH and the webmail, and the session is the account's own
address. At the end of the day a timer removes Dovecot's second passdb; the last test runs that
timer's service (what systemd starts at 23:59:59 of that day), then puts the passdb back as the
converge left it.
"""

from __future__ import annotations

import datetime as dt
import imaplib
import smtplib
import zoneinfo

import pytest
from attacks import tls_context
from mailcore import build_message, pop3_login, unique
from polling import wait_for
from transfer_checks import _webmail_users
from webclient import Webmail

PASSWORD = "DangNhap#BiDanh2026"
LOCAL = "kiemthu.dangnhapcu"
OLD_LOCAL = "kiemthu-diachicu.dangnhapcu"  # the old address, kept as the account's alias
UNIT = "congvu-dovecot-alias-login-end"
PASSDB_FILES = ("/etc/dovecot/congvu-alias-login.conf.ext", "/etc/dovecot/dovecot-ldap-passdb-alias.conf.ext",
                "/etc/dovecot/dovecot-ldap-passdb-deny.conf.ext")


@pytest.fixture(scope="module")
def transition(stage):
    """The last day of the demo's transition; these tests are about one that has not ended."""
    until = stage.policy["domains"]["alias_login_until"]
    assert until, "inventories/demo sets domains.alias_login_until (docs/restructuring.md)"
    today = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    assert today <= until, (f"the demo's transition ended on {until}: move domains.alias_login_until in "
                            "inventories/demo/group_vars/congvu/main.yml")
    return until


@pytest.fixture(scope="module")
def person(stage, testpeople, transition):
    org = testpeople.top_level()[0]
    old = f"{OLD_LOCAL}@{stage.policy['domains']['primary']}"
    account = testpeople.ensure(LOCAL, "Kiểm thử Bí Danh", org, PASSWORD, aliases=(old,))
    account.extra["old"] = old
    return account


def imap_ok(stage, user: str, password: str) -> bool:
    node = stage.first("mail_servers")
    try:
        with imaplib.IMAP4_SSL(node.address, 993, ssl_context=tls_context(stage), timeout=60) as conn:
            conn.login(user, password)
            return True
    except imaplib.IMAP4.error:
        return False


def test_an_old_address_logs_in_to_the_same_account_everywhere(stage, person, testpeople):
    node = stage.first("mail_servers")
    old, ctx = person.extra["old"], tls_context(stage)
    people = testpeople.search(testpeople.orgs, "(&(objectClass=congvuMailAccount)(mail=*))", "mail")
    someone_else = next(a["mail"][0] for _, a in people if a["mail"][0] != person.mail)
    # IMAP: the session is the account's own mailbox (a message stored through the old address is
    # in the mailbox the address opens)
    subject = unique("Lưu qua địa chỉ cũ")
    with imaplib.IMAP4_SSL(node.address, 993, ssl_context=ctx, timeout=60) as conn:
        conn.login(old, PASSWORD)
        typ, _ = conn.append("INBOX", None, None, build_message(
            {"mail_from": person.mail, "rcpts": [person.mail], "subject": subject}))
        assert typ == "OK"
    with imaplib.IMAP4_SSL(node.address, 993, ssl_context=ctx, timeout=60) as conn:
        conn.login(person.mail, PASSWORD)
        conn.select("INBOX", readonly=True)
        typ, found = conn.search(None, "SUBJECT", subject.split()[-1])
        assert typ == "OK" and found[0].split(), f"{subject!r} is not in {person.mail}'s INBOX"
    # POP3 as well
    assert pop3_login(ctx, node.address, old, PASSWORD, subject)["has"]
    # SMTP AUTH: Postfix is told the account's address, so the sender check (smtpd_sender_login_maps)
    # accepts the account's address and its alias, and still refuses somebody else's
    with smtplib.SMTP(node.address, 587, timeout=60) as smtp:
        smtp.starttls(context=ctx)
        smtp.login(old, PASSWORD)
        for sender, expected in ((person.mail, 250), (old, 250), (someone_else, 553)):
            smtp.mail(sender)
            code, said = smtp.rcpt(person.mail)  # Postfix judges the sender at RCPT TO
            assert code == expected, (sender, code, said)
            smtp.rset()
    # the webmail: the Roundcube user is the account's address, not a second user for the alias
    assert Webmail(stage).login(old, PASSWORD)[0]
    assert [login for _, login in _webmail_users(stage, old, person.mail)] == [person.mail.lower()]


def test_a_wrong_password_through_the_old_address_counts_once_against_the_account(stage, person, testpeople):
    # the same ppolicy lockout: guessing through an alias is guessing at the account, once a guess
    testpeople.clear_ppolicy(person.dn)
    assert not imap_ok(stage, person.extra["old"], "Sai#MatKhau-2026")
    assert len(testpeople.attr(person.dn, "pwdFailureTime")) == 1
    assert not imap_ok(stage, person.mail, "Sai#MatKhau-2027")  # and through the address, once too
    assert len(testpeople.attr(person.dn, "pwdFailureTime")) == 2
    testpeople.clear_ppolicy(person.dn)
    # an address nobody has is refused like any unknown login
    assert not imap_ok(stage, f"kiemthu-khongco@{stage.policy['domains']['primary']}", PASSWORD)


def test_an_alias_wrongly_equal_to_another_address_opens_nothing(stage, person, testpeople):
    """slapd cannot refuse a congvuMailAlias equal to another entry's mail (docs/directory.md), and an
    agency's admins may write aliases: an entry given somebody's address as an alias must not log in
    with it, nor lock its owner out faster than any wrong password does."""
    other = testpeople.throwaway(testpeople.top_level()[0], password="Khac#MatKhau-2026")
    testpeople.clear_ppolicy(other.dn)
    assert imap_ok(stage, other.mail, other.password)  # a working account of its own
    testpeople.modify(f"dn: {other.dn}\nchangetype: modify\nadd: congvuMailAlias\n"
                      f"congvuMailAlias: {person.mail}\n")
    try:
        testpeople.clear_ppolicy(person.dn)
        assert not imap_ok(stage, person.mail, other.password)  # the address is its owner's
        assert not imap_ok(stage, person.mail, "Sai#MatKhau-2028")
        # two wrong passwords for the owner, nothing on the other account
        assert len(testpeople.attr(person.dn, "pwdFailureTime")) == 2
        assert not testpeople.attr(other.dn, "pwdFailureTime")
        assert imap_ok(stage, person.mail, PASSWORD)
        assert Webmail(stage).login(person.mail, PASSWORD)[0]
        assert not Webmail(stage).login(person.mail, other.password)[0]
        # nor when the owner may not log in (locked, Hà Nam Art 7.1): the other account still cannot
        testpeople.modify(f"dn: {person.dn}\nchangetype: modify\nreplace: congvuAccountState\n"
                          "congvuAccountState: locked\n")
        assert not imap_ok(stage, person.mail, other.password)
        assert not Webmail(stage).login(person.mail, other.password)[0]
        assert imap_ok(stage, other.mail, other.password)  # its own address, as always
    finally:
        testpeople.modify(f"dn: {person.dn}\nchangetype: modify\nreplace: congvuAccountState\n"
                          "congvuAccountState: active\n")
        testpeople.modify(f"dn: {other.dn}\nchangetype: modify\ndelete: congvuMailAlias\n"
                          f"congvuMailAlias: {person.mail}\n")
        testpeople.clear_ppolicy(person.dn)


def test_old_addresses_stop_logging_in_when_the_day_ends(stage, person, transition):
    node = stage.first("mail_servers")
    shown = node.out(f"systemctl show -p TimersCalendar -p UnitFileState -p ActiveState {UNIT}.timer")
    assert f"OnCalendar={transition} 23:59:59" in shown, shown
    assert "UnitFileState=enabled" in shown and "ActiveState=active" in shown, shown
    for path in PASSDB_FILES:
        node.run(f"cp -a {path} {path}.kiemthu", check=True)
    try:
        node.run(f"systemctl start {UNIT}.service", check=True)
        assert wait_for(lambda: not imap_ok(stage, person.extra["old"], PASSWORD)), \
            "the old address still logs in after the end of the transition"
        assert imap_ok(stage, person.mail, PASSWORD)  # the address itself, as always
        assert node.run(f"test -e {PASSDB_FILES[0]}").returncode != 0
    finally:
        for path in PASSDB_FILES:
            node.run(f"mv -f {path}.kiemthu {path}", check=True)
        node.run("systemctl reload dovecot", check=True)
    assert wait_for(lambda: imap_ok(stage, person.extra["old"], PASSWORD))
