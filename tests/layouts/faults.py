"""Killing a staging host outright, bringing it back as a real server would come back, and reading
which messages a mailbox server holds (the layout tests of a dead server:
tests/layouts/demo-split/test_mail_replication_split.py, test_fault_split.py)."""

from __future__ import annotations

import shlex
import subprocess

from polling import wait_until  # tests/layouts/ is on sys.path (its conftest's directory)


def podman(*args: str) -> None:
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, f"podman {' '.join(args)}: {proc.stderr}"


def kill(host) -> str:
    """``podman kill --signal KILL`` of the host's container; what its /etc/hosts held (for revive)."""
    hosts_file = host.out("cat /etc/hosts")  # what the common role wrote (common_hosts_peers)
    podman("kill", "--signal", "KILL", host.container)
    return hosts_file


def revive(stage, host, hosts_file: str, units: tuple[str, ...]) -> None:
    """Start a killed host again with its address and /etc/hosts, and restart ``units`` (what started
    before /etc/hosts was back could not reach its peers by name); waits until they are active."""
    # A server keeps its address and its /etc/hosts across a crash; a podman container gets a new
    # address and a /etc/hosts of podman's at each start: both are put back as they were.
    network = f"congvu-{stage.name}"
    podman("network", "disconnect", network, host.container)
    podman("network", "connect", "--ip", host.address, network, host.container)
    podman("start", host.container)
    wait_until(f"{host.name} running", lambda: host.run("true").returncode == 0, seconds=120)
    host.out("cat > /etc/hosts", stdin=hosts_file)
    host.out(f"systemctl restart {' '.join(units)}")
    wait_until(f"{' '.join(units)} back on {host.name}", lambda: host.run(
        f"systemctl is-active {' '.join(units)}").stdout_text.split() == ["active"] * len(units),
        seconds=180)


def message_ids(host, mail: str, mailbox: str = "INBOX") -> list[str]:
    """Message-IDs of ``mailbox`` in ``host``'s own copy (doveadm, as root), one per message."""
    proc = host.run(f"doveadm -f tab fetch -u {mail} hdr.message-id mailbox {shlex.quote(mailbox)} all")
    if proc.returncode != 0:
        return []
    return [line.strip() for line in proc.stdout_text.splitlines()[1:] if line.strip()]
