"""IMAP's modified UTF-7 (RFC 3501 §5.1.3), the spelling of mailbox names on the wire and in Maildir++
folder names: ``Hồ sơ`` is ``H&HtM- s&AaE-``. Read by the archive (``congvu.mailbox``) and the migration's
verification (``congvu.migration``)."""

from __future__ import annotations

import base64
import re

__all__ = ["decode_mutf7"]

_SHIFTED = re.compile(r"&([^-]*)-")


def _decode(match: re.Match[str]) -> str:
    text = match.group(1)
    if not text:
        return "&"  # "&-" is a literal ampersand
    raw = text.replace(",", "/")
    return base64.b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-16-be")


def decode_mutf7(name: str) -> str:
    """A mailbox name in modified UTF-7 as text."""
    return _SHIFTED.sub(_decode, name)
