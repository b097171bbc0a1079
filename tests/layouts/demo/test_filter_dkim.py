"""DKIM of the all-in-one layout's sending domain (Hà Nam: one domain): the checks of
tests/layouts/dkim_checks.py."""

from dkim_checks import *  # noqa: F403  (pytest collects the imported tests and fixtures)
