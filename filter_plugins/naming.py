"""Jinja2 filters for Vietnamese folding and mail address naming.

Thin wrappers around :mod:`congvu.fold` and :mod:`congvu.naming`: they check their arguments and
turn every engine error into an ``AnsibleFilterError`` carrying the engine's message (which names
the file, entry and regulation article). The rules themselves live in ``congvu/`` and
``docs/naming.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from congvu.errors import CongvuError
from congvu.fold import vn_ascii as _vn_ascii
from congvu.naming import make_scheme

DOCUMENTATION = r"""
name: naming
short_description: Vietnamese folding and official mail addresses
  (vn_ascii, org_address, mail_address, mail_addresses)
description:
  - C(vn_ascii) folds Vietnamese text (NFC or NFD) to ASCII; C(đ/Đ) become C(d/D).
  - C(org_address) gives an organisation's own mailbox under the province's naming scheme.
  - C(mail_address) names one person; C(mail_addresses) names many, in order, keeping addresses already
    issued (C(existing)) and avoiding those in C(taken).
  - C(naming.scheme) is any scheme registered in congvu.schemes (hanam, gialai, cantho, hagiang,
    ninhbinh), whatever the province; the schemes and their clash rules are described in
    docs/naming.md.
  - A person who needs an operator decision (for example Cần Thơ Art 4.2.d, fourth holder of a name) makes the
    filter fail with the reason and a suggested address; the roster tooling handles those through overrides.
options:
  _input:
    description:
      - C(vn_ascii) text; C(org_address) an organisation code; C(mail_address) a person mapping
        (C(id), C(full_name), C(org), optional C(birth_date), C(home_town), C(birthplace), C(address),
        C(surname));
        C(mail_addresses) a list of such mappings.
    type: raw
    required: true
  naming:
    description: The province policy's C(naming) mapping (C(scheme), C(domain), optional keys of
      docs/naming.md).
    type: dict
  catalogue:
    description: The organisation catalogue, as a mapping or a YAML file path
      (data/catalogues/<province>.yml).
    type: raw
  existing:
    description: Person id to address already issued (mail_address, mail_addresses).
    type: dict
    default: {}
  taken:
    description: Further addresses in use (aliases, people no longer on the roster).
    type: list
    elements: str
    default: []
  lower:
    description: vn_ascii, lower-case the result.
    type: bool
    default: false
  apostrophe:
    description: vn_ascii, C(drop) or C(keep) apostrophes (H'Nhiên).
    type: str
    default: drop
  hyphen:
    description: vn_ascii, C(keep), C(drop) or C(space) for dashes.
    type: str
    default: keep
  sep:
    description: vn_ascii, what separates words (C('') joins them).
    type: str
    default: " "
"""

EXAMPLES = r"""
- name: Fold a name
  ansible.builtin.debug:
    msg: "{{ 'Hoàng Thị Như Quỳnh' | vn_ascii(lower=true, sep='') }}"   # hoangthinhuquynh

- name: An agency mailbox
  ansible.builtin.debug:
    msg: "{{ 'stttt' | org_address(policy.naming, 'data/catalogues/hanam.yml') }}"   # stttt@hanam.gov.vn

- name: One person (minhnv.stttt@ninhbinh.gov.vn)
  ansible.builtin.debug:
    msg: "{{ {'id': 'p1', 'full_name': 'Nguyễn Văn Minh', 'org': 'stttt'}
             | mail_address({'scheme': 'ninhbinh', 'domain': 'ninhbinh.gov.vn'}, catalogue) }}"

- name: A roster, keeping issued addresses
  ansible.builtin.set_fact:
    roster_addresses: "{{ roster | mail_addresses(policy.naming, catalogue, existing=directory_addresses) }}"
"""

RETURN = r"""
_value:
  description:
    - vn_ascii, org_address, mail_address return a string.
    - mail_addresses returns a mapping person id to address, in input order (issued ones unchanged).
  type: raw
"""


def _fail(filter_name: str, exc: Exception) -> AnsibleFilterError:
    return AnsibleFilterError(f"{filter_name}: {exc}")


def _check(filter_name: str, naming: Any, catalogue: Any) -> None:
    if not isinstance(naming, Mapping):
        raise AnsibleFilterError(f"{filter_name}: naming must be the policy's naming mapping, "
                                 f"got {type(naming).__name__}")
    if not isinstance(catalogue, Mapping | str):
        raise AnsibleFilterError(f"{filter_name}: catalogue must be a mapping or a file path, "
                                 f"got {type(catalogue).__name__}")


def vn_ascii(text: Any, lower: bool = False, apostrophe: str = "drop", hyphen: str = "keep",
             sep: str = " ") -> str:
    if not isinstance(text, str):
        raise AnsibleFilterError(f"vn_ascii: expected a string, got {type(text).__name__}")
    try:
        return _vn_ascii(text, lower=bool(lower), apostrophe=apostrophe, hyphen=hyphen, sep=sep)
    except CongvuError as exc:
        raise _fail("vn_ascii", exc) from exc


def org_address(code: Any, naming: Any = None, catalogue: Any = None) -> str:
    _check("org_address", naming, catalogue)
    if not isinstance(code, str):
        raise AnsibleFilterError(f"org_address: expected an organisation code, got {type(code).__name__}")
    try:
        return make_scheme(naming, catalogue).org_address(code)
    except CongvuError as exc:
        raise _fail("org_address", exc) from exc


def mail_addresses(people: Any, naming: Any = None, catalogue: Any = None, existing: Any = None,
                   taken: Any = None) -> dict[str, str]:
    _check("mail_addresses", naming, catalogue)
    if not isinstance(people, list | tuple):
        raise AnsibleFilterError(f"mail_addresses: expected a list of people, got {type(people).__name__}")
    existing = existing or {}
    taken = taken or []
    if not isinstance(existing, Mapping):
        raise AnsibleFilterError("mail_addresses: existing must map person id to address")
    if isinstance(taken, str) or not isinstance(taken, list | tuple | set):
        raise AnsibleFilterError("mail_addresses: taken must be a list of addresses")
    try:
        result = make_scheme(naming, catalogue).assign(people, existing, taken, source="mail_addresses")
        result.raise_for_problems("mail_addresses")
    except CongvuError as exc:
        raise _fail("mail_addresses", exc) from exc
    return result.addresses


def mail_address(person: Any, naming: Any = None, catalogue: Any = None, existing: Any = None,
                 taken: Any = None) -> str:
    if not isinstance(person, Mapping):
        raise AnsibleFilterError(f"mail_address: expected a person mapping, got {type(person).__name__}")
    try:
        addresses = mail_addresses([person], naming, catalogue, existing, taken)
    except AnsibleFilterError as exc:
        raise AnsibleFilterError(str(exc).replace("mail_addresses", "mail_address")) from exc
    return next(iter(addresses.values()))


class FilterModule:
    """Vietnamese folding and official mail address filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "vn_ascii": vn_ascii,
            "org_address": org_address,
            "mail_address": mail_address,
            "mail_addresses": mail_addresses,
        }
