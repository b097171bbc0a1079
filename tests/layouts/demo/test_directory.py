"""The directory of the all-in-one layout (Hà Nam, role openldap): the checks of
tests/layouts/directory_checks.py."""

from directory_checks import *  # noqa: F403  (pytest collects the imported tests and fixtures)
