"""Cần Thơ's naming scheme (33/2015/QĐ-UBND, Art 4): ``nvminh``, ``nvanminh``, ``nguyenvanminh``, operator."""

from __future__ import annotations

from congvu.fold import vn_words
from congvu.orgs import Org, joined, name_initials, place_words
from congvu.schemes.base import OperatorCase, Person, Scheme, _Ctx, _Name


class CanTho(Scheme):
    """Cần Thơ Art 4.2: nvminh → nvanminh → nguyenvanminh → the operator decides."""

    name = "cantho"
    article = "Cần Thơ Art 4.2.d"

    @classmethod
    def abbreviate(cls, org: Org) -> str:
        """Agencies: ``so`` + the initials of the rest of a "Sở" name (``sonv``, ``sokhdt``:
        Cần Thơ Art 4.2.a); units: the name in full (``vanphong``: Art 4.2.b); districts/communes: the
        place name (not in the seed)."""
        if org.kind == "province":
            return name_initials(org.name)
        if org.kind in ("commune", "district"):
            return joined(place_words(org.name))
        if org.kind == "unit":
            return joined(vn_words(org.name))
        words = vn_words(org.name)
        if words and words[0].casefold() == "sở":
            return "so" + name_initials(" ".join(words[1:]))
        return name_initials(org.name)

    def _compute_org_locals(self) -> None:
        # Art 4.2.a: agency abbreviations must not clash; the later agency takes a longer form
        # (Sở Nội vụ → sonv, Sở Ngoại vụ → songoaivu).
        used: set[str] = set()
        self._long: dict[str, str] = {}
        for code, org in self.catalogue.items():
            if org.kind == "unit":
                continue
            local = self._org_local_of(code)
            if not org.abbr and not org.address and local in used:
                local = self._long[code] = long_abbr(org)
            self._org_local[code] = local
            used.add(local)
        super()._compute_org_locals()

    def abbr(self, code: str) -> str:
        """The abbreviation, the longer form when it clashed (Art 4.2.a: ``songoaivu``)."""
        return self._long.get(code) or super().abbr(code)

    def _org_local_of(self, code: str) -> str:
        org = self.catalogue[code]
        if org.address:  # Art 4.2.b: another agreed name (vpubndninhkieu)
            return org.address
        if org.kind == "unit":  # Art 4.2.b: <unit>.<agency abbr>
            return f"{self.abbr(code)}.{self._local(org.parent)}"
        if org.kind in ("district", "commune"):
            return f"ubnd{self.abbr(code)}"
        return self.abbr(code)

    def choose(self, person: Person, name: _Name, ctx: _Ctx) -> str | OperatorCase:
        sur_ini = name.sur_ini
        forms = [sur_ini + name.mid_ini + name.given,  # Art 4.2.c: nvminh
                 sur_ini + "".join(name.middles) + name.given,  # Art 4.2.d, second: nvanminh
                 name.full]  # Art 4.2.d, third: nguyenvanminh
        forms = list(dict.fromkeys(forms))
        found = self._first_free(forms, self.domain, ctx)
        if found:
            return found
        # Art 4.2.d: the fourth and later are named by the operator.
        suggestion = self._first_free([f"{forms[0]}{x}" for x in self.extras(person)[:1]], self.domain, ctx)
        return self._operator(person, ctx, f"{', '.join(f + '@' for f in forms)} are all taken: the fourth "
                              "and later holders are named by the operator (Cần Thơ Art 4.2.d)",
                              suggestion or self._numbered(name.full, "", self.domain, ctx))



def long_abbr(org: Org) -> str:
    """Cần Thơ Art 4.2.a: the longer form taken on an abbreviation clash (Sở Ngoại vụ → ``songoaivu``)."""
    words = vn_words(org.name)
    words = [w for w in words if w.casefold() != "và"]
    if words and words[0].casefold() == "sở":
        return "so" + joined(words[1:])
    return joined(words)
