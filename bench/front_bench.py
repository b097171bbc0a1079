#!/usr/bin/env python3
"""What the redundant layout costs a mail client, and how long its failover takes: the same
submissions and IMAP logins through HAProxy, straight to the first mailbox server and, given a running
all-in-one staging, to the all-in-one host, side by side in one run; then the first mailbox server
lost several times (killed outright, or cut off its network), and the time until new sessions
through the front work again
(issue 14, item 6; docs/topology.md, "The front" and "When a server dies").

    CONGVU_STAGE_NAME=bench CONGVU_STAGE_INVENTORY=inventories/demo-ha CONGVU_STAGE_PORTS=none ./stage up
    CONGVU_STAGE_NAME=aio CONGVU_STAGE_PORTS=none ./stage up            # optional: the all-in-one path
    python bench/front_bench.py --stage bench --vs-stage aio            # 2 rounds, then 4 failovers
    python bench/front_bench.py --stage bench --rounds 3 --senders 12 --failovers 0 --json
    CONGVU_STAGE_NAME=bench ./stage down; CONGVU_STAGE_NAME=aio ./stage down

After a warm-up of two messages per sender on each path (not counted), each round, on each path in
turn (front, direct, all-in-one): ``--messages`` messages of Vietnamese text submitted on 587
(STARTTLS, AUTH PLAIN) by ``--senders`` bench accounts at once, one connection each, to one bench
mailbox; then ``--logins`` IMAP logins one after the other (TCP, TLS, LOGIN, LOGOUT). It prints,
per path, the messages accepted per second, the time of each SMTP transaction (MAIL to the 250 after
the data) and of each IMAP login, p50 and p95.
The senders stay under the per-user outbound limit (Rspamd's burst of 200) as long as
``rounds * 2 * messages / senders`` plus the 4 warm-up messages does (the bench refuses more than
180). The bench accounts (``bench.front<run>.<N>``, in the first organisation of the directory) are
made on the first directory server over ldapi and removed at the end with their mail (expunged
through doveadm first, so that replication empties the other copy).

Failover, ``--failovers`` times: new clients keep coming through the front, every 0.25 s an IMAP
login (login, logout) and a submission on 587 (senders of their own taking turns), each on its own
connection; the first mailbox server is lost, in turn (``--how``) killed (``podman kill
--signal KILL``, as in the fault test, tests/layouts/demo-split/test_fault_split.py: its kernel resets
the sessions it held) or cut off its network (``podman network disconnect``: silent, as a host without
power), and the failover time of each kind is from the loss to the end of its first success begun
after it. The server is then brought back as a real one comes back (its address and /etc/hosts,
tests/layouts/faults.py) and the next loss waits until HAProxy counts it up again on every listener.
Prints each failover's times, the attempts begun after the loss that failed, and those begun before
it that the loss broke.
"""

from __future__ import annotations

import argparse
import imaplib
import json
import re
import secrets
import smtplib
import ssl
import sys
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

from lifecycle_run_bench import sh  # podman exec, failing loudly (bench/ is on sys.path)
from replication_bench import address, container, inventory, summary

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "layouts")]
import faults  # noqa: E402  the fault test's kill and revive (tests/layouts/faults.py)
from conftest import Host  # noqa: E402  a staging host as the layout tests see it

#: HAProxy's listeners (roles/haproxy): a revived server is counted up on each before the next loss.
LISTENERS = ("imaps", "pop3s", "sieve", "submissions", "submission")
LDAPI = "-Q -Y EXTERNAL -H ldapi:///"


def make_accounts(ldap: str, count: int, password: str) -> list[tuple[str, str]]:
    """``count`` active personal accounts beside the directory's first one: [(dn, mail)]."""
    base = sh(ldap, f"ldapsearch -LLL {LDAPI} -s base -b '' namingContexts"
                    " | sed -n 's/^namingContexts: //p' | head -n 1").strip()
    found = sh(ldap, f"ldapsearch -LLL {LDAPI} -o ldif-wrap=no -z 1 -b '{base}' "
                     "'(&(objectClass=congvuMailAccount)(congvuMailboxClass=personal))' mail || [ $? = 4 ]")
    org = re.search(r"^dn: uid=[^,]+,(.+)$", found, re.M)
    domain = re.search(r"^mail: .+@(.+)$", found, re.M)
    if not (org and domain):
        raise SystemExit(f"{ldap}: no personal mailbox to put the bench accounts beside")
    made, run = [], secrets.token_hex(2)  # new names each run: Rspamd's limits are per user name
    for i in range(count):
        uid = f"bench.front{run}.{i}"
        dn, mail = f"uid={uid},{org.group(1)}", f"{uid}@{domain.group(1).strip()}"
        sh(ldap, f"ldapdelete {LDAPI} '{dn}' 2>/dev/null || true")
        sh(ldap, f"ldapadd {LDAPI} >/dev/null", stdin=(
            f"dn: {dn}\nobjectClass: inetOrgPerson\nobjectClass: congvuMailAccount\nuid: {uid}\n"
            f"cn: Đo hiệu năng {i}\nsn: Đo\nmail: {mail}\ncongvuMailboxClass: personal\n"
            f"congvuAccountState: active\ncongvuMustChangePassword: FALSE\n"
            f"congvuOrganisationDN: {org.group(1)}\nuserPassword: {password}\n").encode())
        made.append((dn, mail))
    return made


def remove_accounts(ldap: str, mx: str, made: list[tuple[str, str]]) -> None:
    for dn, mail in made:
        sh(mx, f"doveadm expunge -u '{mail}' mailbox '*' all 2>/dev/null || true")
        sh(ldap, f"ldapdelete {LDAPI} '{dn}' 2>/dev/null || true")


def submit(tls: ssl.SSLContext, host: str, senders: list[str], password: str, to: str, count: int) -> dict:
    """``count`` messages to ``to`` by the senders at once; per-transaction times and the wall time."""
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    share = [count // len(senders) + (i < count % len(senders)) for i in range(len(senders))]

    def one(sender: str, n: int) -> None:
        try:
            with smtplib.SMTP(host, 587, timeout=60) as smtp:
                smtp.starttls(context=tls)
                smtp.login(sender, password)
                for k in range(n):
                    raw = (f"From: {sender}\r\nTo: {to}\r\nSubject: Đo đường qua cổng trước {k}\r\n"
                           f"Message-ID: <{uuid.uuid4()}@bench.invalid>\r\n"
                           "Content-Type: text/plain; charset=utf-8\r\n\r\n"
                           + "Kính gửi: Văn phòng. Thư đo hiệu năng qua cổng trước.\r\n" * 40).encode()
                    start = time.monotonic()
                    smtp.sendmail(sender, [to], raw)
                    with lock:
                        times.append(time.monotonic() - start)
        except (smtplib.SMTPException, OSError) as exc:
            with lock:
                errors.append(f"{sender}: {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=one, args=(s, n)) for s, n in zip(senders, share, strict=True)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.monotonic() - start
    return {"accepted": len(times), "wall": wall, "errors": errors, "times": times}


def logins(tls: ssl.SSLContext, host: str, mail: str, password: str, count: int) -> list[float]:
    out = []
    for _ in range(count):
        start = time.monotonic()
        with imaplib.IMAP4_SSL(host, 993, ssl_context=tls, timeout=60) as imap:
            imap.login(mail, password)
            imap.logout()
        out.append(time.monotonic() - start)
    return out


def wait_for(what: str, ready, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise SystemExit(f"gave up waiting: {what}")
        time.sleep(0.2)


def counted_up(front: str, server: str) -> bool:
    """HAProxy counts ``server`` up (srv_op_state 2) on every listener of the front."""
    out = sh(front, "echo 'show servers state' | socat stdio /run/haproxy/admin.sock")
    states = [f[5] for f in (line.split() for line in out.splitlines()) if len(f) > 5 and f[3] == server]
    return len(states) == len(LISTENERS) and set(states) == {"2"}


#: A new client of each kind starts this often (seconds) during a failover, each on its own connection.
PACE = 0.25


def failover(stage: str, groups: dict, tls: ssl.SSLContext, front: str, login: tuple[str, str],
             senders: list[str], password: str, to: str, how: str) -> dict:
    """The first mailbox server lost (``how``: "kill", its processes killed outright, so the sessions
    it held are reset; "cut", its network gone, as a host that lost power or its link, so nothing
    answers and nothing is reset) while new clients keep coming through the front, an IMAP login and
    a submission every PACE seconds, each on a connection of its own (timeout 10 s). Per kind: the
    time from the loss to the end of the first success begun after it (what a client arriving then
    sees), the attempts begun after the loss that failed, and those begun before it that failed (the
    sessions the lost server held)."""
    name = groups["mail_servers"][0]
    first = Host(name=name, container=container(stage, name), groups=["mail_servers"])
    first.address = address(first.container)
    front_c = container(stage, groups["front_servers"][0])
    wait_for(f"HAProxy counting {name} up on every listener", lambda: counted_up(front_c, name), 180)
    events: dict[str, list[tuple[float, float, bool]]] = {"imap": [], "smtp": []}
    lock, stop, started = threading.Lock(), threading.Event(), []

    def imap_once(_: int) -> None:
        with imaplib.IMAP4_SSL(front, 993, ssl_context=tls, timeout=10) as imap:
            imap.login(login[1], password)
            imap.logout()

    def smtp_once(k: int) -> None:
        sender = senders[k % len(senders)]
        with smtplib.SMTP(front, 587, timeout=10) as smtp:
            smtp.starttls(context=tls)
            smtp.login(sender, password)
            smtp.sendmail(sender, [to], (f"From: {sender}\r\nTo: {to}\r\nSubject: Đo chuyển máy {k}\r\n"
                                         f"Message-ID: <{uuid.uuid4()}@bench.invalid>\r\n\r\n"
                                         "Thư đo thời gian chuyển sang máy chủ thứ hai.\r\n").encode())

    def attempt(kind: str, k: int) -> None:
        begun, ok = time.monotonic(), True
        try:
            (imap_once if kind == "imap" else smtp_once)(k)
        except (imaplib.IMAP4.error, smtplib.SMTPException, OSError):
            ok = False
        with lock:
            events[kind].append((begun, time.monotonic(), ok))

    def launcher() -> None:
        k = 0
        while not stop.is_set():
            for kind in events:
                t = threading.Thread(target=attempt, args=(kind, k), daemon=True)
                t.start()
                started.append(t)
            k += 1
            stop.wait(PACE)

    def succeeded_since(kind: str, moment: float) -> bool:
        with lock:
            return any(ok and begun >= moment for begun, _, ok in events[kind])

    pacer = threading.Thread(target=launcher)
    pacer.start()
    try:
        began = time.monotonic()
        wait_for("clients working through the front", lambda: all(
            succeeded_since(kind, began) for kind in events), 60)
        if how == "kill":
            hosts_file = faults.kill(first)
        else:
            hosts_file = first.out("cat /etc/hosts")
            faults.podman("network", "disconnect", f"congvu-{stage}", first.container)
        lost = time.monotonic()
        wait_for("clients working again after the loss", lambda: all(
            succeeded_since(kind, lost) for kind in events), 180)
    finally:
        stop.set()
        pacer.join()
        for t in started:
            t.join()
    out = {}
    for kind, seen in events.items():
        back = min(end for begun, end, ok in seen if ok and begun >= lost)
        out[kind] = {"seconds": round(back - lost, 2),
                     "failed": sum(1 for begun, _, ok in seen if not ok and begun >= lost),
                     "broken": sum(1 for begun, end, ok in seen if not ok and begun < lost <= end)}
    if how == "kill":
        faults.revive(SimpleNamespace(name=stage), first, hosts_file, ("dovecot", "postfix"))
    else:  # back on the network with its address; podman rewrites /etc/hosts on connect
        faults.podman("network", "connect", "--ip", first.address, f"congvu-{stage}", first.container)
        first.out("cat > /etc/hosts", stdin=hosts_file)
    return {"how": how, **out}


class Way:
    """One way to the mail service: where to dial, with which certificates, by which bench accounts."""

    def __init__(self, address: str, tls: ssl.SSLContext, accounts: list[tuple[str, str]]):
        self.address, self.tls = address, tls
        self.to, self.senders = accounts[0][1], [m for _, m in accounts[1:]]


def tls_for(layout: str) -> ssl.SSLContext:
    ca = ROOT / "inventories" / layout / ".secrets" / "tls" / "ca.crt"
    if not ca.is_file():
        raise SystemExit(f"{ca}: no CA certificate (./stage up makes it)")
    tls = ssl.create_default_context(cafile=str(ca))
    tls.check_hostname = False  # the servers' names are not the addresses the bench dials
    return tls


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stage", required=True, help="CONGVU_STAGE_NAME of a running staging with a front")
    ap.add_argument("--layout", default="demo-ha", help="its inventory under inventories/")
    ap.add_argument("--vs-stage", help="CONGVU_STAGE_NAME of a running all-in-one staging to compare with")
    ap.add_argument("--vs-layout", default="demo", help="its inventory under inventories/")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--messages", type=int, default=240, help="messages per path per round")
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--logins", type=int, default=100, help="IMAP logins per path per round")
    ap.add_argument("--failovers", type=int, default=4, help="losses of the first mailbox server")
    ap.add_argument("--how", default="kill,cut",
                    help="how it is lost, taken in turn: kill (processes killed), cut (network gone)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if set(args.how.split(",")) - {"kill", "cut"}:
        ap.error("--how: kill, cut or both (kill,cut)")
    if args.rounds * 2 * args.messages / args.senders > 180:
        ap.error("each sender would pass the per-user outbound burst (200): "
                 "more --senders or fewer --messages")

    groups = inventory(args.layout)
    if not groups["front_servers"]:
        raise SystemExit(f"inventories/{args.layout} has no front_servers: nothing to compare")
    mx = container(args.stage, groups["mail_servers"][0])
    ldap = container(args.stage, groups["ldap_servers"][0])
    tls = tls_for(args.layout)
    password = f"Bench#{secrets.token_hex(4)}Ab9"
    ours = make_accounts(ldap, args.senders + 1 + 4 * bool(args.failovers), password)
    made = {args.stage: (ldap, mx, ours)}
    front = address(container(args.stage, groups["front_servers"][0]))
    paths = {"front": Way(front, tls, ours[:args.senders + 1]),
             "direct": Way(address(mx), tls, ours[:args.senders + 1])}
    if args.vs_stage:
        other = inventory(args.vs_layout)
        aio_ldap = container(args.vs_stage, other["ldap_servers"][0])
        aio_mx = container(args.vs_stage, other["mail_servers"][0])
        made[args.vs_stage] = (aio_ldap, aio_mx, make_accounts(aio_ldap, args.senders + 1, password))
        paths["all-in-one"] = Way(address(aio_mx), tls_for(args.vs_layout), made[args.vs_stage][2])
    results: dict[str, dict] = {p: {"times": [], "logins": [], "accepted": 0, "wall": 0.0, "errors": []}
                                for p in paths}
    failovers = []
    try:
        # not counted: a freshly started Rspamd 3.4 proxy has been seen to crash on its first burst
        # of concurrent messages (docs/filtering.md), and the first connections fill caches
        for path in paths.values():
            submit(path.tls, path.address, path.senders, password, path.to, 2 * len(path.senders))
        for _ in range(args.rounds):
            for name, path in paths.items():
                got = submit(path.tls, path.address, path.senders, password, path.to, args.messages)
                r = results[name]
                r["times"] += got["times"]
                r["accepted"] += got["accepted"]
                r["wall"] += got["wall"]
                r["errors"] += got["errors"]
                r["logins"] += logins(path.tls, path.address, path.to, password, args.logins)
        hows = args.how.split(",")
        for i in range(args.failovers):
            failovers.append(failover(args.stage, groups, tls, front, ours[0],
                                      [m for _, m in ours[args.senders + 1:]], password, ours[0][1],
                                      hows[i % len(hows)]))
    finally:
        for made_ldap, made_mx, accounts in made.values():
            remove_accounts(made_ldap, made_mx, accounts)

    table = {}
    for name, r in results.items():
        table[name] = {
            "accepted": r["accepted"], "sent": args.rounds * args.messages, "errors": len(r["errors"]),
            "msg_per_s": round(r["accepted"] / r["wall"], 1) if r["wall"] else 0.0,
            "smtp_ms": {k: round(v * 1000) for k, v in summary(r["times"]).items()},
            "imap_login_ms": {k: round(v * 1000) for k, v in summary(r["logins"]).items()},
            "error_examples": r["errors"][:3]}
    if args.json:
        json.dump({"paths": table, "failovers": failovers}, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    print(f"{args.rounds} round(s) per path, in turn; {args.senders} senders, {args.messages} messages "
          f"and {args.logins} IMAP logins per path per round")
    print(f"{'path':11} {'accepted':>9} {'msg/s':>7} {'smtp p50':>9} {'p95':>7} "
          f"{'imap login p50':>15} {'p95':>7}")
    for name, t in table.items():
        smtp, imap = t["smtp_ms"], t["imap_login_ms"]
        print(f"{name:11} {t['accepted']:>5}/{t['sent']:<4} {t['msg_per_s']:>6} {smtp.get('p50', 0):>7}ms "
              f"{smtp.get('p95', 0):>5}ms {imap.get('p50', 0):>13}ms {imap.get('p95', 0):>5}ms")
        for e in t["error_examples"]:
            print(f"  {name}: {e}")
    for i, f in enumerate(failovers, 1):
        imap, smtp = f["imap"], f["smtp"]
        print(f"failover {i} ({f['how']}): a new IMAP login works after {imap['seconds']} s "
              f"({imap['failed']} failed, {imap['broken']} broken), a new submission after "
              f"{smtp['seconds']} s ({smtp['failed']} failed, {smtp['broken']} broken)")
    return 0 if all(t["accepted"] == t["sent"] for t in table.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
