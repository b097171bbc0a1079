"""The split layout: inventories/demo-split (Gia Lai on five hosts: two directory servers)."""

import pytest


@pytest.fixture(scope="session")
def layout_name() -> str:
    return "demo-split"
