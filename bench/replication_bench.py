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

Prints p50, p95 and the maximum of each, and how many were lost (a message or a change that never
arrived within ``--timeout`` seconds).
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
from pathlib import Path

from lifecycle_run_bench import sh  # podman exec, failing loudly (bench/ is on sys.path)

ROOT = Path(__file__).resolve().parents[1]

# Run inside a mailbox server: the moment each new message file shows in the given homes' Maildirs
# (new/ or cur/, polled every 10 ms, by the file's base name, which a move to cur/ keeps), until
# ``count`` new ones or ``timeout`` seconds; then {Message-ID: that moment}. "ready" once the Maildirs
# as they were are read. Every container reads the same clock (the host's).
WATCH_MAIL = r'''
import json, os, re, sys, time
count, timeout, homes = int(sys.argv[2]), float(sys.argv[3]), sys.argv[4:]  # sys.argv[1]: "watch"
dirs = [os.path.join(h, "Maildir", s) for h in homes for s in ("new", "cur")]
def names():
    out = {}
    for d in dirs:
        try:
            for entry in os.scandir(d):
                out[entry.name.split(":")[0]] = entry.path
        except FileNotFoundError:
            pass
    return out
old = set(names())
print("ready", flush=True)
seen, deadline = {}, time.time() + timeout
while len(seen) < count and time.time() < deadline:
    now = time.time()
    for base in names():
        if base not in old and base not in seen:
            seen[base] = now
    time.sleep(0.01)
paths, out = names(), {}
for base, when in seen.items():
    try:
        with open(paths[base], "rb") as fh:
            head = fh.read(8192)
    except (KeyError, OSError):
        continue
    mid = re.search(rb"^Message-ID:\s*(<[^>]+>)", head, re.M | re.I)
    if mid:
        out[mid.group(1).decode()] = when
json.dump(out, sys.stdout)
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
    return {g: data.get(g, {}).get("hosts", []) for g in ("mail_servers", "ldap_servers")}


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


def watch(name: str, script: str, *args: str) -> subprocess.Popen:
    """A watcher script running inside ``name``, once it says it is ready."""
    proc = subprocess.Popen(["podman", "exec", name, *args[:1], "-c", script, "watch", *args[1:]],
                            stdout=subprocess.PIPE, text=True)
    if proc.stdout.readline().strip() != "ready":
        proc.kill()
        raise SystemExit(f"{name}: the watcher did not start")
    return proc


def mail_lag(first: str, second: str, count: int, rate: float, mailboxes: int, timeout: float) -> dict:
    people = sorted(sh(first, "doveadm user '*'").split())[:mailboxes]
    homes = [sh(first, f"doveadm user -f home {shlex.quote(u)}").strip() for u in people]
    watchers = [watch(h, WATCH_MAIL, "python3", str(count), str(timeout), *homes) for h in (first, second)]
    sent: list[str] = []
    with smtplib.SMTP(address(first), 25, timeout=120) as smtp:
        smtp.ehlo("doitac.example.org")
        start = time.monotonic()
        for i in range(count):
            mid = f"<{uuid.uuid4()}@doitac.example.org>"
            to = people[i % len(people)]
            smtp.sendmail("congvan@doitac.example.org", [to], (
                f"From: congvan@doitac.example.org\r\nTo: {to}\r\nSubject: Đo độ trễ sao chép {i}\r\n"
                f"Message-ID: {mid}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                "Kính gửi: Văn phòng. Thư đo độ trễ sao chép hộp thư.\r\n").encode())
            sent.append(mid)
            time.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
    there = [json.loads(w.communicate(timeout=timeout + 60)[0] or "{}") for w in watchers]
    lags = [there[1][m] - there[0][m] for m in sent if m in there[0] and m in there[1]]
    return {"messages": count, "rate": rate, "mailboxes": len(people),
            "lost": sum(m not in there[1] for m in sent), **summary(lags)}


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
        print(f"{what:9} {size}: {figures}; lost {r['lost']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
