#!/usr/bin/env python3
"""The whole lifecycle run against a real directory and mail store: 20,000 generated accounts loaded
into a converged staging host, then ``congvu-lifecycle`` as the daily timer runs it (issue 12).

    source scripts/env.sh
    CONGVU_STAGE_NAME=bench CONGVU_STAGE_PORTS=none ./stage up          # a throwaway staging
    python bench/lifecycle_run_bench.py --stage bench [--accounts 20000] [--messages 2]
        [--today 2027-01-25] [--seed 1] [--modes txn/4,txn/4/sendmail,txn/1] [--json]
    CONGVU_STAGE_NAME=bench ./stage down

It works on the all-in-one staging host ``congvu-<stage>-mail`` (inventories/demo) and **changes its
directory and mail store for good**: use a staging made for it. bench/lifecycle_bench.py times the
planner alone in one process; this one times what that left out: the directory read, the archives,
the LDAP writes, the notices delivered and the audit log, through the installed command with the
role's own configuration (/etc/congvu/lifecycle.json).

1. The snapshot of bench/lifecycle_bench.py (the same generator and seed: 60 agencies, their
   mailboxes and admins, dormant, locked, new, leaving accounts, off-policy quotas) is written as LDIF
   (organisations, ``cn=admins`` groups, accounts with their ``congvuLifecycle`` attributes, and
   the operational ones a real directory would have: ``createTimestamp``, ``pwdChangedTime``,
   ``pwdLastSuccess``) and loaded with ``slapadd`` into the running staging directory (slapd
   stopped meanwhile), beside the demo's own accounts. Pending moves are left out (a transfer is
   the roster apply's, docs/accounts.md). The 100 agency requests become an operator's requests file.
2. Every generated account gets a Maildir of ``--messages`` small messages, so that an archive
   (the Maildir copied into the archive root, then checked) costs what it costs.
3. The directory (the MDB files) and the mail store are saved, and restored before each run of a
   mode ``<write mode>/<workers>[/sendmail]``: ``txn/4`` ships (LDAP transactions of up to 2,000
   modifications; four archives at once; the notices over four LMTP connections into the mailboxes),
   ``txn/4/sendmail`` the same with every notice handed to Postfix's ``sendmail`` (the run before
   LMTP: ``lifecycle_lmtp_socket`` empty), ``txn/1`` one at a time, ``sync/4`` one modification per LDAP
   round trip (the per-account loop one would write first).
4. For each mode: the plan (``--check``), the catch-up run (everything overdue at once), the same
   day again (must change nothing) and the next day (a quiet day). Wall time around ``podman exec``
   and the run's own phase timings (``timings`` of the JSON report: read, plan, archive, write,
   mail, audit), and how the notices went (LMTP or Postfix). Between runs the bench waits until
   Postfix has delivered what it was handed (``drain``).
5. Last, the read side of a per-account loop: one base search per account against the one paged
   subtree search the run makes (python3-ldap over ldapi:/// on the host).

Figures and their reading: docs/lifecycle.md ("Performance").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from lifecycle_bench import snapshot  # the same generator as the planner's bench

from congvu.lifecycle import Account

CONFIG = "/etc/congvu/lifecycle.json"
WORK = "/var/tmp/congvu-lifecycle-bench"
DAY = dt.timedelta(days=1)


def sh(container: str, script: str, *, stdin: bytes | None = None, check: bool = True) -> str:
    proc = subprocess.run(["podman", "exec", "-i", container, "bash", "-ec", script], input=stdin,
                          capture_output=True, check=False)
    if check and proc.returncode != 0:
        raise SystemExit(f"{container}: {script.splitlines()[0]}...: exit {proc.returncode}\n"
                         f"{proc.stderr.decode(errors='replace')[-2000:]}")
    return proc.stdout.decode()


def gtime(day: dt.date | None) -> str | None:
    return None if day is None else day.strftime("%Y%m%d") + "000000Z"


def ldif(accounts: list[Account], base: str) -> str:
    """The snapshot as entries of a real directory (the roster apply's classes and layout)."""
    orgs = sorted({a.organisation for a in accounts})
    out = []
    for code in orgs:
        dn = f"o={code},ou=organisations,{base}"
        out.append(f"dn: {dn}\nobjectClass: top\nobjectClass: organization\nobjectClass: congvuOrganisation\n"
                   f"o: {code}\ncongvuOrgCode: {code}\ncongvuOrgKind: agency\ndisplayName: Cơ quan {code}\n")
        admins = [a for a in accounts if a.organisation == code and a.admin]
        if admins:
            out.append(f"dn: cn=admins,{dn}\nobjectClass: top\nobjectClass: groupOfNames\ncn: admins\n"
                       + "".join(f"member: {a.dn},{base}\n" for a in admins))
    for a in accounts:
        local = a.mail.partition("@")[0]
        words = a.name.split()
        attrs = {
            "objectClass": ["top", "inetOrgPerson", "congvuMailAccount", "congvuLifecycle"],
            "uid": [local], "cn": [a.name], "sn": [words[0] if words else local], "displayName": [a.name],
            "pwdPolicySubentry": [f"cn=organisations,ou=policies,{base}"],
            "mail": [a.mail], "userPassword": ["{CRYPT}*"],
            "congvuOrganisationDN": [f"o={a.organisation},ou=organisations,{base}"],
            "congvuMailboxClass": [a.mailbox_class], "congvuAccountState": [a.state],
            "congvuStateChanged": [gtime(a.created)],
            "congvuLockReason": [a.lock_reason], "congvuNoticeSent": [gtime(a.notice_sent)],
            "congvuLastMailActivity": [gtime(a.last_mail)], "congvuLeavingSince": [gtime(a.leaving_since)],
            "congvuMailQuota": [None if a.quota is None else str(a.quota)],
            "congvuMustChangePassword": ["TRUE" if a.must_change_password else None],
            "createTimestamp": [gtime(a.created)], "pwdChangedTime": [gtime(a.password_changed)],
            "pwdLastSuccess": [gtime(a.last_login)],
        }
        lines = [f"dn: {a.dn},{base}"]
        for name, values in attrs.items():
            lines += [f"{name}: {v}" for v in values if v is not None]
        out.append("\n".join(lines) + "\n")
    return "\n".join(out)


MAILDIRS = r"""
import json, os, sys
root, domain, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
body = ("Từ: văn phòng\nKính gửi các đồng chí,\nĐề nghị rà soát hồ sơ trước ngày 30.\n" * 20).encode()
for n, local in enumerate(json.load(sys.stdin)):
    md = os.path.join(root, domain, local, "Maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)
    for i in range(count):
        name = f"17000{n:05d}{i:02d}.M{i}P{n}.bench:2,S"
        with open(os.path.join(md, "cur", name), "wb") as f:
            f.write(b"From: vanphong@" + domain.encode() + b"\nSubject: =?UTF-8?B?VGjDtG5nIGLDoW8=?=\n"
                    b"Message-ID: <" + name.encode() + b"@bench>\n\n" + body)
os.system(f"chown -R 5000:5000 {root}/{domain}")
"""

READS = r"""
import sys, time, ldap
from ldap.controls import SimplePagedResultsControl
base = sys.argv[1]
c = ldap.initialize("ldapi:///"); c.sasl_external_bind_s()
t = time.monotonic(); dns = []; ctl = SimplePagedResultsControl(True, size=1000, cookie="")
while True:
    msgid = c.search_ext(f"ou=organisations,{base}", ldap.SCOPE_SUBTREE, "(objectClass=congvuMailAccount)",
                         ["*", "+"], serverctrls=[ctl])
    _, data, _, sctrls = c.result3(msgid)
    dns += [dn for dn, _ in data if dn]
    cookie = next((x.cookie for x in sctrls if x.controlType == SimplePagedResultsControl.controlType), "")
    if not cookie:
        break
    ctl.cookie = cookie
paged = time.monotonic() - t
t = time.monotonic()
for dn in dns:
    c.search_s(dn, ldap.SCOPE_BASE, "(objectClass=*)", ["*", "+"])
each = time.monotonic() - t
print(f"{len(dns)} {paged:.3f} {each:.3f}")
"""


# slapd is stopped and started around each copy; its restart-on-failure drop-in (docs/topology.md)
# limits starts in a row, which these would exceed: the counter is reset before each start.
def keep(host: str, db: str, where: str) -> None:
    """Save the directory's MDB files and the mail store (slapd stopped meanwhile)."""
    sh(host, f"systemctl stop slapd && rm -rf {where} && mkdir -p {where} && cp -a {db} {where}/ldap "
             f"&& cp -a /var/vmail {where}/vmail && systemctl reset-failed slapd "
             "&& systemctl start slapd")


def put_back(host: str, db: str, where: str) -> None:
    """The directory and the mail store as :func:`keep` saved them, without the run's archives."""
    sh(host, f"systemctl stop slapd && rm -rf {db} /var/vmail /var/lib/congvu/archive "
             f"&& cp -a {where}/ldap {db} && cp -a {where}/vmail /var/vmail && systemctl reset-failed slapd "
             "&& systemctl start slapd")


def wait_queue(container: str, timeout: float = 900) -> float:
    """Seconds until Postfix's queue is empty (the notices delivered)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not sh(container, "postqueue -j").strip():
            return time.monotonic() - start
        time.sleep(1)
    raise SystemExit(f"{container}: the mail queue did not drain in {timeout} s")


def lifecycle(container: str, config: str, today: dt.date, *, check: bool = False) -> tuple[float, dict]:
    args = ["congvu-lifecycle", "--config", config, "--today", today.isoformat(), "--json",
            "--requests", f"{WORK}/requests.json"] + (["--check"] if check else [])
    start = time.monotonic()
    proc = subprocess.run(["podman", "exec", container, *args], capture_output=True, check=False)
    wall = time.monotonic() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)}: exit {proc.returncode}\n{proc.stderr.decode()[-3000:]}")
    return wall, json.loads(proc.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", default="bench", help="staging instance (CONGVU_STAGE_NAME)")
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--messages", type=int, default=2, help="messages in each generated mailbox")
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date(2027, 1, 25))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--modes", default="txn/4,txn/4/sendmail,txn/1",
                        help="write mode/workers[/sendmail] of each run (lifecycle.json write_mode, "
                             "workers; sendmail: lmtp_socket empty)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    host = f"congvu-{args.stage}-mail"
    config = json.loads(sh(host, f"cat {CONFIG}"))
    policy, base = config["policy"], config["ldap"]["base"]
    province = policy["province"]["code"]
    accounts, requests = snapshot(province, policy, args.accounts, args.today, args.seed)
    domain = policy["domains"]["primary"]
    accounts = [a for a in accounts if a.transfer_to is None]
    kept = {a.mail for a in accounts}
    requests = [r for r in requests if r.mail in kept]
    print(f"{host}: {province}, {len(accounts)} generated accounts, {len(requests)} requests, "
          f"today {args.today}", file=sys.stderr)

    db = sh(host, "slapcat -n0 -a '(olcSuffix=*)' | sed -n 's/^olcDbDirectory: //p' | head -1").strip()
    # A second run starts from the staging as it was before the first one (kept in WORK/pristine).
    if sh(host, f"test -d {WORK}/pristine && echo yes || true").strip():
        put_back(host, db, f"{WORK}/pristine")
    else:
        keep(host, db, f"{WORK}/pristine")
    t = time.monotonic()
    sh(host, f"cat > {WORK}/bench.ldif", stdin=ldif(accounts, base).encode())
    sh(host, f"systemctl stop slapd && slapadd -q -b {shlex.quote(base)} -l {WORK}/bench.ldif "
             f"&& chown -R openldap:openldap {db} && systemctl reset-failed slapd && systemctl start slapd")
    load = time.monotonic() - t
    t = time.monotonic()
    sh(host, f"cat > {WORK}/maildirs.py", stdin=MAILDIRS.encode())
    sh(host, f"python3 {WORK}/maildirs.py /var/vmail {domain} {args.messages}",
       stdin=json.dumps([a.mail.partition("@")[0] for a in accounts]).encode())
    maildirs = time.monotonic() - t
    reqs = [{"kind": r.kind, "mail": r.mail, "received": r.received.isoformat(), "by": r.by,
             **({"until": r.until.isoformat()} if r.until else {}), "reason": r.reason or ""}
            for r in requests]
    sh(host, f"cat > {WORK}/requests.json", stdin=json.dumps(reqs, ensure_ascii=False).encode())
    keep(host, db, f"{WORK}/loaded")
    print(f"loaded: slapadd {load:.1f} s, Maildirs {maildirs:.1f} s", file=sys.stderr)

    rows, results = [], {}
    for mode in args.modes.split(","):
        put_back(host, db, f"{WORK}/loaded")
        write_mode, _, rest = mode.partition("/")
        workers, _, via = rest.partition("/")
        cfg = f"{WORK}/{mode.replace('/', '-')}.json"
        lmtp = "" if via == "sendmail" else config.get("lmtp_socket", "")
        sh(host, f"umask 077 && cat > {cfg}",
           stdin=json.dumps({**config, "write_mode": write_mode, "workers": int(workers or 4),
                             "lmtp_socket": lmtp}).encode())
        passes = [("plan (--check)", args.today, True), ("catch-up day", args.today, False),
                  ("same day again", args.today, False), ("next day", args.today + DAY, False)]
        for label, day, check in passes:
            wall, report = lifecycle(host, cfg, day, check=check)
            drained = 0.0 if check else wait_queue(host)
            actions = sum(report.get("counts", {}).values())
            sent = sum(1 for m in report.get("messages", []) if m.get("sent"))
            lmtp_sent = sum(1 for m in report.get("messages", []) if m.get("by") == "lmtp")
            row = {"mode": mode, "pass": label, "wall": round(wall, 2), "actions": actions,
                   "writes": report.get("writes", 0), "archives": len(report.get("archives", [])),
                   "mail": sent, "by_lmtp": lmtp_sent, "failures": len(report.get("failures", [])),
                   "drain": round(drained, 1),
                   "timings": report.get("timings", {}), "changed": report.get("changed")}
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
            # the notices just delivered are mail activity of the agency mailboxes: recorded, nothing else
            if label == "same day again" and actions:
                raise SystemExit(f"{mode}: the same day again planned actions: {report.get('counts')}")
        results[mode] = rows
    sh(host, f"cat > {WORK}/reads.py", stdin=READS.encode())
    n, paged, each = sh(host, f"python3 {WORK}/reads.py {shlex.quote(base)}").split()
    reads = {"entries": int(n), "paged_search": float(paged), "one_search_per_account": float(each)}
    if args.json:
        print(json.dumps({"accounts": len(accounts), "load": load, "rows": rows, "reads": reads}, indent=1))
        return 0
    print(f"\n{province}: {len(accounts)} generated accounts (+ the demo's), {args.messages} messages each, "
          f"today {args.today}")
    print(f"  {'mode':15} {'pass':16} {'wall s':>7} {'actions':>7} {'writes':>6} {'archives':>8} {'mail':>5} "
          f"{'lmtp':>5} {'fail':>4} {'drain':>5}  phases (s)")
    for r in rows:
        phases = " ".join(f"{k} {v:.1f}" for k, v in r["timings"].items() if k != "total")
        print(f"  {r['mode']:15} {r['pass']:16} {r['wall']:7.1f} {r['actions']:7d} {r['writes']:6d} "
              f"{r['archives']:8d} {r['mail']:5d} {r['by_lmtp']:5d} {r['failures']:4d} {r['drain']:5.1f}  "
              f"{phases}")
    print(f"  reads: one paged search of {reads['entries']} accounts {reads['paged_search']:.2f} s, "
          f"one base search per account {reads['one_search_per_account']:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
