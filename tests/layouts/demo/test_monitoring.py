"""Monitoring and alerts (tests/layouts/monitoring_checks.py, docs/monitoring.md) on the all-in-one
layout: Hà Nam's one host is also its monitoring host, and mails its alerts over loopback. Nothing
replicates here: the replication figures are checked on the split layout."""

try:  # tests/layouts is a plain directory, or a package named layouts
    from monitoring_checks import *  # noqa: F403 (pytest collects the tests and fixtures imported here)
    from monitoring_checks import test_a_stopped_dovecot_raises_its_alert_and_mails_it_in_vietnamese
except ImportError:  # pragma: no cover
    from layouts.monitoring_checks import *  # noqa: F403
    from layouts.monitoring_checks import test_a_stopped_dovecot_raises_its_alert_and_mails_it_in_vietnamese

__all__ = ["test_a_stopped_dovecot_raises_its_alert_and_mails_it_in_vietnamese"]
