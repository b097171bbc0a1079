"""Sizes, quotas, attachment limits and the Postfix message size limit.

Unit convention
---------------
The regulations write sizes as "02GB", "10GB", "20MB" without saying which gigabyte they mean. This
module reads them the SI way, which is also what the words mean in Vietnamese standards (TCVN follows
SI): ``kB``/``KB`` = 10^3, ``MB`` = 10^6, ``GB`` = 10^9, ``TB`` = 10^12 bytes. The binary units are
spelt with an ``i``: ``KiB`` = 2^10, ``MiB`` = 2^20, ``GiB`` = 2^30, ``TiB`` = 2^40. A bare integer
(or ``B``) is bytes. ``unlimited`` (or ``none``/``0`` where the caller allows it) means no limit and is
returned as ``None``.

Every value handed to Dovecot and Postfix is a plain integer number of bytes, so the convention is
decided once, here. Operators who prefer binary sizes write ``2GiB``; that is larger than ``2GB`` and
so still satisfies a "at least 2 GB" rule (Hà Nam Art 8.1.b).
"""

from __future__ import annotations

import math
import re

from congvu.errors import SizeError

UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "k": 10**3, "kb": 10**3,
    "m": 10**6, "mb": 10**6,
    "g": 10**9, "gb": 10**9,
    "t": 10**12, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}

UNLIMITED_WORDS = frozenset({"unlimited", "không giới hạn", "none", "infinite"})

_SIZE_RE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*([A-Za-z]*)\s*$")

#: Base64 turns 3 bytes into 4 characters, and MIME cuts lines at 76 characters + CRLF (RFC 2045 §6.8).
BASE64_LINE = 76
#: Room for headers, the text body and MIME boundaries of one message, in bytes. It must stay smaller than
#: the encoded size of 1 MB (about 1.37 MB) so that an attachment one megabyte over the limit is refused.
MESSAGE_HEADROOM = 1_000_000

MAILBOX_CLASSES = ("personal", "unit", "agency")

#: Windows executables and their kin, refused by Ninh Bình Art 2.7 + Art 11.6 (".exe, .com, .dll, .net"),
#: completed with the other types Windows runs on a double click (default for the other provinces: the
#: seeds are silent but every regulation makes the operator responsible for malware filtering).
EXECUTABLE_EXTENSIONS = (
    ".exe", ".com", ".dll", ".net",  # Ninh Bình Art 2.7 (the list the regulation names)
    ".bat", ".cmd", ".scr", ".pif", ".cpl", ".msi", ".msp", ".vbs", ".vbe", ".js", ".jse", ".wsf",
    ".wsh", ".hta", ".ps1", ".jar", ".lnk", ".reg", ".sys", ".application", ".gadget", ".msc",
)
#: Archive types that can be password-protected (Ninh Bình Art 2.8: ".zip, .rar").
ENCRYPTABLE_ARCHIVES = (".zip", ".rar", ".7z")


def parse_size(value: object, *, source: str | None = None, key: str | None = None,
               allow_unlimited: bool = False) -> int | None:
    """Return ``value`` in bytes (``None`` for unlimited).

    Accepts integers (bytes) and strings such as ``"2GB"``, ``"500 MB"``, ``"10GiB"``, ``"1.5GB"``,
    ``"unlimited"``. Raises :class:`SizeError` naming ``source``/``key`` on anything else.
    """
    if isinstance(value, bool):
        raise SizeError(f"expected a size such as '2GB' or a number of bytes, got {value!r}",
                        source=source, key=key, rule="size syntax")
    if isinstance(value, int):
        if value < 0:
            raise SizeError(f"a size cannot be negative (got {value})", source=source, key=key,
                            rule="size >= 0")
        return value
    if value is None or (isinstance(value, str) and value.strip().lower() in UNLIMITED_WORDS):
        if allow_unlimited:
            return None
        raise SizeError(f"'{value}' (no limit) is not allowed here; give a size such as '20MB'",
                        source=source, key=key, rule="size must be finite")
    if not isinstance(value, str):
        raise SizeError(f"expected a size such as '2GB', got {type(value).__name__} {value!r}",
                        source=source, key=key, rule="size syntax")
    match = _SIZE_RE.match(value)
    unit = match.group(2).lower() if match else None
    if not match or unit not in UNITS:
        raise SizeError(f"cannot read size {value!r}: use a number with B, kB, MB, GB, TB (powers of 1000) "
                        "or KiB, MiB, GiB, TiB (powers of 1024), or 'unlimited'",
                        source=source, key=key, rule="size syntax")
    number = float(match.group(1).replace(",", "."))
    return round(number * UNITS[unit])


def format_size(n_bytes: int | None) -> str:
    """Human-readable size in the module's convention (``20000000`` -> ``'20MB'``)."""
    if n_bytes is None:
        return "unlimited"
    for unit, factor in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n_bytes >= factor and n_bytes % (factor // 100 or 1) == 0:
            text = f"{n_bytes / factor:.2f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
    return f"{n_bytes}B"


def check_bounds(n_bytes: int | None, *, minimum: int | None = None, maximum: int | None = None,
                 source: str | None = None, key: str | None = None, article: str = "") -> int | None:
    """Raise :class:`SizeError` unless ``minimum <= n_bytes <= maximum`` (``None`` = unlimited)."""
    cite = f" ({article})" if article else ""
    if minimum is not None and n_bytes is not None and n_bytes < minimum:
        raise SizeError(f"{format_size(n_bytes)} is below the regulation's minimum of "
                        f"{format_size(minimum)}{cite}", source=source, key=key,
                        rule=f">= {format_size(minimum)}{cite}")
    if maximum is not None and (n_bytes is None or n_bytes > maximum):
        raise SizeError(f"{format_size(n_bytes)} is above the regulation's maximum of "
                        f"{format_size(maximum)}{cite}", source=source, key=key,
                        rule=f"<= {format_size(maximum)}{cite}")
    return n_bytes


def base64_encoded_size(n_bytes: int) -> int:
    """Size in bytes of ``n_bytes`` of data once base64-encoded in 76-character CRLF lines."""
    chars = 4 * math.ceil(n_bytes / 3)
    lines = math.ceil(chars / BASE64_LINE)
    return chars + 2 * lines


def message_size_limit(attachment_limit: object, *, headroom: int = MESSAGE_HEADROOM) -> int:
    """Postfix ``message_size_limit`` (bytes) that lets through one attachment of ``attachment_limit``.

    Postfix measures the whole message as it travels: the attachment grows by 4/3 in base64 plus a CRLF
    every 76 characters, and the headers, text part and MIME boundaries need room too
    (:data:`MESSAGE_HEADROOM`). With Hà Nam's 20 MB (Art 8.1.b) this gives 28,368,424 bytes: a message
    carrying a 20 MB file passes, one carrying 21 MB (28.7 MB encoded) does not.
    """
    limit = parse_size(attachment_limit, key="attachment_limit")
    if limit is None or limit == 0:
        raise SizeError("an attachment limit is needed to derive message_size_limit",
                        key="attachment_limit", rule="size must be finite")
    return base64_encoded_size(limit) + headroom


def quota_bytes(policy: dict, mailbox_class: str) -> int | None:
    """Quota in bytes of a mailbox class (``personal``, ``unit``, ``agency``) in an effective policy."""
    if mailbox_class not in MAILBOX_CLASSES:
        raise SizeError(f"unknown mailbox class {mailbox_class!r}; "
                        f"expected one of {', '.join(MAILBOX_CLASSES)}",
                        source=policy.get("source"), key="quota", rule="mailbox class")
    return policy["quota"][mailbox_class]


def blocked_extensions(policy: dict) -> list[str]:
    """Attachment file extensions refused by the province (lower case, with the dot)."""
    return list(policy["attachments"]["blocked_extensions"])


def is_blocked_filename(filename: str, policy: dict) -> bool:
    """True when ``filename`` ends with an extension the province refuses (case-insensitive)."""
    name = filename.strip().lower().rstrip(".")
    return any(name.endswith(ext) for ext in policy["attachments"]["blocked_extensions"])
