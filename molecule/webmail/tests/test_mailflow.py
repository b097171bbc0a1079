"""Real mail through the whole stack: SMTP into Postfix (25 from outside, 587 authenticated), the
Rspamd milter, LMTP into Dovecot. Each test asserts the SMTP reply AND where the message ended up
(the recipient's mailbox through doveadm, Postfix's hold queue, or a local SMTP sink standing in for
the outside world). The expected actions come from the province policy the scenario converged
(policies/<webmail_province>.yml), so the tests follow the policy rather than restate it.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import pathlib
import re
import shlex
import time
import uuid

import pytest
import yaml
from mailmsg import build_message, minimal_pe

PROJECT = pathlib.Path(__file__).resolve().parents[3]
# podman:// runs each command with podman exec (about ten times faster than ansible://, docs/testing.md);
# the scenario's variables then come from its molecule.yml.
testinfra_hosts = ["podman://congvu-webmail"]
VARS = yaml.safe_load((pathlib.Path(__file__).resolve().parents[1] / "molecule.yml").read_text(
    encoding="utf-8"))["provisioner"]["inventory"]["host_vars"]["congvu-webmail"]
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
EICAR = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
SINK_PORT = 2525
SINK_DIR = "/var/tmp/congvu-sink"
MAIN_CF_COPY = "/root/main.cf.before-mailflow"
OUTSIDE = "example.net"

# One SMTP transaction with the standard library, run inside the container; prints the reply of the
# step that ended it (code, text, step) as JSON. Message and arguments travel base64-encoded.
SMTP_CLIENT = r"""
import base64, json, smtplib, ssl, sys
a = json.loads(base64.b64decode(sys.argv[1]))
msg = base64.b64decode(a["msg"])
step = "connect"
try:
    c = smtplib.SMTP("127.0.0.1", a["port"], local_hostname="client.example.org", timeout=120)
    step = "ehlo"; c.ehlo()
    if a.get("user"):
        ctx = ssl.create_default_context(cafile="/etc/ssl/congvu/ca.crt")
        ctx.check_hostname = False
        step = "starttls"; c.starttls(context=ctx); c.ehlo()
        step = "auth"; c.login(a["user"], a["password"])
    step = "mail"; code, text = c.mail(a["from"])
    if code >= 400: raise smtplib.SMTPResponseException(code, text)
    step = "rcpt"; code, text = c.rcpt(a["to"])
    if code >= 400: raise smtplib.SMTPResponseException(code, text)
    step = "data"; code, text = c.data(msg)
    c.quit()
    print(json.dumps({"code": code, "text": text.decode(errors="replace"), "step": step}))
except smtplib.SMTPResponseException as e:
    msg = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
    print(json.dumps({"code": e.smtp_code, "text": msg, "step": step}))
"""

# DKIM verification with dkimpy (python3-dkim), the TXT record handed in instead of DNS.
DKIM_VERIFY = r"""
import sys, dkim
record = sys.argv[1].encode()
ok = dkim.verify(sys.stdin.buffer.read(), dnsfunc=lambda name, timeout=5: record)
print("DKIM-OK" if ok else "DKIM-FAIL")
"""


# --- helpers ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def policy():
    with open(PROJECT / "policies" / f"{VARS['webmail_province']}.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="module")
def password():
    base = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets"
    return "Cv#7" + (base / "initial").read_text().split()[0]


@pytest.fixture(scope="module")
def accounts():
    return {role: acct["mail"] for role, acct in VARS["webmail_accounts"].items()}


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:10]}"


# Mail from outside the province to a Hà Nam mailbox unless a test says otherwise.
message = functools.partial(build_message, body="Kính gửi anh,\nBáo cáo tuần gửi kèm.\n",
                            sender="vanthu@example.org", to="levancuong@hanam.gov.vn")


def smtp(host, raw: bytes, to: str, sender: str = "vanthu@example.org", port: int = 25,
         user: str | None = None, password: str | None = None) -> dict:
    args = {"msg": base64.b64encode(raw).decode(), "port": port, "from": sender, "to": to,
            "user": user, "password": password}
    encoded = base64.b64encode(json.dumps(args).encode()).decode()
    out = host.run(f"python3 -c {shlex.quote(SMTP_CLIENT)} {encoded}")
    assert out.rc == 0 and out.stdout.strip(), out.stderr
    return json.loads(out.stdout)


def in_mailbox(host, user: str, subject: str, wait: float = 30.0) -> str:
    """The full text of the message with this subject in the user's INBOX ('' if absent after wait)."""
    deadline = time.time() + wait
    while True:
        uids = host.run(f"doveadm search -u {shlex.quote(user)} mailbox INBOX "
                        f"header subject {shlex.quote(subject)}").stdout.split()
        if uids:
            return host.run(f"doveadm fetch -u {shlex.quote(user)} text mailbox INBOX "
                            f"header subject {shlex.quote(subject)}").stdout
        if time.time() >= deadline:
            return ""
        time.sleep(1)


def queue_id(reply: dict) -> str:
    found = re.search(r"queued as ([0-9A-Za-z]+)", reply["text"])
    assert found, reply
    return found.group(1)


def rspamd_log(host, qid: str) -> str:
    """Rspamd's log line of the message Postfix queued as qid (the milter passes the queue ID)."""
    return host.run(f"grep -a -F 'qid: <{qid}>' /var/log/rspamd/rspamd.log").stdout


def mail_log(host, qid: str) -> str:
    return host.run(f"journalctl --no-pager -q -t postfix/cleanup -t postfix/smtpd -t postfix/qmgr "
                    f"-t postfix/smtp -t postfix/lmtp -g {qid}").stdout


# --- inbound (port 25): refused, delivered, flagged ---------------------------------------------

def test_clean_message_delivered(host, accounts):
    # negative control for every refusal below: an ordinary message with a PDF reaches the mailbox
    subject = unique("Lịch họp tuần")
    raw = message(subject, attachments=[("lichhop.pdf", b"%PDF-1.4\n%test\n", "application/pdf")])
    reply = smtp(host, raw, accounts["target"])
    assert reply["code"] == 250, reply
    qid = queue_id(reply)
    text = in_mailbox(host, accounts["target"], subject)
    assert text, mail_log(host, qid)
    # it went through the milter: Rspamd scanned it under Postfix's queue ID and let it pass
    # (Rspamd adds no X-Spamd-Result to mail from its local networks, loopback here)
    assert "(no action)" in rspamd_log(host, qid), rspamd_log(host, qid)
    assert "X-Spam: Yes" not in text


def test_gtube_refused(host, accounts):
    subject = unique("Quảng cáo")
    reply = smtp(host, message(subject, body=f"Test\n{GTUBE}\n"), accounts["target"])
    assert reply["code"] == 554 and reply["step"] == "data", reply
    assert not in_mailbox(host, accounts["target"], subject, wait=3)


def test_eicar_refused(host, accounts):
    # ClamAV behind the milter (with the role's test signature database: EICAR)
    subject = unique("Tài liệu")
    raw = message(subject, attachments=[("eicar.txt", EICAR.encode(), "text/plain")])
    reply = smtp(host, raw, accounts["target"])
    assert reply["code"] == 554 and "virus" in reply["text"].lower(), reply
    assert not in_mailbox(host, accounts["target"], subject, wait=3)


def test_exe_renamed_pdf_refused(host, accounts):
    # Ninh Bình Art 11.6: the content (MZ header) betrays an executable named like a PDF
    subject = unique("Hóa đơn")
    raw = message(subject, attachments=[("hoadon.pdf", minimal_pe(), "application/pdf")])
    reply = smtp(host, raw, accounts["target"])
    assert reply["code"] == 554 and "Ninh Binh Art 11.6" in reply["text"], reply
    assert not in_mailbox(host, accounts["target"], subject, wait=3)


def encrypted_zip(host) -> bytes:
    made = host.run("d=$(mktemp -d) && cd $d && echo 'bang luong' > bangluong.txt && "
                    "zip -q -P matkhau123 enc.zip bangluong.txt && base64 -w0 enc.zip && rm -rf $d")
    assert made.rc == 0, made.stderr
    return base64.b64decode(made.stdout)


def test_encrypted_zip_per_policy(host, accounts, policy):
    # Ninh Bình Art 11.6 ("hạn chế"): the province's attachments.encrypted_archives says reject or flag
    subject = unique("Bảng lương")
    raw = message(subject, attachments=[("bangluong.zip", encrypted_zip(host), "application/zip")])
    reply = smtp(host, raw, accounts["target"])
    action = policy["attachments"].get("encrypted_archives", "flag")
    if action == "reject":
        assert reply["code"] == 554 and "Ninh Binh Art 11.6" in reply["text"], reply
        assert not in_mailbox(host, accounts["target"], subject, wait=3)
        return
    assert reply["code"] == 250, reply
    qid = queue_id(reply)
    text = in_mailbox(host, accounts["target"], subject)
    assert text, mail_log(host, qid)
    scanned = rspamd_log(host, qid)
    assert "CONGVU_ENCRYPTED_ARCHIVE" in scanned, scanned
    if action == "flag":
        # delivered and flagged: the recipient's client sees X-Spam: Yes
        assert "(add header)" in scanned, scanned
        assert re.search(r"^X-Spam: Yes", text, re.M), text[:2000]
    else:  # allow
        assert not re.search(r"^X-Spam: Yes", text, re.M), text[:2000]


# --- classification stamps: Hà Giang Art 3.4 ----------------------------------------------------

def test_classified_stamp_held_everyday_mat_passes(host, accounts, password, policy):
    action = policy.get("classified", {}).get("action", "hold")
    if action == "off":
        pytest.skip("the province's policy does not act on classification stamps")
    # the word "mật khẩu" (password) is no stamp: delivered
    plain = unique("Đổi mật khẩu hộp thư")
    reply = smtp(host, message(plain, body="Mật khẩu mới phải đổi sau 3 tháng.\n",
                               sender=accounts["reader"]),
                 accounts["target"], sender=accounts["reader"], port=587,
                 user=accounts["reader"], password=password)
    assert reply["code"] == 250, reply
    assert in_mailbox(host, accounts["target"], plain), mail_log(host, queue_id(reply))

    # the same sender, a document stamped TUYỆT MẬT
    stamped = unique("Kế hoạch")
    raw = message(stamped, body="Kính gửi: Sở Nội vụ\n\nTUYỆT MẬT\n\nNội dung văn bản.\n",
                  sender=accounts["reader"])
    reply = smtp(host, raw, accounts["target"], sender=accounts["reader"], port=587,
                 user=accounts["reader"], password=password)
    if action == "reject":
        assert reply["code"] == 554 and "Ha Giang Art 3.4" in reply["text"], reply
        assert not in_mailbox(host, accounts["target"], stamped, wait=3)
        return
    # hold: accepted by Postfix, kept in its hold queue, never delivered
    assert reply["code"] == 250, reply
    qid = queue_id(reply)
    assert not in_mailbox(host, accounts["target"], stamped, wait=5)
    queue = [json.loads(line) for line in host.run("postqueue -j").stdout.splitlines() if line.strip()]
    held = [q for q in queue if q["queue_id"] == qid]
    assert held and held[0]["queue_name"] == "hold", queue
    assert [r["address"] for r in held[0]["recipients"]] == [accounts["target"]]
    # why: Postfix logs the milter's hold, Rspamd's log (same queue ID) names the rule and the article
    log = mail_log(host, qid)
    assert re.search(rf"{qid}: milter-hold: ", log), log
    scanned = rspamd_log(host, qid)
    assert "(quarantine)" in scanned and "CONGVU_CLASSIFIED_STAMP" in scanned, scanned
    assert "TUYỆT MẬT in body" in scanned and "Ha Giang Art 3.4" in scanned, scanned
    # the held copy is the stamped message (an operator inspects it with postcat, then deletes)
    assert stamped.encode("utf-8") in host.run(f"postcat -hq {qid}").stdout.encode("utf-8") or \
        "TUYỆT MẬT" in host.run(f"postcat -bq {qid}").stdout
    host.run(f"postsuper -d {qid} hold")


# --- outbound DKIM ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sink(host):
    """Mail for example.net goes to a local smtp-sink (Postfix's test server) that saves every message:
    a test-only transport map, main.cf restored afterwards byte for byte (so later converges stay
    idempotent; a copy left by an interrupted run is the original and is kept)."""
    saved = host.run(f"test -f {MAIN_CF_COPY} || cp -p /etc/postfix/main.cf {MAIN_CF_COPY}")
    assert saved.rc == 0, saved.stderr
    try:
        transport = f"inline:{{ {OUTSIDE}=smtp:[127.0.0.1]:{SINK_PORT} }}"
        started = host.run(f"rm -rf {SINK_DIR} && mkdir -p {SINK_DIR} && chown postfix: {SINK_DIR} && "
                           f"postconf -e 'transport_maps = {transport}' && postfix reload && "
                           f"systemd-run --unit congvu-smtp-sink --collect smtp-sink -u postfix "
                           f"-d {SINK_DIR}/%Y%m%d%H%M%S. 127.0.0.1:{SINK_PORT} 10")
        assert started.rc == 0, started.stderr
        yield SINK_DIR
    finally:
        host.run(f"systemctl stop congvu-smtp-sink; cp -p {MAIN_CF_COPY} /etc/postfix/main.cf && "
                 f"rm -f {MAIN_CF_COPY} && postfix reload")


def dkim_record(domain: str) -> str:
    """The DKIM TXT value from the zone snippet the role wrote and fetched for the operator."""
    path = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "dns-records" / f"{domain}.dns.txt"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(f"congvu._domainkey.{domain}."):
            return "".join(re.findall(r'"([^"]*)"', line))
    raise AssertionError(f"no DKIM record in {path}")


def dkim_verify(host, raw: bytes, record: str) -> str:
    out = host.run(f"printf %s {base64.b64encode(raw).decode()} | base64 -d | "
                   f"python3 -c {shlex.quote(DKIM_VERIFY)} {shlex.quote(record)}")
    return out.stdout.strip() or out.stderr


def test_outbound_mail_is_dkim_signed(host, accounts, password, sink):
    sender = accounts["reader"]
    domain = sender.split("@")[1]
    record = dkim_record(domain)
    assert record.startswith("v=DKIM1; k=rsa; p=")
    subject = unique("Công văn gửi đối tác")
    to = f"doitac@{OUTSIDE}"
    raw = message(subject, body="Nội dung ký số.\n", sender=sender, to=to)
    msgid = re.search(rb"^Message-ID: <([^>]+)>", raw, re.M).group(1).decode()
    reply = smtp(host, raw, to, sender=sender, port=587, user=sender, password=password)
    assert reply["code"] == 250, reply
    qid = queue_id(reply)
    deadline = time.time() + 60
    saved = ""
    while time.time() < deadline and not saved:
        saved = host.run(f"grep -l -F {shlex.quote(msgid)} {sink}/* 2>/dev/null | head -1").stdout.strip()
        time.sleep(1)
    assert saved, mail_log(host, qid)
    dump = host.run(f"base64 -w0 {saved}").stdout
    raw = base64.b64decode(dump)
    # smtp-sink puts the envelope (X-Client-Addr: ...) before the message: keep the message itself
    start = raw.find(b"\nReceived: ")
    raw = raw[start + 1:] if start >= 0 and not raw.startswith(b"Received: ") else raw
    assert re.search(rb"^DKIM-Signature:[^\n]*\n?(\s[^\n]*\n)*", raw, re.M), raw[:1500]
    signature = re.search(rb"^DKIM-Signature:.*?(?=^\S)", raw, re.M | re.S).group(0)
    assert f"d={domain}".encode() in signature and b"s=congvu" in signature
    assert dkim_verify(host, raw, record) == "DKIM-OK", raw[:3000]
    # a changed body fails: the verification is real
    tampered = raw.replace("Nội dung ký số.".encode(), "Nội dung đã sửa.".encode())
    if tampered == raw:  # body transfer-encoded: change any body byte after the header block
        head, _, body = raw.partition(b"\n\n")
        tampered = head + b"\n\n" + body.replace(b"=", b"A", 1) if b"=" in body else head + b"\n\nX" + body
    assert tampered != raw
    assert dkim_verify(host, tampered, record) == "DKIM-FAIL"
