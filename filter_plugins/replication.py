"""Jinja2 filters of the openldap role: thin wrappers around :func:`congvu.replication.csn_behind` and
:func:`congvu.replication.syncrepl_matches` (docs/openldap.md, "Replication")."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from congvu.replication import csn_behind, syncrepl_matches

DOCUMENTATION = r"""
name: congvu_csn_behind
short_description: The peer's contextCSN values a directory server has not reached yet
description:
  - Compares two multi-valued C(contextCSN) attributes (one value per server ID) and returns the
    peer's values that are newer than anything the local server holds for the same server ID.
  - An empty list means the local server has caught up with the peer.
options:
  _input:
    description: The local server's contextCSN values.
    type: list
    elements: str
    required: true
  peer:
    description: The peer's contextCSN values.
    type: list
    elements: str
    required: true
"""
# congvu_syncrepl_matches(current, desired): whether slapd's olcSyncrepl values (with its defaults
# filled in) say what the desired ones say; documented in congvu.replication.syncrepl_matches.

EXAMPLES = r"""
behind: "{{ local_csns | congvu_csn_behind(peer_csns) }}"
"""

RETURN = r"""
_value:
  description: The peer's stamps not reached yet.
  type: list
  elements: str
"""


def congvu_csn_behind(local: Any, peer: Any) -> list[str]:
    try:
        return csn_behind([str(c) for c in local or []], [str(c) for c in peer or []])
    except ValueError as exc:
        raise AnsibleFilterError(f"congvu_csn_behind: {exc}") from None


def congvu_syncrepl_matches(current: Any, desired: Any) -> bool:
    try:
        return syncrepl_matches([str(v) for v in current or []], [str(v) for v in desired or []])
    except ValueError as exc:
        raise AnsibleFilterError(f"congvu_syncrepl_matches: {exc}") from None


class FilterModule:
    """congvu directory replication filters."""

    def filters(self) -> dict[str, Any]:
        return {"congvu_csn_behind": congvu_csn_behind, "congvu_syncrepl_matches": congvu_syncrepl_matches}
