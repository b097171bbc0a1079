"""Agency mailing lists kept from the roster: the ``lists.yml`` file beside the rosters (docs/lists.md).

Cần Thơ Art 11.5: each agency's mailing lists are managed and tightly controlled by the agency's
mailbox or by a personal mailbox the head of the agency authorises. Lists are directory entries
(``congvuMailList``) below the agency; agencies' admins make them over LDAP. This file lets the
operator keep some of them from the agencies' rosters instead, with the roster apply
(``playbooks/accounts.yml``)::

    lists:
      - name: toanso                    # the list's cn, and the first part of its address
        organisation: stttt             # catalogue code: the entry is cn=toanso,<that organisation's DN>
        display_name: Toàn thể cán bộ Sở Thông tin và Truyền thông
        accept: organisation            # members | organisation | province (default) | anyone
        senders: [vanphong@ubnd.haugiang.gov.vn]   # further addresses that may post (optional)
        owners: [agency, HN-STTTT-0001] # employee ids, or "agency" for the agency's own mailbox
        members:                        # optional: when present the roster keeps the members exactly
          people: [HN-STTTT-0012]       #   employee ids
          organisations: [pttbcxb]      #   every person of the organisation and its units
          lists: [lanhdao]              #   other lists of this file (by name, or their address)
      - name: giaoban                   # renamed: the entry cn=giaoban2026 becomes cn=giaoban, and
        renamed_from: giaoban2026       #   its old address stays an alias of the list
        organisation: stttt
        display_name: Giao ban Sở
      - name: hoinghi2025               # removed: the roster apply deletes the entry (its members,
        organisation: stttt             #   and the lists that held it, lose it); nothing else needed
        state: absent

The address is never written: it is the naming scheme's, ``<name>.<organisation mailbox name>@<its
domain>`` (:meth:`congvu.schemes.base.Scheme.list_address`). :func:`load_lists` reads the file and
reports every problem at once, each as ``file:line: lists[i] (name): what [rule]``, before the roster
apply reads the directory, so nothing is written while the file is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from congvu.errors import CongvuError
from congvu.roster import Roster, _LineLoader, clean, decode
from congvu.schemes.base import LIST_NAME_RE

__all__ = ["ACCEPT", "AGENCY_OWNER", "FIELDS", "STATES", "ListSpec", "Lists", "ListsError", "Members",
           "load_lists"]

#: Who may post (``congvuListAccept``, docs/lists.md); ``province`` is the rule of a list without one.
ACCEPT = ("members", "organisation", "province", "anyone")
DEFAULT_ACCEPT = "province"
#: The word in ``owners`` that stands for the agency's own mailbox (Cần Thơ Art 11.5).
AGENCY_OWNER = "agency"
FIELDS = ("name", "organisation", "display_name", "accept", "senders", "owners", "members", "state",
          "renamed_from")
STATES = ("present", "absent")
MEMBER_FIELDS = ("people", "organisations", "lists")
RULE = "Cần Thơ Art 11.5"


class ListsError(CongvuError):
    """The lists file is unreadable or holds invalid lists (the message lists every problem)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the lists file:\n  " + "\n  ".join(problems),
                         rule=RULE)


@dataclass(frozen=True)
class Members:
    """Who a roster-kept list holds: people (employee ids), every person of organisations (codes,
    their units included) and other lists of the file (their index in :attr:`Lists.entries`)."""

    people: tuple[str, ...] = ()
    organisations: tuple[str, ...] = ()
    lists: tuple[int, ...] = ()


@dataclass(frozen=True)
class ListSpec:
    """One list of the file. ``senders`` None and ``members`` None: the roster apply leaves
    ``congvuListSender`` and ``member`` to the list's owners."""

    name: str
    organisation: str
    display_name: str
    address: str
    accept: str = DEFAULT_ACCEPT
    senders: tuple[str, ...] | None = None
    owners: tuple[str, ...] = ()
    members: Members | None = None
    where: str = field(default="", compare=False)
    #: ``absent``: the roster apply deletes the list (only name and organisation are read)
    state: str = "present"
    #: the list's former name (same organisation): its entry is renamed, its address kept as an alias
    renamed_from: str | None = None


@dataclass
class Lists:
    """The validated lists of one file, in file order (nested lists after the lists they hold)."""

    entries: list[ListSpec] = field(default_factory=list)
    source: str = ""

    def __iter__(self):
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def _texts(value: Any, where: str, key: str, problems: list[str]) -> list[str] | None:
    """A list of non-empty texts (ids, codes, addresses), or None after a problem."""
    if not isinstance(value, list):
        problems.append(f"{where}: {key} must be a list, got {value!r}")
        return None
    out = []
    for item in value:
        text = clean(item)
        if isinstance(item, (dict, list)) or not text:
            problems.append(f"{where}: {key}: {item!r} is not a text")
            continue
        out.append(text)
    return out


def _address_ok(text: str) -> bool:
    local, at, domain = text.partition("@")
    return bool(at and local and "." in domain and " " not in text and "@" not in domain)


def load_lists(raw: bytes | str, source: str, scheme: Any, roster: Roster | None = None) -> Lists:
    """The lists of the file ``source`` (content ``raw``), checked against the scheme's catalogue and,
    when given, the rosters (ids of ``members.people`` and ``owners``). Every problem is collected
    and raised as one :class:`ListsError` (Cần Thơ Art 11.5, docs/lists.md)."""
    problems: list[str] = []
    try:
        text = decode(raw, source) if isinstance(raw, bytes) else raw.lstrip("\ufeff")
    except CongvuError as exc:  # not UTF-8 (a RosterError naming the line)
        raise ListsError(list(getattr(exc, "problems", [str(exc)]))) from None
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise ListsError([f"{source}:{mark.line + 1 if mark else 1}: not valid YAML: "
                          f"{getattr(exc, 'problem', exc)}"]) from None
    if data is None:
        return Lists([], source)
    if isinstance(data, list):
        data = {"lists": data, "__line__": 1}
    if not isinstance(data, dict) or not isinstance(data.get("lists", []), list):
        raise ListsError([f"{source}:1: the lists file is a mapping with a 'lists' list (or a list)"])
    for key in sorted(set(data) - {"lists", "__line__"}):
        problems.append(f"{source}:{data['__line__']}: unknown top-level key {key!r} (allowed: lists)")
    catalogue = scheme.catalogue
    people = set(roster.people) if roster is not None else None
    raw_entries = data.get("lists") or []

    # First pass: each entry on its own.
    parsed: list[dict[str, Any] | None] = []
    for index, entry in enumerate(raw_entries):
        if not isinstance(entry, dict):
            problems.append(f"{source}: lists[{index}]: a list is a mapping, got {entry!r}")
            parsed.append(None)
            continue
        line = entry.pop("__line__", "?")
        label = clean(entry.get("name")) if isinstance(entry.get("name"), str) else ""
        where = f"{source}:{line}: lists[{index}]" + (f" ({label})" if label else "")
        before = len(problems)
        if "address" in entry:
            problems.append(f"{where}: 'address' is not accepted: a list's address is the naming "
                            "scheme's, <name>.<organisation mailbox name>@<its domain> "
                            "(docs/naming.md); choose the name instead")
        for key in sorted(set(entry) - set(FIELDS) - {"address"}):
            problems.append(f"{where}: unknown field {key!r} (allowed: {', '.join(FIELDS)})")
        state = entry.get("state", "present")
        if state not in STATES:
            problems.append(f"{where}: state {state!r} must be one of {', '.join(STATES)}")
        for key in ("name", "organisation") + (("display_name",) if state != "absent" else ()):
            if not isinstance(entry.get(key), str) or not clean(entry[key]):
                problems.append(f"{where}: missing {key!r} (required, a text)")
        renamed_from = entry.get("renamed_from")
        if renamed_from is not None:
            renamed_from = clean(renamed_from) if isinstance(renamed_from, str) else ""
            if not renamed_from or not LIST_NAME_RE.match(renamed_from):
                problems.append(f"{where}: renamed_from {entry['renamed_from']!r} is not a list name "
                                "(the former cn: lower-case letters and digits, '-' between them)")
            elif state == "absent":
                problems.append(f"{where}: renamed_from and state: absent together: remove the list "
                                "under the name it has")
            elif renamed_from == clean(entry.get("name")):
                problems.append(f"{where}: renamed_from is the list's own name")
        name, org = clean(entry.get("name")), clean(entry.get("organisation"))
        if org and org not in catalogue:
            problems.append(f"{where}: organisation {org!r} is not a code of the catalogue "
                            f"{catalogue.source}")
        elif name and org:
            why = scheme.check_list_address(org, name)
            if why:
                problems.append(f"{where}: {why}")
        accept = entry.get("accept", DEFAULT_ACCEPT)
        if accept not in ACCEPT:
            problems.append(f"{where}: accept {accept!r} must be one of {', '.join(ACCEPT)}")
        senders = None
        if entry.get("senders") is not None:
            senders = _texts(entry["senders"], where, "senders", problems)
            for address in senders or []:
                if not _address_ok(address):
                    problems.append(f"{where}: senders: {address!r} is not an address (local@domain)")
            senders = sorted({s.lower() for s in senders or []})
        owners = _texts(entry.get("owners") or [], where, "owners", problems) or []
        for owner in owners:
            if owner != AGENCY_OWNER and people is not None and owner not in people:
                problems.append(f"{where}: owners: {owner!r} is neither 'agency' nor a Mã cán bộ of the "
                                "rosters")
        members = entry.get("members")
        spec_members: dict[str, list[str]] | None = None
        if members is not None:
            if not isinstance(members, dict):
                problems.append(f"{where}: members must be a mapping with people, organisations, lists")
            else:
                members.pop("__line__", None)
                spec_members = {}
                for key in sorted(set(members) - set(MEMBER_FIELDS)):
                    problems.append(f"{where}: members: unknown field {key!r} (allowed: "
                                    f"{', '.join(MEMBER_FIELDS)})")
                for key in MEMBER_FIELDS:
                    spec_members[key] = _texts(members.get(key) or [], where, f"members.{key}",
                                               problems) or []
                for pid in spec_members["people"]:
                    if people is not None and pid not in people:
                        # Members never include people gone from the roster: the lifecycle run takes
                        # a leaver off the lists when it retires them, the file must not put them back.
                        problems.append(f"{where}: members.people: {pid!r} is not a Mã cán bộ of the "
                                        "rosters")
                for code in spec_members["organisations"]:
                    if code not in catalogue:
                        problems.append(f"{where}: members.organisations: {code!r} is not a code of the "
                                        f"catalogue {catalogue.source}")
        parsed.append(None if len(problems) > before else {
            "name": name, "organisation": org, "display_name": clean(entry.get("display_name")),
            "state": state, "renamed_from": renamed_from,
            "address": scheme.list_address(org, name), "accept": accept,
            "senders": None if senders is None else tuple(senders),
            "owners": tuple(dict.fromkeys(owners)), "members": spec_members, "where": where})

    # Across entries: one entry per list, and the lists a list holds.
    by_key: dict[tuple[str, str], int] = {}
    by_address: dict[str, int] = {}
    by_name: dict[str, list[int]] = {}
    for index, item in enumerate(parsed):
        if item is None:
            continue
        key = (item["organisation"], item["name"])
        if key in by_key:
            problems.append(f"{item['where']}: the list {item['name']!r} of {item['organisation']!r} is "
                            f"listed twice (first at {parsed[by_key[key]]['where']})")
            parsed[index] = None
            continue
        by_key[key] = index
        by_address[item["address"]] = index
        by_name.setdefault(item["name"], []).append(index)
    for item in parsed:
        old_key = (item["organisation"], item["renamed_from"]) if item is not None else None
        if old_key is not None and item["renamed_from"] and old_key in by_key:
            problems.append(f"{item['where']}: renamed_from {item['renamed_from']!r}: that list is also "
                            f"an entry of this file ({parsed[by_key[old_key]]['where']})")
    nested: dict[int, list[int]] = {}
    for index, item in enumerate(parsed):
        if item is None or item["members"] is None:
            continue
        found = []
        for ref in item["members"]["lists"]:
            ref_l = ref.lower()
            same_org = [i for i in by_name.get(ref_l, [])
                        if parsed[i]["organisation"] == item["organisation"]]
            hits = same_org or by_name.get(ref_l, [])
            if ref_l in by_address:
                hits = [by_address[ref_l]]
            if not hits:
                problems.append(f"{item['where']}: members.lists: {ref!r} is not a list of this file")
            elif len(hits) > 1:
                problems.append(f"{item['where']}: members.lists: {ref!r} names lists of several "
                                f"organisations: write the list's address ("
                                + ", ".join(parsed[i]["address"] for i in hits) + ")")
            elif hits[0] == index:
                problems.append(f"{item['where']}: members.lists: a list cannot be its own member")
            elif parsed[hits[0]]["state"] == "absent":
                problems.append(f"{item['where']}: members.lists: {ref!r} is removed (state: absent)")
            else:
                found.append(hits[0])
        nested[index] = list(dict.fromkeys(found))
    order = _order(nested, [i for i, item in enumerate(parsed) if item is not None], parsed, problems)
    if problems:
        raise ListsError(problems)
    position = {index: n for n, index in enumerate(order)}
    entries = []
    for index in order:
        item = parsed[index]
        members = None
        if item["members"] is not None:
            members = Members(tuple(dict.fromkeys(item["members"]["people"])),
                              tuple(dict.fromkeys(item["members"]["organisations"])),
                              tuple(position[i] for i in nested.get(index, [])))
        entries.append(ListSpec(item["name"], item["organisation"], item["display_name"], item["address"],
                                item["accept"], item["senders"], item["owners"], members, item["where"],
                                item["state"], item["renamed_from"]))
    return Lists(entries, source)


def _order(nested: Mapping[int, Iterable[int]], indexes: list[int], parsed: list[Any],
           problems: list[str]) -> list[int]:
    """File order, except that a list comes after the lists it holds (they are written first); a
    cycle is a problem: Postfix would expand it until its recursion limit."""
    done: list[int] = []
    state: dict[int, str] = {}

    def visit(index: int, path: list[int]) -> None:
        if state.get(index) == "done":
            return
        if state.get(index) == "open":
            cycle = [*path[path.index(index):], index]
            problems.append(f"{parsed[index]['where']}: members.lists: the lists hold each other ("
                            + " -> ".join(parsed[i]["name"] for i in cycle) + ")")
            return
        state[index] = "open"
        for child in nested.get(index, []):
            visit(child, [*path, index])
        state[index] = "done"
        done.append(index)

    for index in indexes:
        visit(index, [])
    return done
