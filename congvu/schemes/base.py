"""The machinery every naming scheme shares: people, results, name folding and the :class:`Scheme` base.

A scheme module (``congvu/schemes/<name>.py``) subclasses :class:`Scheme` and overrides what its
regulation says: the abbreviation convention (:meth:`Scheme.abbreviate`), the organisation mailboxes
(``_org_local_of``, :meth:`Scheme.org_domain`), what a catalogue must hold for it
(:meth:`Scheme.check_catalogue`) and the personal addresses (:meth:`Scheme.choose`). Everything
else (the assignment run, its guarantees, overrides, numbering and the operator cases) lives here
once. The public entry points are in :mod:`congvu.naming`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Container, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from congvu.errors import NamingError
from congvu.fold import NameParts, fold_token, split_name
from congvu.orgs import LOCAL_RE, Catalogue, Org, name_initials

__all__ = ["LIST_NAME_RE", "MAX_LOCAL", "OperatorCase", "Person", "Result", "Scheme"]

MAX_LOCAL = 64  # RFC 5321 section 4.5.3.1.1
#: A mailing list's name (its ``cn`` and the first part of its address): lower-case ASCII letters and
#: digits, words joined by dashes as the schemes allow in local parts (Gia Lai ``vanhoa-xahoi``). No
#: dot: the dot separates the name from its organisation's mailbox name (:meth:`Scheme.list_address`).
LIST_NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
PERSON_FIELDS = ("id", "full_name", "org", "birth_date", "home_town", "birthplace", "address", "surname")


@dataclass(frozen=True)
class Person:
    """One roster entry. ``address`` is an explicit override (validated, Art-specific domain)."""

    id: str
    full_name: str
    org: str
    birth_date: dt.date | None = None
    home_town: str | None = None
    birthplace: str | None = None
    address: str | None = None
    surname: str | None = None

    @classmethod
    def coerce(cls, data: Person | Mapping[str, Any], where: str) -> Person:
        """A Person from a Person or a mapping (roster YAML); NamingError naming ``where``."""
        if isinstance(data, Person):
            return data
        if not isinstance(data, Mapping):
            raise NamingError(f"a person is a mapping, got {type(data).__name__}", source=where,
                              rule="roster")
        unknown = sorted(set(data) - set(PERSON_FIELDS))
        if unknown:
            raise NamingError(f"unknown field(s) {', '.join(unknown)} (allowed: {', '.join(PERSON_FIELDS)})",
                              source=where, rule="roster")
        values = dict(data)
        if values.get("id") is not None and not isinstance(values["id"], str):
            values["id"] = str(values["id"])
        for key in ("id", "full_name", "org"):
            if not isinstance(values.get(key), str) or not values[key].strip():
                raise NamingError(f"missing or empty {key!r}", source=where, key=key, rule="roster")
        for key in ("home_town", "birthplace", "address", "surname"):
            if values.get(key) is not None and not isinstance(values[key], str):
                raise NamingError(f"must be text, got {values[key]!r}", source=where, key=key,
                                  rule="roster")
        birth = values.get("birth_date")
        if isinstance(birth, dt.datetime):
            birth = birth.date()
        elif isinstance(birth, str):
            try:
                birth = dt.date.fromisoformat(birth.strip())
            except ValueError:
                raise NamingError(f"birth date {birth!r} is not YYYY-MM-DD", source=where,
                                  key="birth_date", rule="roster") from None
        elif birth is not None and not isinstance(birth, dt.date):
            raise NamingError(f"birth date must be YYYY-MM-DD, got {birth!r}", source=where,
                              key="birth_date", rule="roster")
        values["birth_date"] = birth
        return cls(**{k: values.get(k) for k in PERSON_FIELDS})


@dataclass(frozen=True)
class OperatorCase:
    """A person the tool must not name alone: reason, rule (article) and a suggested address."""

    person_id: str
    full_name: str
    org: str
    reason: str
    rule: str
    suggestion: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Result:
    """Outcome of :meth:`Scheme.assign`."""

    addresses: dict[str, str] = field(default_factory=dict)
    """Every person with an address (kept or new), in input order."""
    new: dict[str, str] = field(default_factory=dict)
    """Only the addresses issued by this run."""
    needs_operator: list[OperatorCase] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.needs_operator

    def raise_for_problems(self, source: str | None = None) -> None:
        """Raise one NamingError listing every operator case (for callers that cannot ask)."""
        if self.needs_operator:
            lines = [f"{c.person_id} ({c.full_name}, {c.org}): {c.reason} [{c.rule}]"
                     + (f"; suggestion {c.suggestion}" if c.suggestion else "")
                     for c in self.needs_operator]
            raise NamingError(f"{len(lines)} person(s) need an operator decision:\n  " + "\n  ".join(lines),
                              source=source, rule="naming")


@dataclass(frozen=True, slots=True)
class _Name:
    """A person's name pieces folded to lower-case ASCII, with the initials precomputed."""

    surname: tuple[str, ...]
    middles: tuple[str, ...]
    given: str
    full: str
    sur_ini: str  # initials of the surname word(s)
    mid_ini: str  # initials of the middle names, one letter each


@lru_cache(maxsize=65536)
def _fold_word(word: str) -> str:
    return fold_token(word)


@lru_cache(maxsize=262144)
def _fold_full(full_name: str, surname: str | None) -> _Name:
    """Split and fold a full name (cached: rosters repeat names a lot)."""
    parts: NameParts = split_name(full_name, surname=surname)
    sur = tuple(f for f in map(_fold_word, parts.surname_words) if f)
    mids = tuple(f for f in map(_fold_word, parts.middles) if f)
    given = _fold_word(parts.given)
    return _Name(sur, mids, given, "".join(sur) + "".join(mids) + given,
                 "".join(w[0] for w in sur), "".join(w[0] for w in mids))


def _fold_place(text: str | None) -> str:
    return fold_token(text) if text else ""


class _Ctx:
    """Addresses in use during one assign run."""

    def __init__(self) -> None:
        self.taken: set[str] = set()  # issued, organisation mailboxes, aliases
        self.used: set[str] = set()  # taken + suggestions handed to the operator
        self.names: dict[tuple[str, str], int] = defaultdict(int)  # (scope, folded full name) -> holders
        self.counters: dict[tuple[str, str, str], int] = {}  # next number to try per numbered stem

    def take(self, addresses: Iterable[str]) -> None:
        self.taken.update(addresses)
        self.used.update(addresses)

    def reserve(self, address: str) -> None:
        self.used.add(address)


class Scheme:
    """Base of the naming schemes; each module of :mod:`congvu.schemes` holds one regulation's rules.

    ``name`` is what a policy's ``naming.scheme`` says; ``article`` is cited by operator cases and
    organisation-address errors.
    """

    name = ""
    article = ""

    def __init__(self, naming: Mapping[str, Any], catalogue: Catalogue) -> None:
        self.naming = dict(naming)
        self.domain: str = naming["domain"]
        self.catalogue = catalogue
        self.sequence_start: int = naming["sequence_start"]
        self.birth_date_format: str = naming["birth_date_format"]
        self._org_local: dict[str, str] = {}
        self._domains: dict[str, str] = {}
        self._agencies: dict[str, str] = {}
        self._compute_org_locals()
        self._check_org_addresses()

    # --- organisations ------------------------------------------------------------------------

    @classmethod
    def abbreviate(cls, org: Org) -> str:
        """The abbreviation of ``org`` by this scheme's convention: by default the initials of its
        name, leaving out "và" and dashes, acronyms kept whole (``Văn phòng UBND tỉnh`` → ``vpubndt``)."""
        return name_initials(org.name)

    @classmethod
    def derive_abbr(cls, org: Org) -> str:
        """The catalogue's ``abbr`` when it gives one, else :meth:`abbreviate`."""
        return org.abbr or cls.abbreviate(org)

    @classmethod
    def check_catalogue(cls, catalogue: Catalogue) -> list[str]:
        """What the catalogue lacks for this scheme, one message per problem (none by default)."""
        return []

    def abbr(self, code: str) -> str:
        return self.derive_abbr(self.catalogue[code])

    def _compute_org_locals(self) -> None:
        for code in self.catalogue:
            self._local(code)

    def _local(self, code: str) -> str:
        """Memoised local part; parents are computed first whatever the catalogue order."""
        if code not in self._org_local:
            self._org_local[code] = self._org_local_of(code)
        return self._org_local[code]

    def _org_local_of(self, code: str) -> str:
        org = self.catalogue[code]
        if org.address:
            return org.address
        if org.kind == "unit":
            return f"{self.abbr(code)}.{self._local(org.parent)}"
        return self.abbr(code)

    def org_domain(self, code: str) -> str:
        """The domain of an organisation's mailbox and of its people's addresses."""
        return self.domain

    def org_local(self, code: str) -> str:
        self.catalogue.get_org(code)
        return self._org_local[code]

    def org_address(self, code: str) -> str:
        """The organisation's own mailbox address."""
        return f"{self.org_local(code)}@{self.org_domain(code)}"

    def org_addresses(self) -> dict[str, str]:
        """Every organisation's mailbox, in catalogue order."""
        return {code: self.org_address(code) for code in self.catalogue}

    def _check_org_addresses(self) -> None:
        seen: dict[str, str] = {}
        problems = []
        for code in self.catalogue:
            address = self.org_address(code)
            local = address.partition("@")[0]
            if not LOCAL_RE.match(local) or len(local) > MAX_LOCAL:
                problems.append(f"{code}: derived local part {local!r} is not a valid mailbox name; "
                                "set 'abbr' or 'address' in the catalogue")
            if address in seen:
                problems.append(f"{code}: address {address} is already the mailbox of {seen[address]!r}; "
                                "set a different 'abbr' or 'address' in the catalogue")
            seen.setdefault(address, code)
        if problems:
            raise NamingError(f"{len(problems)} organisation address problem(s):\n  " + "\n  ".join(problems),
                              source=self.catalogue.source, rule=self.article)

    # --- mailing lists (Cần Thơ Art 11.5) ------------------------------------------------------

    def list_address(self, code: str, name: str) -> str:
        """The address of the mailing list ``name`` of the organisation ``code`` (Cần Thơ Art 11.5:
        each agency's lists; docs/lists.md, docs/naming.md).

        A list is named like a sub-unit of its organisation, its name in front of the organisation's
        own mailbox name, in the organisation's domain: ``toanso.stttt@hanam.gov.vn``,
        ``toanso.skhcn@skhcn.gialai.gov.vn``. Every scheme's unit rule has that shape
        (Hà Nam Art 5.1.d, Cần Thơ Art 4.2.b, Hà Giang Art 4.1, Ninh Bình Art 5.1.a, c), except two that
        this deliberately does not follow: Hà Nam writes a district's units after the district's
        abbreviation (``ptp.bl``, Art 5.1.đ), the shape a person's clash form also has
        (``nguyenvanhung.bl``, Art 5.2.b), and Gia Lai writes a unit alone in its agency's subdomain
        (``ttcds@skhcn``, Art 4.1.c), the shape of personal addresses. After the full mailbox name
        (``ubndbl``, ``skhcn``) a list's address cannot take either shape.
        """
        return f"{name}.{self.org_local(code)}@{self.org_domain(code)}"

    def check_list_address(self, code: str, name: str, address: str | None = None) -> str | None:
        """Why the mailing list ``name`` of ``code`` (with ``address``, when given) breaks the naming
        rule of :meth:`list_address`, or None when it follows it (Cần Thơ Art 11.5, docs/naming.md).

        The name must be lower-case ASCII letters and digits (words joined by ``-``), the local part
        at most 64 characters, the address not an organisation's mailbox, and ``address`` exactly
        :meth:`list_address`.
        """
        if not isinstance(name, str) or not LIST_NAME_RE.match(name):
            return (f"the list name {name!r} must be lower-case ASCII letters and digits, words joined "
                    "by '-' (no dot, no diacritics)")
        if code not in self.catalogue:
            return f"organisation {code!r} is not in the catalogue {self.catalogue.source}"
        expected = self.list_address(code, name)
        local = expected.partition("@")[0]
        if len(local) > MAX_LOCAL:
            return (f"the list's address {expected} has {len(local)} characters before the '@', more "
                    f"than {MAX_LOCAL} (RFC 5321): choose a shorter name")
        holder = next((c for c, a in self.org_addresses().items() if a == expected), None)
        if holder is not None:
            return (f"the list's address {expected} is the mailbox of the organisation {holder!r}: "
                    "choose another name")
        if address is not None and str(address).strip().lower() != expected:
            return f"the address {address} does not follow the naming scheme: it should be {expected}"
        return None

    # --- people -------------------------------------------------------------------------------

    def person_domain(self, person: Person) -> str:
        return self.org_domain(person.org)

    def name_scope(self, person: Person) -> str:
        """Where identical full names count as a clash ("cùng cơ quan")."""
        return self.agency_code(person.org)

    def agency_code(self, code: str) -> str:
        """Code of the nearest non-unit organisation (memoised)."""
        if code not in self._agencies:
            self._agencies[code] = self.catalogue.agency_of(code).code
        return self._agencies[code]

    def fold_name(self, person: Person) -> _Name:
        name = _fold_full(person.full_name, person.surname)
        if not name.given:
            raise NamingError(f"given name of {person.full_name!r} folds to nothing", key="full_name",
                              rule="split_name")
        return name

    def extras(self, person: Person) -> list[str]:
        """Distinguishing parts in the seeds' order: birth date, home town, birthplace."""
        out = []
        if person.birth_date:
            out.append(person.birth_date.strftime(self.birth_date_format))
        for place in (person.home_town, person.birthplace):
            folded = _fold_place(place)
            if folded:
                out.append(folded)
        return out

    def choose(self, person: Person, name: _Name, ctx: _Ctx) -> str | OperatorCase:
        raise NotImplementedError

    def _first_free(self, locals_: Iterable[str], domain: str, ctx: _Ctx) -> str | None:
        used = ctx.used
        for local in locals_:
            address = f"{local}@{domain}"
            if address not in used and len(local) <= MAX_LOCAL:
                return address
        return None

    def _numbered(self, stem: str, suffix: str, domain: str, ctx: _Ctx) -> str:
        # What this returns is always taken or reserved afterwards, so the next search for the
        # same stem can start after it: linear, not quadratic, in the number of holders.
        key = (stem, suffix, domain)
        n = ctx.counters.get(key, self.sequence_start)
        while True:
            local = f"{stem}{n}{suffix}"
            address = f"{local}@{domain}"
            if address not in ctx.used and len(local) <= MAX_LOCAL:
                ctx.counters[key] = n + 1
                return address
            n += 1

    def _distinguish(self, person: Person, stem: str, domain: str, ctx: _Ctx, why: str,
                     article: str) -> str | OperatorCase:
        """The general form plus the distinguishing parts (birth date, home town, birthplace, in that
        order), or an operator case when none is free (Hà Nam Art 5.2.c, Gia Lai Art 4.2.c)."""
        extras = self.extras(person)
        found = self._first_free([f"{stem}{x}" for x in extras], domain, ctx)
        if found:
            return found
        need = "all distinguishing parts give taken addresses" if extras else \
            "no birth date, home town or birthplace to distinguish"
        return self._operator(person, ctx, f"{why}; {need} ({article})",
                              self._numbered(stem, "", domain, ctx))

    def _operator(self, person: Person, ctx: _Ctx, reason: str, suggestion: str) -> OperatorCase:
        ctx.reserve(suggestion)
        return OperatorCase(person.id, person.full_name, person.org, reason, self.article, suggestion)

    def check_override(self, person: Person | Mapping[str, Any], address: str,
                       taken: Container[str] = ()) -> str | None:
        """Why an explicit address cannot be used for ``person``, or None when it can.

        Checks the syntax (lower-case ASCII local part, at most 64 characters), the domain (the
        person's; in Gia Lai their organisation's subdomain) and that it is not in ``taken``.
        """
        person = Person.coerce(person, "override")
        if not isinstance(address, str) or address.count("@") != 1:
            return f"override {address!r} is not local@domain"
        local, _, domain = address.partition("@")
        if not LOCAL_RE.match(local) or len(local) > MAX_LOCAL:
            return (f"override {address!r}: the local part must be lower-case ASCII letters and digits "
                    f"joined by '.', '-' or '_', at most {MAX_LOCAL} characters")
        expected = self.person_domain(person)
        if domain != expected:
            return f"override {address!r} must end in @{expected}"
        if address in taken:
            return f"override {address!r} is already taken"
        return None

    def prepare(self, new: Iterable[tuple[Person, _Name]], ctx: _Ctx) -> None:
        """Hook run once before automatic assignment (Gia Lai uses it)."""

    # --- the run ------------------------------------------------------------------------------

    def assign(self, people: Iterable[Person | Mapping[str, Any]], existing: Mapping[str, str] | None = None,
               taken: Iterable[str] = (), *, source: str = "<roster>") -> Result:
        """Assign addresses to ``people`` (see the module docstring for the guarantees).

        ``existing`` maps person id → address already issued (from the directory); ``taken`` lists
        further addresses in use (aliases, addresses of people no longer on the roster). Every
        organisation mailbox of the catalogue is taken too.
        """
        existing = {str(pid): address for pid, address in (existing or {}).items()}
        taken = list(taken)
        persons: list[Person] = []
        folded: dict[str, _Name] = {}
        problems: list[str] = []
        seen_ids: dict[str, int] = {}
        orgs = self.catalogue
        for index, raw in enumerate(people):
            try:
                person = raw if type(raw) is Person else Person.coerce(raw, f"{source}: people[{index}]")
                if person.id in seen_ids:
                    raise NamingError(f"duplicate id {person.id!r} (first at people[{seen_ids[person.id]}])",
                                      key="id", rule="roster")
                if person.org not in orgs:
                    orgs.get_org(person.org)
                folded[person.id] = self.fold_name(person)
            except NamingError as exc:
                problems.append(str(exc) if exc.source else f"{source}: people[{index}]: {exc}")
                continue
            seen_ids[person.id] = index
            persons.append(person)
        holders: dict[str, str] = {}
        for pid, address in existing.items():
            if not isinstance(address, str) or "@" not in address:
                problems.append(f"{source}: existing[{pid!r}]: {address!r} is not an address")
                continue
            address = address.lower()
            if address in holders:
                problems.append(f"{source}: existing: {address} is held by both {holders[address]!r} "
                                f"and {pid!r}")
            holders[address] = pid
        problems += [f"{source}: taken[{i}]: {a!r} is not an address" for i, a in enumerate(taken)
                     if not isinstance(a, str) or "@" not in a]
        if problems:
            raise NamingError(f"{len(problems)} problem(s) in the input:\n  " + "\n  ".join(problems),
                              source=source, rule="roster")

        ctx = _Ctx()
        ctx.take(self.org_addresses().values())
        ctx.take([a.lower() for a in taken])
        ctx.take(holders)
        result = Result()
        # 1. addresses already issued never change
        for person in persons:
            if person.id in existing:
                result.addresses[person.id] = existing[person.id].lower()
                ctx.names[(self.name_scope(person), folded[person.id].full)] += 1
        # 2. explicit overrides, before any automatic choice can take them
        pending: list[Person] = []
        for person in persons:
            if person.id in existing:
                if person.address and person.address.lower() != existing[person.id].lower():
                    result.needs_operator.append(OperatorCase(
                        person.id, person.full_name, person.org,
                        f"override {person.address} differs from the issued address "
                        f"{existing[person.id]}; an issued address is renamed by the account tooling "
                        "(keeping the old one as an alias), not by naming", "override", None))
                continue
            if person.address:
                why = self.check_override(person, person.address, ctx.taken)
                if why is None:
                    ctx.take([person.address])
                    result.new[person.id] = person.address
                    ctx.names[(self.name_scope(person), folded[person.id].full)] += 1
                    continue
                pending.append(person)
                result.needs_operator.append(OperatorCase(person.id, person.full_name, person.org, why,
                                                          "override", None))
                continue
            pending.append(person)
        # 3. everybody else, in input order
        invalid_override = {c.person_id: i for i, c in enumerate(result.needs_operator)}
        self.prepare(((p, folded[p.id]) for p in pending if p.id not in invalid_override), ctx)
        for person in pending:
            choice = self.choose(person, folded[person.id], ctx)
            if person.id in invalid_override:
                # The override is unusable: suggest what the scheme would give, keep it for them.
                suggestion = choice.suggestion if isinstance(choice, OperatorCase) else choice
                if suggestion:
                    ctx.reserve(suggestion)
                index = invalid_override[person.id]
                case = result.needs_operator[index]
                result.needs_operator[index] = OperatorCase(case.person_id, case.full_name, case.org,
                                                            case.reason, case.rule, suggestion)
                continue
            if isinstance(choice, OperatorCase):
                result.needs_operator.append(choice)
                continue
            ctx.taken.add(choice)
            ctx.used.add(choice)
            result.new[person.id] = choice
            ctx.names[(self.name_scope(person), folded[person.id].full)] += 1
        kept, new = result.addresses, result.new
        result.addresses = {p.id: kept.get(p.id) or new[p.id] for p in persons if p.id in kept or p.id in new}
        order = {p.id: i for i, p in enumerate(persons)}
        result.needs_operator.sort(key=lambda c: order[c.person_id])
        return result

