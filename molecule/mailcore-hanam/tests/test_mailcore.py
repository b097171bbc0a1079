"""Mail core verifier: real SMTP, IMAP, POP3 and ManageSieve clients against the converged host.

The clients (tests/mailclient.py) run inside the container, all exchanges in one call (`run_all`,
each call through Ansible costs seconds); the tests below assert on what they observed. Port-25
exchanges use the container's non-loopback address, outside Postfix's mynetworks, as an Internet
server would. Each test names the regulation article it checks.
"""

from __future__ import annotations

import re

import pytest
from conftest import PASSWORD

from congvu.sizes import parse_size

LAZY_EXPUNGE_MAILBOX = "Thư đã xoá"  # the dovecot role's default


@pytest.fixture(scope="module")
def transport(hostvars):
    """The scenario's delivery path (converge.yml): dovecot-lda (Hà Nam) or lmtp (Gia Lai)."""
    return hostvars.get("mailcore_mailbox_transport", "dovecot-lda")


@pytest.fixture(scope="module")
def report(client, hostvars, policy):
    return client("run_all", cfg={
        "accounts": hostvars["mailcore_accounts"],
        "domains": hostvars["mailcore_domains"],
        "password": PASSWORD,
        "attachment_limit": parse_size(policy["attachments"]["max_size"]),
        "lazy_expunge_mailbox": LAZY_EXPUNGE_MAILBOX,
    }, timeout=900)


def brief(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "esmtp"}


# --- configuration and listeners ----------------------------------------------------------------

def test_configuration_checks_pass(host):
    assert host.run("postfix check && doveconf -n >/dev/null").rc == 0


def test_listeners(host):
    """Mail ports open; IMAP and POP3 plaintext ports closed (Cần Thơ Art 9.10)."""
    listening = set(re.findall(r":(\d+)\s", host.check_output("ss -ltnH")))
    assert {"25", "465", "587", "993", "995", "4190"} <= listening, listening
    assert not {"143", "110"} & listening, listening


def test_mx_runs_postscreen_without_sasl(host, report):
    assert "postscreen" in host.check_output("postconf -M smtp/inet")
    assert "auth" not in report["mx_plain"]["esmtp"]  # no SASL on the MX
    assert "8bitmime" in report["mx_plain"]["esmtp"]


def test_raw_utf8_headers_delivered(report):
    """TCVN 6909:2001 Unicode: a message with raw UTF-8 Vietnamese headers is delivered intact."""
    assert report["utf8_raw_delivered"]


# --- SMTPUTF8 (issue #4): on with dovecot-lda, off with Dovecot 2.3's LMTP ----------------------------

@pytest.mark.parametrize("port", ["587", "25"])
def test_smtputf8_offered_with_dovecot_lda_only(report, transport, port):
    """EHLO (after STARTTLS) offers SMTPUTF8 on the MX and on submission when delivery goes through
    dovecot-lda; with LMTP it must not (Dovecot 2.3's LMTP would make Postfix bounce with 5.6.7)."""
    result = report["smtputf8"][port]
    assert result["ehlo"], result
    assert result["offered"] is (transport == "dovecot-lda"), result["ehlo"]


@pytest.mark.parametrize("port", ["587", "25"])
def test_raw_utf8_subject_delivered_byte_for_byte(report, port):
    """TCVN 6909:2001: 'Subject: Báo cáo tháng 11 – Sở TT&TT' sent raw (no RFC 2047), with
    MAIL FROM ... SMTPUTF8 where offered, is delivered and read back over IMAP unchanged."""
    result = report["smtputf8"][port]
    assert result["sent"]["ok"], result["sent"]
    assert result["arrived"], result
    assert result["stored"] == [result["subject"]], result


def test_smtputf8_mail_not_bounced(report):
    """A bounce would lose the message: no 5.6.7, no bounce, nothing left queued for the reader."""
    assert report["smtputf8_log"] == [], report["smtputf8_log"]
    assert report["smtputf8_queue"] == [], report["smtputf8_queue"]


def test_relay_denied_on_mx(report):
    relay = report["relay"]
    assert relay["code"] == 554 and "Relay access denied" in relay["message"], relay


def test_retired_account_unknown(report):
    """A retired mailbox is unknown (550); locked ones still receive (below)."""
    assert report["retired"]["code"] == 550, report["retired"]


def test_domains_come_from_ldap(report):
    """Gia Lai Art 4: each agency's subdomain is a mail domain of its own (associatedDomain)."""
    domains = dict(report["domains"])
    assert domains.pop("example.org") == ""
    assert all(domains.values()), domains


# --- submission and reading ------------------------------------------------------------------------

@pytest.mark.parametrize("port", ["587", "465"])
def test_submit_and_read_over_imap_and_pop3(report, port):
    """Cần Thơ Art 3.4, Gia Lai Art 7.1: mail read with IMAP and POP3 clients."""
    result = report["submit"][port]
    assert result["sent"]["ok"], result["sent"]
    assert result["imap_ok"], "message not seen over IMAP"
    assert result["pop_ok"] and result["pop_has"], "message not seen over POP3"


def test_submission_requires_tls_before_auth(report):
    result = report["submit_no_tls"]
    assert not result["ok"] and "auth" not in result["esmtp"], result


def test_mail_to_alias_arrives(report):
    assert report["alias_sent"]["ok"], report["alias_sent"]
    assert report["alias_delivered"]


def test_sender_may_use_delegated_organisation_mailbox(report):
    assert report["delegated"]["ok"], report["delegated"]


@pytest.mark.parametrize("forged", ["sender", "org"])
def test_sender_cannot_forge(report, forged):
    result = report["forged"][forged]
    assert result["code"] == 553 and "not owned by user" in result["message"], result


# --- message size (Hà Nam Art 8.1.b) ------------------------------------------------------------

def test_attachment_at_the_limit_passes(report):
    """Hà Nam Art 8.1.b: an attachment of the limit (20 MB) goes through."""
    assert report["size_ok"]["ok"], report["size_ok"]


@pytest.mark.parametrize(("case", "stage"), [("declared", "mail"), ("undeclared", "data")])
def test_attachment_over_the_limit_refused(report, case, stage):
    """Hà Nam Art 8.1.b: 1 MB over the limit is refused with 552, with or without SIZE=."""
    result = report["size_over"][case]
    assert result["code"] == 552 and result["stage"] == stage, result


# --- account state (Hà Nam Art 7.1, 8.2.a; Gia Lai Art 6.1, 9.1) -----------------------------------

def _refused_everywhere(logins: dict) -> None:
    assert not logins["imap"]["ok"], logins["imap"]
    assert not logins["pop3"]["ok"], logins["pop3"]
    assert logins["smtp"]["stage"] == "auth" and logins["smtp"]["code"] == 535, brief(logins["smtp"])
    assert not logins["sieve"]["ok"] and logins["sieve"].get("stage") == "auth", logins["sieve"]


def test_locked_account_cannot_log_in(report):
    """Hà Nam Art 7.1, Gia Lai Art 6.1: a locked account cannot log in."""
    _refused_everywhere(report["locked_login"])


def test_locked_account_still_receives(report):
    """Hà Nam Art 7.1, Gia Lai Art 6.1: a locked mailbox keeps receiving mail."""
    assert report["locked_mx"]["ok"], brief(report["locked_mx"])
    assert report["locked_delivered"]


def test_must_change_account_cannot_log_in(report):
    """Hà Nam Art 8.2.a, Gia Lai Art 9.1: no IMAP, POP3, SMTP or Sieve until the initial password changes."""
    _refused_everywhere(report["mustchange_login"])


def test_wrong_password_refused(report):
    result = report["wrong_password"]
    assert not result["ok"] and "AUTHENTICATIONFAILED" in result["message"].upper(), result


# --- TLS (Cần Thơ Art 9.10) --------------------------------------------------------------------------

def test_tls_probe_can_speak_tls_1_1(report):
    """Control: the probe really negotiates TLS 1.1 with a server that allows it, so the refusals
    below come from the mail servers."""
    assert report["tls_control"] == {"ok": True, "version": "TLSv1.1"}, report["tls_control"]


@pytest.mark.parametrize("port", ["587", "465", "25", "993", "995"])
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_old_tls_refused(report, port, version):
    result = report["tls"][f"{port}/{version}"]
    assert not result["ok"], result


@pytest.mark.parametrize("port", ["587", "465", "25", "993", "995"])
def test_tls_1_2_accepted(report, port):
    assert report["tls"][f"{port}/TLSv1_2"] == {"ok": True, "version": "TLSv1.2"}


# --- quota (Gia Lai Art 7.3) ------------------------------------------------------------------------

def test_quota_from_ldap(report, policy):
    """congvuMailQuota is bytes (0 = unlimited); entries without it get the policy's personal quota."""
    quota = report["quota"]
    assert re.search(r"STORAGE\s+\d+\s+9[78]\b", quota["tiny"]), quota["tiny"]  # 100000 bytes in KiB
    personal = parse_size(policy["quota"]["personal"]) / 1024  # doveadm shows KiB, rounded up
    limit = int(re.search(r"STORAGE\s+\d+\s+(\d+)", quota["reader"]).group(1))
    assert abs(limit - personal) < 1, quota["reader"]
    assert re.search(r"STORAGE\s+\d+\s+-\s", quota["org"]), quota["org"]


def test_quota_warning_in_vietnamese(report, policy, accounts):
    """Gia Lai Art 7.3.d: a warning mail in Vietnamese arrives in the mailbox as it nears full."""
    assert report["quota_first"]["ok"], report["quota_first"]
    assert report["quota_warnings"], "no quota warning delivered"
    msg = report["quota_warnings"][0]
    percent = re.search(r"đã dùng (\d+)% dung lượng", msg["subject"]).group(1)
    assert int(percent) in policy["quota"]["warning_percent"], msg["subject"]
    assert msg["raw_subject"].startswith("=?UTF-8?B?"), msg["raw_subject"]
    assert "charset=UTF-8" in msg["content_type"]
    assert f"Hộp thư {accounts['tiny']['mail']} đã sử dụng" in msg["body"]
    assert msg["from"].startswith("Hệ thống thư điện tử công vụ")


def test_over_quota_recipient_gets_4xx_at_rcpt(report):
    """Gia Lai Art 7.3: a full mailbox defers (4xx at RCPT): the sending server keeps the message."""
    usage = int(re.search(r"STORAGE\s+\d+\s+\d+\s+(\d+)", report["quota_full"]).group(1))
    assert usage >= 100, report["quota_full"]
    result = report["quota_mx"]
    assert result["stage"] == "rcpt" and result["code"] == 452, result
    assert result["message"].startswith("4.2.2"), result


def test_over_quota_mail_already_queued_is_not_lost(report, accounts):
    """Mail already in Postfix waits in the queue (LMTP 4xx, dovecot-lda exit 75) and is delivered once
    there is room."""
    assert report["quota_deferred"], report["quota_queue"]
    assert not report["quota_delivered_while_full"]
    assert report["quota_delivered_after_raise"], report["quota_raised"]
    assert accounts["tiny"]["mail"] not in report["quota_queue_after"]


# --- Sieve and ManageSieve -----------------------------------------------------------------------

def test_sieve_via_managesieve_files_mail(report):
    assert report["sieve_put"]["ok"], report["sieve_put"]
    assert report["sieve_filed"] and not report["sieve_filed_in_inbox"]


def test_sieve_redirect_outside_refused_and_kept(report):
    """Hà Nam Art 4.5, Ninh Bình Art 12.5: a redirect to a non-state address (gmail.com) is refused by
    Postfix's Sieve listener and the message stays in the INBOX; nothing is queued for gmail.com.
    Also for a message with an empty envelope sender, which Sieve redirects with <>."""
    for case in ("outside", "outside_null"):
        assert report["sieve_sent"][case]["ok"], report["sieve_sent"][case]
        assert report["sieve_in_inbox"][case], f"{case}: message not kept in the INBOX"
    assert report["sieve_queue"]["outside"] == [], report["sieve_queue"]["outside"]
    refused = [x for x in report["sieve_log"]["listener_refused"] if "<canhan@gmail.com>" in x]
    assert len(refused) == 2, report["sieve_log"]
    assert all("5.7.1" in x and "Art 4.5" in x for x in refused), refused
    assert any("from=<>" in x for x in refused) and any("from=<postmaster@" in x for x in refused), refused


def test_sieve_redirect_inside_province_delivered(report):
    """A redirect to another mailbox of the province is delivered there (and not kept: no :copy)."""
    assert report["sieve_inside_delivered"]
    assert not report["sieve_in_inbox"]["inside"]


def test_sieve_redirect_to_other_state_domain_accepted(report):
    """*.gov.vn is allowed: the redirect to hagiang.gov.vn is accepted by the listener and queued for
    relay, from the forward sender (read from Postfix's log: the container cannot deliver it)."""
    assert not report["sieve_in_inbox"]["other"]
    queued = report["sieve_queue"]["other"]
    assert len(queued) == 1 and queued[0]["sender"].startswith("postmaster@"), queued
    assert queued[0]["via_sieve_listener"], queued
    accepted = [x for x in report["sieve_log"]["dovecot"] if "forwarded to <vanthu@hagiang.gov.vn>" in x]
    assert accepted, report["sieve_log"]


def test_sieve_vacation_reply_reaches_outside_sender(report, accounts):
    """A vacation reply is not a forward: it answers an outside sender, from the user's own address."""
    assert report["sieve_sent"]["vacation"]["ok"], report["sieve_sent"]["vacation"]
    assert report["sieve_in_inbox"]["vacation"]
    queued = report["sieve_queue"]["vacation"]
    assert len(queued) == 1 and queued[0]["sender"] == accounts["reader"]["mail"], queued
    assert queued[0]["via_sieve_listener"], queued
    assert any("sent vacation response to <congvan@example.org>" in x for x in report["sieve_log"]["dovecot"])


# --- lazy_expunge (Cần Thơ Art 11.3) ----------------------------------------------------------------

def test_organisation_mailbox_deletions(report, hostvars):
    """Cần Thơ Art 11.3: with the switch on, what an organisation mailbox deletes stays recoverable."""
    deleted = report["deleted"]["org"]
    assert deleted["arrived"] and not deleted["in_inbox"], deleted
    assert deleted["recovered"] is bool(hostvars["mailcore_lazy_expunge"]), deleted


def test_personal_mailbox_deletions_are_final(report):
    deleted = report["deleted"]["reader"]
    assert deleted["arrived"] and not deleted["in_inbox"] and not deleted["recovered"], deleted


# --- last login (lifecycle: Gia Lai Art 6, Cần Thơ Art 5) -----------------------------------------

def test_last_login_recorded(report):
    assert report["last_login"], "no /var/lib/dovecot/last-login/<user> record"
    assert int(report["last_login"]) >= report["last_login_before"]
