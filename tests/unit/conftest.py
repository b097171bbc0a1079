"""Fixtures of the naming tests: schemes built from the example catalogues in data/catalogues/."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = ROOT / "data" / "catalogues"
DOMAINS = {"hanam": "hanam.gov.vn", "gialai": "gialai.gov.vn", "cantho": "cantho.gov.vn",
           "hagiang": "hagiang.gov.vn", "ninhbinh": "ninhbinh.gov.vn"}


@pytest.fixture
def make():
    """make(province, **naming_options) -> the scheme over data/catalogues/<province>.yml."""
    from congvu.naming import make_scheme

    def build(province: str, **options):
        return make_scheme({"scheme": province, "domain": DOMAINS[province], **options},
                           CATALOGUES / f"{province}.yml")

    return build
