"""Province policies: load ``policies/<province>.yml``, merge operator overrides, validate, normalise.

A policy file has two kinds of content (docs/policy.md describes every key):

- the operator's **values** (``quota``, ``attachments``, ``passwords``, ``lifecycle``...), which an
  inventory variable (``congvu_policy_overrides``) may change;
- the ``regulation:`` block, a map from the dotted path of a value to the bound the province's
  decision sets on it (``min``, ``max``, ``equals``, ``one_of``, ``includes``, ``within``, ``required``)
  with the article that sets it. It is
  checked against the *effective* values, after overrides, so no override can go below the regulation.
  Overrides may not touch ``regulation`` nor ``province``.

:func:`load_policy` returns the effective, normalised policy: sizes in bytes (``None`` = unlimited),
durations in days (``None`` = never / not applicable), dates as ISO strings, plus a ``derived`` block
(Postfix ``message_size_limit``...). Every problem found is collected and reported together in one
:class:`~congvu.errors.PolicyError` naming the file, the dotted key and the rule.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from congvu import sizes
from congvu.addresses import DOMAIN_RE as _DOMAIN_RE
from congvu.errors import CongvuError, PolicyError
from congvu.naming import SCHEMES as NAMING_SCHEMES
from congvu.naming import validate_naming
from congvu.workdays import VN_TZ

# A province is configuration: policies/<code>.yml (province.code), whose naming.scheme names any of
# the NAMING_SCHEMES registered in congvu.schemes. No list of provinces lives in the code.
ROLES = ("user", "admin", "organisation")
PASSWORD_CLASSES = ("upper", "lower", "digit", "special")
WEEKDAYS = ("daily", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
DISPLAY_FIELDS = ("full_name", "agency", "unit", "given_name", "surname")
OVERRIDES_SOURCE = "congvu_policy_overrides"
#: Keys an inventory override may never set: they state what the decision says.
FIXED_SECTIONS = ("province", "regulation")
#: A policy file may name a day from which another province's rules apply to it (issue 16: a merged
#: province keeps a regulation until the new one is issued): ``regulation_switch: {from: <date>, to:
#: <code>}``, optional, at the top level (docs/policy.md, "A dated switch of regulation").
SWITCH_KEY = "regulation_switch"
#: What the switching file keeps on and after the day: who the province is and its addresses. Every
#: other section, the regulation's bounds and the decision's own keys of ``province`` come from
#: ``policies/<to>.yml``.
SWITCH_KEEPS = ("domains", "webmail", "naming")
SWITCH_PROVINCE_KEEPS = ("code", "name", "kind")
#: Keys load_policy adds to the effective policy; dropped and recomputed when it is validated again.
COMPUTED_KEYS = frozenset({"source", "derived", SWITCH_KEY})
#: Days per unit when a duration is written in words. A month counts as 30 days, a year as 365.
DURATION_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}
#: The lifecycle rules, each cited by ``lifecycle.articles.<rule>`` (docs/lifecycle.md); a rule the
#: policy switches on must cite its article. ``lifecycle.<rule>`` values that switch a rule on:
LIFECYCLE_RULES = ("inactivity_lock", "default_password_lock", "reclaim", "leaver", "request", "reopen",
                   "password_expiry", "quota", "transfer", "locked_mailbox_receives",
                   "organisation_mailboxes", "violation_lock")
#: The audit log feeds yearly reports (Hà Nam Art 11.8, Ninh Bình Art 13.6): keep at least a year.
AUDIT_RETENTION_MIN_DAYS = 365

_DURATION_RE = re.compile(r"^\s*(\d+)\s*(day|week|month|year)s?\s*$", re.IGNORECASE)
_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,31}$")
_EXT_RE = re.compile(r"^\.[a-z0-9][a-z0-9_-]{0,15}$")
_TIME_RE = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_DAY_RE = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


class _Problems:
    """Collects (key, message, rule) while walking a policy."""

    def __init__(self, source: str, override_keys: set[str]) -> None:
        self.source = source
        self.override_keys = override_keys
        self.items: list[tuple[str, str, str, str]] = []

    def add(self, key: str, message: str, rule: str) -> None:
        source = self.source
        if any(key == k or key.startswith((k + ".", k + "[")) for k in self.override_keys):
            source = f"{OVERRIDES_SOURCE} (over {self.source})"
        self.items.append((source, key, message, rule))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        if len(self.items) == 1:
            source, key, message, rule = self.items[0]
            err = PolicyError(message, source=source, key=key, rule=rule)
        else:
            lines = [f"- {key}: {message} [{rule}]" + ("" if src == self.source else f" (from {src})")
                     for src, key, message, rule in self.items]
            err = PolicyError(f"{len(self.items)} problems:\n" + "\n".join(lines), source=self.source)
        err.problems = [dict(zip(("source", "key", "message", "rule"), item, strict=True))
                        for item in self.items]
        raise err


# --- leaf types -------------------------------------------------------------------------------------
# A leaf checker takes (value, key, problems) and returns the normalised value (or None after adding a
# problem). ``_MISSING`` marks a failed conversion so bounds are not checked on it.

_MISSING = object()
Leaf = Callable[[Any, str, _Problems], Any]


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def t_str(pattern: re.Pattern | None = None, hint: str = "", nullable: bool = False) -> Leaf:
    def check(value, key, problems):
        if value is None and nullable:
            return None
        if not isinstance(value, str) or not value.strip():
            problems.add(key, f"expected a non-empty string, got {_type_name(value)} {value!r}",
                         "type: string")
            return _MISSING
        if pattern and not pattern.match(value):
            problems.add(key, f"{value!r} is not {hint}", hint)
            return _MISSING
        return value
    check.kind = "str"
    return check


def t_int(minimum: int | None = 0, maximum: int | None = None, nullable: bool = False) -> Leaf:
    def check(value, key, problems):
        if value is None and nullable:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            problems.add(key, f"expected an integer, got {_type_name(value)} {value!r}", "type: integer")
            return _MISSING
        if minimum is not None and value < minimum:
            problems.add(key, f"{value} is below {minimum}", f">= {minimum}")
            return _MISSING
        if maximum is not None and value > maximum:
            problems.add(key, f"{value} is above {maximum}", f"<= {maximum}")
            return _MISSING
        return value
    check.kind = "int"
    return check


def t_bool() -> Leaf:
    def check(value, key, problems):
        if not isinstance(value, bool):
            problems.add(key, f"expected true or false, got {_type_name(value)} {value!r}", "type: boolean")
            return _MISSING
        return value
    check.kind = "bool"
    return check


def t_enum(*choices: str) -> Leaf:
    def check(value, key, problems):
        if value not in choices:
            problems.add(key, f"{value!r} is not one of: {', '.join(choices)}", "one of " + "|".join(choices))
            return _MISSING
        return value
    check.kind = "enum"
    return check


def t_size(unlimited: bool = False) -> Leaf:
    """A size in bytes, > 0 (Dovecot reads a quota of 0 as "no limit": write ``unlimited`` for that)."""
    def check(value, key, problems):
        try:
            size = sizes.parse_size(value, allow_unlimited=unlimited)
        except CongvuError as exc:
            problems.add(key, exc.message, exc.rule or "size")
            return _MISSING
        if size == 0:
            hint = "; write 'unlimited' for no limit" if unlimited else ""
            problems.add(key, f"a size of 0 is not allowed{hint}", "size > 0")
            return _MISSING
        return size
    check.kind = "size"
    return check


def parse_duration(value: object, *, nullable: bool = False) -> int | None:
    """Days in ``value``: an integer (days), ``"3 months"``, ``"2 weeks"``, ``"1 year"``; ``None``/``never``
    when ``nullable``. A month is 30 days. Raises ValueError with the reason."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("never", "none")):
        if nullable:
            return None
        raise ValueError("a duration is required here (null/never is not allowed)")
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as '3 months' or a number of days, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"a duration cannot be negative (got {value})")
        return value
    if isinstance(value, str):
        match = _DURATION_RE.match(value)
        if match:
            return int(match.group(1)) * DURATION_DAYS[match.group(2).lower()]
        if value.strip().startswith("-"):
            raise ValueError(f"a duration cannot be negative (got {value!r})")
    raise ValueError(f"cannot read duration {value!r}: use days (an integer) or 'N days|weeks|months|years'")


def t_duration(nullable: bool = False) -> Leaf:
    def check(value, key, problems):
        try:
            return parse_duration(value, nullable=nullable)
        except ValueError as exc:
            rule = "duration >= 0" if "negative" in str(exc) else "duration syntax"
            problems.add(key, str(exc), rule)
            return _MISSING
    check.kind = "duration"
    return check


def t_date(nullable: bool = False) -> Leaf:
    def check(value, key, problems):
        if value is None and nullable:
            return None
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value).isoformat()
            except ValueError:
                pass
        problems.add(key, f"expected a date as YYYY-MM-DD{' or null' if nullable else ''}, got {value!r}",
                     "ISO 8601 date")
        return _MISSING
    check.kind = "date"
    return check


def t_domain(pattern_ok: bool = False) -> Leaf:
    def check(value, key, problems):
        if not isinstance(value, str):
            problems.add(key, f"expected a domain name, got {_type_name(value)} {value!r}", "type: domain")
            return _MISSING
        name = value[2:] if pattern_ok and value.startswith("*.") else value
        if value != value.lower() or not _DOMAIN_RE.match(name):
            hint = "a lower-case domain name" + (" or *.domain pattern" if pattern_ok else "")
            problems.add(key, f"{value!r} is not {hint}", "RFC 1035 domain, lower case")
            return _MISSING
        return value
    check.kind = "domain"
    return check


def t_list(item: Leaf, unique: bool = True) -> Leaf:
    def check(value, key, problems):
        if not isinstance(value, list):
            problems.add(key, f"expected a list, got {_type_name(value)} {value!r}", "type: list")
            return _MISSING
        out = []
        for i, element in enumerate(value):
            norm = item(element, f"{key}[{i}]", problems)
            if norm is _MISSING:
                continue
            if unique and norm in out:
                problems.add(f"{key}[{i}]", f"{element!r} is listed twice", "no duplicates")
                continue
            out.append(norm)
        return out
    check.kind = "list"
    check.item = item
    return check


def t_cited_date() -> Leaf:
    """``{date: YYYY-MM-DD, source: <the decision that set it>}`` (the calendar's swap days)."""
    def check(value, key, problems):
        if not isinstance(value, Mapping) or set(value) != {"date", "source"}:
            problems.add(key, f"expected {{date: YYYY-MM-DD, source: <decision>}}, got {value!r}",
                         "type: dated entry with its source")
            return _MISSING
        date = t_date()(value["date"], f"{key}.date", problems)
        source = t_str()(value["source"], f"{key}.source", problems)
        if _MISSING in (date, source):
            return _MISSING
        return {"date": date, "source": source}
    check.kind = "cited_date"
    return check


# --- schema -----------------------------------------------------------------------------------------

_ROLE = {
    "min_length": t_int(1, 128),
    "classes": t_list(t_enum(*PASSWORD_CLASSES)),
    "special_chars": t_str(re.compile(r"^[!-/:-@\[-`{-~]+$"), "printable ASCII punctuation"),
    "max_age": t_duration(nullable=True),
    "history": t_int(0, 100),
    "lockout_attempts": t_int(1, 100),
    "lockout_minutes": t_int(1, 7 * 24 * 60),
    "must_change_initial": t_bool(),
}

SCHEMA: dict[str, Any] = {
    "province": {
        "code": t_str(_CODE_RE, "a lower-case code such as 'hanam'"),
        "name": t_str(),
        "kind": t_enum("tỉnh", "thành phố"),
        "issued_by": t_str(),
        "decision": t_str(),
        "in_force": t_date(),
        "seed": t_str(),
        "directory_citation": t_str(nullable=True),
    },
    "domains": {
        "primary": t_domain(),
        "extra": t_list(t_domain()),
        "organisation_subdomains": t_bool(),
        "alias_login_until": t_date(nullable=True),
    },
    "webmail": {"host": t_domain()},
    "naming": "naming",  # validated by _check_naming (H1's congvu.naming owns the deeper options)
    "quota": {
        "personal": t_size(unlimited=True),
        "unit": t_size(unlimited=True),
        "agency": t_size(unlimited=True),
        "warning_percent": t_list(t_int(1, 99)),
    },
    "attachments": {
        "max_size": t_size(),
        "blocked_extensions": t_list(t_str(_EXT_RE, "a lower-case extension with its dot, e.g. '.exe'")),
        "encrypted_archives": t_enum("allow", "flag", "reject"),
    },
    "passwords": {role: _ROLE for role in ROLES},
    "lifecycle": {
        "inactivity_lock": t_duration(nullable=True),
        "inactivity_measure": t_enum("login", "mail", "any"),
        "default_password_lock": t_duration(nullable=True),
        "reclaim_after": t_duration(nullable=True),
        "reclaim_measure": t_enum("login", "mail", "any"),
        "reclaim_notice_working_days": t_int(0, 365, nullable=True),
        "leaver_deadline_working_days": t_int(0, 365, nullable=True),
        "request_deadline_working_days": t_int(0, 365, nullable=True),
        "locked_mailbox_receives": t_bool(),
        "password_warning_days": t_int(0, 90),
        "inactivity_warning_days": t_int(0, 90),
        "archive_keep": t_duration(nullable=True),
        "reclaim_organisation_mailboxes": t_bool(),
        "violation_reclaim": t_bool(),
        "transfer_readdress": t_bool(),
        "transfer_alias_keep": t_duration(nullable=True),
        "articles": {rule: t_str(nullable=True) for rule in LIFECYCLE_RULES},
    },
    "logs": {"retention": t_duration(), "audit_retention": t_duration()},
    "forwarding": {"allowed_domains": t_list(t_domain(pattern_ok=True))},
    "classified": {
        "action": t_enum("off", "hold", "reject"),
        "stamps": t_list(t_str()),
        "takedown_article": t_str(nullable=True),
    },
    "retention": {
        "organisation_delete": t_enum("allow", "keep_copy", "deny"),
        "organisation_folders": t_list(t_str()),
    },
    "display_name": {"format": t_str()},
    "backup": {
        "weekday": t_enum(*WEEKDAYS),
        "time": t_str(_TIME_RE, "a time as HH:MM (24 h)"),
        "keep": t_duration(),
    },
    "operations": {
        "downtime_notice_working_days": t_int(0, 30),
        "downtime_on_days_off": t_bool(),
        "report_due": t_list(t_str(_DAY_RE, "a day of the year as MM-DD")),
        "report_article": t_str(nullable=True),
        "summary_report_due": t_list(t_str(_DAY_RE, "a day of the year as MM-DD")),
        "summary_report_article": t_str(nullable=True),
        "incident_report_hours": t_int(1, 720, nullable=True),
        "incident_notice_article": t_str(nullable=True),
    },
    "calendar": {
        "confirmed_years": t_list(t_int(2000, 2100)),
        "extra_workdays": t_list(t_cited_date()),
        "extra_days_off": t_list(t_cited_date()),
    },
    "regulation": "regulation",
}

BOUND_KEYS = ("min", "max", "equals", "one_of", "includes", "within", "required", "article")
_OPS = ("min", "max", "equals", "one_of", "includes", "within", "required")


def _leaf_at(path: str) -> Leaf | None:
    node: Any = SCHEMA
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node if callable(node) else None


def _walk(spec: dict, data: Any, prefix: str, problems: _Problems) -> dict:
    if not isinstance(data, Mapping):
        problems.add(prefix or "(top level)", f"expected a mapping, got {_type_name(data)}", "type: mapping")
        return {}
    out: dict[str, Any] = {}
    for key in data:
        if key not in spec:
            where = f"{prefix}.{key}" if prefix else str(key)
            problems.add(where, f"unknown key {key!r}; expected one of: {', '.join(spec)}", "known keys")
    for key, sub in spec.items():
        where = f"{prefix}.{key}" if prefix else key
        if key not in data:
            problems.add(where, "missing key", "required")
            continue
        if isinstance(sub, dict):
            out[key] = _walk(sub, data[key], where, problems)
        elif callable(sub):
            out[key] = sub(data[key], where, problems)
        else:
            out[key] = data[key]  # special sections, checked later
    return out


# --- special sections -------------------------------------------------------------------------------

def _check_naming(raw: Any, policy: dict, source: str, problems: _Problems) -> dict:
    if not isinstance(raw, Mapping):
        problems.add("naming", f"expected a mapping, got {_type_name(raw)}", "type: mapping")
        return {}
    section = dict(raw)
    before = len(problems.items)
    if section.get("scheme") not in NAMING_SCHEMES:
        problems.add("naming.scheme", f"{section.get('scheme')!r} is not one of: {', '.join(NAMING_SCHEMES)}",
                     "one of " + "|".join(NAMING_SCHEMES))
    domain = t_domain()(section.get("domain"), "naming.domain", problems)
    domains = policy.get("domains") or {}
    extra = domains.get("extra")
    known = [domains.get("primary"), *(extra if isinstance(extra, list) else [])]
    if isinstance(domain, str) and domain not in known:
        problems.add("naming.domain", f"{domain!r} is not among domains.primary/domains.extra",
                     "naming.domain in domains")
    if len(problems.items) > before:
        return section
    try:
        result = validate_naming(section, source)
    except CongvuError as exc:
        problems.add(exc.key or "naming", exc.message, exc.rule or "naming")
        return section
    return dict(result) if isinstance(result, Mapping) else section


def _matches_any(value: Any, patterns: list) -> bool:
    """``value`` (a domain or ``*.domain``) falls under one of ``patterns`` (``*.gov.vn`` = any subdomain)."""
    if not isinstance(value, str):
        return False
    for pattern in patterns:
        if value == pattern or (pattern.startswith("*.") and value.endswith(pattern[1:])):
            return True
    return False


def _compare(kind: str, value: Any, bound: Any, op: str) -> bool:
    """``value`` satisfies ``op`` ``bound``; for sizes and durations None means unlimited/never."""
    if op == "equals":
        return value == bound
    if op == "one_of":
        return value in bound
    if op == "required":
        return not bound or (value is not None and value != [] and value != "")
    if op == "includes":
        return isinstance(value, list) and all(b in value for b in bound)
    if op == "within":
        return isinstance(value, list) and all(_matches_any(v, bound) for v in value)
    if kind in ("size", "duration"):
        if op == "min":
            return value is None or (bound is not None and value >= bound)
        return bound is None or (value is not None and value <= bound)
    if value is None:
        return False
    return value >= bound if op == "min" else value <= bound


def _show(kind: str, value: Any) -> str:
    if kind == "size":
        return sizes.format_size(value)
    if kind == "duration":
        return "never" if value is None else f"{value} days"
    return repr(value)


def _bound_rule(op: str, kind: str, bound: Any) -> str:
    if op in ("includes", "within"):
        return f"{op} {bound!r}"
    if op == "one_of":
        return f"one of {bound!r}"
    if op == "required":
        return "required"
    return {"min": ">=", "max": "<=", "equals": "=="}[op] + " " + _show(kind, bound)


def _bound_message(op: str, kind: str, value: Any, bound: Any, article: str) -> str:
    if op == "includes":
        return f"{[b for b in bound if b not in value]!r} must be listed ({article})"
    if op == "within":
        return (f"{[v for v in value if not _matches_any(v, bound)]!r} not allowed, only {bound!r} "
                f"({article})")
    if op == "required":
        return f"a value is required ({article})"
    if op == "one_of":
        return f"{value!r} is not one of {bound!r} set by {article}"
    words = {"min": "below the minimum", "max": "above the maximum", "equals": "different from"}[op]
    return f"{_show(kind, value)} is {words} {_show(kind, bound)} set by {article}"


def _check_regulation(raw: Any, policy: dict, problems: _Problems) -> dict:
    """Normalise the ``regulation`` block and check every bound against the effective values."""
    if not isinstance(raw, Mapping):
        problems.add("regulation", f"expected a mapping, got {_type_name(raw)}", "type: mapping")
        return {}
    out: dict[str, dict] = {}
    for path, bound in raw.items():
        where = f"regulation.{path}"
        leaf = _leaf_at(str(path))
        if leaf is None:
            problems.add(where, f"{path!r} is not the dotted path of a policy value", "known keys")
            continue
        if not isinstance(bound, Mapping) or not bound:
            problems.add(where, "expected a mapping of min/max/equals/includes and article", "type: mapping")
            continue
        unknown = [k for k in bound if k not in BOUND_KEYS]
        if unknown:
            problems.add(where, f"unknown bound {unknown[0]!r}; expected: {', '.join(BOUND_KEYS)}",
                         "known keys")
            continue
        article = bound.get("article")
        if not isinstance(article, str) or not article.strip():
            problems.add(f"{where}.article", "every bound must cite its article (e.g. 'Hà Nam Art 8.1.b')",
                         "required")
            article = "regulation"
        norm: dict[str, Any] = {"article": article}
        for op in _OPS:
            if op not in bound:
                continue
            listy = op in ("includes", "within")
            if op in ("min", "max") and leaf.kind not in ("int", "size", "duration"):
                problems.add(f"{where}.{op}", f"'{op}' only applies to numbers, sizes and durations",
                             "bound kind")
                continue
            if listy and leaf.kind != "list":
                problems.add(f"{where}.{op}", f"'{op}' only applies to lists", "bound kind")
                continue
            if op == "one_of" and leaf.kind == "list":
                problems.add(f"{where}.{op}", "'one_of' only applies to single values", "bound kind")
                continue
            if op == "required":
                value = t_bool()(bound[op], f"{where}.{op}", problems)
            elif op == "one_of":
                value = t_list(leaf)(bound[op], f"{where}.{op}", problems)
            elif listy:
                value = t_list(leaf.item)(bound[op], f"{where}.{op}", problems)
            else:
                value = leaf(bound[op], f"{where}.{op}", problems)
            if op in ("min", "max") and value is None and leaf.kind == "int":
                problems.add(f"{where}.{op}", f"a '{op}' bound needs a number", "type: integer")
                continue
            if value is not _MISSING:
                norm[op] = value
        out[str(path)] = norm
        current: Any = policy
        for part in str(path).split("."):
            current = current.get(part, _MISSING) if isinstance(current, dict) else _MISSING
        if current is _MISSING:
            continue  # the value itself was already reported
        for op in _OPS:
            if op not in norm or _compare(leaf.kind, current, norm[op], op):
                continue
            problems.add(str(path), _bound_message(op, leaf.kind, current, norm[op], article),
                         f"{article}: {_bound_rule(op, leaf.kind, norm[op])}")
    return out


def _cross_checks(policy: dict, problems: _Problems) -> None:
    quota = policy.get("quota") or {}
    warn = quota.get("warning_percent")
    if isinstance(warn, list) and warn != sorted(warn):
        problems.add("quota.warning_percent", f"{warn} must be in increasing order", "ascending")
    for role, rules in (policy.get("passwords") or {}).items():
        if not isinstance(rules, dict):
            continue
        classes, length = rules.get("classes"), rules.get("min_length")
        if isinstance(classes, list) and isinstance(length, int) and length < len(classes):
            problems.add(f"passwords.{role}.min_length", f"{length} cannot hold one character of each of "
                         f"{len(classes)} classes", "min_length >= number of classes")
    pw = policy.get("passwords") or {}
    user_len = (pw.get("user") or {}).get("min_length")
    admin_len = (pw.get("admin") or {}).get("min_length")
    if isinstance(user_len, int) and isinstance(admin_len, int) and admin_len < user_len:
        problems.add("passwords.admin.min_length", f"{admin_len} is shorter than the user minimum {user_len}",
                     "admin rules at least as strict as user rules")
    life = policy.get("lifecycle") or {}
    lock, reclaim = life.get("inactivity_lock"), life.get("reclaim_after")
    if isinstance(lock, int) and isinstance(reclaim, int) and reclaim < lock:
        problems.add("lifecycle.reclaim_after", f"{reclaim} days is before the lock ({lock} days)",
                     "reclaim_after >= inactivity_lock")
    _lifecycle_checks(policy, problems)
    fmt = (policy.get("display_name") or {}).get("format")
    if isinstance(fmt, str):
        fields = re.findall(r"{([^{}]*)}", fmt)
        bad = [f for f in fields if f not in DISPLAY_FIELDS]
        if bad or not fields:
            problems.add("display_name.format",
                         f"{fmt!r} must use only the fields {', '.join(DISPLAY_FIELDS)} in braces",
                         "known fields")


def _lifecycle_checks(policy: dict, problems: _Problems) -> None:
    """Articles cite the province (or say they are a default); swap days are listed once; the audit
    log outlives a yearly report."""
    life = policy.get("lifecycle") or {}
    articles = life.get("articles") if isinstance(life.get("articles"), dict) else {}
    province = policy.get("province") or {}
    name = province.get("issued_by") or province.get("name")  # whose decision the articles belong to
    if life.get("violation_reclaim") is True and life.get("reclaim_notice_working_days") is None:
        problems.add("lifecycle.violation_reclaim", "a violation lock is reclaimed a number of working days "
                     "after the agency's notice, and lifecycle.reclaim_notice_working_days gives none",
                     "violation_reclaim needs reclaim_notice_working_days")
    switched_on = {
        "inactivity_lock": life.get("inactivity_lock") is not None,
        "default_password_lock": life.get("default_password_lock") is not None,
        "reclaim": (life.get("reclaim_after") is not None
                    or life.get("reclaim_notice_working_days") is not None),
        "leaver": life.get("leaver_deadline_working_days") is not None,
        "transfer": life.get("transfer_readdress") is True,
    }
    for rule, article in articles.items():
        key = f"lifecycle.articles.{rule}"
        if article is None:
            if switched_on.get(rule, rule not in switched_on):
                problems.add(key, "the rule is applied, so it must cite its article", "required")
        elif isinstance(article, str) and isinstance(name, str) and not (
                article.startswith(f"{name} Art ") or article.startswith("default: seed silent")):
            problems.add(key, f"{article!r} must start with '{name} Art ' or 'default: seed silent'",
                         "article of this province")
    for section, key in (("operations", "incident_notice_article"), ("classified", "takedown_article")):
        cited = (policy.get(section) or {}).get(key)
        if isinstance(cited, str) and isinstance(name, str) and not cited.startswith(f"{name} Art "):
            problems.add(f"{section}.{key}", f"{cited!r} must start with '{name} Art '",
                         "article of this province")
    retention = (policy.get("logs") or {}).get("audit_retention")
    if isinstance(retention, int) and retention < AUDIT_RETENTION_MIN_DAYS:
        problems.add("logs.audit_retention", f"{retention} days is shorter than the year a yearly report "
                     "reads", f"audit_retention >= {AUDIT_RETENTION_MIN_DAYS} days")
    calendar = policy.get("calendar") or {}
    seen: dict[str, str] = {}
    for list_key in ("extra_workdays", "extra_days_off"):
        entries = calendar.get(list_key)
        for i, entry in enumerate(entries if isinstance(entries, list) else []):
            if not isinstance(entry, dict):
                continue
            where = f"calendar.{list_key}[{i}]"
            if entry["date"] in seen:
                problems.add(where, f"{entry['date']} is already listed as {seen[entry['date']]}",
                             "each date listed once")
            seen.setdefault(entry["date"], where)


def _derive(policy: dict) -> dict:
    domains = policy["domains"]
    attach = policy["attachments"]["max_size"]
    return {
        "domains_all": [domains["primary"], *domains["extra"]],
        "webmail_url": f"https://{policy['webmail']['host']}/",
        "attachment_bytes": attach,
        "message_size_limit": sizes.message_size_limit(attach),
        "quota_bytes": {c: policy["quota"][c] for c in sizes.MAILBOX_CLASSES},
        "password_max_age_days": {r: policy["passwords"][r]["max_age"] for r in ROLES},
    }


# --- merging and loading ----------------------------------------------------------------------------

class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key written twice in one mapping (YAML would keep the last silently)."""


def _construct_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _leaf_paths(data: Mapping, prefix: str = "") -> set[str]:
    paths: set[str] = set()
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            paths |= _leaf_paths(value, path)
        else:
            paths.add(path)
    return paths


def deep_merge(base: Mapping, override: Mapping) -> dict:
    """``override`` merged into a copy of ``base``: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _check_override_keys(overrides: Mapping, spec: dict, prefix: str, problems: list) -> None:
    for key, value in overrides.items():
        where = f"{prefix}.{key}" if prefix else str(key)
        if not prefix and key in FIXED_SECTIONS:
            problems.append((where, f"'{key}' states what the decision says and cannot be overridden",
                             "fixed by the regulation"))
            continue
        if key not in spec:
            problems.append((where, f"unknown key {key!r}; expected one of: {', '.join(spec)}", "known keys"))
            continue
        if isinstance(spec[key], dict) and isinstance(value, Mapping):
            _check_override_keys(value, spec[key], where, problems)


def validate_policy(data: Any, source: str = "<policy>", overrides: Mapping | None = None) -> dict:
    """Validate already-parsed policy ``data`` (+ ``overrides``) and return the effective policy.

    ``data`` may be the raw file content or an effective policy returned earlier (the ``congvu_policy``
    fact handed to a module): the computed keys ``source`` and ``derived`` are dropped and recomputed,
    and normalised values (bytes, days, ISO dates) validate as themselves.
    """
    carried = {}
    if isinstance(data, Mapping) and COMPUTED_KEYS & set(data):
        # an effective policy: what load_policy found of a dated switch stays as it was (a raw file's
        # switch is load_policy's to apply, never this function's)
        carried = {SWITCH_KEY: data[SWITCH_KEY]} if SWITCH_KEY in data and "source" in data else {}
        data = {k: v for k, v in data.items() if k not in COMPUTED_KEYS}
    override_keys: set[str] = set()
    if overrides:
        if not isinstance(overrides, Mapping):
            raise PolicyError(f"expected a mapping, got {_type_name(overrides)}", source=OVERRIDES_SOURCE,
                              key="(top level)", rule="type: mapping")
        bad: list = []
        _check_override_keys(overrides, SCHEMA, "", bad)
        if bad:
            problems = _Problems(OVERRIDES_SOURCE, set())
            for item in bad:
                problems.add(*item)
            problems.raise_if_any()
        override_keys = _leaf_paths(overrides)
        if isinstance(data, Mapping):
            data = deep_merge(data, overrides)
    problems = _Problems(source, override_keys)
    policy = _walk(SCHEMA, data, "", problems)
    if not isinstance(data, Mapping):
        problems.raise_if_any()
    policy["naming"] = _check_naming(data.get("naming"), policy, source, problems) if "naming" in data else {}
    _cross_checks(policy, problems)
    policy["regulation"] = (_check_regulation(data["regulation"], policy, problems)
                            if "regulation" in data else {})
    problems.raise_if_any()
    policy["source"] = source
    policy["derived"] = _derive(policy)
    policy.update(carried)
    return policy


def place_vi(policy: Mapping[str, Any]) -> str:
    """The province as its people name it: ``tỉnh Ninh Bình``, ``thành phố Cần Thơ`` (``province.kind``
    and ``province.name`` of an effective policy). The notices, the webmail's and Postfix's names of the
    system all use it (issue 18)."""
    province = policy["province"]
    return f"{province['kind']} {province['name']}"


def load_policy(path: str | Path, overrides: Mapping | None = None, *, province: str | None = None,
                today: dt.date | str | None = None) -> dict:
    """Read ``path`` (YAML), merge ``overrides`` over it and return the effective, normalised policy.

    ``province``, when given (the inventory's ``congvu_province``), must be the file's ``province.code``.
    Where the file has a ``regulation_switch``, both periods are validated on every call and the one
    that applies on ``today`` (default: today in Vietnam) is returned; its ``regulation_switch`` key
    says when, to what, and whether it applies (:func:`switch_policy`). Otherwise that key is None.
    Raises :class:`PolicyError` naming the file, the dotted key and the rule for every problem.
    """
    path = Path(path)
    if isinstance(today, str):
        try:
            today = dt.date.fromisoformat(today)
        except ValueError:
            raise PolicyError(f"expected a date as YYYY-MM-DD, got {today!r}", source="congvu_policy_date",
                              rule="ISO 8601 date") from None
    data = _read_policy_file(path)
    switch = data.pop(SWITCH_KEY, None) if isinstance(data, Mapping) else None
    if switch is None:
        policy = validate_policy(data, str(path), overrides)
        policy[SWITCH_KEY] = None
    else:
        policy = switch_policy(data, switch, path, overrides, today)
    if province is not None and policy["province"]["code"] != province:
        raise PolicyError(f"the file is for {policy['province']['code']!r}, not {province!r}",
                          source=str(path), key="province.code", rule="province.code == congvu_province")
    return policy


def switch_policy(data: Mapping, switch: Any, path: Path, overrides: Mapping | None,
                  today: dt.date | None) -> dict:
    """The policy of ``data`` (a file with a ``regulation_switch``) on ``today``.

    Before the day ``switch.from``: the file as written. From that day: the file's province (code, name,
    kind), domains, webmail and naming, with every other section of ``policies/<switch.to>.yml`` (the
    rules, the regulation's bounds, the decision that sets them). Both are validated, with the same
    overrides, so a bad target or an override the other regulation forbids is reported before the
    day; the problems of both come in one error."""
    source = str(path)
    problems = _Problems(source, set())
    if not isinstance(switch, Mapping):
        problems.add(SWITCH_KEY, f"expected a mapping with 'from' and 'to', got {_type_name(switch)}",
                     "type: mapping")
        problems.raise_if_any()
    for key in sorted(set(switch) - {"from", "to"}):
        problems.add(f"{SWITCH_KEY}.{key}", f"unknown key {key!r}; expected one of: from, to", "known keys")
    on = t_date()(switch.get("from"), f"{SWITCH_KEY}.from", problems)
    to = switch.get("to")
    if not isinstance(to, str) or not _CODE_RE.match(to):
        problems.add(f"{SWITCH_KEY}.to", f"expected the code of a policy file such as 'ninhbinh', got {to!r}",
                     "policies/<to>.yml")
    elif to == path.stem:
        problems.add(f"{SWITCH_KEY}.to", f"{to!r} is this file", "another province's policy")
    problems.raise_if_any()
    target_path = policy_path(to, path.parent)
    target = _read_policy_file(target_path)
    if not isinstance(target, Mapping):
        raise PolicyError(f"expected a mapping, got {_type_name(target)}", source=str(target_path),
                          key="(top level)", rule="type: mapping")
    if target.get(SWITCH_KEY) is not None:
        raise PolicyError(f"{target_path} switches again; a switch names a policy without one",
                          source=source, key=f"{SWITCH_KEY}.to", rule="one switch at a time")
    switched = {key: value for key, value in target.items() if key not in (*SWITCH_KEEPS, SWITCH_KEY)}
    switched.update({key: data[key] for key in SWITCH_KEEPS if key in data})
    if isinstance(target.get("province"), Mapping) and isinstance(data.get("province"), Mapping):
        kept = {k: data["province"][k] for k in SWITCH_PROVINCE_KEEPS if k in data["province"]}
        switched["province"] = {**target["province"], **kept}
    results, errors = [], []
    for what, text in ((data, source), (switched, f"{source} from {on} with the rules of {target_path}")):
        try:
            results.append(validate_policy(what, text, overrides))
        except PolicyError as exc:
            errors.append(exc)
    if errors:
        if len(errors) == 1:
            raise errors[0]
        items = [p for exc in errors for p in (getattr(exc, "problems", None) or
                                              [{"source": exc.source, "key": exc.key, "message": exc.message,
                                                "rule": exc.rule}])]
        err = PolicyError(f"{len(items)} problems, before and from {on}:\n" + "\n".join(
            f"- {p['source']}: {p['key']}: {p['message']} [{p['rule']}]" for p in items), source=source)
        err.problems = items
        raise err
    before, after = results
    # the day as it is in Vietnam, where the regulation's day begins (the controller may run on UTC)
    day = today or dt.datetime.now(VN_TZ).date()
    applied = day >= dt.date.fromisoformat(on)
    policy = after if applied else before
    policy[SWITCH_KEY] = {
        "from": on, "to": to, "file": str(target_path), "applied": applied, "today": day.isoformat(),
        # the decision that applies from the day (the alert and the play's notice name it)
        "issued_by": after["province"]["issued_by"], "decision": after["province"]["decision"],
    }
    return policy


def _read_policy_file(path: Path) -> Any:
    """The YAML content of a policy file; a PolicyError naming the file when it cannot be read or parsed."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read the policy file: {exc.strerror}", source=source,
                          rule="readable file") from exc
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise PolicyError(f"invalid YAML: {problem}", source=source, key=where, rule="YAML syntax") from exc
    if data is None:
        raise PolicyError("the file is empty", source=source, key="(top level)", rule="type: mapping")
    return data


def bound_article(policy: Mapping[str, Any], key: str) -> str | None:
    """The article the regulation's bound on ``key`` cites (``regulation:`` of the policy file, e.g.
    "Gia Lai Art 8.3.d" for ``operations.incident_report_hours``), or None where it sets none."""
    return ((policy.get("regulation") or {}).get(key) or {}).get("article") or None


def policy_path(province: str, policies_dir: str | Path) -> Path:
    """``<policies_dir>/<province>.yml``, refusing a province code that is not a plain name."""
    if not isinstance(province, str) or not _CODE_RE.match(province):
        raise PolicyError(f"{province!r} is not a province code such as 'hanam'", source="inventory",
                          key="congvu_province", rule="lower-case code")
    return Path(policies_dir) / f"{province}.yml"


def province_codes(policies_dir: str | Path) -> list[str]:
    """The provinces configured in ``policies_dir``: the codes of its ``<code>.yml`` files, sorted.

    A province is configuration, not code: adding ``policies/<code>.yml`` (with its catalogue and
    inventory, docs/adding-a-province.md) adds a province; nothing in ``congvu`` lists them.
    """
    return sorted(p.stem for p in Path(policies_dir).glob("*.yml") if _CODE_RE.match(p.stem))
