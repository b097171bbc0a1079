"""The split layout: inventories/demo-split (Gia Lai on four hosts)."""

import pytest


@pytest.fixture(scope="session")
def layout_name() -> str:
    return "demo-split"
