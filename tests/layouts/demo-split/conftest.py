"""The split layout: inventories/demo-split (Gia Lai on six hosts: two directory servers, two mailbox
servers)."""

import pytest


@pytest.fixture(scope="session")
def layout_name() -> str:
    return "demo-split"
