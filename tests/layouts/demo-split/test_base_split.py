"""The base of each host of the split layout (role common): the checks of tests/layouts/base_checks.py,
once per host (the firewall of each host seen from outside).

The split staging inventory names no admin network (inventories/demo-split/group_vars/congvu/main.yml):
SSH and every admin port stay closed on every host.
"""

import pytest
from base_checks import *  # noqa: F403  (pytest collects the imported tests and fixtures)


@pytest.fixture(scope="module")
def admin_networks():
    return []
