"""The front for mail clients on the split layout (docs/topology.md, "The front"; issue 14, item 3):
HAProxy on the front host passes IMAP, POP3, submission and ManageSieve to the first mailbox server
while it answers and to the second when it does not, with the client's own address (PROXY protocol),
and brings clients back to the first when it returns (Hà Nam Art 10.7, Gia Lai Art 8.3.a: "khả năng
dự phòng"; Ninh Bình Art 15.2: service 24/24). The clients run on the test runner, outside the layout.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import secrets
import smtplib
import socket
import ssl
import time
import uuid
from email.message import EmailMessage

import attacks
import pytest
from polling import wait_for, wait_until  # tests/layouts/ is on sys.path (its conftest's directory)
from webclient import Webmail

TLS_PORTS = {993: "imaps", 995: "pop3s", 465: "submissions"}
LISTENERS = ("imaps", "pop3s", "sieve", "submissions", "submission")


@pytest.fixture(scope="module")
def front(stage):
    fronts = stage.groups.get("front_servers") or []
    assert len(fronts) == 1, f"the split layout has one front host, the inventory lists {fronts}"
    return stage.hosts[fronts[0]]


@pytest.fixture(scope="module")
def pair(stage):
    return [stage.hosts[n] for n in stage.groups["mail_servers"]]


@pytest.fixture(scope="module")
def person(testpeople):
    org = testpeople.top_level()[0]
    return testpeople.ensure("kiemthu.front", "Lê Văn Cổng", org, f"Cong#Truoc{secrets.token_hex(3)}7")


def sessions(host, mail: str) -> list[str]:
    """The addresses ``mail``'s IMAP and POP3 sessions on ``host`` come from (doveadm who)."""
    out = host.run(f"doveadm who -1 {mail}").stdout_text
    return re.findall(r"\b(\d+\.\d+\.\d+\.\d+)\b", out)


def server_states(front) -> str:
    """HAProxy's own account of its servers (the message a failed wait carries)."""
    state = front.run("echo 'show servers state' | socat stdio /run/haproxy/admin.sock").stdout_text
    log = front.run("journalctl -u haproxy --since -10min --no-pager | tail -n 20").stdout_text
    return f"--- show servers state\n{state}--- journalctl -u haproxy\n{log}"


def served_by(pair, person, address) -> list[str]:
    """The mailbox servers holding a session of ``person`` from ``address``."""
    return [h.name for h in pair if address in sessions(h, person.mail)]


def running(front, listener: str, server: str) -> bool:
    """HAProxy counts ``server`` up in ``listener`` (srv_op_state 2, SRV_ST_RUNNING)."""
    out = front.run(f"echo 'show servers state {listener}' | socat stdio /run/haproxy/admin.sock").stdout_text
    return any(f[3] == server and f[5] == "2" for f in (line.split() for line in out.splitlines())
               if len(f) > 5)


def note(to: str, subject: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = to, to, subject
    msg.set_content("Kính gửi: Văn phòng. Thư gửi qua cổng trước.\n")
    return msg


def test_front_passes_every_client_port_with_the_client_address(stage, front, pair, person):
    """Every client port of the front answers with a mailbox server's certificate valid for the front's
    name; logins over IMAP, POP3, submission (both) and ManageSieve work through it; the mailbox server
    sees the client's own address (PROXY protocol), not the front's; mail submitted through it is
    delivered; the proxied ports are closed to everyone but the front."""
    assert front.run("systemctl is-active haproxy").stdout_text.strip() == "active"
    assert front.run("haproxy -c -q -f /etc/haproxy/haproxy.cfg").returncode == 0
    # a dead (silent) server costs the first client who meets it one connect timeout of 2 s
    # (docs/topology.md, "The front"; Ninh Bình Art 15.2, service 24/24)
    assert re.search(r"^\s*timeout connect 2s$", front.out("cat /etc/haproxy/haproxy.cfg"), re.M)
    # every listener's own check passes on both servers (its greeting and log-out strings are right);
    # a test that killed the first mailbox server just before (the fault and replication tests) leaves
    # it back but not yet counted up: three good checks, about 3 s
    wait_until("HAProxy counts both mailbox servers up on every listener", lambda: all(
        running(front, listener, h.name) for listener in LISTENERS for h in pair), seconds=60,
        explain=lambda: server_states(front))
    for port, name in TLS_PORTS.items():
        context = attacks.tls_context(stage, verify_name=True)
        with socket.create_connection((front.address, port), timeout=30) as raw, \
                context.wrap_socket(raw, server_hostname=front.name) as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3"), (name, tls.version())
            subject = dict(x[0] for x in tls.getpeercert()["subject"])
            assert subject["commonName"] == pair[0].name, f"{name} via the front: {subject}"
    assert attacks.imap_login(stage, person, host=front)
    assert not attacks.imap_login(stage, person, "Sai#MatKhau2026x", host=front)
    assert attacks.pop3_login(stage, person, host=front)
    assert attacks.smtp_login(stage, person, host=front)
    assert attacks.sieve_login(stage, person, host=front)
    conn = attacks.imap_session(stage, person, front)
    try:
        seen = wait_for(lambda: served_by(pair, person, stage.gateway), 30)
        assert seen == [pair[0].name], (
            f"the IMAP session through the front should be on {pair[0].name} from {stage.gateway} (the "
            f"client), not from {front.address} (the front): "
            f"{[(h.name, sessions(h, person.mail)) for h in pair]}")
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            conn.logout()
    # submission on 587 with STARTTLS through the front, delivered; Postfix logged the client's address
    subject = f"Qua cổng trước {uuid.uuid4().hex[:8]}"
    with smtplib.SMTP(front.address, 587, timeout=60) as smtp:
        smtp.starttls(context=attacks.tls_context(stage, verify_name=False))
        smtp.login(person.mail, person.password)
        smtp.send_message(note(person.mail, subject))
    assert attacks.imap_find(stage, person, subject.split()[-1]), f"{subject!r} not delivered"
    # (and no line of the front's own address on either proxied submission service: the front's checks
    # of Postfix go to its direct ports, since a check's PROXY header, a LOCAL one, can make smtpd exit)
    logged = pair[0].out("journalctl -u postfix@- --since -5min --no-pager "
                         "| grep -E 'postfix/submissions?-front'")
    assert f"[{stage.gateway}]" in logged and f"[{front.address}]" not in logged, logged[-2000:]
    # the proxied ports: from the runner and from a host that is not the front, refused
    outsider = stage.first("filter_servers")
    for port in (10993, 10995, 14190, 10465, 10587):
        with pytest.raises(OSError):
            socket.create_connection((pair[0].address, port), timeout=10).close()
        probe = outsider.run(f"timeout 10 bash -c 'exec 3<>/dev/tcp/{pair[0].address}/{port}'")
        assert probe.returncode != 0, f"{port} on {pair[0].name} is open to {outsider.name}"


def test_front_moves_clients_to_the_second_server_and_back(stage, front, pair, person):
    """The first mailbox server's Dovecot stopped: the first client to meet it takes it out of the front
    (observe layer4) and, at its next connection at the latest, is on the second without waiting for a
    check; the webmail (which uses the front) logs in. Dovecot back: the sessions left on the second are
    closed, new ones are on the first again, and every listener counts both servers up."""
    first, second = pair
    gateway = stage.gateway
    why = lambda: server_states(front)  # noqa: E731
    assert running(front, "imaps", first.name) and running(front, "imaps", second.name), why()
    since = first.out("date '+%F %T'").strip()
    first.out("systemctl stop dovecot")
    held = None
    try:
        # the first client to meet the stopped server takes it out of the front at once; that client's
        # own connection is closed with the server's sessions (on-marked-down shutdown-sessions), and
        # its next one, at once, is on the second: no wait for a check
        start, errors = time.monotonic(), []
        for _ in range(3):
            try:
                held = attacks.imap_session(stage, person, front)
                break
            except (imaplib.IMAP4.error, OSError) as exc:
                errors.append(repr(exc))
        print(f"first IMAP session after Dovecot stopped: {time.monotonic() - start:.1f} s; "
              f"connections closed before it: {errors or 'none'}")
        assert held and len(errors) <= 1, f"{errors}\n{why()}"
        assert served_by(pair, person, gateway) == [second.name], why()
        assert not running(front, "imaps", first.name), why()
        assert held.select("INBOX")[0] == "OK"
        web = Webmail(stage)
        ok, _ = web.login(person.mail, person.password)
        assert ok, f"webmail login through the front failed while {first.name} is down\n{why()}"
        page = web.request("GET", "/?_task=mail&_mbox=INBOX")
        assert page.status == 200 and b"request_token" in page.body
    finally:
        first.out("systemctl start dovecot")
    wait_until(f"{first.name} back in the front", lambda: running(front, "imaps", first.name),
               seconds=60, explain=why)
    # the session held on the second is closed by the front once the first is up again
    def closed():
        try:
            held.noop()
        except (imaplib.IMAP4.abort, imaplib.IMAP4.error, OSError, ssl.SSLError):
            return True
        return False

    wait_until("the session left on the second closed", closed, seconds=30, explain=why)
    conn = attacks.imap_session(stage, person, front)
    try:
        wait_until(f"new sessions on {first.name} again",
                   lambda: served_by(pair, person, gateway) == [first.name], seconds=30, explain=why)
    finally:
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            conn.logout()
    logged = front.out("journalctl -u haproxy --since -10min --no-pager")
    assert re.search(rf"Server imaps/{re.escape(first.name)} is DOWN", logged), logged[-2000:]
    assert re.search(rf"Server imaps/{re.escape(first.name)} is UP", logged), logged[-2000:]
    # Postfix's submission on the first server fails too while Dovecot (its SASL) is stopped, and its
    # master pauses a service for 60 s once one of its smtpd failed: every listener comes back by
    # itself (the checks see Postfix's direct services), and no smtpd of the proxied ones exited on a
    # check's header. (The checks used to send a PROXY v2 LOCAL header to the proxied port: each one
    # that timed out during a pause made the next smtpd exit fatally, and the proxied submission never
    # came back.)
    wait_until("both mailbox servers up on every listener after Dovecot's return", lambda: all(
        running(front, listener, h.name) for listener in LISTENERS for h in pair), seconds=180, explain=why)
    fatal = first.run(f"journalctl --since '{since}' --no-pager | grep 'fatal: smtpd_peer'").stdout_text
    assert not fatal, fatal[-2000:]


def test_killed_front_comes_back_by_itself(stage, front, person):
    """docs/topology.md, "Restart on failure" (Ninh Bình Art 15.2, service 24/24): HAProxy's main
    process killed with SIGKILL, Debian's unit (Restart=always) starts it again and IMAP through the
    front works."""
    def state() -> dict[str, str]:
        out = front.out("systemctl show -p MainPID -p NRestarts -p ActiveState haproxy")
        return dict(line.split("=", 1) for line in out.split())

    before = state()
    assert before["ActiveState"] == "active" and before["MainPID"] != "0", before
    front.out(f"kill -KILL {before['MainPID']}")
    wait_until("HAProxy restarted by systemd", lambda: (
        (now := state())["ActiveState"] == "active" and now["MainPID"] not in ("0", before["MainPID"])
        and int(now["NRestarts"]) > int(before["NRestarts"])), seconds=60)
    wait_until("IMAP through the restarted front", lambda: attacks.imap_login(stage, person, host=front)
               if running(front, "imaps", stage.groups["mail_servers"][0]) else False, seconds=60)
