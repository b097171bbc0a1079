"""The private ClamAV mirror over the wire (docs/filtering.md, "ClamAV signatures and the private
mirror"; docs/security.md, finding 5; the antivirus duty of Hà Nam Art 10.6, Gia Lai Art 8.3.b,
Cần Thơ Art 9.8 and Hà Giang Art 10.2.c).

The split layout's inventory points `rspamd_clamav_private_mirror` at this machine (the containers'
default gateway). Here a mirror answers there for the length of the test, serving a `daily.cvd`
whose header is well formed but whose signature is not ClamAV's: freshclam on the filter host must
fetch it from that mirror, and must refuse to install it (a mirror, or whoever sits between it and
the data centre, cannot plant signatures). Official signatures cannot be had offline, so a genuine
update is not part of the test.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import re
import tarfile
import threading
import time
import urllib.parse

import pytest
from filtermail import CLAMD_PING

LOG = "/var/log/clamav/freshclam.log"


def forged_cvd(version: int = 99999) -> bytes:
    """A CVD as freshclam expects it (a 512-byte header, then a gzipped tar) with a made-up digital
    signature: its MD5 is right, so only the signature check can refuse it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"Congvu.Forged.Signature:0:*:434f4e475655\n"
        info = tarfile.TarInfo("daily.ndb")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    body = buf.getvalue()
    header = (f"ClamAV-VDB:03 Dec 2026 09-00 +0000:{version}:1:90:{hashlib.md5(body).hexdigest()}:"
              f"{'A' * 86}:congvu:{int(time.time())}")
    return header.encode().ljust(512, b" ") + body


class Mirror(http.server.ThreadingHTTPServer):
    """A signature mirror that records every request (client address, path, Range header)."""

    def __init__(self, port: int, files: dict[str, bytes]):
        self.files = files
        self.requests: list[tuple[str, str, str | None]] = []
        super().__init__(("0.0.0.0", port), MirrorHandler)  # the containers connect in


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    server: Mirror

    def do_GET(self) -> None:
        wanted = self.headers.get("Range")
        self.server.requests.append((self.client_address[0], self.path, wanted))
        body = self.server.files.get(self.path)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        match = re.fullmatch(r"bytes=(\d+)-(\d+)", wanted or "")
        if match:
            body = body[int(match[1]):int(match[2]) + 1]
        self.send_response(206 if match else 200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def mirror(stage):
    url = stage.render(stage.hostvars[stage.groups["filter_servers"][0]]["rspamd_clamav_private_mirror"])
    parsed = urllib.parse.urlsplit(url)
    assert parsed.hostname == stage.gateway, f"the staging mirror {url} is not this machine ({stage.gateway})"
    server = Mirror(parsed.port or 80, {"/daily.cvd": forged_cvd()})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield url, server
    server.shutdown()
    server.server_close()


def test_freshclam_uses_the_private_mirror_and_refuses_a_forged_database(stage, flt, mirror):
    url, server = mirror
    conf = flt.out("cat /etc/clamav/freshclam.conf")
    assert re.search(rf"^PrivateMirror {re.escape(url)}$", conf, re.M), conf
    assert flt.run("systemctl is-enabled clamav-freshclam").returncode == 0
    before = int(flt.out(f"wc -l < {LOG}").strip() or 0)
    flt.out("systemctl restart clamav-freshclam")
    deadline = time.monotonic() + 120
    while True:
        log = flt.out(f"tail -n +{before + 1} {LOG}")
        if "Update failed" in log or "database.clamav.net" in log:
            break
        assert time.monotonic() < deadline, f"freshclam did not finish an update within 120 s:\n{log}"
        time.sleep(1)
    # freshclam asked this mirror, from the filter host, for the header and then the whole database
    from_filter = [(path, rng) for client, path, rng in server.requests if client == flt.address]
    assert ("/daily.cvd", "bytes=0-511") in from_filter, server.requests
    assert ("/daily.cvd", None) in from_filter, f"freshclam never downloaded the database: {server.requests}"
    assert "database.clamav.net" not in log, log
    # ... and refused what it got: the signature is not ClamAV's
    assert "Can't verify database integrity" in log, log
    assert flt.run("ls /var/lib/clamav/daily.cvd /var/lib/clamav/daily.cld").returncode != 0
    assert flt.run("systemctl is-active clamav-freshclam").returncode == 0, "freshclam died on the failure"
    assert flt.run(CLAMD_PING).returncode == 0, "clamd no longer answers after the refused update"
