"""Two mailbox servers on the split layout (docs/mailcore.md, "Two mailbox servers"; issue 14, item 2):
Dovecot's replicator keeps every mailbox on both, both ways, over TLS; both are MX; a mailbox server
killed outright loses no accepted message, the other goes on receiving and serving, and the killed one
catches up when it is back (Hà Nam Art 10.7, Gia Lai Art 8.3.a: "khả năng dự phòng").
The loss and rebuild of the first mailbox server from nothing is drilled in test_recovery_split.py."""

from __future__ import annotations

import contextlib
import functools
import imaplib
import secrets
import shlex
import smtplib
import uuid

import faults
import pytest
from attacks import imap_session
from faults import message_ids
from polling import wait_until  # tests/layouts/ is on sys.path (its conftest's directory)

FOLDER = "Văn bản đi/Tháng 12"
SIEVE = 'require ["fileinto"];\nif header :contains "subject" "Khẩn" { fileinto "INBOX"; stop; }\n'


@pytest.fixture(scope="module")
def pair(stage):
    names = stage.groups["mail_servers"]
    assert len(names) == 2, f"the split layout has two mailbox servers, the inventory lists {names}"
    return [stage.hosts[n] for n in names]


@pytest.fixture(scope="module")
def person(testpeople):
    org = testpeople.top_level()[0]
    password = f"Sao#Chep{secrets.token_hex(3)}9"
    return testpeople.ensure("kiemthu.saochep", "Trần Thị Sao Chép", org, password)


def message(to: str, subject: str) -> tuple[str, bytes]:
    mid = f"<{uuid.uuid4()}@doitac.example.org>"
    return mid, (f"From: congvan@doitac.example.org\r\nTo: {to}\r\nSubject: {subject}\r\n"
                 f"Message-ID: {mid}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                 "Kính gửi: Văn phòng. Nội dung công văn thử nghiệm sao chép hộp thư.\r\n").encode()


def send(host, to: str, subject: str) -> str:
    """One message to ``to`` on ``host``'s port 25 (as another province's server would); its Message-ID."""
    mid, raw = message(to, subject)
    with smtplib.SMTP(host.address, 25, timeout=120) as smtp:
        smtp.ehlo("doitac.example.org")
        smtp.sendmail("congvan@doitac.example.org", [to], raw)
    return mid


def replication_state(pair, mail: str) -> str:
    """Each server's own account of the replication of ``mail``: its replicator's status of the user and
    the latest lines its Dovecot logged about dsync (the message a test failure carries)."""
    parts = []
    for host in pair:
        status = host.run(f"doveadm replicator status {shlex.quote(mail)}").stdout_text
        log = host.run("journalctl -u dovecot --since -20min --no-pager -o short-precise "
                       "| grep -E -i 'dsync|replicat|doveadm' | tail -n 20").stdout_text
        parts.append(f"--- {host.name}: doveadm replicator status\n{status}--- its Dovecot log\n{log}")
    return "\n".join(parts)


def test_each_mailbox_server_replicates_to_the_other_over_tls(stage, pair):
    """Each one's dsync target is the other over TLS; the doveadm port speaks TLS with a certificate the
    CA vouches for under the server's name, is open to the other mailbox server and refused to a host
    that is not one; the shared password is root's alone; a Dovecot that starts syncs every user; a
    stalled sync is given up after 30 s."""
    for host in pair:
        other = next(h for h in pair if h is not host)
        config = host.out("doveconf -n")
        assert f"mail_replica = tcps:{other.name}:12345" in config, config
        assert "notify replication" in config
        # a stalled sync is given up after 30 s of silence, not Dovecot's ten minutes (docs/mailcore.md)
        assert "replication_dsync_parameters = -d -N -l 30 -U -T 30" in config, config
        assert host.out("stat -c '%a %U' /etc/dovecot/dovecot-doveadm.conf.ext").strip() == "600 root"
        assert "doveadm_password" not in config or "# hidden" in config
        status = host.out("doveadm replicator status")
        assert "Total number of known users" in status, status
        # at each start every user is queued for a sync with the other (the catch-up after an outage)
        started = host.out("systemctl show dovecot -p ExecStartPost")
        assert "doveadm replicator replicate -p low *" in started, started
        handshake = other.run(f"openssl s_client -connect {host.name}:12345 -verify_return_error "
                              f"-CAfile /etc/ssl/congvu/ca.crt -verify_hostname {host.name} </dev/null")
        assert handshake.returncode == 0 and "Verify return code: 0 (ok)" in handshake.stdout_text, \
            handshake.stdout_text[-2000:] + handshake.stderr_text[-1000:]
    outsider = stage.first("filter_servers")
    refused = outsider.run(f"timeout 10 bash -c 'exec 3<>/dev/tcp/{pair[0].address}/12345'")
    assert refused.returncode != 0, "the doveadm port is open to a host that is not a mailbox server"


def test_mail_delivered_on_either_server_is_on_the_other_within_seconds(pair, person):
    """Mail that arrives on either MX is in the other's copy of the mailbox, byte for byte, within
    seconds; a folder with a Vietnamese name, a flag and a Sieve script made on one are on the other."""
    first, second = pair
    why = functools.partial(replication_state, pair, person.mail)
    lags = []
    for at, other in ((first, second), (second, first)):
        mid = send(at, person.mail, f"Sao chép {uuid.uuid4().hex[:6]}")
        wait_until(f"{mid} delivered on {at.name}", lambda h=at, m=mid: m in message_ids(h, person.mail))
        lags.append(wait_until(f"{mid} replicated to {other.name}",
                               lambda h=other, m=mid: m in message_ids(h, person.mail), explain=why))
        raw = [h.out(f"doveadm fetch -u {person.mail} text mailbox INBOX header message-id {mid!r}")
               for h in (at, other)]
        assert raw[0] == raw[1], f"{mid} differs between the two copies"
    print(f"replication lag: {', '.join(f'{lag:.1f} s' for lag in lags)}")
    # a folder, a flag and a Sieve script, made on the first, reach the second
    folder, script = f"{FOLDER} {uuid.uuid4().hex[:4]}", f"khan{uuid.uuid4().hex[:4]}"
    first.out(f"doveadm mailbox create -u {person.mail} {shlex.quote(folder)}")
    first.out(f"doveadm flags add -u {person.mail} '\\Flagged' mailbox INBOX all")
    first.out(f"doveadm sieve put -a -u {person.mail} {script}", stdin=SIEVE)
    wait_until("the folder on the second server", lambda: folder in second.out(
        f"doveadm mailbox list -u {person.mail}").splitlines(), explain=why)
    wait_until("the flag on the second server", lambda: second.out(
        f"doveadm search -u {person.mail} mailbox INBOX unflagged").strip() == "", explain=why)
    made = first.out(f"doveadm sieve get -u {person.mail} {script}")
    assert "Khẩn" in made, made
    wait_until("the Sieve script on the second server", lambda: second.run(
        f"doveadm sieve get -u {person.mail} {script}").stdout_text == made, explain=why)


def test_a_killed_mailbox_server_loses_nothing_and_catches_up(stage, pair, person):
    """Gia Lai Art 8.3.a (khả năng dự phòng): the first mailbox server killed outright (podman kill
    --signal KILL) just after it took mail, the second, the other MX, accepts the province's mail and
    serves it over IMAP; back up, both have every message accepted by either (what the first took just
    before it died included), each once."""
    first, second = pair
    why = functools.partial(replication_state, pair, person.mail)
    before = [send(first, person.mail, f"Trước sự cố {i}") for i in range(10)]
    # delivered on the first; replicated or not, they must not be lost with it
    wait_until("the first messages delivered", lambda: set(before) <= set(message_ids(first, person.mail)))
    hosts_file = faults.kill(first)
    try:
        during = [send(second, person.mail, f"Trong sự cố {i}") for i in range(30)]
        wait_until("mail delivered on the second while the first is dead",
                   lambda: set(during) <= set(message_ids(second, person.mail)))
        conn = imap_session(stage, person, second)
        try:
            assert conn.select("INBOX", readonly=True)[0] == "OK"
            typ, found = conn.search(None, "HEADER", "Message-ID", during[-1])
            assert typ == "OK" and len(found[0].split()) == 1, (typ, found)
        finally:
            with contextlib.suppress(imaplib.IMAP4.error):
                conn.logout()
    finally:
        faults.revive(stage, first, hosts_file, ("dovecot", "postfix"))
    accepted = set(before) | set(during)
    # a sync that failed while the first was dead or starting is retried five minutes later (Dovecot's
    # fixed interval, docs/mailcore.md): ten minutes cover one retry and the sync itself
    lag = wait_until("both servers caught up", lambda: all(
        accepted <= set(message_ids(h, person.mail)) for h in pair), seconds=600, explain=why)
    print(f"caught up {lag:.1f} s after its Dovecot was back")
    for host in pair:
        ids = [m for m in message_ids(host, person.mail) if m in accepted]
        assert len(ids) == len(set(ids)) == len(accepted), f"{host.name}: duplicates or losses"
