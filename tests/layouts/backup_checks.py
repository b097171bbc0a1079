"""Backups on a converged layout (issue 13, docs/backup.md), over the wire and on each host.

Every host backs up what its groups hold into its Borg repository on the policy's schedule; a run
writes its result where monitoring reads it; a failed run is visible and exits non-zero; a mailbox
deleted by mistake comes back from the backup, byte for byte with its flags, and a deleted or changed
directory entry comes back as it was, password included, both through ``playbooks/restore.yml`` as the
helpdesk runs it. The mailbox tests use their own ``sec.*`` account
(tests/layouts/attacks.py), deleted at the end.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pathlib
import re
import shlex
import subprocess
import uuid

from attacks import (  # noqa: F401  (accounts: the fixture)
    accounts,
    imap_login,
    imap_session,
    ldap_attrs,
    ldap_modify,
    ldap_root,
    mx,
    tls_context,
)
from mailcore import imap_quote

from congvu.backup import schedule

ROOT = pathlib.Path(__file__).resolve().parents[2]
RESTORED = "Khôi phục"  # backup_restore_folder_prefix (roles/backup/defaults/main.yml)


def borg_env(host) -> str:
    """The role's Borg environment on ``host`` (/etc/congvu/backup.json), as shell assignments."""
    env = json.loads(host.out("cat /etc/congvu/backup.json"))["env"]
    return " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())


def borg(host, args: str, check: bool = True):
    return host.run(f"{borg_env(host)} borg {args}", check=check, timeout=600)


def status(host) -> dict:
    return json.loads(host.out("cat /var/lib/congvu/backup/status.json"))


def metrics(host) -> dict[str, float]:
    text = host.out("cat /var/lib/prometheus/node-exporter/congvu_backup.prom")
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(congvu_\w+) (\S+)$", text, re.M)}


def back_up(host) -> dict:
    """Start the installed unit, as the timer does, and return the run's status."""
    run = host.run("systemctl start congvu-backup.service", timeout=900)
    assert run.returncode == 0, host.journal(("congvu-backup",), 60)
    return status(host)


def newest_archive(host) -> str:
    return borg(host, "list --short --last 1").stdout_text.strip()


# --- every host ----------------------------------------------------------------------------------

def test_every_host_is_backed_up_on_the_policy_schedule(stage):
    # Hà Giang Art 10.2.d (weekly, Friday, end of the working day) or the province's nightly default.
    plan = schedule(stage.policy)
    for host in stage.hosts.values():
        shown = host.out("systemctl show congvu-backup.timer -p TimersCalendar -p UnitFileState "
                         "-p ActiveState")
        assert f"OnCalendar={plan['on_calendar']} " in shown, shown
        assert "UnitFileState=enabled" in shown and "ActiveState=active" in shown, shown
        # the repository is encrypted (repokey: the key inside, sealed by the passphrase)
        info = borg(host, "info --json").stdout_text
        assert json.loads(info)["encryption"]["mode"] == "repokey-blake2"
        assert host.out("stat -c %a /etc/congvu/backup.passphrase").strip() == "600"
        prune = host.out("grep -- '--keep-within' /usr/local/sbin/congvu-backup")
        assert f"--keep-within {plan['keep_within_days']}d --keep-last {plan['keep_last']}" in prune


def test_each_host_backup_holds_what_the_host_holds(stage):
    for host in stage.hosts.values():
        before = metrics(host) if host.run("test -f /var/lib/prometheus/node-exporter/congvu_backup.prom"
                                           ).returncode == 0 else {}
        if "mail_servers" in host.groups:
            # at least one mailbox in the store: opening the postmaster's inbox makes its Maildir
            host.out(f"doveadm mailbox status -u postmaster@{stage.policy['domains']['primary']} "
                     "messages INBOX")
        result = back_up(host)
        assert result["result"] == "ok", result
        archive = newest_archive(host)
        assert archive == result["archive"] and archive.startswith(host.name + "-")
        paths = set(borg(host, f"list --short ::{archive}").stdout_text.splitlines())
        groups = set(host.groups)
        # every host: its TLS key and the CA certificate (with /etc)
        assert {"etc/ssl/congvu/ca.crt", "etc/congvu/backup.json"} <= paths, host.name
        if "ldap_servers" in groups:
            data = borg(host, f"extract --stdout ::{archive} "
                              "var/backups/congvu/staging/directory/data.ldif").stdout_text
            live = host.out("slapcat -n 1")
            entries = [len(re.findall(r"^dn: ", text, re.M)) for text in (data, live)]
            assert entries[0] == entries[1] > 10, entries
            assert "var/backups/congvu/staging/directory/config.ldif" in paths
        if "mail_servers" in groups:
            # every mailbox of the store, as it was when the run started
            live = set(host.out("cd / && find var/vmail -mindepth 2 -maxdepth 2 -type d "
                                "-not -name '.congvu-tmp-*'").split())
            assert live and live <= paths, sorted(live - paths)
            assert "var/lib/congvu" in paths
        if "filter_servers" in groups:
            assert any(p.startswith("var/lib/rspamd/dkim/") and p.endswith(".key") for p in paths)
            # Rspamd's Redis (Bayes, history), a snapshot that Redis itself reads back
            dump = "var/backups/congvu/staging/rspamd/dump.rdb"
            rdb = borg(host, f"extract --stdout ::{archive} {dump}").stdout
            assert rdb.startswith(b"REDIS"), rdb[:16]
        if "webmail_servers" in groups:
            db = [p for p in paths if p.startswith("var/backups/congvu/staging/webmail/")]
            assert db, sorted(p for p in paths if "webmail" in p)
            users = host.out(f"d=$(mktemp -d) && cd $d && {borg_env(host)} borg extract ::{archive} {db[0]} "
                             f"&& sqlite3 $d/{db[0]} 'select count(*) from users'; rm -rf $d")
            assert users.strip().isdigit()
        # the staging area is emptied; the dumps live only in the archive
        assert host.out(f"ls -A {shlex.quote('/var/backups/congvu/staging')}").strip() == ""
        # monitoring: success, and a newer success time than before
        now = metrics(host)
        assert now["congvu_backup_last_run_success"] == 1
        assert now["congvu_backup_last_success_timestamp_seconds"] >= result["ended"]
        assert now["congvu_backup_last_success_timestamp_seconds"] > before.get(
            "congvu_backup_last_success_timestamp_seconds", 0)


# --- the mail host: a failed run, a restore ------------------------------------------------------

def test_a_failed_backup_is_visible_and_exits_non_zero(stage):
    host = mx(stage)
    if host.run("test -f /var/lib/congvu/backup/status.json").returncode != 0:
        back_up(host)
    last_success = status(host)["last_success"]
    repo = "/var/backups/congvu/borg"
    host.out(f"mv {repo} {repo}.away")
    try:
        run = host.run("systemctl start congvu-backup.service", timeout=600)
        assert run.returncode != 0
        failed = status(host)
        assert failed["result"] == "failed" and "step archive" in failed["message"], failed
        assert failed["last_success"] == last_success
        assert metrics(host)["congvu_backup_last_run_success"] == 0
        assert metrics(host)["congvu_backup_last_success_timestamp_seconds"] == last_success
        assert "FAILED at step 'archive'" in host.journal(("congvu-backup",), 30)
        assert host.out("systemctl show congvu-backup.service -p Result --value").strip() != "success"
    finally:
        host.run(f"mv {repo}.away {repo} && systemctl reset-failed congvu-backup.service")
    # a wrong passphrase fails the same way, and Borg's reason is in the journal
    secret = "/etc/congvu/backup.passphrase"
    host.out(f"cp -p {secret} {secret}.kept && echo not-the-passphrase-at-all > {secret}")
    try:
        assert host.run("systemctl start congvu-backup.service", timeout=600).returncode != 0
        assert status(host)["result"] == "failed"
        assert "passphrase" in host.journal(("congvu-backup",), 30).lower()
    finally:
        host.run(f"mv {secret}.kept {secret} && systemctl reset-failed congvu-backup.service")
    # the next run, started as the operator does before maintenance (docs/backup.md, "Back up now")
    failed_at = status(host)["ended"]
    now = playbook(stage, "policy.yml", "backup.yml", "-e", "congvu_policy_quiet=true",
                   "-e", "backup_now=true")
    assert now.returncode == 0, now.stdout[-3000:]
    assert status(host)["result"] == "ok" and status(host)["ended"] >= failed_at
    assert metrics(host)["congvu_backup_last_run_success"] == 1


def test_a_deploy_with_the_wrong_passphrase_stops_before_changing_it(stage):
    host = mx(stage)
    before = host.out("sha256sum /etc/congvu/backup.passphrase")
    run = playbook(stage, "policy.yml", "backup.yml", "-e", "congvu_policy_quiet=true",
                   "-e", "backup_passphrase=a-wrong-passphrase-of-30-chars")
    assert run.returncode != 0
    assert "backup_passphrase does not open the repository" in run.flat, run.stdout[-3000:]
    assert host.out("sha256sum /etc/congvu/backup.passphrase") == before


def raw_message(subject: str, to: str) -> bytes:
    return (f"From: Văn thư <vanthu@example.gov.vn>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{uuid.uuid4()}@test.invalid>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            "Công văn số 12/KT gửi kèm.\r\nTrân trọng.\r\n").encode()


def fetch_all(conn, folder: str) -> dict[str, tuple[bytes, set[str]]]:
    """Message-ID -> (raw message, flags) of every message in ``folder``."""
    typ, _ = conn.select(imap_quote(folder), readonly=True)
    assert typ == "OK", folder
    _, ids = conn.search(None, "ALL")
    found = {}
    for num in ids[0].split():
        _, data = conn.fetch(num, "(FLAGS BODY.PEEK[])")
        flags = set(re.search(rb"FLAGS \(([^)]*)\)", data[0][0]).group(1).decode().split())
        raw = data[0][1]
        mid = re.search(rb"^Message-ID: (\S+)", raw, re.M | re.I).group(1).decode()
        found[mid] = (raw, flags)
    return found


def playbook(stage, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    """``ansible-playbook`` with the layout's inventory, as an operator runs it: playbooks/<name>
    for each argument ending in .yml, the rest passed on."""
    env = {**os.environ, "CONGVU_STAGE_NAME": stage.name, "ANSIBLE_FORCE_COLOR": "0"}
    argv = [str(ROOT / "playbooks" / a) if a.endswith(".yml") else a for a in args]
    run = subprocess.run(["ansible-playbook", "-i", str(stage.inventory / "hosts.yml"), *argv],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    run.flat = " ".join(run.stdout.split())  # Ansible's YAML output folds long lines
    return run


def restore_playbook(stage, *extra: str) -> subprocess.CompletedProcess:
    return playbook(stage, "restore.yml", *extra)


def test_a_deleted_mailbox_comes_back_from_the_backup_with_its_flags(stage, accounts):  # noqa: F811
    person = accounts.ensure("saoluu")
    # a mailbox left by an earlier run of this test (the account goes, its mail store stays)
    home = mx(stage).out(f"doveadm user -f home {person.mail}").strip()
    assert home.startswith("/var/vmail/"), home
    mx(stage).out(f"rm -rf {shlex.quote(home)}")
    folder = "Hồ sơ lưu trữ"
    conn = imap_session(stage, person)
    try:
        conn.create(imap_quote(folder))
        conn.append("INBOX", r"(\Seen \Flagged)", None, raw_message("Công văn gốc", person.mail))
        conn.append(imap_quote(folder), r"(\Seen)", None, raw_message("Hồ sơ năm 2025", person.mail))
        kept = {**fetch_all(conn, "INBOX"), **fetch_all(conn, folder)}
    finally:
        conn.logout()
    assert len(kept) == 2
    back_up(mx(stage))
    # the user deletes everything: the inbox's message and the whole folder
    conn = imap_session(stage, person)
    try:
        conn.select("INBOX")
        conn.store("1:*", "+FLAGS", r"(\Deleted)")
        conn.expunge()
        conn.delete(imap_quote(folder))
    finally:
        conn.logout()

    today = dt.date.fromisoformat(mx(stage).out("date +%F").strip())
    run = restore_playbook(stage, "-e", f"restore_mailbox={person.mail}", "-e", f"restore_date={today}")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert f"restored 2 message(s) of {person.mail}" in run.flat, run.stdout[-3000:]

    target = f"{RESTORED} {today}"
    conn = imap_session(stage, person)
    try:
        _, listed = conn.list()
        names = [line.decode() for line in listed]
        assert any(imap_quote(target) in n for n in names), names
        back = {**fetch_all(conn, f"{target}/INBOX"), **fetch_all(conn, f"{target}/{folder}")}
    finally:
        conn.logout()
    assert back.keys() == kept.keys()
    for mid, (raw, flags) in kept.items():
        assert back[mid][0] == raw, mid  # byte for byte
        assert back[mid][1] >= flags, (mid, back[mid][1], flags)

    # one folder only, again: a new folder beside the first, never a duplicate in it
    run = restore_playbook(stage, "-e", f"restore_mailbox={person.mail}", "-e", "restore_folder=INBOX")
    assert run.returncode == 0, run.stdout[-3000:]
    assert f"restored 1 message(s) of {person.mail} into '{target} (2)'" in run.flat, run.stdout[-3000:]


def test_a_deleted_directory_entry_comes_back_with_its_password(stage, accounts):  # noqa: F811
    directory = stage.first("ldap_servers")
    person = accounts.ensure("saoluu3")
    name = ldap_attrs(stage, person.dn, "displayName", "cn")
    back_up(directory)
    ldap_root(stage, f"ldapdelete '{person.dn}'")
    assert not imap_login(stage, person)

    shown = restore_playbook(stage, "-e", f"restore_entry={person.mail}")
    assert shown.returncode == 0, shown.stdout[-3000:]
    assert "deleted since the archive" in shown.flat and "add --apply" in shown.flat
    assert ldap_root(stage, f"ldapsearch -LLL -s base -b '{person.dn}' dn", check=False).returncode == 32

    done = restore_playbook(stage, "-e", f"restore_entry={person.mail}", "-e", "restore_apply=true")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert f"re-created {person.dn}" in done.flat, done.stdout[-3000:]
    assert ldap_attrs(stage, person.dn, "displayName", "cn") == name
    assert imap_login(stage, person)  # the password hash came back with it

    # a changed attribute is put back; the rest is left alone
    ldap_modify(stage, f"dn: {person.dn}\nchangetype: modify\nreplace: cn\ncn: Tên đã sửa nhầm\n")
    fixed = restore_playbook(stage, "-e", f"restore_entry={person.mail}", "-e", "restore_apply=true")
    assert fixed.returncode == 0 and "put back 1 attribute(s)" in fixed.flat, fixed.stdout[-3000:]
    assert ldap_attrs(stage, person.dn, "cn") == {"cn": name["cn"]}
    again = restore_playbook(stage, "-e", f"restore_entry={person.mail}")
    assert "nothing to restore" in again.flat, again.stdout[-3000:]


def test_a_restore_refuses_bad_requests_and_changes_nothing(stage, accounts):  # noqa: F811
    host = mx(stage)
    run = restore_playbook(stage, "-e", "restore_mailbox=not-an-address")
    assert run.returncode != 0 and "give -e restore_mailbox=" in run.flat
    person = accounts.ensure("saoluu2")
    before = host.out(f"doveadm mailbox list -u {person.mail}")
    domain = person.mail.split("@")[1]
    for args, reason in ((f"mailbox khongco.{uuid.uuid4().hex[:6]}@{domain}", "knows no mailbox"),
                         (f"mailbox {person.mail} --date 2001-01-01", "on or before 2001-01-01"),
                         (f"mailbox {person.mail} --archive nosuch", "no archive named 'nosuch'"),
                         (f"entry khongco.{uuid.uuid4().hex[:6]}@{domain}", "no entry with this address")):
        bad = host.run(f"congvu-restore {args}")
        assert bad.returncode == 1 and reason in bad.stderr_text, (args, bad.stderr_text)
    assert host.out(f"doveadm mailbox list -u {person.mail}") == before
