"""Jinja2 filter of the lifecycle role: a thin wrapper around :func:`congvu.tree.stale`
(docs/lifecycle.md, "The run")."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from congvu.tree import stale

DOCUMENTATION = r"""
name: congvu_stale_files
short_description: Files of a control-node tree that a host lacks or holds in another version
description:
  - Compares the SHA-256 of every file under O(src) matching O(patterns) with a C(sha256sum) listing
    of the host's copy under O(dest), and returns the relative paths to copy, sorted.
  - A file missing from the listing, or listed with another digest, is returned; a listing line
    outside O(dest) is ignored.
options:
  _input:
    description: The host's C(sha256sum) output (empty when the copy does not exist yet).
    type: str
    required: true
  src:
    description: The tree on the control node.
    type: path
    required: true
  patterns:
    description: Glob patterns relative to O(src).
    type: list
    elements: str
    required: true
  dest:
    description: The directory on the host the listing's paths start with.
    type: path
    required: true
"""

EXAMPLES = r"""
copy_these: "{{ listing.stdout | congvu_stale_files('/srv/congvu', ['*.py'], '/usr/local/lib/congvu') }}"
"""

RETURN = r"""
_value:
  description: Paths relative to O(src), sorted.
  type: list
  elements: str
"""


def congvu_stale_files(listing: Any, src: str, patterns: Any, dest: str) -> list[str]:
    try:
        return stale(src, list(patterns), str(listing or ""), dest)
    except ValueError as err:
        raise AnsibleFilterError(f"congvu_stale_files: {err}") from err


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"congvu_stale_files": congvu_stale_files}
