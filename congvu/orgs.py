"""Organisations as data: the catalogue of agencies, districts, communes and units of a province.

A catalogue is a YAML file (``data/catalogues/<province code>.yml``)::

    province: hanam                 # optional; when given it must be the province code (policy province.code)
    organisations:
      - code: stttt                 # unique key, used by rosters (person.org) and as LDAP o=
        name: Sở Thông tin và Truyền thông
        kind: agency                # province | agency | district | commune | unit
        abbr: stttt                 # optional: overrides the derived abbreviation
        parent: ubndt               # optional for province/agency/district/commune, required for unit
        clash_code: tt              # Hà Nam Art 5.2.b: two letters added on a personal-name clash
        subdomain: stttt            # Gia Lai Art 4.1: subdomain label (derived when absent)
        address: vpubndninhkieu     # optional agreed mailbox local part (Cần Thơ Art 4.2.b)

:func:`load_catalogue` checks every entry and reports every problem at once, each naming the file
and the entry, then what the naming scheme needs (``Scheme.check_catalogue``). Abbreviations are
the schemes' business (:mod:`congvu.schemes`); the helpers below read organisation names for them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from congvu.addresses import LOCAL_RE
from congvu.errors import NamingError
from congvu.fold import vn_ascii, vn_words

__all__ = ["KINDS", "Catalogue", "Org", "check_catalogue", "joined", "load_catalogue", "name_initials",
           "place_words"]

KINDS = ("province", "agency", "district", "commune", "unit")
FIELDS = ("code", "name", "kind", "abbr", "parent", "clash_code", "subdomain", "address")
# Which kinds may sit under which (None: top level). A unit can sit under anything.
ALLOWED_PARENTS = {
    "province": {None},
    "agency": {None, "province", "agency"},
    "district": {None, "province"},
    "commune": {None, "district", "province"},
    "unit": {"province", "agency", "district", "commune", "unit"},
}
CODE_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
CLASH_RE = re.compile(r"^[a-z]{2}$")


@dataclass(frozen=True)
class Org:
    """One organisation of a catalogue."""

    code: str
    name: str
    kind: str
    abbr: str | None = None
    parent: str | None = None
    clash_code: str | None = None
    subdomain: str | None = None
    address: str | None = None


class Catalogue(Mapping[str, Org]):
    """Validated organisations, in catalogue order, by code."""

    def __init__(self, orgs: list[Org], source: str = "<catalogue>", province: str | None = None) -> None:
        self.source = source
        self.province = province
        self._orgs = {org.code: org for org in orgs}

    def __getitem__(self, code: str) -> Org:
        return self._orgs[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._orgs)

    def __len__(self) -> int:
        return len(self._orgs)

    def __contains__(self, code: object) -> bool:
        return code in self._orgs

    def get_org(self, code: str, *, where: str | None = None) -> Org:
        """The organisation ``code``, or a NamingError naming the catalogue."""
        try:
            return self._orgs[code]
        except KeyError:
            raise NamingError(f"organisation {code!r} is not in the catalogue {self.source}",
                              source=where, key="org", rule="catalogue") from None

    def ancestors(self, code: str) -> list[Org]:
        """The organisation and its parents, nearest first."""
        chain = []
        org: Org | None = self._orgs[code]
        while org is not None:
            chain.append(org)
            org = self._orgs[org.parent] if org.parent else None
        return chain

    def agency_of(self, code: str) -> Org:
        """The nearest organisation that is not a unit (the "cơ quan" a person or unit belongs to)."""
        for org in self.ancestors(code):
            if org.kind != "unit":
                return org
        return self._orgs[code]  # pragma: no cover - a unit always has a non-unit ancestor

    def top_of(self, code: str) -> Org:
        """The outermost ancestor below the province (the organisation owning a Gia Lai subdomain)."""
        chain = [o for o in self.ancestors(code) if o.kind != "province"]
        return chain[-1] if chain else self._orgs[code]

    def clash_code_of(self, code: str) -> str | None:
        """Hà Nam Art 5.2.b clash code: the organisation's own, else its nearest ancestor's."""
        for org in self.ancestors(code):
            if org.clash_code:
                return org.clash_code
        return None


def _problem(source: str, index: int, entry: Any, message: str) -> str:
    code = entry.get("code") if isinstance(entry, dict) else None
    label = f"organisations[{index}]" + (f" (code {code!r})" if code else "")
    return f"{source}: {label}: {message}"


def load_catalogue(data: Mapping[str, Any] | str | Path, *, source: str | None = None,
                   scheme: str | None = None, province: str | None = None) -> Catalogue:
    """Load and validate a catalogue from a mapping or a YAML file path.

    Raises one :class:`NamingError` listing every problem (duplicate codes, unknown or wrongly
    kinded parents, cycles, bad kinds, unknown fields), then, when given, what :func:`check_catalogue`
    finds for the ``scheme`` (e.g. Hà Nam organisations without a clash code of their own or of an
    ancestor) and the ``province`` code.
    """
    if isinstance(data, str | Path):
        path = Path(data)
        source = source or str(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise NamingError(f"cannot read catalogue: {exc.strerror}", source=source,
                              rule="catalogue") from None
        except yaml.YAMLError as exc:
            raise NamingError(f"not valid YAML: {exc}", source=source, rule="catalogue") from None
    source = source or "<catalogue>"
    if not isinstance(data, Mapping):
        raise NamingError("a catalogue is a mapping with an 'organisations' list", source=source,
                          rule="catalogue")
    unknown_top = sorted(set(data) - {"province", "organisations"})
    problems = [f"{source}: unknown top-level key {k!r} (allowed: province, organisations)"
                for k in unknown_top]
    declared = data.get("province")
    if declared is not None and not isinstance(declared, str):
        problems.append(f"{source}: province must be a province code, got {declared!r}")
    entries = data.get("organisations")
    if not isinstance(entries, list):
        problems.append(f"{source}: 'organisations' must be a list of organisations")
        entries = []
    orgs: list[Org] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(_problem(source, index, entry, "an organisation is a mapping"))
            continue
        bad = False
        for key in sorted(set(entry) - set(FIELDS)):
            problems.append(_problem(source, index, entry, f"unknown field {key!r} "
                                     f"(allowed: {', '.join(FIELDS)})"))
            bad = True
        for key in FIELDS:
            value = entry.get(key)
            if value is not None and not isinstance(value, str):
                problems.append(_problem(source, index, entry, f"{key} must be text, got {value!r}"))
                bad = True
        for key in ("code", "name", "kind"):
            if not entry.get(key):
                problems.append(_problem(source, index, entry, f"missing required field {key!r}"))
                bad = True
        if bad:
            continue
        code, kind = entry["code"], entry["kind"]
        if not CODE_RE.match(code):
            problems.append(_problem(source, index, entry, "code must be lower-case ASCII letters, "
                                     "digits, '-' or '_'"))
        if kind not in KINDS:
            problems.append(_problem(source, index, entry, f"kind {kind!r} is not one of "
                                     f"{', '.join(KINDS)}"))
        if code in first_index:
            problems.append(_problem(source, index, entry, f"duplicate code {code!r} "
                                     f"(first at organisations[{first_index[code]}])"))
            continue
        for key, pattern, what in (("abbr", LOCAL_RE, "lower-case ASCII, digits, '.', '-', '_'"),
                                   ("address", LOCAL_RE, "a mailbox local part (lower-case ASCII)"),
                                   ("subdomain", LABEL_RE, "a DNS label (lower-case ASCII, '-')"),
                                   ("clash_code", CLASH_RE, "two lower-case ASCII letters "
                                    "(Hà Nam Art 5.2.b)")):
            value = entry.get(key)
            if value is not None and not pattern.match(value):
                problems.append(_problem(source, index, entry, f"{key} {value!r} must be {what}"))
        first_index[code] = index
        orgs.append(Org(code=code, name=unicodedata.normalize("NFC", entry["name"]).strip(), kind=kind,
                        abbr=entry.get("abbr"), parent=entry.get("parent"),
                        clash_code=entry.get("clash_code"), subdomain=entry.get("subdomain"),
                        address=entry.get("address")))
    by_code = {o.code: o for o in orgs}
    for org in orgs:
        index = first_index[org.code]
        entry = entries[index]
        if org.parent is None:
            if None not in ALLOWED_PARENTS.get(org.kind, {None}):
                problems.append(_problem(source, index, entry, f"a {org.kind} needs a parent"))
        elif org.parent not in by_code:
            problems.append(_problem(source, index, entry, f"unknown parent {org.parent!r}"))
        elif org.kind in ALLOWED_PARENTS and by_code[org.parent].kind not in ALLOWED_PARENTS[org.kind]:
            problems.append(_problem(source, index, entry, f"a {org.kind} cannot sit under "
                                     f"{org.parent!r}, which is of kind {by_code[org.parent].kind}"))
    # Cycles: follow parents; a chain longer than the catalogue or revisiting a code is a cycle.
    reported: set[str] = set()
    for org in orgs:
        seen: list[str] = []
        cur: Org | None = org
        while cur is not None and cur.code not in seen:
            seen.append(cur.code)
            cur = by_code.get(cur.parent) if cur.parent else None
        if cur is not None and cur.code not in reported:
            cycle = seen[seen.index(cur.code):]
            reported.update(cycle)
            problems.append(_problem(source, first_index[cur.code], entries[first_index[cur.code]],
                                     "parent cycle: " + " -> ".join([*cycle, cur.code])))
    if problems:
        _raise(problems, source)
    catalogue = Catalogue(orgs, source, declared)
    if scheme is not None or province is not None:
        check_catalogue(catalogue, scheme=scheme, province=province)
    return catalogue


def _raise(problems: list[str], source: str) -> None:
    raise NamingError(f"{len(problems)} problem(s) in the catalogue:\n  " + "\n  ".join(problems),
                      source=source, rule="catalogue")


def check_catalogue(catalogue: Catalogue, *, scheme: str | None = None, province: str | None = None) -> None:
    """The catalogue belongs to ``province`` (its ``province`` key, when it has one, is that code) and
    holds what the naming ``scheme`` needs (``Scheme.check_catalogue``); all problems in one error."""
    from congvu.schemes import scheme_class  # here, not at the top: the schemes import this module

    problems = []
    if province is not None and catalogue.province is not None and catalogue.province != province:
        problems.append(f"{catalogue.source}: catalogue is for {catalogue.province!r} but the province is "
                        f"{province!r} (data/catalogues/<province code>.yml, its 'province' key the code)")
    if scheme is not None:
        problems += scheme_class(scheme).check_catalogue(catalogue)
    if problems:
        _raise(problems, catalogue.source)


# --- reading organisation names (each scheme's abbreviate uses these) -----------------------------

_COMMITTEE = ("ủy ban nhân dân", "uỷ ban nhân dân", "ubnd")
_PLACE_PREFIXES = ("thành phố", "thị xã", "thị trấn", "tỉnh", "huyện", "quận", "xã", "phường", "tp.", "tp")


def place_words(name: str) -> list[str]:
    """The place name inside an organisation name: ``UBND huyện Kim Bảng`` → ``["Kim", "Bảng"]``."""
    words = vn_words(name)
    low = " ".join(words).casefold()
    for prefix in _COMMITTEE:
        if low.startswith(prefix + " "):
            words = words[len(prefix.split()):]
            low = " ".join(words).casefold()
            break
    for prefix in _PLACE_PREFIXES:
        if low.startswith(prefix + " "):
            words = words[len(prefix.split()):]
            break
    return words


def _is_acronym(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 2 and all(c.isupper() for c in letters)


def name_initials(name: str) -> str:
    """Initials of an organisation name, leaving out "và" and dashes (Ninh Bình Art 5.1.a).

    Acronyms already in the name are kept whole: ``Văn phòng UBND tỉnh`` → ``vpubndt``,
    ``Sở KH&CN`` → ``skhcn``.
    """
    out = []
    for word in vn_words(name):
        if word.casefold() == "và":
            continue
        folded = re.sub(r"[^a-z0-9]", "", vn_ascii(word, lower=True, sep=""))
        if not folded:
            continue
        out.append(folded if _is_acronym(word) else folded[0])
    return "".join(out)


def joined(words: list[str], *, hyphen: str = "drop") -> str:
    """Fold words and write them "viết liền" (joined, lower case, no diacritics)."""
    return re.sub(r"[^a-z0-9-]", "", vn_ascii(" ".join(words), lower=True, sep="", hyphen=hyphen))
