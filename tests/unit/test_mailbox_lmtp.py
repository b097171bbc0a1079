"""The lifecycle run's mailer (congvu.mailbox.Lmtp) against a small LMTP server on a Unix socket.

The real path (Dovecot's LMTP socket on a converged host) is checked by the layout tests: the
lifecycle's warning read back from the mailbox says it went by LMTP (tests/layouts/lifecycle_checks.py).
Here: what Dovecot refuses goes to Postfix, for that recipient only; a lost connection loses no message;
workers keep a connection each.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from congvu.mailbox import Lmtp
from congvu.notices import Message

NOW = dt.datetime(2027, 1, 25, 6, 30, tzinfo=dt.UTC)


class FakeDovecot:
    """LHLO, MAIL, RCPT, DATA (one reply per recipient, as LMTP does), RSET, QUIT. ``refuse``: addresses
    answered 550 at RCPT; ``full``: 452 after DATA; ``hang_up_after``: messages after which the server
    closes the connection without a word (a restarted Dovecot)."""

    def __init__(self, path, refuse=(), full=(), hang_up_after=None):
        self.path, self.refuse, self.full = str(path), set(refuse), set(full)
        self.hang_up_after = hang_up_after
        self.delivered: list[tuple[str, bytes]] = []
        self.connections = 0
        self.lock = threading.Lock()
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(self.path)
        self.server.listen(16)
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._session, args=(conn,), daemon=True).start()

    def _session(self, conn):
        f = conn.makefile("rb")

        def say(line):
            conn.sendall(line.encode() + b"\r\n")

        say("220 fake Dovecot ready")
        rcpts: list[str] = []
        taken = 0
        with conn:
            for raw in f:
                cmd = raw.decode().rstrip("\r\n")
                verb = cmd.split(" ", 1)[0].upper()
                if verb == "LHLO":
                    say("250-fake")
                    say("250 PIPELINING")
                elif verb == "MAIL":
                    rcpts = []
                    say("250 2.1.0 OK")
                elif verb == "RCPT":
                    addr = cmd.split("<", 1)[1].split(">", 1)[0]
                    if addr in self.refuse:
                        say(f"550 5.1.1 <{addr}> User doesn't exist: {addr}")
                    else:
                        rcpts.append(addr)
                        say("250 2.1.5 OK")
                elif verb == "DATA":
                    say("354 OK")
                    data = b""
                    for line in f:
                        if line == b".\r\n":
                            break
                        data += line
                    for addr in rcpts:
                        if addr in self.full:
                            say(f"452 4.2.2 <{addr}> Mailbox is full")
                        else:
                            with self.lock:
                                self.delivered.append((addr, data))
                            say(f"250 2.0.0 <{addr}> Saved")
                    taken += 1
                    if self.hang_up_after is not None and taken >= self.hang_up_after:
                        return
                elif verb == "RSET":
                    rcpts = []
                    say("250 2.0.0 OK")
                elif verb == "QUIT":
                    say("221 2.0.0 Bye")
                    return
                else:
                    say("500 5.5.1 Unknown command")

    def close(self):
        self.server.close()


class FakeSendmail:
    def __init__(self):
        self.queued: list[tuple[str, list[str], bytes]] = []
        self.lock = threading.Lock()

    def send_bytes(self, sender, recipients, data):
        with self.lock:
            self.queued.append((sender, list(recipients), data))


def _message(*to, n=0):
    return Message(kind="warn_inactivity", sender="postmaster@hanam.gov.vn", to=tuple(to),
                   subject=f"Hộp thư điện tử công vụ sẽ bị tạm khóa {n}",
                   body="Kính gửi ông/bà,\n.dòng bắt đầu bằng dấu chấm\nTrân trọng.\n",
                   summary_en="", agency="stttt", mails=tuple(to))


@pytest.fixture
def dovecot_at(tmp_path):
    made = []

    def start(**kw):
        server = FakeDovecot(tmp_path / f"lmtp{len(made)}", **kw)
        made.append(server)
        return server

    yield start
    for server in made:
        server.close()


def test_messages_go_into_the_mailboxes_over_one_connection_in_crlf(dovecot_at):
    dovecot = dovecot_at()
    postfix = FakeSendmail()
    mailer = Lmtp(dovecot.path, postfix, "hanam.gov.vn")
    how = [mailer.send(_message(f"u{i}@hanam.gov.vn", n=i), NOW) for i in range(5)]
    mailer.close()
    assert how == ["lmtp"] * 5 and postfix.queued == []
    assert dovecot.connections == 1
    assert [a for a, _ in dovecot.delivered] == [f"u{i}@hanam.gov.vn" for i in range(5)]
    _, data = dovecot.delivered[0]
    assert b"\n" not in data.replace(b"\r\n", b"")  # no bare LF on the wire
    msg = email.message_from_bytes(data.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert str(msg["Subject"]) == "Hộp thư điện tử công vụ sẽ bị tạm khóa 0"
    assert msg.get_content().splitlines()[1] == ".dòng bắt đầu bằng dấu chấm"  # dot-stuffing undone
    assert msg["Message-ID"].endswith(".congvu-notice@hanam.gov.vn>")  # not counted as mail activity


def test_a_recipient_dovecot_refuses_goes_to_postfix_alone(dovecot_at):
    # unknown to Dovecot (550) and over quota (452): Postfix queues, retries, or bounces to the sender
    dovecot = dovecot_at(refuse={"khong@hanam.gov.vn"}, full={"day@hanam.gov.vn"})
    postfix = FakeSendmail()
    mailer = Lmtp(dovecot.path, postfix, "hanam.gov.vn")
    how = mailer.send(_message("stttt@hanam.gov.vn", "khong@hanam.gov.vn", "day@hanam.gov.vn",
                               "quantri@hanam.gov.vn"), NOW)
    assert how == "lmtp+postfix"
    assert sorted(a for a, _ in dovecot.delivered) == ["quantri@hanam.gov.vn", "stttt@hanam.gov.vn"]
    ((sender, rcpts, data),) = postfix.queued
    assert sender == "postmaster@hanam.gov.vn" and rcpts == ["khong@hanam.gov.vn", "day@hanam.gov.vn"]
    assert b"\r\n" not in data  # sendmail reads local line ends
    # the connection is still good after the refusals
    assert mailer.send(_message("stttt@hanam.gov.vn"), NOW) == "lmtp" and dovecot.connections == 1


def test_without_dovecot_everything_goes_to_postfix(tmp_path):
    postfix = FakeSendmail()
    mailer = Lmtp(str(tmp_path / "absent"), postfix, "hanam.gov.vn")
    assert mailer.send(_message("a@hanam.gov.vn", "b@hanam.gov.vn"), NOW) == "postfix"
    assert [r for _, r, _ in postfix.queued] == [["a@hanam.gov.vn", "b@hanam.gov.vn"]]


def test_a_dropped_connection_loses_no_message_and_the_next_reconnects(dovecot_at):
    dovecot = dovecot_at(hang_up_after=2)
    postfix = FakeSendmail()
    mailer = Lmtp(dovecot.path, postfix, "hanam.gov.vn")
    to = [f"u{i}@hanam.gov.vn" for i in range(7)]
    how = [mailer.send(_message(a, n=i), NOW) for i, a in enumerate(to)]
    mailer.close()
    by_lmtp = [a for a, _ in dovecot.delivered]
    by_postfix = [r for _, rs, _ in postfix.queued for r in rs]
    assert sorted(by_lmtp + by_postfix) == sorted(to)  # each exactly once, one way or the other
    assert len(by_lmtp) >= 4 and dovecot.connections >= 2  # it came back to LMTP after the hang-up
    assert how.count("postfix") == len(by_postfix)


def test_workers_keep_a_connection_each(dovecot_at):
    dovecot = dovecot_at()
    postfix = FakeSendmail()
    mailer = Lmtp(dovecot.path, postfix, "hanam.gov.vn")
    to = [f"u{i}@hanam.gov.vn" for i in range(60)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        how = list(pool.map(lambda a: mailer.send(_message(a), NOW), to))
    mailer.close()
    assert set(how) == {"lmtp"} and postfix.queued == []
    assert sorted(a for a, _ in dovecot.delivered) == sorted(to)
    assert 1 <= dovecot.connections <= 4
