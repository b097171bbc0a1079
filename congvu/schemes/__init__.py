"""The registry of naming schemes: one module per regulation's address rules (docs/naming.md).

A province's policy names its scheme (``naming.scheme``), and any province may use any scheme
registered here: a province is configuration, a scheme is code. Each module owns everything its
regulation says about addresses: the abbreviation convention (``abbreviate``), the organisation
mailboxes, what the organisation catalogue must hold (``check_catalogue``) and the personal
addresses with their clash rules (``choose``); :mod:`congvu.schemes.base` holds what they share.

Adding a scheme (a new regulation's address rules): write ``congvu/schemes/<name>.py`` with a
:class:`~congvu.schemes.base.Scheme` subclass whose ``name`` is ``<name>``, import the module below
and list its class in :data:`SCHEMES`. Adding a province that follows an existing scheme needs no
code at all (docs/adding-a-province.md).
"""

from __future__ import annotations

from congvu.errors import NamingError
from congvu.orgs import Org

# Relative imports: Ansible's module packer (AnsiballZ) follows them, so library/congvu_reconcile.py
# ships every scheme by importing this package alone.
from . import cantho, gialai, hagiang, hanam, ninhbinh
from .base import Scheme

__all__ = ["SCHEMES", "Scheme", "derive_abbr", "scheme_class"]

#: Every registered scheme by name, in the order the documentation presents them.
SCHEMES: dict[str, type[Scheme]] = {
    cls.name: cls
    for cls in (hanam.HaNam, gialai.GiaLai, cantho.CanTho, hagiang.HaGiang, ninhbinh.NinhBinh)
}


def scheme_class(name: str, *, rule: str = "naming.scheme") -> type[Scheme]:
    """The scheme registered as ``name``, or a NamingError listing the registered ones."""
    try:
        return SCHEMES[name]
    except (KeyError, TypeError):
        raise NamingError(f"unknown naming scheme {name!r} (registered: {', '.join(SCHEMES)})",
                          rule=rule) from None


def derive_abbr(org: Org, convention: str) -> str:
    """The abbreviation of ``org`` by the convention of the scheme ``convention``, unless the
    catalogue gives one (``abbr``). Each scheme's ``abbreviate`` documents its convention."""
    if org.abbr:
        return org.abbr
    if convention not in SCHEMES:
        raise NamingError(f"unknown naming convention {convention!r}", rule="derive_abbr")
    return SCHEMES[convention].abbreviate(org)
