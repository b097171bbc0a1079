"""The backup server of the split layout (issue 13, docs/backup.md "Backup server"): the directory,
mail and filter hosts keep their Borg repositories on webmail.gialai.gov.vn (group backup_servers),
each over SSH with its own key, which may run only ``borg serve --append-only`` on that host's own
repository. A backup server that cannot be reached fails the run and the deploy loudly, never
silently; what a host's key deletes stays in the repository until the server compacts."""

from __future__ import annotations

import json
import shlex
import uuid

try:  # tests/layouts is a plain directory, or a package named layouts
    from backup_checks import back_up, borg, borg_env, metrics, playbook, status
except ImportError:  # pragma: no cover
    from layouts.backup_checks import back_up, borg, borg_env, metrics, playbook, status

from congvu.backup import SERVER_ROOT, SERVER_USER

KEY = "/etc/congvu/backup_ssh_key"


def server(stage):
    return stage.first("backup_servers")


def clients(stage):
    return [h for h in stage.hosts.values() if h.name != server(stage).name]


def segments(host, repo: str) -> set[str]:
    return set(host.out(f"cd {shlex.quote(repo)}/data && find . -type f -name '[0-9]*'").split())


def test_every_other_host_keeps_its_repository_on_the_backup_server(stage):
    backup = server(stage)
    keys = backup.out(f"cat ~{SERVER_USER}/.ssh/authorized_keys")
    for host in clients(stage):
        env = json.loads(host.out("cat /etc/congvu/backup.json"))["env"]
        path = f"{SERVER_ROOT}/{host.name}"
        assert env["BORG_REPO"] == f"ssh://{SERVER_USER}@{backup.name}{path}"
        assert "StrictHostKeyChecking=yes" in env["BORG_RSH"]
        # no copy on the host's own disk: it would die with the host
        assert host.run("test -e /var/backups/congvu/borg").returncode != 0
        # the repository is on the server, made by this host's key, and holds this host's archives
        result = back_up(host)
        assert result["result"] == "ok", result
        assert backup.run(f"test -f {path}/config").returncode == 0
        assert borg(host, "list --short --last 1").stdout_text.strip() == result["archive"]
        # the host's key is in the server's authorized_keys, bound to its repository, append-only
        public = host.out(f"cat {KEY}.pub").split()[1]
        [line] = [k for k in keys.splitlines() if public in k]
        forced = f'command="borg serve --append-only --restrict-to-repository {path}",restrict '
        assert line.startswith(forced), line
        assert host.out(f"stat -c %a {KEY}").strip() == "600"
        # the server's host key is pinned, not learnt on first use
        pinned = host.out("cat /etc/congvu/backup_known_hosts").split()
        assert pinned[0] == backup.name
        assert pinned[1:3] == backup.out("cat /etc/ssh/ssh_host_ed25519_key.pub").split()[:2]
    # the server's own copy stays on its disk (its /etc and the webmail database)
    assert json.loads(backup.out("cat /etc/congvu/backup.json"))["env"]["BORG_REPO"].startswith("/")
    assert backup.out("systemctl is-enabled congvu-backup-compact.timer").strip() == "enabled"


def test_the_key_of_a_host_gone_from_the_layout_is_removed_from_the_server(stage):
    # A host taken out of the inventory (decommissioned, or dead and not rebuilt) must not keep a
    # write path into the backup server: the backup_server role removes its key line, and only it;
    # its repository stays for the operator (docs/backup.md, "Backup server").
    backup, gone = server(stage), "da-xoa.gialai.gov.vn"
    keys = f"~{SERVER_USER}/.ssh/authorized_keys"
    stale = (f'command="borg serve --append-only --restrict-to-repository {SERVER_ROOT}/{gone}",restrict '
             "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDaXoaKhoiKhoSaoLuuKiemThuCongVuMail0000 "
             f"congvu-backup@{gone}")
    before = backup.out(f"cat {keys}").splitlines()
    backup.out(f"echo {shlex.quote(stale)} >> {keys}")
    run = playbook(stage, "policy.yml", "backup.yml", "-e", "congvu_policy_quiet=true",
                   "--limit", backup.name)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert f"item={gone}" in run.flat, run.stdout[-3000:]
    assert backup.out(f"cat {keys}").splitlines() == before  # that line gone, every other one as it was
    assert len(before) == len(clients(stage))


def test_a_host_key_runs_nothing_but_borg_on_its_own_repository(stage):
    backup, host = server(stage), stage.first("mail_servers")
    ssh = (f"ssh -i {KEY} -o IdentitiesOnly=yes -o BatchMode=yes "
           "-o UserKnownHostsFile=/etc/congvu/backup_known_hosts "
           f"-o StrictHostKeyChecking=yes {SERVER_USER}@{backup.name}")
    # a shell command is replaced by the forced borg serve: nothing runs
    marker = f"/tmp/congvu-probe-{uuid.uuid4().hex}"
    host.run(f"{ssh} touch {marker} </dev/null", timeout=60)
    assert backup.run(f"test -e {marker}").returncode != 0
    # no tunnel through the server either (restrict)
    assert host.run(f"{ssh} -N -R 127.0.0.1:9999:127.0.0.1:22 -o ExitOnForwardFailure=yes "
                    "-o ConnectTimeout=10 </dev/null", timeout=60).returncode != 0
    # another host's repository is out of reach of this key
    other = stage.first("ldap_servers").name
    env = borg_env(host).replace(f"{SERVER_ROOT}/{host.name}", f"{SERVER_ROOT}/{other}")
    stolen = host.run(f"{env} borg list", timeout=120)
    assert stolen.returncode != 0
    assert "not allowed" in stolen.stderr_text.lower(), stolen.stderr_text


def test_what_a_host_deletes_stays_on_the_server_until_it_compacts(stage):
    # An intruder with root on the mail host has its key and passphrase: a delete and a compaction
    # from there must not free a single segment on the server.
    backup, host = server(stage), stage.first("mail_servers")
    repo = f"{SERVER_ROOT}/{host.name}"
    probe = f"probe-{uuid.uuid4().hex[:8]}"
    borg(host, f"create ::{probe} /etc/hostname /etc/os-release")
    before = segments(backup, repo)
    borg(host, f"delete ::{probe}")
    borg(host, "compact", check=False)  # refused or a no-op in append-only mode
    assert probe not in borg(host, "list --short").stdout_text.split()
    assert before <= segments(backup, repo), "a segment was removed through the host's key"
    # the server's own compaction, on its timer, is what frees the space; the repositories stay whole
    run = backup.run("systemctl start congvu-backup-compact.service", timeout=600)
    assert run.returncode == 0, backup.journal(("congvu-backup-compact",), 30)
    log = backup.journal(("congvu-backup-compact",), 30)
    for client in clients(stage):
        assert f"{SERVER_ROOT}/{client.name} compacted" in log, log
    assert borg(host, "list --short --last 1").stdout_text.strip()


def test_an_unreachable_backup_server_fails_the_run_and_the_deploy_loudly(stage):
    backup, host = server(stage), stage.first("filter_servers")
    back_up(host)
    last_success = status(host)["last_success"]
    backup.out("systemctl stop ssh.service")
    try:
        run = host.run("systemctl start congvu-backup.service", timeout=600)
        assert run.returncode != 0
        failed = status(host)
        assert failed["result"] == "failed" and failed["last_success"] == last_success, failed
        assert metrics(host)["congvu_backup_last_run_success"] == 0
        assert "FAILED at step" in host.journal(("congvu-backup",), 30)
        # the deploy of that host stops at the role's check, naming the server
        deploy = playbook(stage, "policy.yml", "backup.yml", "-e", "congvu_policy_quiet=true",
                          "--limit", host.name)
        assert deploy.returncode != 0
        named = f"Where the backup server {backup.name} cannot be reached"
        assert named in deploy.flat, deploy.stdout[-3000:]
    finally:
        backup.run("systemctl start ssh.service")
        host.run("systemctl reset-failed congvu-backup.service")
    assert back_up(host)["result"] == "ok"
    assert metrics(host)["congvu_backup_last_run_success"] == 1
