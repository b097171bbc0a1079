"""Monitoring and alerts (tests/layouts/monitoring_checks.py, docs/monitoring.md) on the split layout:
the monitoring host (the webmail host, which is also the backup server and the front) scrapes the
exporters of the five other hosts through their firewalls, probes every TLS service of every host,
reads the replication of the two directory and the two mailbox servers, and mails its alerts through
the first mailbox server's port 25 as a trusted relay. The stopped Dovecot's alert is checked on the
all-in-one layout (tests/layouts/demo/test_monitoring.py)."""

try:  # tests/layouts is a plain directory, or a package named layouts
    from monitoring_checks import (
        monitor,
        test_an_alert_reaches_the_postmaster_mailbox_through_the_first_mailbox_server,
        test_every_exporter_and_probe_is_up,
        test_failed_logins_are_counted_by_dovecot,
        test_nothing_of_the_monitoring_is_open_to_the_network,
        test_replication_is_measured_and_caught_up,
        test_staging_without_antivirus_signatures_is_reported,
        test_the_alert_rules_pass_their_tests_on_the_host,
        test_the_status_page_shows_every_host,
    )
except ImportError:  # pragma: no cover
    from layouts.monitoring_checks import (  # noqa: F401
        monitor,
        test_an_alert_reaches_the_postmaster_mailbox_through_the_first_mailbox_server,
        test_every_exporter_and_probe_is_up,
        test_failed_logins_are_counted_by_dovecot,
        test_nothing_of_the_monitoring_is_open_to_the_network,
        test_replication_is_measured_and_caught_up,
        test_staging_without_antivirus_signatures_is_reported,
        test_the_alert_rules_pass_their_tests_on_the_host,
        test_the_status_page_shows_every_host,
    )
