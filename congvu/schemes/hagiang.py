"""Hà Giang's naming scheme (614/2013/QĐ-UBND, Art 4): ``nvminh.stttt@``, numbered clashes in the unit."""

from __future__ import annotations

from congvu.schemes.base import Person, Scheme, _Ctx, _Name


class HaGiang(Scheme):
    """Hà Giang Art 4: ``nvminh.stttt@``; same name in the unit: ``nvminh2.stttt@``.

    Abbreviations are the base's initials for every kind of organisation (Art 4.1: "Tên_đơn_vị là
    viết tắt tên của tổ chức", ``stttt``).
    """

    name = "hagiang"
    article = "Hà Giang Art 4"

    def name_scope(self, person: Person) -> str:
        return person.org

    def choose(self, person: Person, name: _Name, ctx: _Ctx) -> str:
        # Art 4.2: initials of surname and middle names + given name, "." the unit mailbox name.
        stem = name.sur_ini + name.mid_ini + name.given
        suffix = "." + self._org_local[person.org]
        found = self._first_free([stem + suffix], self.domain, ctx)
        # Art 4.2: a number right after the name part on a clash inside the unit.
        return found or self._numbered(stem, suffix, self.domain, ctx)

