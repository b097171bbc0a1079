#!/usr/bin/env python3
"""What the front costs a mail client: the same submissions and IMAP logins through HAProxy and
straight to the first mailbox server, side by side in one run, on a staging of a layout with a front
(issue 14, item 6; docs/topology.md, "The front").

    CONGVU_STAGE_NAME=bench CONGVU_STAGE_INVENTORY=inventories/demo-split CONGVU_STAGE_PORTS=none ./stage up
    python bench/front_bench.py --stage bench                 # 2 rounds of each, 240 messages, 100 logins
    python bench/front_bench.py --stage bench --rounds 3 --senders 12 --json
    CONGVU_STAGE_NAME=bench ./stage down

Each round, once through the front and once to the mailbox server directly, in alternation:
``--messages`` messages of Vietnamese text submitted on 587 (STARTTLS, AUTH PLAIN) by ``--senders``
bench accounts at once, one connection each, to one bench mailbox; then ``--logins`` IMAP logins one
after the other (TCP, TLS, LOGIN, LOGOUT). It prints, per path, the messages accepted per second, the
time of each SMTP transaction (MAIL to the 250 after the data) and of each IMAP login, p50 and p95.
The senders stay under the per-user outbound limit (Rspamd's burst of 200) as long as
``rounds * 2 * messages / senders`` does. The bench accounts (``bench.front<run>.<N>``, in the first
organisation of the directory) are made on the first directory server over ldapi and removed at the
end with their mail (expunged through doveadm first, so that replication empties the other copy).
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

from lifecycle_run_bench import sh  # podman exec, failing loudly (bench/ is on sys.path)
from replication_bench import address, container, inventory, summary

ROOT = Path(__file__).resolve().parents[1]
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stage", required=True, help="CONGVU_STAGE_NAME of a running staging with a front")
    ap.add_argument("--layout", default="demo-split", help="its inventory under inventories/")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--messages", type=int, default=240, help="messages per path per round")
    ap.add_argument("--senders", type=int, default=8)
    ap.add_argument("--logins", type=int, default=100, help="IMAP logins per path per round")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.rounds * 2 * args.messages / args.senders > 180:
        ap.error("each sender would pass the per-user outbound burst (200): "
                 "more --senders or fewer --messages")

    groups = inventory(args.layout)
    if not groups["front_servers"]:
        raise SystemExit(f"inventories/{args.layout} has no front_servers: nothing to compare")
    mx = container(args.stage, groups["mail_servers"][0])
    ldap = container(args.stage, groups["ldap_servers"][0])
    paths = {"front": address(container(args.stage, groups["front_servers"][0])), "direct": address(mx)}
    ca = ROOT / "inventories" / args.layout / ".secrets" / "tls" / "ca.crt"
    if not ca.is_file():
        raise SystemExit(f"{ca}: no CA certificate (./stage up makes it)")
    tls = ssl.create_default_context(cafile=str(ca))
    tls.check_hostname = False  # the servers' names are not the addresses the bench dials
    password = f"Bench#{secrets.token_hex(4)}Ab9"
    made = make_accounts(ldap, args.senders + 1, password)
    to, senders = made[0][1], [m for _, m in made[1:]]
    results: dict[str, dict] = {p: {"times": [], "logins": [], "accepted": 0, "wall": 0.0, "errors": []}
                                for p in paths}
    try:
        for _ in range(args.rounds):
            for name in ("direct", "front"):
                got = submit(tls, paths[name], senders, password, to, args.messages)
                r = results[name]
                r["times"] += got["times"]
                r["accepted"] += got["accepted"]
                r["wall"] += got["wall"]
                r["errors"] += got["errors"]
                r["logins"] += logins(tls, paths[name], to, password, args.logins)
    finally:
        remove_accounts(ldap, mx, made)

    table = {}
    for name, r in results.items():
        table[name] = {
            "accepted": r["accepted"], "sent": args.rounds * args.messages, "errors": len(r["errors"]),
            "msg_per_s": round(r["accepted"] / r["wall"], 1) if r["wall"] else 0.0,
            "smtp_ms": {k: round(v * 1000) for k, v in summary(r["times"]).items()},
            "imap_login_ms": {k: round(v * 1000) for k, v in summary(r["logins"]).items()},
            "error_examples": r["errors"][:3]}
    if args.json:
        json.dump(table, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    print(f"{args.rounds} round(s) per path, alternating; {args.senders} senders, {args.messages} messages "
          f"and {args.logins} IMAP logins per path per round")
    print(f"{'path':8} {'accepted':>9} {'msg/s':>7} {'smtp p50':>9} {'p95':>7} "
          f"{'imap login p50':>15} {'p95':>7}")
    for name, t in table.items():
        smtp, imap = t["smtp_ms"], t["imap_login_ms"]
        print(f"{name:8} {t['accepted']:>5}/{t['sent']:<4} {t['msg_per_s']:>6} {smtp.get('p50', 0):>7}ms "
              f"{smtp.get('p95', 0):>5}ms {imap.get('p50', 0):>13}ms {imap.get('p95', 0):>5}ms")
        for e in t["error_examples"]:
            print(f"  {name}: {e}")
    return 0 if all(t["accepted"] == t["sent"] for t in table.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
