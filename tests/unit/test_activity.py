"""Logins and mail activity from the mail host's journal (congvu.activity), as ``journalctl -o json``
gives the records. The run that writes them is tested in test_lifecycle_run.py, the real logs over the
wire in tests/layouts/lifecycle_checks.py and demo-split/test_lifecycle_split.py."""

from __future__ import annotations

import datetime as dt
import email
import re
from pathlib import Path

from congvu.activity import IDENTIFIERS, Seen, parse
from congvu.mailbox import render
from congvu.notices import Message
from congvu.workdays import VN_TZ

D = dt.date


def _record(ident: str, message, when: dt.datetime) -> dict:
    return {"SYSLOG_IDENTIFIER": ident, "MESSAGE": message,
            "__REALTIME_TIMESTAMP": str(int(when.timestamp() * 1_000_000))}


def _at(day: dt.date, hour: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=VN_TZ)


def test_logins_of_every_protocol_count_and_failures_do_not():
    # Gia Lai Art 5.4, Cần Thơ Art 5.4, Ninh Bình Art 7.1 measure logins; the webmail logs in over IMAP.
    day = D(2027, 3, 2)
    seen = parse([
        _record("dovecot", "imap-login: Login: user=<hoapt.stttt@ninhbinh.gov.vn>, method=PLAIN, "
                           "rip=10.0.0.5, lip=10.0.0.2, mpid=1, TLS, session=<x>", _at(day, 9)),
        _record("dovecot", "pop3-login: Login: user=<binhnv.snv@ninhbinh.gov.vn>, method=PLAIN, "
                           "rip=10.0.0.6", _at(day, 10)),
        _record("dovecot", "managesieve-login: Login: user=<lanlt.snv@ninhbinh.gov.vn>, method=PLAIN",
                _at(day, 11)),
        _record("dovecot", "imap-login: Disconnected (auth failed, 1 attempts in 2 secs): "
                           "user=<kethu@ninhbinh.gov.vn>, method=PLAIN, rip=203.0.113.9", _at(day, 12)),
        _record("dovecot", "auth: ldap(kethu@ninhbinh.gov.vn,203.0.113.9): invalid credentials",
                _at(day, 12)),
    ])
    assert seen.logins == {"hoapt.stttt@ninhbinh.gov.vn": day, "binhnv.snv@ninhbinh.gov.vn": day,
                           "lanlt.snv@ninhbinh.gov.vn": day}
    assert seen.mail == {}


def test_authenticated_submission_is_a_login_and_mail_delivery_is_mail_activity():
    # Gia Lai Art 6.2.a: "đăng nhập, gửi, nhận"; Hà Nam Art 7.2.a: sent or received. A delivery is not
    # a login (a locked mailbox still receives: Hà Nam Art 7.1).
    day = D(2027, 3, 2)
    seen = parse([
        _record("postfix/submission/smtpd", "4F2A1: client=webmail[10.0.0.4], sasl_method=PLAIN, "
                                            "sasl_username=Hoapt.STTTT@hanam.gov.vn", _at(day, 8)),
        _record("dovecot", "lda(lethihoa@hanam.gov.vn)<123><abc>: msgid=<m@x>: saved mail to INBOX",
                _at(day, 9)),
        _record("postfix/smtpd", "4F2A2: client=mx.example.org[198.51.100.7]", _at(day, 9)),
    ])
    assert seen.mail == {"hoapt.stttt@hanam.gov.vn": day, "lethihoa@hanam.gov.vn": day}
    assert seen.logins == {"hoapt.stttt@hanam.gov.vn": day}


def test_the_latest_day_in_vietnam_wins_and_binary_messages_are_skipped():
    # 23:30 UTC on 1 March is 06:30 on 2 March in Vietnam: the lifecycle counts days there.
    late = dt.datetime(2027, 3, 1, 23, 30, tzinfo=dt.UTC)
    login = "imap-login: Login: user=<hoapt.stttt@hanam.gov.vn>, method=PLAIN"
    seen = parse([_record("dovecot", login, late), _record("dovecot", login, _at(D(2027, 2, 27), 9)),
                  _record("dovecot", [105, 109, 97, 112], late)])
    assert seen.logins == {"hoapt.stttt@hanam.gov.vn": D(2027, 3, 2)}
    assert seen.until(D(2027, 3, 1)) == Seen({}, {})


def test_every_submission_service_of_postfix_is_read():
    # With a front (docs/topology.md) clients and the webmail submit through the -front services, which
    # log under their own names: missing one would leave that mail and those logins uncounted.
    template = Path(__file__).resolve().parents[2] / "roles/postfix/templates/etc/postfix/master.cf.j2"
    text = template.read_text(encoding="utf-8")
    names = set(re.findall(r"\('(submissions?(?:-front)?)',", text))
    assert names == {"submission", "submissions", "submission-front", "submissions-front"}, names
    assert "-o syslog_name=postfix/{{ name }}" in text
    assert {f"postfix/{n}/smtpd" for n in names} <= set(IDENTIFIERS)
    day = D(2027, 3, 2)
    seen = parse([_record("postfix/submission-front/smtpd", "5B1C2: client=front[10.0.0.3], "
                          "sasl_method=PLAIN, sasl_username=hoapt.stttt@gialai.gov.vn", _at(day, 8))])
    assert seen.mail == seen.logins == {"hoapt.stttt@gialai.gov.vn": day}


def test_the_systems_own_messages_are_not_the_readers_mail_activity():
    # Hà Nam Art 7.2.a and Gia Lai Art 6.2.a lock after months without mail sent or received; the
    # inactivity warning the run mails ahead of the lock (lifecycle.inactivity_warning_days) is received
    # mail too. Counted, it would move the reader's last mail activity to the warning's day, and the
    # lock would never come. The Message-ID render gives every system message is what tells them apart.
    day = D(2027, 3, 2)
    warning = Message(kind="warn_inactivity", sender="hethong@hanam.gov.vn", to=("lethihoa@hanam.gov.vn",),
                      subject="Hộp thư sẽ bị tạm khóa", body="Kính gửi", summary_en="warning")
    msgid = email.message_from_bytes(render(warning, _at(day, 6), "hanam.gov.vn"))["Message-ID"]
    assert msgid.endswith(".congvu-notice@hanam.gov.vn>"), msgid
    delivered = "lda(lethihoa@hanam.gov.vn)<4711><Xb2>: msgid={}: saved mail to INBOX"
    seen = parse([_record("dovecot", delivered.format(msgid), _at(day, 6)),
                  _record("dovecot", delivered.format(msgid).replace("saved mail to INBOX",
                          "sieve: stored mail into mailbox 'INBOX'"), _at(day, 6))])
    assert seen.mail == {}
    # the same person's real mail that day counts, and so does a sender who merely mentions the mark
    seen = parse([_record("dovecot", delivered.format(msgid), _at(day, 6)),
                  _record("dovecot", delivered.format("<congvu-notice.x@example.org>"), _at(day, 10))])
    assert seen.mail == {"lethihoa@hanam.gov.vn": day}
