"""Real mail through the whole stack of the all-in-one layout: SMTP from the test runner into Postfix
(25 as an outside sender, 587 as an authenticated user), the Rspamd milter, delivery into Dovecot.
Each test asserts the SMTP reply AND where the message ended up (the recipient's mailbox through
doveadm, Postfix's hold queue, or a local SMTP sink standing in for the outside world). The expected
actions come from the province policy the layout runs (policies/hanam.yml through the wiring), so
the tests follow the policy rather than restate it. docs/filtering.md lists the rules and articles.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import shlex
import time
import uuid

import pytest
from filtermail import (
    EICAR,
    GTUBE,
    build_message,
    dkim_record,
    dkim_verifies,
    encrypted_zip,
    minimal_pe,
    queue_id,
    smtp,
)
from webaccounts import INITIAL_PASSWORD, web_accounts

SINK_PORT = 2525
SINK_DIR = "/var/tmp/congvu-sink"
MAIN_CF_COPY = "/root/main.cf.before-mailflow"
OUTSIDE = "example.net"


@pytest.fixture(scope="module")
def accounts(stage, testpeople):
    return {role: acct.mail for role, acct in web_accounts(stage, testpeople).items()}


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:10]}"


# Mail from outside the province to a Hà Nam mailbox unless a test says otherwise.
message = functools.partial(build_message, body="Kính gửi anh,\nBáo cáo tuần gửi kèm.\n",
                            sender="vanthu@example.org")


def send(mx, raw: bytes, to: str, sender: str = "vanthu@example.org", port: int = 25, user=None,
         password=None, cafile=None) -> dict:
    return smtp(mx.address, raw, to, sender, port=port, user=user, password=password, cafile=cafile)


def in_mailbox(mx, user: str, subject: str, wait: float = 30.0) -> str:
    """The full text of the message with this subject in the user's INBOX ('' if absent after wait)."""
    deadline = time.monotonic() + wait
    while True:
        uids = mx.run(f"doveadm search -u {shlex.quote(user)} mailbox INBOX "
                      f"header subject {shlex.quote(subject)}").stdout_text.split()
        if uids:
            return mx.out(f"doveadm fetch -u {shlex.quote(user)} text mailbox INBOX "
                          f"header subject {shlex.quote(subject)}")
        if time.monotonic() >= deadline:
            return ""
        time.sleep(1)


def rspamd_log(flt, qid: str) -> str:
    """Rspamd's log line of the message Postfix queued as qid (the milter passes the queue ID)."""
    return flt.run(f"grep -a -F 'qid: <{qid}>' /var/log/rspamd/rspamd.log").stdout_text


def mail_log(mx, qid: str) -> str:
    return mx.run(f"journalctl --no-pager -q -t postfix/cleanup -t postfix/smtpd -t postfix/qmgr "
                  f"-t postfix/smtp -t postfix/lmtp -t postfix/pipe -g {qid}").stdout_text


# --- inbound (port 25): refused, delivered, flagged ----------------------------------------------

def test_clean_message_delivered(mx, flt, accounts):
    # negative control for every refusal below: an ordinary message with a PDF reaches the mailbox
    subject = unique("Lịch họp tuần")
    raw = message(subject, to=accounts["target"],
                  attachments=[("lichhop.pdf", b"%PDF-1.4\n%test\n", "application/pdf")])
    reply = send(mx, raw, accounts["target"])
    assert reply["code"] == 250, reply
    qid = queue_id(reply)
    text = in_mailbox(mx, accounts["target"], subject)
    assert text, mail_log(mx, qid)
    # it went through the milter: Rspamd scanned it under Postfix's queue ID and let it pass
    assert "(no action)" in rspamd_log(flt, qid), rspamd_log(flt, qid)
    assert "X-Spam: Yes" not in text


def test_gtube_refused(mx, accounts):
    subject = unique("Quảng cáo")
    reply = send(mx, message(subject, body=f"Test\n{GTUBE}\n", to=accounts["target"]), accounts["target"])
    assert reply["code"] == 554 and reply["step"] == "data", reply
    assert not in_mailbox(mx, accounts["target"], subject, wait=3)


def test_eicar_refused(mx, accounts):
    # ClamAV behind the milter (staging's test signature database: EICAR,
    # inventories/demo/group_vars/congvu/main.yml)
    subject = unique("Tài liệu")
    raw = message(subject, to=accounts["target"], attachments=[("eicar.txt", EICAR.encode(), "text/plain")])
    reply = send(mx, raw, accounts["target"])
    assert reply["code"] == 554 and "virus" in reply["text"].lower(), reply
    assert not in_mailbox(mx, accounts["target"], subject, wait=3)


def test_exe_renamed_pdf_refused(stage, mx, flt, accounts):
    # the policy's blocked executables (Ninh Bình Art 11.6 binds them; Hà Nam's regulation does not,
    # so the reply cites no article): the content (MZ header) betrays an executable named like a PDF
    subject = unique("Hóa đơn")
    raw = message(subject, to=accounts["target"],
                  attachments=[("hoadon.pdf", minimal_pe(), "application/pdf")])
    reply = send(mx, raw, accounts["target"])
    # the wiring's reply around the file Rspamd names ("hoadon.pdf [exe]": found by its content)
    before, _, after = stage.wiring[flt.name]["rspamd_executable_reject_message"].partition("%s")
    assert reply["code"] == 554 and before + "hoadon.pdf" in reply["text"] and after in reply["text"], reply
    assert not in_mailbox(mx, accounts["target"], subject, wait=3)


def test_encrypted_zip_per_policy(stage, mx, flt, accounts):
    # Ninh Bình Art 11.6 ("hạn chế"): the province's attachments.encrypted_archives says reject or flag
    subject = unique("Bảng lương")
    raw = message(subject, to=accounts["target"],
                  attachments=[("bangluong.zip", encrypted_zip(), "application/zip")])
    reply = send(mx, raw, accounts["target"])
    action = stage.policy["attachments"].get("encrypted_archives", "flag")
    if action == "reject":
        before, _, after = stage.wiring[flt.name]["rspamd_encrypted_archive_message"].partition("%s")
        assert reply["code"] == 554 and before + "bangluong.zip" in reply["text"], reply
        assert after in reply["text"], reply
        assert not in_mailbox(mx, accounts["target"], subject, wait=3)
        return
    assert reply["code"] == 250, reply
    qid = queue_id(reply)
    text = in_mailbox(mx, accounts["target"], subject)
    assert text, mail_log(mx, qid)
    scanned = rspamd_log(flt, qid)
    assert "CONGVU_ENCRYPTED_ARCHIVE" in scanned, scanned
    if action == "flag":
        # delivered and flagged: the recipient's client sees X-Spam: Yes
        assert "(add header)" in scanned, scanned
        assert re.search(r"^X-Spam: Yes", text, re.M), text[:2000]
    else:  # allow
        assert not re.search(r"^X-Spam: Yes", text, re.M), text[:2000]


# --- classification stamps: the policy's classified (Hà Giang Art 3.4 binds reject) ---------------------

def test_classified_stamp_held_everyday_mat_passes(stage, mx, flt, accounts):
    action = (stage.policy.get("classified") or {}).get("action", "hold")
    assert action != "off", "Hà Nam's policy acts on classification stamps (Hà Nam Art 4.1)"
    submit = functools.partial(send, mx, sender=accounts["reader"], port=587, user=accounts["reader"],
                               password=INITIAL_PASSWORD, cafile=stage.ca_file)
    # the word "mật khẩu" (password) is no stamp: delivered
    plain = unique("Đổi mật khẩu hộp thư")
    reply = submit(message(plain, body="Mật khẩu mới phải đổi sau 3 tháng.\n", sender=accounts["reader"],
                           to=accounts["target"]), accounts["target"])
    assert reply["code"] == 250, reply
    assert in_mailbox(mx, accounts["target"], plain), mail_log(mx, queue_id(reply))

    # the same sender, a document stamped TUYỆT MẬT
    stamped = unique("Kế hoạch")
    raw = message(stamped, body="Kính gửi: Sở Nội vụ\n\nTUYỆT MẬT\n\nNội dung văn bản.\n",
                  sender=accounts["reader"], to=accounts["target"])
    reply = submit(raw, accounts["target"])
    if action == "reject":
        said = stage.wiring[flt.name]["rspamd_classified_message"]
        assert reply["code"] == 554 and said in reply["text"], reply
        assert not in_mailbox(mx, accounts["target"], stamped, wait=3)
        return
    # hold: accepted by Postfix, kept in its hold queue, never delivered
    assert reply["code"] == 250, reply
    qid = queue_id(reply)
    try:
        assert not in_mailbox(mx, accounts["target"], stamped, wait=5)
        queue = [json.loads(line) for line in mx.out("postqueue -j").splitlines() if line.strip()]
        held = [q for q in queue if q["queue_id"] == qid]
        assert held and held[0]["queue_name"] == "hold", queue
        assert [r["address"] for r in held[0]["recipients"]] == [accounts["target"]]
        # why: Postfix logs the milter's hold, Rspamd's log (same queue ID) names the rule and the article
        log = mail_log(mx, qid)
        assert re.search(rf"{qid}: milter-hold: ", log), log
        scanned = rspamd_log(flt, qid)
        assert "(quarantine)" in scanned and "CONGVU_CLASSIFIED_STAMP" in scanned, scanned
        assert "TUYỆT MẬT in body" in scanned, scanned
        # the held copy is the stamped message (an operator inspects it with postcat, then deletes)
        assert "TUYỆT MẬT" in mx.out(f"postcat -bq {qid}")
    finally:
        mx.run(f"postsuper -d {qid} hold")


# --- outbound DKIM -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sink(mx):
    """Mail for example.net goes to a local smtp-sink (Postfix's test server) that saves every message:
    a test-only transport map on the running mail host, main.cf restored afterwards byte for byte
    (so a later converge stays idempotent; a copy left by an interrupted run is the original and is
    kept)."""
    mx.out(f"test -f {MAIN_CF_COPY} || cp -p /etc/postfix/main.cf {MAIN_CF_COPY}")
    try:
        transport = f"inline:{{ {OUTSIDE}=smtp:[127.0.0.1]:{SINK_PORT} }}"
        mx.out(f"rm -rf {SINK_DIR} && mkdir -p {SINK_DIR} && chown postfix: {SINK_DIR} && "
               f"postconf -e 'transport_maps = {transport}' && postfix reload && "
               f"systemd-run --unit congvu-smtp-sink --collect smtp-sink -u postfix "
               f"-d {SINK_DIR}/%Y%m%d%H%M%S. 127.0.0.1:{SINK_PORT} 10")
        yield SINK_DIR
    finally:
        mx.run(f"systemctl stop congvu-smtp-sink; cp -p {MAIN_CF_COPY} /etc/postfix/main.cf && "
               f"rm -f {MAIN_CF_COPY} && postfix reload; rm -rf {SINK_DIR}")


def test_outbound_mail_is_dkim_signed(stage, mx, accounts, sink):
    sender = accounts["reader"]
    domain = sender.split("@")[1]
    # the record written for the operator to publish (docs/dns.md)
    record = dkim_record(stage, domain)
    assert record.startswith("v=DKIM1; k=rsa; p=")
    subject = unique("Công văn gửi đối tác")
    to = f"doitac@{OUTSIDE}"
    raw = build_message(subject, body="Nội dung ký số.\n", sender=sender, to=to)
    msgid = re.search(rb"^Message-ID: <([^>]+)>", raw, re.M).group(1).decode()
    reply = send(mx, raw, to, sender=sender, port=587, user=sender, password=INITIAL_PASSWORD,
                 cafile=stage.ca_file)
    assert reply["code"] == 250, reply
    qid = queue_id(reply)
    deadline = time.monotonic() + 60
    saved = ""
    while time.monotonic() < deadline and not saved:
        saved = mx.run(f"grep -l -F {shlex.quote(msgid)} {sink}/* 2>/dev/null | head -1").stdout_text.strip()
        time.sleep(1)
    assert saved, mail_log(mx, qid)
    raw = base64.b64decode(mx.out(f"base64 -w0 {saved}"))
    # smtp-sink puts the envelope (X-Client-Addr: ...) before the message: keep the message itself
    start = raw.find(b"\nReceived: ")
    raw = raw[start + 1:] if start >= 0 and not raw.startswith(b"Received: ") else raw
    assert re.search(rb"^DKIM-Signature:", raw, re.M), raw[:1500]
    signature = re.search(rb"^DKIM-Signature:.*?(?=^\S)", raw, re.M | re.S).group(0)
    assert f"d={domain}".encode() in signature and b"s=congvu" in signature
    assert dkim_verifies(raw, record), raw[:3000]
    # a changed body fails: the verification is real
    tampered = raw.replace("Nội dung ký số.".encode(), "Nội dung đã sửa.".encode())
    if tampered == raw:  # body transfer-encoded: change any body byte after the header block
        head, _, body = raw.partition(b"\n\n")
        tampered = head + b"\n\n" + body.replace(b"=", b"A", 1) if b"=" in body else head + b"\n\nX" + body
    assert tampered != raw
    assert not dkim_verifies(tampered, record)
