"""The account lifecycle on the split layout (Gia Lai): the daily run on the mail host binds to the
directory on another host (389 + StartTLS, cn=lifecycle) and succeeds, and it and Dovecot read every
account past slapd's size limit over that connection. The rules themselves, with the clock moved, are
checked on the all-in-one layout (tests/layouts/lifecycle_checks.py)."""

try:  # tests/layouts is a plain directory, or a package named layouts
    from lifecycle_checks import (
        test_the_daily_run_is_scheduled_and_succeeds_today,
        test_the_run_and_dovecot_read_every_account_past_slapds_size_limit,
    )
except ImportError:  # pragma: no cover
    from layouts.lifecycle_checks import (  # noqa: F401
        test_the_daily_run_is_scheduled_and_succeeds_today,
        test_the_run_and_dovecot_read_every_account_past_slapds_size_limit,
    )
