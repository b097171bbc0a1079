#!/usr/bin/env python3
"""Real protocol clients for the mail core verifier, run inside the container under test.

Usage: python3 mailclient.py <command> '<json arguments>'; prints one JSON object. Only the Python
standard library is used (smtplib, imaplib, poplib, ssl), so the clients are independent of the
servers under test. Every network failure is reported, not raised, so the test can assert on it.
"""

from __future__ import annotations

import base64
import email
import email.header
import imaplib
import json
import os
import pathlib
import poplib
import re
import shlex
import smtplib
import socket
import ssl
import subprocess
import sys
import time
import uuid
from email.message import EmailMessage

CA_FILE = "/etc/ssl/congvu/ca.crt"


def tls_context(maximum: str | None = None, minimum: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=CA_FILE)
    ctx.check_hostname = False  # the tests connect by address; the chain is still verified
    if minimum or maximum:
        # Debian's OpenSSL policy refuses TLS < 1.2 for clients too; lower it so that the client can
        # really offer an old protocol and the *server* is what refuses it.
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        ctx.minimum_version = getattr(ssl.TLSVersion, minimum or "TLSv1")
        if maximum:
            ctx.maximum_version = getattr(ssl.TLSVersion, maximum)
    return ctx


def decode(value: str | None) -> str:
    if value is None:
        return ""
    return str(email.header.make_header(email.header.decode_header(value)))


def build_message(a: dict) -> bytes:
    msg = EmailMessage()
    msg["From"] = a.get("header_from", a["mail_from"])
    msg["To"] = ", ".join(a["rcpts"])
    msg["Subject"] = a.get("subject", "test")
    msg.set_content(a.get("body", "Kính gửi anh/chị: thư thử nghiệm.\n"))
    size = int(a.get("attachment_bytes", 0))
    if size:
        msg.add_attachment(os.urandom(size), maintype="application", subtype="octet-stream",
                           filename="tailieu.bin")
    return msg.as_bytes()


def smtp_send(a: dict) -> dict:
    """Walk an SMTP transaction step by step; report the first refusal with its stage and code."""
    host, port, mode = a.get("host", "127.0.0.1"), int(a["port"]), a.get("mode", "starttls")
    result: dict = {"ok": False, "stage": "connect", "code": None, "message": "", "rcpt": {}}
    try:
        if mode == "ssl":
            client = smtplib.SMTP_SSL(host, port, timeout=60, context=tls_context(a.get("tls_max")))
        else:
            client = smtplib.SMTP(host, port, timeout=60)
        result["stage"] = "ehlo"
        client.ehlo("client.test.example")
        result["esmtp"] = sorted(client.esmtp_features)
        if mode == "starttls":
            result["stage"] = "starttls"
            client.starttls(context=tls_context(a.get("tls_max")))
            client.ehlo("client.test.example")
            result["esmtp_tls"] = sorted(client.esmtp_features)
        if a.get("ehlo_only"):
            client.quit()
            result["ok"] = True
            return result
        if a.get("user"):
            result["stage"] = "auth"
            client.login(a["user"], a["password"])
        data = a["raw"].encode() if a.get("raw") else build_message(a)
        result["stage"] = "mail"
        opts = [f"SIZE={len(data)}"] if a.get("declare_size", True) else []
        opts += a.get("mail_options", [])
        code, resp = client.mail(a["mail_from"], opts)
        if code >= 400:
            result.update(code=code, message=resp.decode(errors="replace"))
            client.close()
            return result
        result["stage"] = "rcpt"
        accepted = 0
        for rcpt in a["rcpts"]:
            code, resp = client.rcpt(rcpt)
            result["rcpt"][rcpt] = [code, resp.decode(errors="replace")]
            accepted += code < 400
        if not accepted:
            code, resp = next(iter(result["rcpt"].values()))
            result.update(code=code, message=resp)
            client.close()
            return result
        result["stage"] = "data"
        code, resp = client.data(data)
        result.update(code=code, message=resp.decode(errors="replace"), ok=code == 250)
        client.quit()
    except smtplib.SMTPResponseException as exc:
        result.update(code=exc.smtp_code, message=exc.smtp_error.decode(errors="replace"))
    except (OSError, smtplib.SMTPException) as exc:
        result.update(message=f"{type(exc).__name__}: {exc}")
    return result


def imap_list(a: dict) -> dict:
    """Log in over IMAPS and return the decoded subjects in a mailbox (or the login failure)."""
    result: dict = {"ok": False, "subjects": [], "message": ""}
    try:
        conn = imaplib.IMAP4_SSL(a.get("host", "127.0.0.1"), int(a.get("port", 993)),
                                 ssl_context=tls_context(a.get("tls_max")), timeout=30)
    except (OSError, imaplib.IMAP4.error) as exc:
        result["message"] = f"{type(exc).__name__}: {exc}"
        return result
    try:
        conn.login(a["user"], a["password"])
    except imaplib.IMAP4.error as exc:
        result["message"] = str(exc)
        return result
    mailbox = a.get("mailbox", "INBOX")
    typ, _ = conn.select(_imap_quote(mailbox))
    if typ != "OK":
        result["message"] = f"cannot select {mailbox}"
        return result
    _typ, data = conn.search(None, "ALL")
    for num in data[0].split():
        _typ, msgdata = conn.fetch(num, "(BODY.PEEK[])")
        msg = email.message_from_bytes(msgdata[0][1])
        entry = {"subject": decode(msg["Subject"]), "from": decode(msg["From"])}
        if a.get("bodies"):
            part = msg if not msg.is_multipart() else msg.get_payload(0)
            entry["body"] = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
            entry["raw_subject"] = msg["Subject"]
            entry["content_type"] = msg["Content-Type"]
        result["subjects"].append(entry)
    if a.get("delete_subject"):
        for num in data[0].split():
            _typ, hdr = conn.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            if a["delete_subject"] in decode(email.message_from_bytes(hdr[0][1])["Subject"]):
                conn.store(num, "+FLAGS", "\\Deleted")
        conn.expunge()
    conn.logout()
    result["ok"] = True
    return result


def imap_raw_subjects(a: dict) -> dict:
    """The Subject: lines of a mailbox exactly as stored (bytes decoded as strict UTF-8, no RFC 2047
    decoding), to check that raw UTF-8 headers arrive unchanged."""
    result: dict = {"ok": False, "subjects": [], "message": ""}
    try:
        conn = imaplib.IMAP4_SSL(a.get("host", "127.0.0.1"), 993, ssl_context=tls_context(), timeout=30)
        conn.login(a["user"], a["password"])
        conn.select(_imap_quote(a.get("mailbox", "INBOX")))
        _typ, data = conn.search(None, "ALL")
        for num in data[0].split():
            _typ, hdr = conn.fetch(num, "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            raw = hdr[0][1].strip()
            try:
                result["subjects"].append(raw.decode("utf-8").removeprefix("Subject: "))
            except UnicodeDecodeError:
                result["subjects"].append(f"not UTF-8: {raw!r}")
        conn.logout()
        result["ok"] = True
    except (OSError, imaplib.IMAP4.error) as exc:
        result["message"] = f"{type(exc).__name__}: {exc}"
    return result


def _imap_quote(name: str) -> str:
    """Quote a mailbox name, encoding it in IMAP's modified UTF-7 (RFC 3501 5.1.3)."""
    out, buf = [], ""

    def flush() -> None:
        nonlocal buf
        if buf:
            enc = base64.b64encode(buf.encode("utf-16-be")).decode().rstrip("=").replace("/", ",")
            out.append(f"&{enc}-")
            buf = ""

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf += ch
    flush()
    return '"' + "".join(out).replace("\\", "\\\\").replace('"', '\\"') + '"'


def pop3_list(a: dict) -> dict:
    result: dict = {"ok": False, "count": 0, "subjects": [], "message": ""}
    try:
        conn = poplib.POP3_SSL(a.get("host", "127.0.0.1"), int(a.get("port", 995)),
                               context=tls_context(), timeout=30)
        conn.user(a["user"])
        conn.pass_(a["password"])
        count, _size = conn.stat()
        for i in range(1, count + 1):
            _resp, lines, _octets = conn.top(i, 0)
            msg = email.message_from_bytes(b"\r\n".join(lines))
            result["subjects"].append(decode(msg["Subject"]))
        conn.quit()
        result.update(ok=True, count=count)
    except (OSError, poplib.error_proto) as exc:
        result["message"] = f"{type(exc).__name__}: {exc}"
    return result


def tls_probe(a: dict) -> dict:
    """Try a TLS handshake capped at tls_max; mode ssl (implicit) or starttls (SMTP)."""
    host, port = a.get("host", "127.0.0.1"), int(a["port"])
    ctx = tls_context(a.get("tls_max"), a.get("tls_min"))
    try:
        if a.get("mode") == "starttls":
            client = smtplib.SMTP(host, port, timeout=30)
            client.ehlo("client.test.example")
            client.starttls(context=ctx)
            version = client.sock.version()
            client.quit()
        else:
            with socket.create_connection((host, port), timeout=30) as raw, \
                    ctx.wrap_socket(raw, server_hostname=host) as tls:
                version = tls.version()
        return {"ok": True, "version": version}
    except (OSError, smtplib.SMTPException) as exc:
        return {"ok": False, "message": f"{type(exc).__name__}: {exc}"}


def managesieve_put(a: dict) -> dict:
    """Upload and activate a Sieve script over ManageSieve (RFC 5804) with STARTTLS + PLAIN."""
    host, port = a.get("host", "127.0.0.1"), int(a.get("port", 4190))
    transcript: list[str] = []
    sock = socket.create_connection((host, port), timeout=30)
    reader = sock.makefile("rb")

    def read_response() -> str:
        while True:
            line = reader.readline().decode(errors="replace").rstrip("\r\n")
            transcript.append("S: " + line)
            if line.startswith(("OK", "NO", "BYE")):
                return line

    def send(line: str | bytes) -> None:
        data = line if isinstance(line, bytes) else line.encode()
        transcript.append("C: " + data.decode(errors="replace").splitlines()[0])
        sock.sendall(data + b"\r\n")

    read_response()
    send("STARTTLS")
    if not read_response().startswith("OK"):
        return {"ok": False, "transcript": transcript}
    sock = tls_context().wrap_socket(sock, server_hostname=host)
    reader = sock.makefile("rb")
    read_response()  # capabilities after TLS
    token = base64.b64encode(f"\0{a['user']}\0{a['password']}".encode()).decode()
    send(f'AUTHENTICATE "PLAIN" "{token}"')
    auth = read_response()
    if not auth.startswith("OK"):
        return {"ok": False, "stage": "auth", "transcript": transcript}
    script = a["script"].encode()
    send(f'PUTSCRIPT "{a["name"]}" {{{len(script)}+}}\r\n'.encode() + script)
    put = read_response()
    if not put.startswith("OK"):
        return {"ok": False, "stage": "putscript", "transcript": transcript}
    send(f'SETACTIVE "{a["name"]}"')
    active = read_response()
    send("LOGOUT")
    return {"ok": active.startswith("OK"), "stage": "setactive", "transcript": transcript}


# --- the whole verification run, in one call (each call through Ansible costs seconds) -------------

def sh(cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, shell=True, capture_output=True, text=True, check=False)


def wait_for(predicate, timeout: float = 30.0, step: float = 0.5):
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(step)
        value = predicate()
    return value


def has_mail(user: str, subject: str, mailbox: str = "INBOX") -> bool:
    out = sh(f"doveadm search -u {shlex.quote(user)} mailbox {shlex.quote(mailbox)} "
             f"subject {shlex.quote(subject)}")
    return out.returncode == 0 and out.stdout.strip() != ""


def unique(label: str) -> str:
    return f"{label} {uuid.uuid4().hex[:8]}"


# Hà Nam Art 4.5, Ninh Bình Art 12.5: redirects out of the allowed domains are refused by Postfix's
# Sieve listener; inside them they work; a vacation reply may answer anyone.
OUTSIDE = "canhan@gmail.com"
OTHER_PROVINCE = "vanthu@hagiang.gov.vn"
OUTSIDE_SENDER = "congvan@example.org"
SIEVE = """require ["fileinto", "vacation"];
if header :contains "subject" "Công văn đến" { fileinto "Công văn"; stop; }
if header :contains "subject" "Chuyển tiếp ra ngoài" { redirect "%(outside)s"; }
if header :contains "subject" "Chuyển tiếp trong tỉnh" { redirect "%(inside)s"; }
if header :contains "subject" "Chuyển tiếp liên tỉnh" { redirect "%(other)s"; }
if header :contains "subject" "Lịch công tác" {
  vacation :days 1 :subject "Trả lời tự động: đang đi công tác"
    "Tôi đang đi công tác, sẽ trả lời khi trở về.";
}
"""


def raw_utf8_message(mail_from: str, rcpt: str, subject: str) -> str:
    """A message with a raw UTF-8 Subject: (no RFC 2047 encoding) and an 8-bit body."""
    return (f"From: {mail_from}\r\nTo: {rcpt}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4().hex}@client.test.example>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\nNội dung báo cáo bằng tiếng Việt.\r\n")


def journal(since: float) -> str:
    return sh(f"journalctl --no-pager -o short --since @{int(since)}").stdout


def queue() -> list[dict]:
    return [json.loads(line) for line in sh("postqueue -j").stdout.splitlines() if line.strip()]


def relayed_to(log: list[str], address: str) -> list[dict]:
    """Messages Postfix took for `address`, read from the log (the container cannot deliver them and
    may bounce them at once when DNS answers 'no such domain'): queue id, envelope sender, and whether
    the Sieve listener (postfix/sieve/smtpd) accepted them."""
    ids = {m.group(1) for x in log if f"to=<{address}>" in x
           and (m := re.search(r"\]: ([0-9A-F]{6,}): to=<", x))}
    waiting = {q["queue_id"]: q["sender"] for q in queue()
               if any(x["address"] == address for x in q["recipients"])}
    out = []
    for qid in sorted(ids | set(waiting)):
        sender = next((m.group(1) for x in log if f"{qid}: from=<" in x
                       and (m := re.search(r"from=<([^>]*)>", x))), waiting.get(qid))
        listener = any("postfix/sieve/smtpd" in x and f"{qid}: client=" in x for x in log)
        out.append({"queue_id": qid, "sender": sender, "via_sieve_listener": listener})
    return out


def queued_for(address: str) -> list[dict]:
    return [{"sender": q["sender"], "reason": [r.get("delay_reason", "") for r in q["recipients"]]}
            for q in queue() if any(r["address"] == address for r in q["recipients"])]


def run_all(cfg: dict) -> dict:
    """Every protocol exchange of the verifier; returns named observations for test_mailcore.py."""
    acc = {k: v["mail"] for k, v in cfg["accounts"].items()}
    alias = cfg["accounts"]["sender"]["alias"]
    pw = cfg["password"]
    ext = sh("hostname -I").stdout.split()[0]
    r: dict = {"external_ip": ext}

    def submit(who, port=587, mode="starttls", **kw):
        kw.setdefault("mail_from", acc[who])
        return smtp_send({"port": port, "mode": mode, "user": acc[who], "password": pw, **kw})

    def mx(**kw):
        return smtp_send({"host": ext, "port": 25, "mode": "starttls",
                          "mail_from": "congvan@example.org", **kw})

    def login(user, password=pw):
        return {"imap": imap_list({"user": user, "password": password}),
                "pop3": pop3_list({"user": user, "password": password}),
                "smtp": smtp_send({"port": 587, "user": user, "password": password, "mail_from": user,
                                   "rcpts": [acc["reader"]]}),
                "sieve": managesieve_put({"user": user, "password": password, "name": "x",
                                          "script": "keep;\n"})}

    # MX, relay, domains
    r["mx_plain"] = smtp_send({"host": ext, "port": 25, "mode": "plain", "mail_from": "a@example.org",
                               "rcpts": ["b@example.net"]})
    r["relay"] = mx(rcpts=["someone@example.net"])
    r["retired"] = mx(rcpts=[acc["retired"]])
    table = "proxy:ldap:/etc/postfix/ldap/virtual_mailbox_domains.cf"
    r["domains"] = {d: sh(f"postmap -q {d} {table}").stdout.strip()
                    for d in {*cfg["domains"], *(a.split("@")[1] for a in acc.values()), "example.org"}}

    # submission on 587 and 465, reading over IMAP and POP3
    r["submit"] = {}
    for port, mode in ((587, "starttls"), (465, "ssl")):
        subject = unique(f"Giấy mời họp qua cổng {port}")
        sent = submit("sender", port, mode, rcpts=[acc["reader"]], subject=subject)
        imap = wait_for(lambda s=subject: (x := imap_list({"user": acc["reader"], "password": pw}))["ok"]
                        and s in [m["subject"] for m in x["subjects"]] and x) or {}
        pop = pop3_list({"user": acc["reader"], "password": pw})
        r["submit"][str(port)] = {"sent": sent, "imap_ok": bool(imap), "pop_ok": pop["ok"],
                                  "pop_has": subject in pop["subjects"]}
    r["submit_no_tls"] = smtp_send({"port": 587, "mode": "plain", "user": acc["sender"], "password": pw,
                                    "mail_from": acc["sender"], "rcpts": [acc["reader"]]})

    # raw UTF-8 headers (8BITMIME, no RFC 2047 encoding), as a modern client may send them
    subject = unique("Công văn khẩn gửi Sở")
    raw = (f"From: {acc['sender']}\r\nTo: {acc['reader']}\r\nSubject: {subject}\r\n"
           "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
           "Nội dung bằng tiếng Việt.\r\n").encode()
    sh(f"printf '%s' {shlex.quote(raw.decode())} | sendmail -f {acc['sender']} {acc['reader']}")
    r["utf8_raw_delivered"] = bool(wait_for(lambda: has_mail(acc["reader"], subject)))

    # SMTPUTF8 (RFC 6531): MAIL FROM ... SMTPUTF8 when the server offers it (dovecot-lda path), with a
    # raw UTF-8 Subject:, on 587 and 25; read back byte for byte over IMAP; nothing bounced.
    started = time.time()
    r["smtputf8"] = {}
    for port in (587, 25):
        subject = unique("Báo cáo tháng 11 – Sở TT&TT")
        frm = acc["sender"] if port == 587 else OUTSIDE_SENDER
        kw = {"raw": raw_utf8_message(frm, acc["reader"], subject), "rcpts": [acc["reader"]]}
        probe = smtp_send({"host": ext if port == 25 else "127.0.0.1", "port": port, "ehlo_only": True})
        offered = "smtputf8" in probe.get("esmtp_tls", [])
        kw["mail_options"] = ["SMTPUTF8", "BODY=8BITMIME"] if offered else ["BODY=8BITMIME"]
        sent = submit("sender", **kw) if port == 587 else mx(**kw)
        sent.pop("esmtp", None)
        arrived = bool(wait_for(lambda s=subject: has_mail(acc["reader"], s)))
        raw = imap_raw_subjects({"user": acc["reader"], "password": pw})
        r["smtputf8"][str(port)] = {"offered": offered, "ehlo": probe.get("esmtp_tls", []), "sent": sent,
                                    "arrived": arrived, "subject": subject,
                                    "stored": [x for x in raw["subjects"] if subject[-8:] in x]}
    time.sleep(1)
    log = journal(started)
    r["smtputf8_log"] = [line for line in log.splitlines() if "status=bounced" in line or "5.6.7" in line]
    r["smtputf8_queue"] = queued_for(acc["reader"])

    # alias
    subject = unique("Thư gửi địa chỉ bí danh")
    r["alias_sent"] = submit("reader", rcpts=[alias], subject=subject)
    r["alias_delivered"] = bool(wait_for(lambda: has_mail(acc["sender"], subject)))

    # sender ownership and delegation
    r["delegated"] = submit("sender", mail_from=acc["org"], rcpts=[acc["reader"]], subject=unique("Thay mặt"))
    r["forged"] = {who: submit("reader", mail_from=acc[who], rcpts=[acc["sender"]], subject="forged")
                   for who in ("sender", "org")}

    # message size
    limit = int(cfg["attachment_limit"])
    r["size_ok"] = submit("sender", rcpts=[acc["reader"]], subject=unique("Tệp đúng giới hạn"),
                          attachment_bytes=limit)
    r["size_ok"].pop("esmtp", None)
    r["size_over"] = {}
    for declare in (True, False):
        res = submit("sender", rcpts=[acc["reader"]], subject="too big", attachment_bytes=limit + 10**6,
                     declare_size=declare)
        res.pop("esmtp", None)
        r["size_over"]["declared" if declare else "undeclared"] = res

    # account state
    r["locked_login"] = login(acc["locked"])
    subject = unique("Thư gửi hộp thư đang bị khoá")
    r["locked_mx"] = mx(rcpts=[acc["locked"]], subject=subject)
    r["locked_delivered"] = bool(wait_for(lambda: has_mail(acc["locked"], subject)))
    r["mustchange_login"] = login(acc["mustchange"])
    r["wrong_password"] = imap_list({"user": acc["reader"], "password": "Sai#MatKhau1"})

    # TLS: control (the probe can speak TLS 1.1), refusals, acceptance
    sh("timeout 20 openssl s_server -accept 4433 -tls1_1 -cipher DEFAULT:@SECLEVEL=0 -quiet "
       "-cert /etc/ssl/congvu/host.crt -key /etc/ssl/congvu/private/host.key >/dev/null 2>&1 &")
    time.sleep(1)
    r["tls_control"] = tls_probe({"port": 4433, "tls_max": "TLSv1_1"})
    r["tls"] = {}
    for port, mode in ((587, "starttls"), (465, "ssl"), (25, "starttls"), (993, "ssl"), (995, "ssl")):
        for version in ("TLSv1", "TLSv1_1", "TLSv1_2"):
            r["tls"][f"{port}/{version}"] = tls_probe({"port": port, "mode": mode, "tls_max": version})

    # quota
    r["quota"] = {who: sh(f"doveadm quota get -u {acc[who]}").stdout for who in ("tiny", "reader", "org")}
    tiny = acc["tiny"]
    r["quota_first"] = submit("sender", rcpts=[tiny], subject=unique("Báo cáo tháng"), attachment_bytes=67000)
    r["quota_first"].pop("esmtp", None)

    def warning():
        box = imap_list({"user": tiny, "password": pw, "bodies": True})
        return [m for m in box["subjects"] if m["subject"].startswith("Cảnh báo: hộp thư")]

    r["quota_warnings"] = wait_for(warning) or []
    sh("printf 'Subject: fill\\n\\n%s\\n' \"$(head -c 30000 /dev/zero | tr '\\0' x)\" | "
       f"/usr/lib/dovecot/dovecot-lda -d {tiny} -o 'plugin/quota=count:User quota:noenforcing'")
    r["quota_full"] = sh(f"doveadm quota get -u {tiny}").stdout
    r["quota_mx"] = mx(rcpts=[tiny], subject="over quota")
    r["quota_mx"].pop("esmtp", None)
    subject = unique("Công văn chờ giao")
    sh(f"printf 'Subject: {subject}\\n\\nNoi dung\\n' | sendmail -f {acc['sender']} {tiny}")
    # deferred with LMTP's 452 4.2.2, or by pipe(8) after dovecot-lda's exit 75 ("temporary failure")
    r["quota_deferred"] = bool(wait_for(lambda: tiny in (q := sh("postqueue -j").stdout)
                                        and ("4.2.2" in q or "Quota exceeded" in q
                                             or "temporary failure" in q)))
    r["quota_queue"] = sh("postqueue -j").stdout
    r["quota_delivered_while_full"] = has_mail(tiny, subject)
    base = ",".join(f"dc={part}" for part in cfg["domains"][0].split("."))
    dn = sh(f"ldapsearch -Q -LLL -Y EXTERNAL -H ldapi:/// -b {base} '(mail={tiny})' dn "
            "| sed -n 's/^dn: //p'").stdout
    sh(f"printf 'dn: %s\\nchangetype: modify\\nreplace: congvuMailQuota\\ncongvuMailQuota: 10000000\\n' "
       f"{shlex.quote(dn.strip())} | ldapmodify -Q -Y EXTERNAL -H ldapi:///")
    sh("postqueue -f")
    r["quota_raised"] = sh(f"doveadm quota get -u {tiny}").stdout
    r["quota_delivered_after_raise"] = bool(wait_for(lambda: has_mail(tiny, subject)))
    r["quota_queue_after"] = sh("postqueue -j").stdout

    # Sieve over ManageSieve: filing, redirects (Hà Nam Art 4.5, Ninh Bình Art 12.5), vacation
    reader = acc["reader"]
    started = time.time()
    script = SIEVE % {"outside": OUTSIDE, "inside": acc["sender"], "other": OTHER_PROVINCE}
    r["sieve_put"] = managesieve_put({"user": reader, "password": pw, "name": "loc-thu", "script": script})
    filed = unique("Công văn đến số")
    submit("sender", rcpts=[reader], subject=filed)
    r["sieve_filed"] = bool(wait_for(lambda: has_mail(reader, filed, "Công văn")))
    r["sieve_filed_in_inbox"] = has_mail(reader, filed)
    subjects = {"outside": unique("Chuyển tiếp ra ngoài"), "outside_null": unique("Chuyển tiếp ra ngoài"),
                "inside": unique("Chuyển tiếp trong tỉnh"), "other": unique("Chuyển tiếp liên tỉnh"),
                "vacation": unique("Lịch công tác tuần")}
    r["sieve_sent"] = {
        "outside": submit("sender", rcpts=[reader], subject=subjects["outside"]),
        # a message with an empty envelope sender (a bounce): Sieve redirects it with <> (RFC 5228 4.2)
        "outside_null": mx(mail_from="", rcpts=[reader], subject=subjects["outside_null"]),
        "inside": submit("sender", rcpts=[reader], subject=subjects["inside"]),
        "other": submit("sender", rcpts=[reader], subject=subjects["other"]),
        "vacation": mx(mail_from=OUTSIDE_SENDER, rcpts=[reader], subject=subjects["vacation"]),
    }
    for sent in r["sieve_sent"].values():
        sent.pop("esmtp", None)
    r["sieve_in_inbox"] = {k: bool(wait_for(lambda s=s: has_mail(reader, s), timeout=10))
                           for k, s in subjects.items()}
    r["sieve_inside_delivered"] = bool(wait_for(lambda: has_mail(acc["sender"], subjects["inside"])))
    wait_for(lambda: all(relayed_to(journal(started).splitlines(), a)
                         for a in (OTHER_PROVINCE, OUTSIDE_SENDER)), timeout=30)
    time.sleep(2)
    log = journal(started).splitlines()
    r["sieve_queue"] = {"outside": queued_for(OUTSIDE), "other": relayed_to(log, OTHER_PROVINCE),
                        "vacation": relayed_to(log, OUTSIDE_SENDER)}
    r["sieve_log"] = {
        "listener_refused": [x for x in log if "postfix/sieve/smtpd" in x and "reject:" in x],
        "listener_accepted": [x for x in log if "postfix/sieve/smtpd" in x and "client=localhost" in x],
        "dovecot": [x for x in log if "sieve" in x and ("redirect" in x or "forwarded" in x
                                                        or "vacation" in x or "keep" in x)],
    }
    # nothing of this test may stay queued for the next run (no delivery is possible from the container)
    for q in queue():
        if any(x["address"] in (OTHER_PROVINCE, OUTSIDE_SENDER) for x in q["recipients"]):
            sh(f"postsuper -d {q['queue_id']}")

    # deletions: organisation mailbox (lazy_expunge when enabled) and personal mailbox
    r["deleted"] = {}
    for who in ("org", "reader"):
        subject = unique("Thư sẽ bị xoá")
        submit("sender", rcpts=[acc[who]], subject=subject)
        arrived = bool(wait_for(lambda u=acc[who], s=subject: has_mail(u, s)))
        imap_list({"user": acc[who], "password": pw, "delete_subject": subject})
        r["deleted"][who] = {"arrived": arrived, "in_inbox": has_mail(acc[who], subject),
                             "recovered": has_mail(acc[who], subject, cfg["lazy_expunge_mailbox"])}

    # last login
    before = int(time.time())
    imap_list({"user": acc["sender"], "password": pw})
    path = f"/var/lib/dovecot/last-login/{acc['sender']}"
    r["last_login_before"] = before
    record = pathlib.Path(path)
    r["last_login"] = wait_for(lambda: record.exists() and record.read_text().strip()) or ""
    return r


COMMANDS = {f.__name__: f for f in (smtp_send, imap_list, imap_raw_subjects, pop3_list, tls_probe,
                                    managesieve_put, run_all)}

if __name__ == "__main__":
    print(json.dumps(COMMANDS[sys.argv[1]](json.loads(sys.argv[2])), ensure_ascii=False))
