"""Mail address naming: the entry points over the registry of schemes (docs/naming.md).

    scheme = make_scheme(policy["naming"], catalogue, province=policy["province"]["code"])
    scheme.org_address("stttt")                     # 'stttt@hanam.gov.vn'
    result = scheme.assign(people, existing, taken)
    result.addresses                                # person id -> address, input order
    result.needs_operator                           # every case the tool must not decide alone

A policy's ``naming.scheme`` names one of the schemes registered in :mod:`congvu.schemes`; any
province may use any of them. Guarantees of :meth:`Scheme.assign`:

* an address in ``existing`` is never changed; new people are assigned in input order, after
  explicit overrides, so reordering or adding people never changes an address already issued;
* every person needing an operator decision is reported in one pass, with a reason, the rule and
  a deterministic suggestion in the scheme's own shape (never an address anybody holds);
* bad input (duplicate ids, unknown organisations, unparsable dates) raises one
  :class:`~congvu.errors.NamingError` listing every bad entry.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from congvu.addresses import DOMAIN_RE
from congvu.errors import PolicyError
from congvu.orgs import Catalogue, check_catalogue, load_catalogue
from congvu.schemes import SCHEMES as _REGISTRY
from congvu.schemes import scheme_class
from congvu.schemes.base import MAX_LOCAL, OperatorCase, Person, Result, Scheme

__all__ = ["MAX_LOCAL", "SCHEMES", "OperatorCase", "Person", "Result", "Scheme", "make_scheme",
           "validate_naming"]

#: Names of the registered schemes (:data:`congvu.schemes.SCHEMES`), in registry order.
SCHEMES = tuple(_REGISTRY)
NAMING_DEFAULTS: dict[str, Any] = {
    "sequence_start": 2,
    "birth_date_format": "%d%m%Y",
    "catalogue": None,
}


def validate_naming(section: Any, source: str = "<policy>") -> dict[str, Any]:
    """Check a policy file's ``naming:`` mapping deeply and return it with defaults filled in.

    Keys: ``scheme`` (required, one of :data:`SCHEMES`), ``domain`` (required, the province's
    mail domain; Gia Lai subdomains hang below it), ``sequence_start`` (int ≥ 1, default 2: the
    number the second holder of a Hà Giang/Ninh Bình name gets), ``birth_date_format`` (strftime
    format of the birth-date tie-breaker, default ``%d%m%Y``), ``catalogue`` (optional path of the
    organisation catalogue). Raises :class:`PolicyError` naming ``source`` and the key.
    """
    if not isinstance(section, Mapping):
        raise PolicyError(f"must be a mapping, got {type(section).__name__}", source=source, key="naming")
    for key in sorted(set(section) - {"scheme", "domain", *NAMING_DEFAULTS}):
        raise PolicyError(f"unknown key (allowed: scheme, domain, {', '.join(NAMING_DEFAULTS)})",
                          source=source, key=f"naming.{key}")
    out = {**NAMING_DEFAULTS, **section}
    if out.get("scheme") not in SCHEMES:
        raise PolicyError(f"must be one of {', '.join(SCHEMES)}, got {out.get('scheme')!r}",
                          source=source, key="naming.scheme")
    domain = out.get("domain")
    if not isinstance(domain, str) or not DOMAIN_RE.match(domain):
        raise PolicyError(f"must be a lower-case domain name such as hanam.gov.vn, got {domain!r}",
                          source=source, key="naming.domain")
    start = out["sequence_start"]
    if not isinstance(start, int) or isinstance(start, bool) or start < 1:
        raise PolicyError(f"must be an integer >= 1, got {start!r}", source=source,
                          key="naming.sequence_start")
    fmt = out["birth_date_format"]
    sample = dt.date(1987, 11, 23).strftime(fmt) if isinstance(fmt, str) else ""
    if not isinstance(fmt, str) or not re.fullmatch(r"[a-z0-9]+", sample) or "87" not in sample:
        raise PolicyError(f"must be a strftime format giving lower-case letters and digits with at "
                          f"least the year (e.g. %d%m%Y), got {fmt!r}", source=source,
                          key="naming.birth_date_format")
    if out["catalogue"] is not None and not isinstance(out["catalogue"], str):
        raise PolicyError(f"must be a file path, got {out['catalogue']!r}", source=source,
                          key="naming.catalogue")
    return out


def make_scheme(naming_section: Mapping[str, Any], catalogue: Catalogue | Mapping[str, Any] | str | Path |
                None = None, *, source: str = "<policy>", province: str | None = None) -> Scheme:
    """Build a province's scheme from its policy ``naming:`` section and organisation catalogue.

    ``catalogue`` is a loaded :class:`Catalogue`, a mapping, or a YAML path; when None, the
    section's ``catalogue`` key names the file. ``province`` (the policy's ``province.code``), when
    given, must be the catalogue's ``province`` key: the catalogue belongs to the province, whatever
    scheme the province uses.
    """
    section = validate_naming(naming_section, source)
    scheme_name = section["scheme"]
    if catalogue is None:
        if not section["catalogue"]:
            raise PolicyError("no organisation catalogue given (pass one or set naming.catalogue)",
                              source=source, key="naming.catalogue")
        catalogue = section["catalogue"]
    if isinstance(catalogue, Catalogue):
        check_catalogue(catalogue, scheme=scheme_name, province=province)
    else:
        catalogue = load_catalogue(catalogue, scheme=scheme_name, province=province)
    return scheme_class(scheme_name)(section, catalogue)
