"""The base of the all-in-one host (role common): the checks of tests/layouts/base_checks.py.

Staging's admin network is the machine running the containers, each container's default gateway
(inventories/demo/group_vars/congvu/main.yml): SSH and Rspamd's web interface answer it alone.
"""

import pytest
from base_checks import *  # noqa: F403  (pytest collects the imported tests and fixtures)
from base_checks import runner_address


@pytest.fixture(scope="module")
def admin_networks(stage):
    return [f"{runner_address(stage.first('mail_servers'))}/32"]
