"""Ninh Bình's naming scheme (28/2020/QĐ-UBND, Art 5): ``minhnv.stttt@``, numbered clashes in the agency."""

from __future__ import annotations

from congvu.orgs import Org, joined, name_initials, place_words
from congvu.schemes.base import Person, Scheme, _Ctx, _Name


class NinhBinh(Scheme):
    """Ninh Bình Art 5: ``minhnv.stttt@``; identical names in the agency: ``minhnv2.stttt@``."""

    name = "ninhbinh"
    article = "Ninh Bình Art 5"

    @classmethod
    def abbreviate(cls, org: Org) -> str:
        """Initials without "và" and "-" (Ninh Bình Art 5.1.a); the province committee ``ubnd``;
        districts and communes: the place name (Art 5.1.b)."""
        if org.kind == "province":
            return "ubnd"
        if org.kind in ("district", "commune"):
            return joined(place_words(org.name))
        return name_initials(org.name)

    def _org_local_of(self, code: str) -> str:
        org = self.catalogue[code]
        if org.address:
            return org.address
        if org.kind == "commune" and org.parent and self.catalogue[org.parent].kind == "district":
            return f"{self.abbr(code)}.{self._local(org.parent)}"  # Art 5.1.b: <xã>.<huyện>
        if org.kind in ("unit", "agency") and org.parent and self.catalogue[org.parent].kind != "province":
            # Art 5.1.a, c: <sub abbr>.<parent's address local part>
            return f"{self.abbr(code)}.{self._local(org.parent)}"
        return self.abbr(code)

    def choose(self, person: Person, name: _Name, ctx: _Ctx) -> str:
        # Art 5.2.a: given name + initials of surname and middle names, "." the agency abbreviation.
        stem = name.given + name.sur_ini + name.mid_ini
        suffix = "." + self._org_local[self.agency_code(person.org)]
        found = self._first_free([stem + suffix], self.domain, ctx)
        # Art 5.2.b: a sequence number right after the name part.
        return found or self._numbered(stem, suffix, self.domain, ctx)

