"""Sizes, quotas, attachment types and the Postfix message size limit (congvu.sizes)."""

from __future__ import annotations

from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from congvu import sizes
from congvu.errors import SizeError
from congvu.policy import load_policy, province_codes

POLICIES = Path(__file__).resolve().parents[2] / "policies"
MB = 10**6  # the module's convention: MB = 10^6 bytes, MiB = 2^20


@pytest.mark.parametrize(("text", "expected"), [
    ("2GB", 2 * 10**9),
    ("500 MB", 500 * 10**6),
    ("10GiB", 10 * 2**30),
    ("20MB", 20_000_000),
    ("20MiB", 20 * 2**20),
    ("1.5GB", 1_500_000_000),
    ("1,5 GB", 1_500_000_000),
    ("512KiB", 512 * 1024),
    ("100kB", 100_000),
    ("7", 7),
    ("7B", 7),
    (4096, 4096),
    (0, 0),
    ("1TB", 10**12),
])
def test_parse_size(text, expected):
    assert sizes.parse_size(text) == expected


@pytest.mark.parametrize("word", ["unlimited", "Unlimited", "không giới hạn", None])
def test_unlimited_when_allowed(word):
    assert sizes.parse_size(word, allow_unlimited=True) is None


def test_unlimited_refused_where_a_limit_is_required():
    with pytest.raises(SizeError) as info:
        sizes.parse_size("unlimited", source="f.yml", key="attachments.max_size")
    assert info.value.rule == "size must be finite"
    assert "f.yml" in str(info.value) and "attachments.max_size" in str(info.value)


@pytest.mark.parametrize("bad", ["2 gigs", "GB", "-5MB", "", "2 GB extra", True, 2.5, [1], -3])
def test_parse_size_errors(bad):
    with pytest.raises(SizeError) as info:
        sizes.parse_size(bad, source="policies/x.yml", key="quota.personal")
    assert info.value.key == "quota.personal"
    assert info.value.source == "policies/x.yml"
    assert info.value.rule in ("size syntax", "size >= 0")


def test_format_size():
    assert sizes.format_size(20_000_000) == "20MB"
    assert sizes.format_size(2_000_000_000) == "2GB"
    assert sizes.format_size(1_500_000_000) == "1.5GB"
    assert sizes.format_size(None) == "unlimited"
    assert sizes.format_size(1023) == "1023B"


def test_check_bounds():
    # Hà Nam Art 8.1.b: personal mailbox at least 2GB
    assert sizes.check_bounds(2 * 10**9, minimum=2 * 10**9) == 2 * 10**9
    with pytest.raises(SizeError) as info:
        sizes.check_bounds(10**9, minimum=2 * 10**9, key="quota.personal", article="Hà Nam Art 8.1.b")
    assert info.value.rule == ">= 2GB (Hà Nam Art 8.1.b)"
    # Cần Thơ Art 4.1.c: personal mailbox at most 5GB; unlimited is above any maximum
    with pytest.raises(SizeError):
        sizes.check_bounds(None, maximum=5 * 10**9, article="Cần Thơ Art 4.1.c")
    with pytest.raises(SizeError) as info:
        sizes.check_bounds(6 * 10**9, maximum=5 * 10**9, article="Cần Thơ Art 4.1.c")
    assert "5GB" in str(info.value)


def test_quota_per_class():
    hanam = load_policy(POLICIES / "hanam.yml")
    assert sizes.quota_bytes(hanam, "personal") == 2 * 10**9  # Hà Nam Art 8.1.b
    assert sizes.quota_bytes(hanam, "unit") == 10 * 10**9  # Hà Nam Art 8.1.b
    cantho = load_policy(POLICIES / "cantho.yml")
    assert sizes.quota_bytes(cantho, "agency") is None  # Cần Thơ Art 4.1.a: unlimited
    with pytest.raises(SizeError) as info:
        sizes.quota_bytes(cantho, "department")
    assert info.value.rule == "mailbox class"


def test_base64_encoded_size_matches_the_stdlib():
    import base64
    for n in (0, 1, 2, 3, 56, 57, 58, 1000, 123_457):
        encoded = base64.encodebytes(b"\0" * n).replace(b"\n", b"\r\n")
        assert sizes.base64_encoded_size(n) == len(encoded), n


def test_message_size_limit_value():
    # 20 MB -> 26,666,668 base64 characters in 350,878 lines of 76 + CRLF, plus 1,000,000 headroom
    assert sizes.message_size_limit("20MB") == 28_368_424
    assert sizes.message_size_limit(20 * MB) == 28_368_424
    with pytest.raises(SizeError):
        sizes.message_size_limit("unlimited")
    with pytest.raises(SizeError):
        sizes.message_size_limit(0)


def _mime_message_size(attachment_bytes: int) -> int:
    """Bytes on the wire (CRLF) of a realistic message: Vietnamese text part plus one attachment."""
    msg = EmailMessage()
    msg["From"] = "Văn thư Sở TT&TT <stttt@hanam.gov.vn>"
    msg["To"] = "nguyenthithanhha@hanam.gov.vn"
    msg["Subject"] = "Gửi kèm báo cáo tháng 11 theo Công văn số 123/STTTT-BCVT"
    msg["Message-ID"] = "<20261122.0001@hanam.gov.vn>"
    msg.set_content("Kính gửi chị Hà,\n\nVăn thư gửi kèm báo cáo để chị xem xét.\n\nTrân trọng.\n" * 20)
    msg.add_attachment(b"\x89" * attachment_bytes, maintype="application", subtype="pdf",
                       filename="Báo cáo tháng 11.pdf")
    return len(msg.as_bytes(policy=email_policy.SMTP))


def test_hanam_20mb_attachment_passes_postfix_and_21mb_does_not():
    """Hà Nam Art 8.1.b: attachments up to 20MB (MB = 10^6 bytes) must get through, bigger ones not."""
    policy = load_policy(POLICIES / "hanam.yml")
    limit = policy["derived"]["message_size_limit"]
    assert limit == sizes.message_size_limit(policy["attachments"]["max_size"])
    size_20 = _mime_message_size(20 * MB)
    size_21 = _mime_message_size(21 * MB)
    assert size_20 <= limit < size_21, (size_20, limit, size_21)


def test_blocked_extensions_per_province():
    ninhbinh = load_policy(POLICIES / "ninhbinh.yml")
    blocked = sizes.blocked_extensions(ninhbinh)
    assert {".exe", ".com", ".dll", ".net"} <= set(blocked)  # Ninh Bình Art 2.7, Art 11.6
    assert sizes.is_blocked_filename("CaiDat.EXE", ninhbinh)
    assert sizes.is_blocked_filename("thu vien.dll", ninhbinh)
    assert sizes.is_blocked_filename("tool.exe.", ninhbinh)
    assert not sizes.is_blocked_filename("bao-cao.pdf", ninhbinh)
    assert not sizes.is_blocked_filename("exe.docx", ninhbinh)
    # encrypted archives are flagged, not blocked (Ninh Bình Art 11.6)
    assert not sizes.is_blocked_filename("hop-dong.zip", ninhbinh)
    for province in province_codes(POLICIES):
        assert ".exe" in sizes.blocked_extensions(load_policy(POLICIES / f"{province}.yml"))


def test_executable_list_names_ninhbinh_first():
    assert sizes.EXECUTABLE_EXTENSIONS[:4] == (".exe", ".com", ".dll", ".net")  # Ninh Bình Art 2.7
