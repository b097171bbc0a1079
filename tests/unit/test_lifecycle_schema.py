"""The lifecycle run's attributes in the three places that name them: what the run writes
(congvu/lifecycle_dir.py), what the directory's ACL lets the lifecycle account write, and the schema
that defines them (both in roles/openldap/vars/main.yml). A name added to one and not the others
would fail on a real slapd halfway through a run (insufficientAccess, or an undefined type)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from congvu import lifecycle_dir
from congvu.lifecycle_dir import ACCOUNT_WRITE_ATTRS, LIST_WRITE_ATTRS, REQUEST_WRITE_ATTRS, SEARCH_ATTRS

ROOT = Path(__file__).resolve().parents[2]
#: Attribute types other schemas define (core, cosine, inetorgperson, ppolicy, operational).
STANDARD = {"objectClass", "userPassword", "pwdReset", "pwdChangedTime", "pwdLastSuccess", "mail", "cn",
            "displayName", "o", "member", "description", "createTimestamp", "creatorsName"}


@pytest.fixture(scope="module")
def openldap_vars() -> dict:
    return yaml.safe_load((ROOT / "roles" / "openldap" / "vars" / "main.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def schema(openldap_vars) -> tuple[set[str], dict[str, set[str]]]:
    """The congvu attribute type names, and each congvu object class's MUST and MAY names."""
    types = {re.search(r"NAME '(\w+)'", t).group(1)
             for t in openldap_vars["__openldap_congvu_attribute_types"]}
    classes = {}
    for oc in openldap_vars["__openldap_congvu_object_classes"]:
        name = re.search(r"NAME '(\w+)'", oc).group(1)
        listed = re.findall(r"(?:MUST|MAY) (\( [^)]* \)|\w+)", oc)
        classes[name] = {a for part in listed for a in re.findall(r"\w+", part)}
    return types, classes


@pytest.fixture(scope="module")
def acl_write(openldap_vars) -> set[str]:
    state = openldap_vars["__openldap_lifecycle_state_attrs"]
    written = openldap_vars["__openldap_lifecycle_write_attrs"]
    written = written.replace("{{ __openldap_lifecycle_state_attrs }}", state)
    return set(written.split(","))


def test_the_acl_lets_the_run_write_what_it_writes(acl_write, openldap_vars):
    # userPassword has its own rule (=z: the run may remove a password, never read or set one)
    assert ACCOUNT_WRITE_ATTRS - {"userPassword"} <= acl_write, sorted(ACCOUNT_WRITE_ATTRS - acl_write)
    password_rule = next(r for r in openldap_vars["__openldap_db_acl_head"]
                         if "attrs=userPassword" in r and "__openldap_svc_lifecycle" in r)
    assert "=z" in password_rule


def test_the_acl_grants_nothing_the_run_does_not_need(acl_write, openldap_vars):
    # congvuMailHome: kept for the mailbox move of a transfer (docs/lifecycle.md, "Not built yet")
    assert acl_write - ACCOUNT_WRITE_ATTRS <= {"congvuMailHome"}, sorted(acl_write - ACCOUNT_WRITE_ATTRS)
    # and only on accounts: not on lists (member alone, below), organisations or admin groups
    (rule,) = [r for r in openldap_vars["__openldap_db_acl_head"]
               if "__openldap_lifecycle_write_attrs" in r]
    assert "filter=(objectClass=congvuMailAccount)" in rule, rule


def test_every_attribute_the_run_names_is_defined(schema):
    types, classes = schema
    named = ACCOUNT_WRITE_ATTRS | REQUEST_WRITE_ATTRS | set(SEARCH_ATTRS)
    missing = sorted(a for a in named if a not in types and a not in STANDARD)
    assert not missing, missing
    # an entry can hold them: the lifecycle state in the auxiliary class, requests in theirs
    account_may = classes["congvuMailAccount"] | classes[lifecycle_dir.LIFECYCLE_CLASS]
    assert {a for a in ACCOUNT_WRITE_ATTRS if a.startswith("congvu")} <= account_may
    assert classes[lifecycle_dir.REQUEST_CLASS] >= REQUEST_WRITE_ATTRS
    assert classes[lifecycle_dir.LIST_CLASS] >= LIST_WRITE_ATTRS


def test_the_acl_lets_the_run_write_a_list_s_members_and_nothing_else_of_it(openldap_vars):
    rules = [r for r in openldap_vars["__openldap_db_acl_head"]
             if "__openldap_svc_lifecycle" in r and lifecycle_dir.LIST_CLASS in r]
    assert len(rules) == 1
    (attrs,) = re.findall(r"attrs=(\S+)", rules[0])
    assert set(attrs.split(",")) == LIST_WRITE_ATTRS


def test_a_write_outside_the_list_is_refused_before_any_change():
    with pytest.raises(ValueError, match="may not write congvuMailHome"):
        lifecycle_dir._checked({"congvuMailHome": ["/x"]}, ACCOUNT_WRITE_ATTRS)
    assert lifecycle_dir._checked({"+objectClass": ["congvuLifecycle"]}, ACCOUNT_WRITE_ATTRS)
