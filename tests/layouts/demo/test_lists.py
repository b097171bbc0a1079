"""Agency mailing lists on the all-in-one layout (Hà Nam): the checks of tests/layouts/list_checks.py."""

from list_checks import *  # noqa: F403  (pytest collects the imported tests and fixtures)
