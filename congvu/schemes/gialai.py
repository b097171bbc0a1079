"""Gia Lai's naming scheme (Quy chế of 2026, Art 4): a subdomain per agency or commune, ``quynhhtn@skhcn``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache

from congvu.orgs import Org, joined, name_initials, place_words
from congvu.schemes.base import OperatorCase, Person, Scheme, _Ctx, _Name


class GiaLai(Scheme):
    """Gia Lai Art 4: a subdomain per agency/commune; ``quynhhtn@skhcn.gialai.gov.vn``."""

    name = "gialai"
    article = "Gia Lai Art 4"

    @classmethod
    def abbreviate(cls, org: Org) -> str:
        """Agencies: initials (``skhcn``: Gia Lai Art 4.1.a); communes/wards: the place name
        (``pleiku``, ``dakpo``: Art 4.1.b); units: the name without "Phòng", dashes kept
        (``vanhoa-xahoi``: Art 4.1.c)."""
        if org.kind in ("commune", "district"):
            return joined(place_words(org.name))
        if org.kind == "unit":
            first, _, rest = org.name.partition(" ")
            text = rest if first.casefold() == "phòng" and rest else org.name
            return joined([text], hyphen="keep")
        return name_initials(org.name)

    def _org_local_of(self, code: str) -> str:
        org = self.catalogue[code]
        if org.address:
            return org.address
        if org.kind == "unit":  # Art 4.1.c: <unit name or abbr>@<agency>.gialai.gov.vn
            return self.abbr(code)
        return self.label(code)  # agency/commune mailbox: <label>@<label>.gialai.gov.vn

    def label(self, code: str) -> str:
        """Subdomain label of the organisation owning ``code``'s subdomain (Art 4.1.a, b)."""
        top = self.catalogue.top_of(code)
        return top.subdomain or self.derive_abbr(top)

    def org_domain(self, code: str) -> str:
        if code not in self._domains:
            org = self.catalogue[code]
            if org.kind == "province" and not org.subdomain:
                self._domains[code] = self.domain
            else:
                self._domains[code] = f"{self.label(code)}.{self.domain}"
        return self._domains[code]

    def name_scope(self, person: Person) -> str:
        return self.org_domain(person.org)

    @staticmethod
    @lru_cache(maxsize=65536)
    def _forms(name: _Name) -> tuple[str, str | None]:
        # Art 4.2.a: given name in full + initials of surname and middle names.
        base = name.given + name.sur_ini + name.mid_ini
        if not name.middles:
            return base, None
        # Art 4.2.b: the middle name next to the given name in full before it, then the initials
        # of the surname and the other middle names (Trương Hoàng Tiến Minh → tienminhth).
        return base, name.middles[-1] + name.given + name.sur_ini + name.mid_ini[:-1]

    def prepare(self, new: Iterable[tuple[Person, _Name]], ctx: _Ctx) -> None:
        # Art 4.2.b example: when people with different full names but the same short form are
        # named together, all of them take the long form (tanminhth, tienminhth).
        groups: dict[tuple[str, str], set[str]] = defaultdict(set)
        for person, name in new:
            base, long = self._forms(name)
            if long:
                groups[(self.org_domain(person.org), base)].add(name.full)
        self._prefer_long = {key for key, fulls in groups.items()
                             if len(fulls) > 1 and f"{key[1]}@{key[0]}" not in ctx.taken}

    def choose(self, person: Person, name: _Name, ctx: _Ctx) -> str | OperatorCase:
        domain = self.org_domain(person.org)
        base, long = self._forms(name)
        if ctx.names[(domain, name.full)] == 0:
            forms = [base, long] if long else [base]
            if (domain, base) in getattr(self, "_prefer_long", set()):
                forms.reverse()
            found = self._first_free(forms, domain, ctx)
            if found:
                return found
        # Art 4.2.c: identical full name — general form + birth date, home town, birthplace.
        why = (f"an identical full name already exists at {domain}" if ctx.names[(domain, name.full)]
               else "the short and long forms are both taken")
        return self._distinguish(person, base, domain, ctx, why, "Gia Lai Art 4.2.c")

