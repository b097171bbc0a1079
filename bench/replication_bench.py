"""Replication lag on the split layout: mail between the two mailbox servers (Dovecot's replicator)
and entries between the directory servers (OpenLDAP multi-provider), issue 14, item 6.

    CONGVU_STAGE_NAME=bench CONGVU_STAGE_INVENTORY=inventories/demo-split CONGVU_STAGE_PORTS=none ./stage up
    python bench/replication_bench.py --stage bench                  # 200 messages, 100 changes
    python bench/replication_bench.py --stage bench --rate 20 --messages 600
    CONGVU_STAGE_NAME=bench ./stage down

Mail: ``--messages`` messages at ``--rate`` per second on the first mailbox server's port 25, to the
first ``--mailboxes`` mailboxes the first server lists, as another province's server sends them. The
lag of a message is the time between its file appearing in the first server's Maildir and in the
second's, each seen by a watcher inside the server polling the Maildirs every 10 ms (every container
reads the host's clock): the replicator's time alone, not the SMTP path's.

Directory: ``--changes`` changes, one after the other, of one attribute (``roomNumber``) of one person
on the first directory server (ldapi, as root); a watcher inside the second polls its own copy every
10 ms and stamps the moment the new value shows. The lag is that stamp minus the moment just before
the write on the first. The attribute is put back as it was at the end.

Prints p50, p95 and the maximum of each, and how many were lost: a change that never arrived within
``--timeout`` seconds; a message that either server does not hold once the watchers are done (doveadm,
as Dovecot sees the mailbox), and apart from that how many the second's watcher did not see in time
and how many either server holds twice.
"""

from __future__ import annotations

import argparse
import json
import shlex
import smtplib
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

from lifecycle_run_bench import sh  # podman exec, failing loudly (bench/ is on sys.path)

ROOT = Path(__file__).resolve().parents[1]

# Run inside a mailbox server: the moment each expected message (by Message-ID, read from stdin, one
# per line) first shows as a file in the given homes' Maildirs (new/ or cur/, polled every 10 ms),
# until all have shown or ``timeout`` seconds pass; then {Message-ID: that moment}. A file is read
# the moment it is first seen: dsync may rename or replace a file later (a flag, a UID conflict), so
# nothing is looked up again at the end. "ready" once the Maildirs as they were are read. Every
# container reads the same clock (the host's).
WATCH_MAIL = r'''
import json, os, re, sys, time
timeout, homes = float(sys.argv[2]), sys.argv[3:]  # sys.argv[1]: "watch"
expected = set(sys.stdin.read().split())
dirs = [os.path.join(h, "Maildir", s) for h in homes for s in ("new", "cur")]
def files():
    for d in dirs:
        try:
            yield from os.scandir(d)
        except FileNotFoundError:
            pass
old = {e.name.split(":")[0] for e in files()}
print("ready", flush=True)
seen, read, deadline = {}, set(old), time.time() + timeout
while expected - set(seen) and time.time() < deadline:
    now = time.time()
    for entry in files():
        base = entry.name.split(":")[0]
        if base in read:
            continue
        try:
            with open(entry.path, "rb") as fh:
                head = fh.read(65536)
        except OSError:
            continue  # renamed meanwhile: seen again under its new name at the next pass
        read.add(base)
        mid = re.search(rb"^Message-ID:\s*(<[^>]+>)", head, re.M | re.I)
        if mid and mid.group(1).decode() in expected:
            seen.setdefault(mid.group(1).decode(), now)
    time.sleep(0.01)
json.dump(seen, sys.stdout)
'''

# Until the attribute shows the value on this server, then the time (run inside a directory server).
# "ready" once the first search has run, so that the write comes after it.
WATCH = r'''
dn="$1"; value="$2"; deadline=$(( $(date +%s) + $3 )); said=
while [ "$(date +%s)" -lt "$deadline" ]; do
  if ldapsearch -LLL -Q -Y EXTERNAL -H ldapi:/// -o ldif-wrap=no -b "$dn" -s base roomNumber \
       | grep -qxF "roomNumber: $value"; then
    date +%s.%N; exit 0
  fi
  [ -n "$said" ] || { echo ready; said=1; }
  sleep 0.01
done
exit 1
'''


def inventory(layout: str) -> dict[str, list[str]]:
    proc = subprocess.run(["ansible-inventory", "-i", str(ROOT / "inventories" / layout / "hosts.yml"),
                           "--list"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120)
    data = json.loads(proc.stdout)
    return {g: data.get(g, {}).get("hosts", []) for g in ("mail_servers", "ldap_servers", "front_servers")}


def container(stage: str, host: str) -> str:
    return f"congvu-{stage}-{host.split('.')[0]}"


def address(name: str) -> str:
    template = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
    return subprocess.run(["podman", "inspect", "-f", template, name], capture_output=True, text=True,
                          check=True, timeout=60).stdout.split()[0]


def summary(lags: list[float]) -> dict[str, float]:
    if not lags:
        return {}
    ordered = sorted(lags)
    return {"p50": statistics.median(ordered), "p95": ordered[max(0, round(0.95 * len(ordered)) - 1)],
            "max": ordered[-1]}


def watch(name: str, script: str, *args: str, stdin: str | None = None) -> subprocess.Popen:
    """A watcher script running inside ``name`` (given ``stdin``, if any), once it says it is ready."""
    proc = subprocess.Popen(["podman", "exec", "-i", name, *args[:1], "-c", script, "watch", *args[1:]],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if stdin is not None:
        proc.stdin.write(stdin)
    proc.stdin.close()
    proc.stdin = None  # closed: communicate() must not flush it
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise SystemExit(f"{name}: the watcher did not start")
    return proc


def mail_lag(first: str, second: str, count: int, rate: float, mailboxes: int, timeout: float) -> dict:
    people = sorted(sh(first, "doveadm user '*'").split())[:mailboxes]
    homes = [sh(first, f"doveadm user -f home {shlex.quote(u)}").strip() for u in people]
    sent = [f"<{uuid.uuid4()}@doitac.example.org>" for _ in range(count)]
    watchers = [watch(h, WATCH_MAIL, "python3", str(timeout), *homes, stdin="\n".join(sent))
                for h in (first, second)]
    with smtplib.SMTP(address(first), 25, timeout=120) as smtp:
        smtp.ehlo("doitac.example.org")
        start = time.monotonic()
        for i, mid in enumerate(sent):
            to = people[i % len(people)]
            smtp.sendmail("congvan@doitac.example.org", [to], (
                f"From: congvan@doitac.example.org\r\nTo: {to}\r\nSubject: Đo độ trễ sao chép {i}\r\n"
                f"Message-ID: {mid}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                "Kính gửi: Văn phòng. Thư đo độ trễ sao chép hộp thư.\r\n").encode())
            time.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
    there = [json.loads(w.communicate(timeout=timeout + 60)[0] or "{}") for w in watchers]
    lags = [there[1][m] - there[0][m] for m in sent if m in there[0] and m in there[1]]
    # What the servers themselves hold once the watchers are done (doveadm, each message once): a
    # message the watcher missed but Dovecot has is the watcher's miss, not a loss.
    held = [Counter(m for u in people for m in message_ids(h, u)) for h in (first, second)]
    return {"messages": count, "rate": rate, "mailboxes": len(people),
            "unseen": sum(m not in there[1] for m in sent),
            "unseen_examples": [m for m in sent if m not in there[1]][:5],
            "lost": sum(held[0][m] == 0 or held[1][m] == 0 for m in sent),
            "duplicated": sum(held[0][m] > 1 or held[1][m] > 1 for m in sent), **summary(lags)}


def message_ids(name: str, user: str) -> list[str]:
    """Message-IDs of every message of ``user`` on the server in container ``name``, one per message."""
    out = sh(name, f"doveadm -f tab fetch -u {shlex.quote(user)} hdr.message-id all")
    return [line.strip() for line in out.splitlines()[1:] if line.strip()]


def ldap_lag(first: str, second: str, count: int, timeout: float) -> dict:
    base = sh(first, "ldapsearch -LLL -Q -Y EXTERNAL -H ldapi:/// -s base -b '' namingContexts"
                     " | sed -n 's/^namingContexts: //p' | head -n 1").strip()
    found = sh(first, f"ldapsearch -LLL -Q -Y EXTERNAL -H ldapi:/// -o ldif-wrap=no -b {shlex.quote(base)} "
                      "'(&(objectClass=inetOrgPerson)(uid=*))' dn roomNumber | head -n 40")
    dn = next(line[4:] for line in found.splitlines() if line.startswith("dn: "))
    block = found.split(f"dn: {dn}\n", 1)[1].split("\n\n", 1)[0]
    before = [line[12:] for line in block.splitlines() if line.startswith("roomNumber: ")]
    lags, lost = [], 0
    try:
        for i in range(count):
            value = f"P{i}-{uuid.uuid4().hex[:6]}"  # ASCII: ldapsearch prints other values in base64
            watcher = watch(second, WATCH, "bash", dn, value, str(int(timeout)))
            wrote = float(sh(first, "date +%s.%N; ldapmodify -Q -Y EXTERNAL -H ldapi:/// >/dev/null",
                             stdin=(f"dn: {dn}\nchangetype: modify\nreplace: roomNumber\n"
                                    f"roomNumber: {value}\n").encode()).split()[0])
            out, _ = watcher.communicate(timeout=timeout + 30)
            if watcher.returncode == 0:
                lags.append(float(out.split()[0]) - wrote)
            else:
                lost += 1
    finally:
        change = "".join(f"roomNumber: {v}\n" for v in before)
        sh(first, "ldapmodify -Q -Y EXTERNAL -H ldapi:/// >/dev/null", stdin=(
            f"dn: {dn}\nchangetype: modify\n" + (f"replace: roomNumber\n{change}" if before
                                                  else "delete: roomNumber\n")).encode())
    return {"changes": count, "entry": dn, "lost": lost, **summary(lags)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", default="bench", help="CONGVU_STAGE_NAME of the running staging")
    parser.add_argument("--layout", default="demo-split", help="the shipped inventory it runs")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="messages per second")
    parser.add_argument("--mailboxes", type=int, default=10)
    parser.add_argument("--changes", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    groups = inventory(args.layout)
    if len(groups["mail_servers"]) != 2 or len(groups["ldap_servers"]) < 2:
        raise SystemExit(f"{args.layout}: needs two mailbox servers and two directory servers, has {groups}")
    mx, mx2 = (container(args.stage, h) for h in groups["mail_servers"])
    ldap, ldap2 = (container(args.stage, h) for h in groups["ldap_servers"][:2])
    results = {"mail": mail_lag(mx, mx2, args.messages, args.rate, args.mailboxes, args.timeout),
               "directory": ldap_lag(ldap, ldap2, args.changes, args.timeout)}
    if args.json:
        print(json.dumps(results, indent=2, ensure_ascii=False))
        return 0
    for what, r in results.items():
        figures = ", ".join(f"{k} {r[k] * 1000:.0f} ms" for k in ("p50", "p95", "max") if k in r)
        size = f"{r['messages']} messages at {r['rate']:g}/s" if what == "mail" else f"{r['changes']} changes"
        extra = (f"; not seen by the watcher {r['unseen']}, duplicated {r['duplicated']}"
                 if what == "mail" else "")
        print(f"{what:9} {size}: {figures}; lost {r['lost']}{extra}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
