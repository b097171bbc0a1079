"""Test messages shared by the webmail scenario's mail tests (test_mailflow.py over SMTP,
test_rspamd.py straight into Rspamd)."""

from __future__ import annotations

import re
import uuid
from email.message import EmailMessage


def build_message(subject="Bao cao tuan", body="Kinh gui anh chi,\nBao cao tuan gui kem.\n",
                  sender="vanthu@hanam.gov.vn", to="nguyenvana@ninhbinh.gov.vn", attachments=(),
                  raw_subject=None) -> bytes:
    """One MIME message; ``attachments`` are (filename, bytes, "type/subtype") triples and
    ``raw_subject`` replaces the Subject line with exact bytes (MIME-encoded words, NFD...)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{uuid.uuid4()}@test.congvu>"
    msg["Date"] = "Sun, 22 Nov 2026 10:00:00 +0700"
    msg.set_content(body)
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
