"""Every role documents the same variables in defaults/main.yml and meta/argument_specs.yml.

A variable added to one file but not the other fails here (CI), naming the role and the variable.
Internal variables (`__<role>_*`) live in vars/ and are not part of the contract.
"""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p for p in (ROOT / "roles").iterdir() if (p / "tasks").is_dir())


def _load(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def test_there_are_roles():
    assert ROLES, "no role found under roles/"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_defaults_match_argument_specs(role: Path):
    defaults_file = role / "defaults" / "main.yml"
    specs_file = role / "meta" / "argument_specs.yml"
    assert defaults_file.is_file(), f"{role.name}: defaults/main.yml is missing"
    assert specs_file.is_file(), f"{role.name}: meta/argument_specs.yml is missing"

    defaults = set(_load(defaults_file))
    specs = _load(specs_file).get("argument_specs", {})
    assert "main" in specs, f"{role.name}: meta/argument_specs.yml has no 'main' entry point"
    options = set((specs["main"] or {}).get("options") or {})

    undocumented = sorted(defaults - options)
    no_default = sorted(
        name for name in options - defaults if not specs["main"]["options"][name].get("required", False)
    )
    assert not undocumented, (
        f"{role.name}: in defaults/main.yml but not in meta/argument_specs.yml: {undocumented}"
    )
    assert not no_default, (
        f"{role.name}: in meta/argument_specs.yml (not required) but without a default in "
        f"defaults/main.yml: {no_default}"
    )


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_public_variables_are_prefixed(role: Path):
    defaults_file = role / "defaults" / "main.yml"
    if not defaults_file.is_file():
        pytest.skip("no defaults")
    stray = sorted(name for name in _load(defaults_file) if not name.startswith(f"{role.name}_"))
    assert not stray, f"{role.name}: public variables must be named {role.name}_*: {stray}"


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_every_option_is_typed_and_described(role: Path):
    specs_file = role / "meta" / "argument_specs.yml"
    if not specs_file.is_file():
        pytest.skip("no argument specs")
    options = (_load(specs_file).get("argument_specs", {}).get("main") or {}).get("options") or {}
    untyped = sorted(name for name, spec in options.items() if not (spec or {}).get("type"))
    undescribed = sorted(name for name, spec in options.items() if not (spec or {}).get("description"))
    assert not untyped, f"{role.name}: options without a type: {untyped}"
    assert not undescribed, f"{role.name}: options without a description: {undescribed}"
