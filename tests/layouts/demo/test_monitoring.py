"""Monitoring and alerts (tests/layouts/monitoring_checks.py, docs/monitoring.md) on the all-in-one
layout: Hà Nam's one host is also its monitoring host, and mails its alerts over loopback. Nothing
replicates here: the replication figures are checked on the split layout."""

try:  # tests/layouts is a plain directory, or a package named layouts
    from monitoring_checks import (
        monitor,
        test_a_stopped_dovecot_raises_its_alert_and_mails_it_in_vietnamese,
        test_an_alert_reaches_the_postmaster_mailbox_through_the_first_mailbox_server,
        test_every_exporter_and_probe_is_up,
        test_failed_logins_are_counted_by_dovecot,
        test_nothing_of_the_monitoring_is_open_to_the_network,
        test_staging_without_antivirus_signatures_is_reported,
        test_the_alert_rules_pass_their_tests_on_the_host,
        test_the_status_page_shows_every_host,
    )
except ImportError:  # pragma: no cover
    from layouts.monitoring_checks import (  # noqa: F401
        monitor,
        test_a_stopped_dovecot_raises_its_alert_and_mails_it_in_vietnamese,
        test_an_alert_reaches_the_postmaster_mailbox_through_the_first_mailbox_server,
        test_every_exporter_and_probe_is_up,
        test_failed_logins_are_counted_by_dovecot,
        test_nothing_of_the_monitoring_is_open_to_the_network,
        test_staging_without_antivirus_signatures_is_reported,
        test_the_alert_rules_pass_their_tests_on_the_host,
        test_the_status_page_shows_every_host,
    )
