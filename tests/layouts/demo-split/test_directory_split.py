"""The directory host of the split layout (Gia Lai, role openldap): the checks of
tests/layouts/directory_checks.py."""

from directory_checks import *  # noqa: F403  (pytest collects the imported tests and fixtures)
