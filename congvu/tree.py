"""Which files of a source tree a host lacks or holds in another version, from one ``sha256sum``
listing of the host's copy, so that a role installs a tree of files with one remote command and a
copy per changed file rather than a stat per file (the lifecycle role installs this package so:
docs/lifecycle.md, "The run").
"""

from __future__ import annotations

import hashlib
import pathlib
from collections.abc import Iterable

__all__ = ["checksums", "installed", "stale"]


def checksums(root: str | pathlib.Path, patterns: Iterable[str]) -> dict[str, str]:
    """Path relative to ``root`` -> SHA-256 of every file under ``root`` matching a glob pattern."""
    base = pathlib.Path(root)
    if not base.is_dir():
        raise ValueError(f"{root}: not a directory")
    out = {}
    for pattern in patterns:
        for path in sorted(base.glob(pattern)):
            if path.is_file():
                out[path.relative_to(base).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def installed(listing: str, prefix: str) -> dict[str, str]:
    """Path relative to ``prefix`` -> SHA-256, from ``sha256sum`` output (``<hex>  <path>`` lines, a
    ``*`` before the path in binary mode). Lines outside ``prefix`` and malformed lines are ignored:
    what they name is copied again, never trusted."""
    base = prefix.rstrip("/") + "/"
    out = {}
    for line in listing.splitlines():
        digest, sep, path = line.partition("  ")
        if not sep:
            digest, sep, path = line.partition(" *")
        if not sep or len(digest) != 64 or not path.startswith(base):
            continue
        out[path[len(base):]] = digest.lower()
    return out


def stale(root: str | pathlib.Path, patterns: Iterable[str], listing: str, prefix: str) -> list[str]:
    """The files of ``root`` (relative paths, sorted) that the host's copy under ``prefix`` lacks or
    holds with other content, given the host's ``sha256sum`` listing of that copy."""
    have = installed(listing, prefix)
    return sorted(rel for rel, digest in checksums(root, patterns).items() if have.get(rel) != digest)
