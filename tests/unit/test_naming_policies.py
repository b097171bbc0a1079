"""The province policy files' naming sections fit the naming engine and the example catalogues."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from congvu.naming import make_scheme, validate_naming

ROOT = Path(__file__).resolve().parents[2]
POLICIES = sorted((ROOT / "policies").glob("*.yml"))


@pytest.mark.skipif(not POLICIES, reason="no policy files yet")
@pytest.mark.parametrize("path", POLICIES, ids=lambda p: p.stem)
def test_policy_naming_section_builds_a_scheme(path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or "naming" not in data:
        pytest.skip(f"{path.name} has no naming section")
    naming = data["naming"]
    section = validate_naming(naming, str(path))
    code = data["province"]["code"]
    assert code == path.stem  # one policy file per province, named after its code (any scheme)
    scheme = make_scheme(naming, ROOT / "data" / "catalogues" / f"{code}.yml", source=str(path),
                         province=code)
    for address in scheme.org_addresses().values():
        assert address.endswith("@" + section["domain"]) or address.endswith("." + section["domain"])
