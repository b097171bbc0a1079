"""Monitoring and alerts (tests/layouts/monitoring_checks.py, docs/monitoring.md) on the all-in-one
layout: Hà Nam's one host is also its monitoring host."""

try:  # tests/layouts is a plain directory, or a package named layouts
    from monitoring_checks import *  # noqa: F403 (pytest collects the tests and fixtures imported here)
except ImportError:  # pragma: no cover
    from layouts.monitoring_checks import *  # noqa: F403
