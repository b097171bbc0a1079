"""The all-in-one layout: inventories/demo (Hà Nam on one host)."""

import pytest


@pytest.fixture(scope="session")
def layout_name() -> str:
    return "demo"
