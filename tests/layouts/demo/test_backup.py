"""Backups (tests/layouts/backup_checks.py, docs/backup.md) on the all-in-one layout: Hà Nam on one
host, nightly; the failed run and the helpdesk's mailbox restore."""

try:  # tests/layouts is a plain directory, or a package named layouts
    from backup_checks import *  # noqa: F403 (pytest collects the tests and fixtures imported here)
except ImportError:  # pragma: no cover
    from layouts.backup_checks import *  # noqa: F403


def test_a_full_backup_disk_fails_the_run_loudly_and_loses_nothing(stage):
    # Issue 13 ("Done when"): a backup target that is full fails loudly at run time and never reports
    # success (docs/backup.md, "Results"). The all-in-one host keeps its repository on its own disk:
    # here a copy of it on a small tmpfs filled to the last byte stands in for that disk.
    host = mx(stage)  # noqa: F405
    if host.run("test -f /var/lib/congvu/backup/status.json").returncode != 0:
        back_up(host)  # noqa: F405
    last_success = status(host)["last_success"]  # noqa: F405
    repo = "/var/backups/congvu/borg"
    size = int(host.out(f"du -sb {repo}").split()[0])
    host.out(f"mv {repo} {repo}.away && mkdir -m 0700 {repo} "
             f"&& mount -t tmpfs -o size={size + (8 << 20)},mode=0700 congvu-full {repo} "
             f"&& cp -a {repo}.away/. {repo}/")
    host.run(f"cat /dev/zero > {repo}/filler")  # until the disk is full: "No space left on device"
    try:
        assert host.out(f"df --output=avail -B1 {repo} | tail -n 1").strip() == "0"
        assert host.run("systemctl start congvu-backup.service", timeout=600).returncode != 0
        failed = status(host)  # noqa: F405
        assert failed["result"] == "failed" and failed["last_success"] == last_success, failed
        assert metrics(host)["congvu_backup_last_run_success"] == 0  # noqa: F405
        journal = host.journal(("congvu-backup",), 40)
        assert "FAILED at step" in journal and "space" in journal.lower(), journal
    finally:
        host.run(f"umount {repo}; rmdir {repo}; mv {repo}.away {repo}; "
                 "systemctl reset-failed congvu-backup.service")
    # the repository itself is untouched: the next run succeeds on it
    assert back_up(host)["result"] == "ok"  # noqa: F405
