"""Taking a message down (Ninh Bình Art 14.3) on the all-in-one layout: the shared checks of
tests/layouts/takedown_checks.py."""

from takedown_checks import *  # noqa: F403  (pytest collects the imported tests and fixtures)
