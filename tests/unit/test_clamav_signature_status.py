"""Unit tests of the rspamd role's clamav_signature_status module (its logic, on the control node)."""

from __future__ import annotations

import os
import time

import pytest
from source_files import load

css = load("roles/rspamd/library/clamav_signature_status.py", "clamav_signature_status")

NOW = 1_800_000_000


def cvd(path, built):
    header = f"ClamAV-VDB:01 Jan 2027 00-00 +0000:27000:100:90:x:y:builder:{built}".encode()
    path.write_bytes(header.ljust(512, b" ") + b"payload")


def test_missing_official_signatures(tmp_path):
    (tmp_path / "congvu-test.ndb").write_text("X:0:*:41424344\n")
    result = css.inspect(str(tmp_path), 7, now=NOW)
    assert result["missing"] == ["main", "daily", "bytecode"]
    assert result["local"] == ["congvu-test.ndb"]
    assert not result["ok"]


def test_fresh_signatures_ok(tmp_path):
    for name in ("main.cvd", "daily.cld", "bytecode.cvd"):
        cvd(tmp_path / name, NOW - 86400)
    result = css.inspect(str(tmp_path), 7, now=NOW)
    assert result["ok"] and result["official"]["daily"]["age_days"] == 1.0
    assert result["official"]["main"]["version"] == "27000"


def test_stale_signatures(tmp_path):
    cvd(tmp_path / "main.cvd", NOW - 86400)
    cvd(tmp_path / "daily.cvd", NOW - 30 * 86400)
    cvd(tmp_path / "bytecode.cvd", NOW - 86400)
    result = css.inspect(str(tmp_path), 7, now=NOW)
    assert result["stale"] == ["daily"] and not result["ok"]


def test_header_unreadable_falls_back_to_mtime(tmp_path):
    for name in ("main.cvd", "daily.cvd", "bytecode.cvd"):
        (tmp_path / name).write_bytes(b"garbage")
        os.utime(tmp_path / name, (NOW - 10 * 86400, NOW - 10 * 86400))
    result = css.inspect(str(tmp_path), 7, now=NOW)
    assert result["stale"] == ["main", "daily", "bytecode"]


@pytest.mark.parametrize("missing_dir", ["/nonexistent/clamav"])
def test_missing_directory(missing_dir):
    assert css.inspect(missing_dir, 7, now=time.time())["missing"] == ["main", "daily", "bytecode"]
