"""Hà Nam's naming scheme (Quy chế of 2023, Art 5): full-name addresses, ``.<clash code>`` across agencies."""

from __future__ import annotations

from congvu.fold import vn_ascii, vn_words
from congvu.orgs import CLASH_RE, Catalogue, Org, joined, name_initials, place_words
from congvu.schemes.base import OperatorCase, Person, Scheme, _Ctx, _Name


class HaNam(Scheme):
    """Hà Nam Art 5: ``nguyenthithanhha@``; clash elsewhere ``.<clash code>``; same agency: extras."""

    name = "hanam"
    article = "Hà Nam Art 5"

    @classmethod
    def abbreviate(cls, org: Org) -> str:
        """Agencies and units: initials (``stttt``, ``pttbcxb``, ``ptp``: Hà Nam Art 5.1.a, d, đ);
        districts: initials of the place (``kb``: Art 5.1.b); communes: the place name in full
        (``tienson``: Art 5.1.c)."""
        if org.kind == "district":
            return name_initials(" ".join(place_words(org.name)))
        if org.kind == "commune":
            return joined(place_words(org.name))
        return name_initials(org.name)

    @classmethod
    def check_catalogue(cls, catalogue: Catalogue) -> list[str]:
        """Art 5.2.b: every organisation needs a clash code of its own or of an ancestor."""
        problems = []
        for index, org in enumerate(catalogue.values()):
            if catalogue.clash_code_of(org.code) is None:
                hint = _clash_hint(org)
                problems.append(f"{catalogue.source}: organisations[{index}] (code {org.code!r}): "
                                "no clash_code here or on a parent: add a two-letter clash_code to "
                                "this organisation in the catalogue (Hà Nam Art 5.2.b"
                                + (f"; the first two initials of its name give {hint!r}" if hint else "")
                                + ")")
        return problems

    def _org_local_of(self, code: str) -> str:
        org = self.catalogue[code]
        if org.address:
            return org.address
        abbr = self.abbr(code)
        if org.kind == "district":  # Art 5.1.b: ubnd<district abbr>
            return f"ubnd{abbr}"
        if org.kind == "commune":  # Art 5.1.c: ubnd<commune name>.<district abbr>
            parent = self.catalogue[org.parent] if org.parent else None
            if parent is not None and parent.kind == "district":
                return f"ubnd{abbr}.{self.abbr(parent.code)}"
            return f"ubnd{abbr}"
        if org.kind == "unit":  # Art 5.1.d, đ: <unit abbr>.<agency or district abbr>
            parent = self.catalogue[org.parent]
            ref = self.abbr(parent.code) if parent.kind in ("agency", "district", "province") \
                else self._local(parent.code)
            return f"{abbr}.{ref}"
        return abbr

    def choose(self, person: Person, name: _Name, ctx: _Ctx) -> str | OperatorCase:
        domain = self.domain
        full = name.full
        code = self.catalogue.clash_code_of(person.org)
        agency = self.catalogue[self.agency_code(person.org)]
        same_agency = ctx.names[(agency.code, full)] > 0
        if not same_agency:
            # Art 5.2.a: the plain full name; Art 5.2.b: later holders from other agencies add
            # ".<two-letter code>" (nguyenvanhung.ld, nguyenvannam.tl).
            found = self._first_free([full, f"{full}.{code}"], domain, ctx)
            if found:
                return found
        # Art 5.2.c: same agency — the general form plus date of birth, home town, birthplace.
        why = (f"an identical full name already exists in {agency.name}" if same_agency
               else f"{full}@ and {full}.{code}@ are both taken")
        return self._distinguish(person, full, domain, ctx, why, "Hà Nam Art 5.2.c")



def _clash_hint(org: Org) -> str:
    """Hà Nam Art 5.2.b: "the first two initials of the agency's name" (Sở Lao động... → ``ld``)."""
    words = place_words(org.name) if org.kind in ("district", "commune") else vn_words(org.name)
    if org.kind not in ("district", "commune") and words and words[0].casefold() in ("sở", "ban", "phòng"):
        words = words[1:]
    hint = "".join(vn_ascii(w, lower=True, sep="")[:1] for w in words if w.casefold() != "và")[:2]
    return hint if CLASH_RE.match(hint) else ""
