"""Monitoring and alerts (tests/layouts/monitoring_checks.py, docs/monitoring.md) on the split layout:
the monitoring host (the webmail host, which is also the backup server and the front) scrapes the
exporters of the five other hosts through their firewalls, probes every TLS service of every host,
reads the replication of the two directory and the two mailbox servers, and mails its alerts through
the first mailbox server's port 25 as a trusted relay. The stopped Dovecot's alert is checked on the
all-in-one layout (tests/layouts/demo/test_monitoring.py)."""

try:  # tests/layouts is a plain directory, or a package named layouts
    from monitoring_checks import *  # noqa: F403 (pytest collects the tests and fixtures imported here)
    from monitoring_checks import test_replication_is_measured_and_caught_up
except ImportError:  # pragma: no cover
    from layouts.monitoring_checks import *  # noqa: F403
    from layouts.monitoring_checks import test_replication_is_measured_and_caught_up

__all__ = ["test_replication_is_measured_and_caught_up"]
