"""The attack suite of issue 11 (tests/layouts/attacks.py, docs/security.md) on the all-in-one layout:
Hà Nam on one host."""

try:  # tests/layouts is a plain directory, or a package named layouts
    from attacks import *  # noqa: F403 (pytest collects the tests and fixtures imported here)
except ImportError:  # pragma: no cover
    from layouts.attacks import *  # noqa: F403
