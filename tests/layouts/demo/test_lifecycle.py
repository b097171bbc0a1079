"""The account lifecycle (tests/layouts/lifecycle_checks.py, docs/lifecycle.md) on the all-in-one
layout: Hà Nam on one host."""

try:  # tests/layouts is a plain directory, or a package named layouts
    from lifecycle_checks import *  # noqa: F403 (pytest collects the tests and fixtures imported here)
except ImportError:  # pragma: no cover
    from layouts.lifecycle_checks import *  # noqa: F403
