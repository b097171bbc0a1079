"""Backups on the split layout (Gia Lai, four hosts): each host's schedule, and each host's archive
holding what that host holds (the directory on the LDAP host, the mail store on the mail host, the
DKIM keys on the filter host, the webmail database on the webmail host). The failed run and the
mailbox restore are checked on the all-in-one layout (tests/layouts/backup_checks.py)."""

try:  # tests/layouts is a plain directory, or a package named layouts
    from backup_checks import (
        test_each_host_backup_holds_what_the_host_holds,
        test_every_host_is_backed_up_on_the_policy_schedule,
    )
except ImportError:  # pragma: no cover
    from layouts.backup_checks import (  # noqa: F401
        test_each_host_backup_holds_what_the_host_holds,
        test_every_host_is_backed_up_on_the_policy_schedule,
    )
