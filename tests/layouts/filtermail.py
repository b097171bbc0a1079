"""Messages and mail clients of the filter and web verifiers: MIME test messages (GTUBE, EICAR, a
Windows program, encrypted archives), one SMTP transaction from the test runner, and DKIM verification
against the records the deployment wrote for the operator to publish (artifacts/dns/<province>/,
docs/dns.md)."""

from __future__ import annotations

import email.utils
import io
import pathlib
import re
import smtplib
import ssl
import subprocess
import tempfile
import uuid
import zipfile
from email.message import EmailMessage

import dkim

GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
EICAR = r"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
#: A shell command, run on a filter host, that succeeds only when clamd answers PING on its socket.
CLAMD_PING = ("python3 -c \"import socket; s = socket.socket(socket.AF_UNIX); "
              "s.connect('/run/clamav/clamd.ctl'); s.sendall(b'zPING\\0'); "
              "assert s.recv(16).startswith(b'PONG')\"")


def build_message(subject="Bao cao tuan", body="Kinh gui anh chi,\nBao cao tuan gui kem.\n",
                  sender="vanthu@example.org", to="nguyenvana@ninhbinh.gov.vn", attachments=(),
                  raw_subject=None, cte=None, html=None, date="Sun, 22 Nov 2026 10:00:00 +0700",
                  headers=None) -> bytes:
    """One MIME message; ``attachments`` are (filename, bytes, "type/subtype") triples,
    ``raw_subject`` replaces the Subject line with exact bytes (MIME-encoded words, NFD...), ``cte``
    forces the body's transfer encoding (8bit, base64, quoted-printable), ``html`` adds an HTML
    alternative, as mail clients send it, ``date`` None dates it now and ``headers`` adds others.
    The default sender is outside the province: mail claiming a province domain in From is refused
    unless authenticated (docs/security.md, finding 1), so a test that needs one says so."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4()}@test.congvu>"
    msg["Date"] = date or email.utils.formatdate(localtime=True)
    for name, value in (headers or {}).items():
        msg[name] = value
    encoding = {"cte": cte} if cte else {}
    msg.set_content(body, **encoding)
    if html is not None:
        msg.add_alternative(html, subtype="html", **encoding)
    for name, data, ctype in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    raw = msg.as_bytes()
    if raw_subject is not None:
        raw = re.sub(rb"^Subject: .*?\n(?=\S)", b"Subject: " + raw_subject + b"\n", raw, count=1,
                     flags=re.S | re.M)
    return raw


def minimal_pe() -> bytes:
    """A tiny file with a DOS/PE header: what Windows would run, whatever its name."""
    head = bytearray(b"MZ" + b"\x90" * 58 + (64).to_bytes(4, "little"))
    return bytes(head + b"PE\x00\x00" + b"\x4c\x01" + b"\x00" * 200)


def zip_bytes(files) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files:
            zf.writestr(name, data)
    return buf.getvalue()


def encrypted_zip() -> bytes:
    """A password-protected zip (Info-ZIP's zip on the test runner, a host package of
    scripts/bootstrap)."""
    with tempfile.TemporaryDirectory() as tmp:
        (pathlib.Path(tmp) / "bangluong.txt").write_text("bang luong\n", encoding="utf-8")
        subprocess.run(["zip", "-q", "-P", "matkhau123", "enc.zip", "bangluong.txt"], cwd=tmp, check=True)
        return (pathlib.Path(tmp) / "enc.zip").read_bytes()


def smtp(address: str, raw: bytes, to: str, sender: str, port: int = 25, user: str | None = None,
         password: str | None = None, cafile: str | None = None, helo: str = "client.example.org") -> dict:
    """One SMTP transaction from the test runner; the reply of the step that ended it
    (``{"code", "text", "step"}``). With ``user`` it authenticates after STARTTLS, the server's
    certificate verified against ``cafile`` (the client connects by address: no name check)."""
    step = "connect"
    try:
        with smtplib.SMTP(address, port, local_hostname=helo, timeout=120) as client:
            step = "ehlo"
            client.ehlo()
            if user:
                ctx = ssl.create_default_context(cafile=cafile)
                ctx.check_hostname = False
                step = "starttls"
                client.starttls(context=ctx)
                client.ehlo()
                step = "auth"
                client.login(user, password)
            step = "mail"
            code, text = client.mail(sender)
            if code >= 400:
                raise smtplib.SMTPResponseException(code, text)
            step = "rcpt"
            code, text = client.rcpt(to)
            if code >= 400:
                raise smtplib.SMTPResponseException(code, text)
            step = "data"
            code, text = client.data(raw)
            if code >= 400:
                raise smtplib.SMTPResponseException(code, text)
            return {"code": code, "text": text.decode(errors="replace"), "step": step}
    except smtplib.SMTPResponseException as exc:
        error = exc.smtp_error
        text = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
        return {"code": exc.smtp_code, "text": text, "step": step}


def queue_id(reply: dict) -> str:
    found = re.search(r"queued as ([0-9A-Za-z]+)", reply["text"])
    assert found, reply
    return found.group(1)


# --- DKIM --------------------------------------------------------------------------------------------

def published_records(stage, domain: str) -> dict[str, str]:
    """TXT records of the zone snippet written for the operator to publish for ``domain``
    (artifacts/dns/<province>/<domain>.zone, playbooks/dns.yml)."""
    text = (stage.dns_dir / f"{domain}.zone").read_text(encoding="utf-8")
    records = {}
    for name, value in re.findall(r"^(\S+)\.\s+\d+ IN TXT\s+(\(.*?\)|\".*?\")\s*$", text, re.M | re.S):
        records[name] = "".join(re.findall(r'"([^"]*)"', value))
    return records


def dkim_record(stage, domain: str, selector: str = "congvu") -> str:
    record = published_records(stage, domain).get(f"{selector}._domainkey.{domain}")
    assert record, f"no DKIM record for {domain} in {stage.dns_dir / (domain + '.zone')}"
    return record


def dkim_verifies(raw: bytes, record: str) -> bool:
    """dkimpy's verdict on ``raw`` with ``record`` as the only DNS answer."""
    return bool(dkim.verify(raw, dnsfunc=lambda name, timeout=5: record.encode()))
