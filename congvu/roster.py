"""Rosters: the people an organisation declares, in the formats agencies can produce.

A roster is a CSV or YAML file. CSV columns carry the Vietnamese headings the personnel offices
already use (any order, any case, with or without diacritics)::

    Mã cán bộ,Họ và tên,Ngày sinh,Giới tính,Đơn vị,Chức vụ,Quê quán,Nơi sinh,Địa chỉ thư
    HN-STTTT-0001,Nguyễn Thị Thanh Hà,12/03/1985,Nữ,stttt,Chuyên viên,Kim Bảng,Phủ Lý,

YAML rosters hold the same fields, with the Vietnamese headings or their English keys::

    organisation: stttt            # optional: default "Đơn vị" for every person of the file
    people:
      - id: HN-STTTT-0001          # Mã cán bộ: the stable person id (never reused)
        name: Nguyễn Thị Thanh Hà  # Họ và tên
        birth_date: 1985-03-12     # Ngày sinh: YYYY-MM-DD or DD/MM/YYYY
        gender: Nữ                 # Giới tính (optional)
        org: stttt                 # Đơn vị: organisation code or exact name from the catalogue
        position: Chuyên viên      # Chức vụ (optional)
        hometown: Kim Bảng         # Quê quán (optional)
        birthplace: Phủ Lý         # Nơi sinh (optional)
        address: nguyenthithanhha  # Địa chỉ thư (optional): an operator-approved local part
        admin: false               # Quản trị (optional): a delegated admin of the organisation
        aliases: [an.nt@hanam.gov.vn]  # Bí danh (optional): further addresses that reach the person
                                   # (kept from a former system or province; CSV: separated by spaces,
                                   # ';' or ',')

Text may be UTF-8 with or without a byte-order mark, NFC or NFD (macOS, PDFs): everything is
normalised to NFC. :func:`load_rosters` reads every file and reports every problem at once, each
with its file and line (malformed names or dates, unknown organisations, duplicate ids, the same
person listed twice), so one run shows the whole list to fix.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from congvu.addresses import ADDRESS_RE, LOCAL_RE
from congvu.errors import CongvuError
from congvu.fold import vn_ascii

__all__ = ["FIELDS", "HEADINGS", "Person", "Roster", "RosterError", "load_rosters", "parse_roster"]


class RosterError(CongvuError):
    """A roster file is unreadable or holds invalid people (the message lists every problem)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in the roster:\n  " + "\n  ".join(problems),
                         rule="roster")


#: field -> accepted headings / keys (compared folded to ASCII, case-insensitive, spaces collapsed).
HEADINGS: dict[str, tuple[str, ...]] = {
    "id": ("Mã cán bộ", "Mã CBCC", "Mã nhân viên", "Mã số", "id"),
    "name": ("Họ và tên", "Họ tên", "name", "full_name"),
    "birth_date": ("Ngày sinh", "Ngày tháng năm sinh", "birth_date", "dob"),
    "gender": ("Giới tính", "gender"),
    "org": ("Đơn vị", "Cơ quan", "Đơn vị công tác", "org", "organisation", "organization"),
    "position": ("Chức vụ", "Chức danh", "position", "title"),
    "hometown": ("Quê quán", "hometown"),
    "birthplace": ("Nơi sinh", "birthplace"),
    "address": ("Địa chỉ thư", "Địa chỉ thư điện tử", "Email", "address", "mail"),
    "admin": ("Quản trị", "Quản trị đơn vị", "admin"),
    "aliases": ("Bí danh", "Địa chỉ cũ", "aliases"),
}
FIELDS = tuple(HEADINGS)
REQUIRED = ("id", "name", "birth_date", "org")
#: "Quản trị" values meaning yes: a delegated admin of their organisation (Gia Lai Art 5.2).
YES = {"x", "co", "yes", "true", "1", "admin"}
NO = {"", "khong", "no", "false", "0"}
GENDERS = {"nam": "male", "nu": "female", "male": "male", "female": "female", "m": "male", "f": "female"}

_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,63}$")
#: What separates the addresses of one "Bí danh" cell (the intake splits old exports the same way).
ALIAS_SEPARATORS = re.compile(r"[\s;,]+")
# A name word: letters (any script mark), with apostrophes inside (H'Nhiên) or hyphens (Rơ-Mah).
_NAME_WORD_RE = re.compile(r"^[^\W\d_]+(?:['’ʼ-][^\W\d_]+)*$")
# YYYY-MM-DD, or DD/MM/YYYY as Vietnamese offices write it (also with "-" or "."); checked by dt.date.
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_VN_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
_SPACES = re.compile(r"\s+")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


def _key(heading: str) -> str:
    return _SPACES.sub(" ", vn_ascii(unicodedata.normalize("NFC", heading), lower=True)).strip()


_HEADING_INDEX = {_key(h): name for name, hs in HEADINGS.items() for h in hs}


def clean(text: Any) -> str:
    """NFC, zero-width characters removed, whitespace collapsed: ``"Nguyễn  Văn\u00a0Minh"``."""
    if text is None:
        return ""
    text = unicodedata.normalize("NFC", str(text)).translate(_ZERO_WIDTH)
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True)
class Person:
    """One person of a roster. ``where`` is ``file:line`` for messages."""

    id: str
    name: str
    birth_date: str  # YYYY-MM-DD
    org: str  # organisation code (catalogue key)
    position: str = ""
    gender: str = ""  # male | female | ""
    hometown: str = ""
    birthplace: str = ""
    address: str = ""  # operator-approved local part ("Địa chỉ thư"), "" when none
    admin: bool = False  # "Quản trị": member of the organisation's cn=admins (Gia Lai Art 5.2, 10.8)
    aliases: tuple[str, ...] = ()  # "Bí danh": further full addresses, lower case (issue 16)
    where: str = field(default="", compare=False)


@dataclass
class Roster:
    """The validated people of one or more roster files, by id, in file order."""

    people: dict[str, Person]
    sources: list[str]

    def __iter__(self):
        return iter(self.people.values())

    def __len__(self) -> int:
        return len(self.people)


def _parse_date(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = clean(value)
    match = _ISO_DATE.match(text)
    if match:
        year, month, day = match.groups()
    else:
        match = _VN_DATE.match(text)
        if not match:
            return None
        day, month, year = match.groups()
    try:
        return dt.date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        return None


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that remembers the line of every mapping (as a ``__line__`` key)."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
# Dates stay text (checked by _parse_date with the line), so 1980-13-02 is a roster error, not a crash.
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def decode(raw: bytes, source: str) -> str:
    """UTF-8 text without BOM, or a RosterError naming the line of the first bad byte."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise RosterError([f"{source}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the "
                           "file as 'CSV UTF-8' or UTF-8 text"]) from None
    return text.lstrip("\ufeff")


def _csv_rows(text: str, source: str, problems: list[str]) -> list[tuple[int, dict[str, Any]]]:
    sample = text[:4096]
    try:
        dialect: Any = csv.Sniffer().sniff(sample.splitlines()[0] if sample else ",", delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text, newline=""), dialect)
    try:
        header = next(reader)
    except StopIteration:
        problems.append(f"{source}:1: empty file (expected a heading row such as 'Mã cán bộ,Họ và tên,...')")
        return []
    columns: list[str | None] = []
    seen: dict[str, str] = {}
    for heading in header:
        name = _HEADING_INDEX.get(_key(heading))
        if name is None and clean(heading):
            problems.append(f"{source}:1: unknown column {clean(heading)!r} (known: "
                            + ", ".join(hs[0] for hs in HEADINGS.values()) + ")")
        elif name in seen:
            problems.append(f"{source}:1: columns {seen[name]!r} and {clean(heading)!r} both mean {name!r}")
            name = None
        elif name:
            seen[name] = clean(heading)
        columns.append(name)
    for name in REQUIRED:
        if name not in seen and name != "org":
            problems.append(f"{source}:1: missing column {HEADINGS[name][0]!r}")
    rows = []
    line = reader.line_num
    for cells in reader:
        start, line = line + 1, reader.line_num
        if not any(clean(c) for c in cells):
            continue
        if len(cells) > len(columns):
            problems.append(f"{source}:{start}: {len(cells)} cells but {len(columns)} columns "
                            "(a comma inside a value needs quotes)")
            continue
        rows.append((start, {col: cell for col, cell in zip(columns, cells, strict=False) if col}))
    return rows


def _yaml_rows(text: str, source: str, problems: list[str]) -> tuple[list[tuple[int, dict]], str]:
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problems.append(f"{source}:{mark.line + 1 if mark else 1}: not valid YAML: "
                        f"{getattr(exc, 'problem', exc)}")
        return [], ""
    if isinstance(data, list):
        data = {"people": data, "__line__": 1}
    if not isinstance(data, dict) or not isinstance(data.get("people"), list):
        problems.append(f"{source}:1: a YAML roster is a mapping with a 'people' list (or a list)")
        return [], ""
    for key in sorted(set(data) - {"people", "organisation", "__line__"}):
        problems.append(f"{source}:{data['__line__']}: unknown top-level key {key!r} "
                        "(allowed: organisation, people)")
    default_org = clean(data.get("organisation"))
    rows = []
    for index, entry in enumerate(data["people"]):
        if not isinstance(entry, dict):
            problems.append(f"{source}: people[{index}]: a person is a mapping, got {entry!r}")
            continue
        line = entry.pop("__line__")
        row: dict[str, Any] = {}
        for key, value in entry.items():
            name = _HEADING_INDEX.get(_key(str(key)))
            if name is None:
                problems.append(f"{source}:{line}: unknown field {key!r}")
            elif name in row:
                problems.append(f"{source}:{line}: two fields mean {name!r}")
            else:
                row[name] = value
        rows.append((line, row))
    return rows, default_org


def _org_index(orgs: Mapping[str, Any] | Iterable[str]) -> dict[str, str]:
    """code or folded name -> code. ``orgs`` maps code -> object with ``name`` (a Catalogue)."""
    index: dict[str, str] = {}
    for code in orgs:
        index[code.casefold()] = code
        name = getattr(orgs[code], "name", None) if isinstance(orgs, Mapping) else None
        if name:
            index.setdefault(_key(name), code)
    return index


def _person(row: dict[str, Any], where: str, default_org: str, orgs: dict[str, str] | None,
            problems: list[str]) -> Person | None:
    before = len(problems)
    values = {name: clean(row.get(name)) for name in FIELDS if name not in ("birth_date", "aliases")}
    if isinstance(row.get("admin"), bool):
        values["admin"] = "x" if row["admin"] else ""
    if not values["org"]:
        values["org"] = default_org
    for name in REQUIRED:
        if name != "birth_date" and not values[name]:
            problems.append(f"{where}: missing {HEADINGS[name][0]!r} ({name})")
    pid, name = values["id"], values["name"]
    if pid and not _ID_RE.match(pid):
        problems.append(f"{where}: Mã cán bộ {pid!r} must be letters, digits, '.', '-', '_' or '/' "
                        "(at most 64)")
    if name:
        bad = [w for w in name.split() if not _NAME_WORD_RE.match(w)]
        if bad:
            problems.append(f"{where}: malformed name {name!r}: {', '.join(map(repr, bad))} "
                            "is not a name word (letters only, apostrophe or hyphen inside)")
        elif len(name.split()) < 2:
            problems.append(f"{where}: malformed name {name!r}: write the full name, surname first")
    raw_date = row.get("birth_date")
    birth = _parse_date(raw_date) if raw_date not in (None, "") else None
    if raw_date in (None, ""):
        problems.append(f"{where}: missing 'Ngày sinh' (birth_date)")
    elif birth is None:
        problems.append(f"{where}: malformed date {clean(raw_date)!r} (Ngày sinh: DD/MM/YYYY or YYYY-MM-DD)")
    elif not "1900-01-01" <= birth <= dt.date.today().isoformat():
        problems.append(f"{where}: implausible date of birth {birth}")
    org = values["org"]
    if org and orgs is not None:
        code = orgs.get(org.casefold()) or orgs.get(_key(org))
        if code is None:
            problems.append(f"{where}: unknown organisation {org!r} (not a code or name in the catalogue)")
        else:
            org = code
    gender = values["gender"]
    if gender:
        folded = GENDERS.get(vn_ascii(gender, lower=True))
        if folded is None:
            problems.append(f"{where}: unknown Giới tính {gender!r} (Nam or Nữ)")
        gender = folded or ""
    address = values["address"].lower()
    if address:
        local, _, domain = address.partition("@")
        if not LOCAL_RE.match(local):
            problems.append(f"{where}: Địa chỉ thư {values['address']!r} is not a mailbox name "
                            "(lower-case letters, digits, '.', '-', '_')")
        address = local if not domain else address
    aliases = _aliases(row.get("aliases"), where, problems)
    admin = vn_ascii(values["admin"], lower=True)
    if admin not in YES | NO:
        problems.append(f"{where}: Quản trị {values['admin']!r} must be 'x'/'có' or empty/'không'")
    if len(problems) > before:
        return None
    return Person(id=pid, name=name, birth_date=birth or "", org=org, position=values["position"],
                  gender=gender, hometown=values["hometown"], birthplace=values["birthplace"],
                  address=address, admin=admin in YES, aliases=aliases, where=where)


def _aliases(raw: Any, where: str, problems: list[str]) -> tuple[str, ...]:
    """The "Bí danh" cell (text separated by spaces, ';' or ',') or YAML list: full addresses."""
    if raw is None or raw == "":
        return ()
    items = [clean(v) for v in raw] if isinstance(raw, list) else ALIAS_SEPARATORS.split(clean(raw))
    found: list[str] = []
    for item in filter(None, items):
        local, _, domain = item.lower().partition("@")
        if not ADDRESS_RE.match(item.lower()):  # an old address: carried, so '+' too
            problems.append(f"{where}: Bí danh {item!r} is not a full address (local part of lower-case "
                            "letters, digits, '.', '-', '_', '+'; @ and a domain)")
        elif f"{local}@{domain}" not in found:
            found.append(f"{local}@{domain}")
    return tuple(sorted(found))


def parse_roster(raw: bytes | str, source: str, orgs: Mapping[str, Any] | Iterable[str] | None = None,
                 problems: list[str] | None = None) -> list[Person]:
    """People of one roster file (``.csv`` or ``.yml``/``.yaml`` by ``source``'s suffix).

    ``orgs`` is the catalogue (code -> Org) or a list of codes; without it organisations are not
    checked. Problems are appended to ``problems`` when given, else raised as :class:`RosterError`.
    """
    own = problems is None
    problems = [] if problems is None else problems
    before = len(problems)
    text = decode(raw, source) if isinstance(raw, bytes) else raw.lstrip("\ufeff")
    index = _org_index(orgs) if orgs is not None else None
    suffix = Path(source).suffix.lower()
    if suffix == ".csv":
        rows, default_org = _csv_rows(text, source, problems), ""
    elif suffix in (".yml", ".yaml"):
        rows, default_org = _yaml_rows(text, source, problems)
    else:
        problems.append(f"{source}: unknown roster format {suffix!r} (use .csv, .yml or .yaml)")
        rows, default_org = [], ""
    people = [p for line, row in rows
              if (p := _person(row, f"{source}:{line}", default_org, index, problems)) is not None]
    if own and len(problems) > before:
        raise RosterError(problems)
    return people


def load_rosters(files: Iterable[str | Path | tuple[str, bytes | str]],
                 orgs: Mapping[str, Any] | Iterable[str] | None = None) -> Roster:
    """Read and check every roster file together; raise one :class:`RosterError` listing everything.

    ``files`` are paths or ``(source name, content)`` pairs. Across files: a Mã cán bộ is one person
    (listed twice is an error naming both places), and the same name, date of birth, organisation,
    home town and birthplace under two ids is the same person entered twice.
    """
    problems: list[str] = []
    people: dict[str, Person] = {}
    identity: dict[tuple, Person] = {}
    sources = []
    for item in files:
        if isinstance(item, tuple):
            source, raw = item
        else:
            source = str(item)
            try:
                raw = Path(item).read_bytes()
            except OSError as exc:
                problems.append(f"{source}: cannot read: {exc.strerror}")
                continue
        sources.append(source)
        try:
            found = parse_roster(raw, source, orgs, problems)
        except RosterError as exc:  # undecodable file
            problems.extend(exc.problems)
            continue
        for person in found:
            if person.id in people:
                problems.append(f"{person.where}: duplicate Mã cán bộ {person.id!r} "
                                f"(first at {people[person.id].where})")
                continue
            key = (vn_ascii(person.name, lower=True), person.birth_date, person.org,
                   vn_ascii(person.hometown, lower=True), vn_ascii(person.birthplace, lower=True))
            if key in identity:
                problems.append(f"{person.where}: {person.name} ({person.birth_date}) is listed twice in "
                                f"{person.org} (first at {identity[key].where} as {identity[key].id!r}); "
                                "give namesakes their home town or birthplace")
                continue
            identity[key] = person
            people[person.id] = person
    if problems:
        raise RosterError(problems)
    return Roster(people, sources)


# --- writing rosters (demo data, benchmarks) ---------------------------------------------------

CSV_HEADINGS = {"id": "Mã cán bộ", "name": "Họ và tên", "birth_date": "Ngày sinh", "gender": "Giới tính",
                "org": "Đơn vị", "position": "Chức vụ", "hometown": "Quê quán", "birthplace": "Nơi sinh",
                "address": "Địa chỉ thư", "admin": "Quản trị", "aliases": "Bí danh"}


def to_csv(people: Iterable[Person]) -> str:
    """A CSV roster with the Vietnamese headings (dates DD/MM/YYYY, as personnel offices write them)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADINGS.values())
    for p in people:
        day = dt.date.fromisoformat(p.birth_date).strftime("%d/%m/%Y") if p.birth_date else ""
        gender = {"male": "Nam", "female": "Nữ"}.get(p.gender, "")
        writer.writerow([p.id, p.name, day, gender, p.org, p.position, p.hometown, p.birthplace, p.address,
                         "x" if p.admin else "", " ".join(p.aliases)])
    return out.getvalue()
