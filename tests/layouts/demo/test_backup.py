"""Backups (tests/layouts/backup_checks.py, docs/backup.md) on the all-in-one layout: Hà Nam on one
host, nightly; the failed run and the helpdesk's mailbox restore."""

try:  # tests/layouts is a plain directory, or a package named layouts
    from backup_checks import *  # noqa: F403 (pytest collects the tests and fixtures imported here)
except ImportError:  # pragma: no cover
    from layouts.backup_checks import *  # noqa: F403
