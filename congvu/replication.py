"""Multi-provider replication of the directory (docs/openldap.md, "Replication"): whether a provider
has caught up with another, from their contextCSN values.

A change stamp (CSN) reads ``YYYYmmddHHMMSS.uuuuuuZ#count#sid#mod``: the server ID of the provider
that made the change is its third field, and within one server ID the stamps sort as text. A
provider has caught up with a peer when, for every server ID the peer has seen, its own contextCSN
holds a stamp at least as new.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

__all__ = ["csn_behind", "sid_of", "syncrepl_matches", "syncrepl_params"]

_CSN = re.compile(r"^\d{14}\.\d{6}Z#[0-9a-f]{6}#([0-9a-f]{3})#[0-9a-f]{6}$")


def sid_of(csn: str) -> str:
    """The server ID (three hex digits) of a change stamp; ValueError for anything else."""
    match = _CSN.match(csn.strip())
    if not match:
        raise ValueError(f"{csn!r} is not an LDAP change stamp (CSN)")
    return match.group(1)


def csn_behind(local: Iterable[str], peer: Iterable[str]) -> list[str]:
    """The peer's contextCSN values this provider has not reached yet (empty: caught up)."""
    newest: dict[str, str] = {}
    for csn in local:
        sid = sid_of(csn)
        newest[sid] = max(newest.get(sid, ""), csn.strip())
    return [csn.strip() for csn in peer if newest.get(sid_of(csn), "") < csn.strip()]


def syncrepl_params(value: str) -> dict[str, str]:
    """The parameters of one olcSyncrepl value (``rid=001 provider=ldap://... retry="5 5 60 +"``), its
    ``{n}`` order prefix dropped; quoted values unquoted. ValueError on a value that does not parse."""
    text = re.sub(r"^\{\d+\}", "", value.strip())
    try:
        words = shlex.split(text, posix=True)
    except ValueError as exc:
        raise ValueError(f"olcSyncrepl value does not parse: {exc}") from None
    params = {}
    for word in words:
        name, sep, val = word.partition("=")
        if not sep:
            raise ValueError(f"olcSyncrepl word {word!r} is not name=value")
        params[name.lower()] = val
    return params


def syncrepl_matches(current: Iterable[str], desired: Iterable[str]) -> bool:
    """Whether slapd's olcSyncrepl values (as it writes them back: every parameter, defaults filled
    in, in its own order) say what the desired ones say, stanza by stanza in order. Parameters slapd
    adds with their defaults are ignored; a changed, missing or extra stanza is a difference."""
    have = [syncrepl_params(v) for v in current]
    want = [syncrepl_params(v) for v in desired]
    if len(have) != len(want):
        return False
    return all(all(h.get(k) == v for k, v in w.items()) for h, w in zip(have, want, strict=True))
