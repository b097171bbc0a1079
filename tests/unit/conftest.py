"""Fixtures of the naming tests: each province's scheme over its example catalogue in data/catalogues/."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = ROOT / "data" / "catalogues"
POLICIES = ROOT / "policies"


@pytest.fixture
def make():
    """make(province, **naming_options) -> the scheme policies/<province>.yml names (``naming:``, with
    the options over it) over data/catalogues/<province>.yml."""
    from congvu.naming import make_scheme

    def build(province: str, **options):
        policy = yaml.safe_load((POLICIES / f"{province}.yml").read_text(encoding="utf-8"))
        return make_scheme({**policy["naming"], **options}, CATALOGUES / f"{province}.yml",
                           source=f"policies/{province}.yml", province=province)

    return build
