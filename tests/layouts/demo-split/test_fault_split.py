"""The fault test of the split layout (issue 14, item 5; Hà Nam Art 10.7, Gia Lai Art 8.3.a: "khả năng
dự phòng"; Ninh Bình Art 15.2: service 24/24): a stream of 500 messages submitted through the front
(docs/topology.md, "The front") while the first mailbox server and the first directory server are
killed outright. Every message that got a 250 must end up exactly once in the mailbox on both servers
once the dead ones are back; logins and a password change go on through the survivors. The errors the
client saw and the longest wait for a 250 are printed (docs/topology.md, "When a server dies")."""

from __future__ import annotations

import contextlib
import secrets
import shlex
import smtplib
import time
import uuid
from collections import Counter

import attacks
import faults
import pytest
from faults import message_ids
from polling import wait_until  # tests/layouts/ is on sys.path (its conftest's directory)

MESSAGES = 500
KILL_AFTER = 150
#: Senders of the stream, taking turns: each stays under the per-user outbound limit (Rspamd's
#: ratelimit, a burst of 200), which a single sender of 500 messages would rightly hit.
SENDERS = 5


@pytest.fixture(scope="module")
def person(testpeople):
    org = testpeople.top_level()[0]
    return testpeople.ensure("kiemthu.suco", "Phạm Thị Sự Cố", org, f"Su#CoTruoc{secrets.token_hex(3)}8")


@pytest.fixture(scope="module")
def senders(testpeople):
    org = testpeople.top_level()[0]
    return [testpeople.ensure(f"kiemthu.suco{i}", f"Nguyễn Văn Gửi {i}", org,
                              f"Su#CoGui{secrets.token_hex(3)}{i}") for i in range(SENDERS)]


def submit(stage, front, senders, to: str, stop_at: int, on_kill) -> tuple[list[str], Counter, float]:
    """Submit messages to ``to`` through the front on 587, the senders taking turns, each on its own
    connection, until ``stop_at`` got a 250, calling ``on_kill`` after KILL_AFTER. A failed attempt is
    retried on a new connection with a new Message-ID (an attempt without a 250 may or may not have
    been taken). The accepted Message-IDs, the errors by kind and the longest time without a 250 from
    a failure (or the kill) to the next 250."""
    accepted: list[str] = []
    errors: Counter = Counter()
    conns: dict[str, smtplib.SMTP] = {}
    failing_since, longest, killed = None, 0.0, False
    deadline = time.monotonic() + 900
    while len(accepted) < stop_at and time.monotonic() < deadline:
        if len(accepted) >= KILL_AFTER and not killed:
            on_kill()
            killed, failing_since = True, time.monotonic()
        sender = senders[len(accepted) % len(senders)]
        mid = f"<{uuid.uuid4()}@{to.split('@')[1]}>"
        raw = (f"From: {sender.mail}\r\nTo: {to}\r\nSubject: Luồng thư sự cố {len(accepted)}\r\n"
               f"Message-ID: {mid}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
               "Kính gửi: Văn phòng. Thư thử nghiệm khi máy chủ hỏng.\r\n").encode()
        try:
            smtp = conns.get(sender.mail)
            if smtp is None:
                smtp = conns[sender.mail] = smtplib.SMTP(front.address, 587, timeout=30)
                smtp.starttls(context=attacks.tls_context(stage))
                smtp.login(sender.mail, sender.password)
            smtp.sendmail(sender.mail, [to], raw)
        except (smtplib.SMTPException, OSError) as exc:
            code = getattr(exc, "smtp_code", None)
            errors[f"{type(exc).__name__}{f' {code}' if code else ''}"] += 1
            failing_since = failing_since or time.monotonic()
            with contextlib.suppress(Exception):
                conns.pop(sender.mail).close()
            time.sleep(0.5)  # a client's pause before it reconnects, not a wait for the servers
            continue
        accepted.append(mid)
        if failing_since is not None:
            longest = max(longest, time.monotonic() - failing_since)
            failing_since = None
    for smtp in conns.values():
        with contextlib.suppress(Exception):
            smtp.quit()
    return accepted, errors, longest


def test_stream_through_the_front_survives_a_dead_mailbox_and_directory_server(stage, person, senders):
    """500 messages through the front from five senders; after 150 the first mailbox server and the
    first directory server are killed (podman kill --signal KILL). Every message gets a 250 in the
    end; IMAP logins through the front and a password change on the surviving directory server work
    while they are dead; once both are back, both mailbox servers hold every accepted message once."""
    front = stage.hosts[stage.groups["front_servers"][0]]
    first, second = (stage.hosts[n] for n in stage.groups["mail_servers"])
    ldap, ldap2 = (stage.hosts[n] for n in stage.groups["ldap_servers"][:2])
    saved: dict[str, str] = {}

    def kill_both():
        for host in (first, ldap):
            saved[host.name] = faults.kill(host)

    try:
        start = time.monotonic()
        accepted, errors, longest = submit(stage, front, senders, person.mail, MESSAGES, kill_both)
        took = time.monotonic() - start
        print(f"{len(accepted)} messages accepted in {took:.0f} s; errors seen: {dict(errors) or 'none'}; "
              f"longest time without a 250 after the kill: {longest:.1f} s")
        assert saved, "the servers were never killed"
        assert len(accepted) == MESSAGES, f"only {len(accepted)} of {MESSAGES} accepted in time: {errors}"
        # logins through the front, and a password change on the surviving directory server
        assert attacks.imap_login(stage, person, host=front), "IMAP login through the front failed"
        new = f"Su#CoSau{secrets.token_hex(3)}9"
        # the person's own change (simple bind as the person) on the surviving directory server
        changed = ldap2.run(f"ldappasswd -H ldapi:/// -x -D {shlex.quote(person.dn)} "
                            f"-w {shlex.quote(person.password)} -a {shlex.quote(person.password)} "
                            f"-s {shlex.quote(new)}")
        assert changed.returncode == 0, changed.stdout_text + changed.stderr_text
        assert attacks.imap_login(stage, person, new, host=front), "the new password is refused"
        assert not attacks.imap_login(stage, person, host=front), "the old password still works"
        # what the survivor took is there at once, each once
        after_kill = accepted[KILL_AFTER:]
        wait_until(f"the {len(after_kill)} messages taken after the kill on {second.name}",
                   lambda: set(after_kill) <= set(message_ids(second, person.mail)), seconds=120)
    finally:
        for host, units in ((ldap, ("slapd",)), (first, ("dovecot", "postfix"))):
            if host.name in saved:
                faults.revive(stage, host, saved[host.name], units)
    # back: both mailbox servers catch up, every accepted message once on each
    wait_until("both mailbox servers hold every accepted message", lambda: all(
        set(accepted) <= set(message_ids(h, person.mail)) for h in (first, second)), seconds=600)
    for host in (first, second):
        ids = Counter(m for m in message_ids(host, person.mail) if m in set(accepted))
        twice = [m for m, n in ids.items() if n > 1]
        assert len(ids) == len(accepted) and not twice, \
            f"{host.name}: {len(ids)} of {len(accepted)} accepted messages, {len(twice)} twice: {twice[:5]}"
    # the mail host's daemons go back to the first directory server (the tests after this one write
    # there and read through them at once)
    for host in (first, second):
        host.out("systemctl reload dovecot && postfix reload")
