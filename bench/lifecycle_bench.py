#!/usr/bin/env python3
"""Lifecycle benchmark: one day's plan over 20,000 generated accounts, indexed planner vs naive loop.

    python bench/lifecycle_bench.py [--accounts 20000] [--provinces ninhbinh,hanam] [--today 2027-01-25]
                                    [--repeat 5] [--seed 1]

People come from congvu.names (data/vn_names.yml frequencies) spread over 60 agencies with one
delegated admin and one agency mailbox each. The snapshot is the day the lifecycle is switched on:
most mailboxes used in the last weeks, 8 % dormant for months (never locked yet), 4 % locked with a
notice running or not sent, 5 % new accounts on their initial password, 2 % leavers, 1 % pending
moves, 5 % quotas off the policy, passwords of every age up to the interval (3 % expired), and 100
agency requests (reopen, hold). `today` defaults to 25/01/2027, just before Tết 2027, so working-day
deadlines cross it; 2026-2028 are confirmed by override for the run.

For each province, three passes, each planned by both planners (median of --repeat runs, wall clock
and this process's CPU):

* `first pass`: everything overdue at once (the catch-up day);
* `unchanged`: the snapshot once the first plan is applied (congvu.lifecycle.apply_plan), planned again
  the same day: must be empty;
* `next day`: a day later, a fifth of the people logged in and two fifths sent or received mail.

`indexed` is congvu.lifecycle.plan as the lifecycle run calls it (thresholds computed once, quiet
accounts skipped, working days from the Calendar index); `naive` the same rules evaluated for every
account with day-by-day working-day walks (`plan(..., indexed=False)`), the per-account loop one would
write first. The plans are compared action by action; the run fails if they differ. Last, the first
pass's notices are rendered (congvu.notices) and its audit records appended (congvu.audit) to a
temporary directory.

`--only indexed|naive` builds the snapshot and plans it --repeat times with one planner, nothing else:
for whole-process timings, paired and alternated, with `farm-bench` (bench/README.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from congvu import audit
from congvu.fold import vn_ascii
from congvu.lifecycle import Account, Request, apply_plan, plan
from congvu.names import generate_people
from congvu.notices import messages
from congvu.policy import load_policy
from congvu.workdays import VN_TZ

ROOT = Path(__file__).resolve().parent.parent
DAY = dt.timedelta(days=1)


def snapshot(province: str, policy: dict, count: int, today: dt.date,
             seed: int) -> tuple[list[Account], list[Request]]:
    """``count`` accounts of a province on an ordinary day, and the agencies' requests."""
    rng = random.Random(seed)
    agencies = [f"s{i:02d}" for i in range(60)]
    people = generate_people(count, agencies, seed=seed, province=province)
    domain = policy["domains"]["primary"]
    quota = policy["quota"]
    accounts: list[Account] = []
    for code in agencies:
        accounts.append(Account(mail=f"{code}@{domain}", dn=f"uid={code},o={code},ou=organisations",
                                organisation=code, name=f"Cơ quan {code}", agency_name=f"Cơ quan {code}",
                                mailbox_class="agency", created=today - 900 * DAY, last_login=today - DAY,
                                last_mail=today - DAY, password_changed=today - rng.randrange(40) * DAY,
                                quota=quota["agency"]))

    def ago(low: int, high: int) -> dt.date:
        return today - rng.randrange(low, high) * DAY

    # ppolicy makes people change an expired password: most passwords are younger than the interval
    max_age = policy["passwords"]["user"]["max_age"] or 365
    admins = {}
    for i, person in enumerate(people):
        local = vn_ascii(person.full_name, lower=True).replace(" ", "").replace("-", "") + str(i)
        fields = {"mail": f"{local}@{domain}", "dn": f"uid={local},o={person.org},ou=organisations",
                  "organisation": person.org, "name": person.full_name,
                  "agency_name": f"Cơ quan {person.org}",
                  "created": ago(60, 3000), "last_login": ago(0, 60), "last_mail": ago(0, 10),
                  "password_changed": ago(0, max_age), "quota": quota["personal"]}
        roll = rng.random()
        if person.org not in admins:  # the agency's delegated admin, an active user
            admins[person.org] = fields["mail"]
            fields["admin"] = True
            roll = 1.0
        if roll < 0.08:  # dormant for months
            fields.update(last_login=ago(60, 400), last_mail=ago(10, 400))
        elif roll < 0.12:  # locked, a notice running or not yet sent
            fields.update(state="locked", lock_reason="inactivity", last_login=ago(180, 400),
                          last_mail=ago(90, 400),
                          notice_sent=ago(0, 40) if rng.random() < 0.8 else None)
        elif roll < 0.14:  # leavers
            fields.update(leaving_since=ago(0, 10))
        elif roll < 0.19:  # new, initial password unchanged
            created = ago(0, 60)
            fields.update(created=created, must_change_password=True, password_changed=created,
                          last_login=None, last_mail=created)
        elif roll < 0.20:  # a move pending
            fields.update(transfer_to=rng.choice(agencies), transfer_since=ago(0, 5))
        if rng.random() < 0.05:
            fields["quota"] = rng.choice([10**9, 2 * 10**9, None])
        if rng.random() < 0.03:  # expired, not changed yet
            fields["password_changed"] = ago(max_age, max_age + 100)
        accounts.append(Account(**fields))
    requests = []
    locked = [a for a in accounts if a.state == "locked"]
    for account in rng.sample(locked, min(50, len(locked))):
        requests.append(Request(kind="reopen", mail=account.mail, received=today - rng.randrange(3) * DAY,
                                by=admins[account.agency]))
    active = [a for a in accounts if a.state == "active" and not a.admin and a.mailbox_class == "personal"
              and a.leaving_since is None]
    for account in rng.sample(active, 50):
        requests.append(Request(kind="hold", mail=account.mail, received=today, by=admins[account.agency],
                                until=today + rng.randrange(30, 180) * DAY, reason="công tác dài ngày"))
    return accounts, requests


def timed(repeat: int, func):
    """(result, median wall s, median CPU s) of ``repeat`` calls."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = func()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return result, statistics.median(walls), statistics.median(cpus)


def next_day(accounts: list[Account], today: dt.date, seed: int) -> list[Account]:
    """A day later: a fifth of the active people log in, two fifths send or receive mail."""
    rng = random.Random(seed)
    out = []
    for a in accounts:
        changes = {}
        if a.state != "retired" and rng.random() < 0.4:
            changes["last_mail"] = today
        if a.state == "active" and not a.must_change_password and rng.random() < 0.2:
            changes["last_login"] = today
        out.append(dataclasses.replace(a, **changes) if changes else a)
    return out


def compare(label: str, policy: dict, accounts, today: dt.date, requests, repeat: int, rows: list):
    """Time both planners on one snapshot; returns the plan (they must be identical)."""
    fast, fast_wall, fast_cpu = timed(repeat, lambda: plan(policy, accounts, today, requests=requests))
    slow, slow_wall, slow_cpu = timed(repeat, lambda: plan(policy, accounts, today, requests=requests,
                                                           indexed=False))
    if fast != slow:
        raise SystemExit(f"{policy['province']['code']}: {label}: the indexed and naive plans differ")
    rows.append((label, len(fast), fast_wall, fast_cpu, slow_wall, slow_cpu))
    return fast


def bench(province: str, count: int, today: dt.date, repeat: int, seed: int) -> int:
    overrides = {"calendar": {"confirmed_years": [today.year - 1, today.year, today.year + 1]}}
    policy = load_policy(ROOT / "policies" / f"{province}.yml", overrides)
    accounts, requests = snapshot(province, policy, count, today, seed)
    rows: list = []
    first = compare("first pass (catch-up day)", policy, accounts, today, requests, repeat, rows)
    applied = apply_plan(accounts, first)
    unchanged = compare("unchanged (same day, applied)", policy, applied, today, requests, repeat, rows)
    if len(unchanged):
        print(f"{province}: re-planning after apply gave {unchanged.counts()}", file=sys.stderr)
        return 1
    tomorrow = today + DAY
    following = next_day(applied, tomorrow, seed)
    compare("next day", policy, following, tomorrow, (), repeat, rows)
    with tempfile.TemporaryDirectory() as tmp:
        ts = dt.datetime.combine(today, dt.time(6, 0), tzinfo=VN_TZ)

        def write() -> int:
            mails = messages(first, accounts, policy)
            audit.append(tmp, audit.records_from_plan(first, ts))
            return len(mails)

        sent, out_wall, out_cpu = timed(1, write)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(first.counts().items()))
    print(f"\n{province}: {len(accounts)} accounts, {len(requests)} requests, today {today}; first pass: "
          f"{counts}")
    print(f"  {'pass':30} {'actions':>7} {'indexed s':>9} {'CPU s':>6} {'naive s':>8} {'CPU s':>6} "
          f"{'naive/indexed CPU':>17}")
    for label, n, fw, fc, sw, sc in rows:
        print(f"  {label:30} {n:7d} {fw:9.3f} {fc:6.3f} {sw:8.3f} {sc:6.3f} {sc / fc:16.1f}x")
    print(f"  notices + audit of the first pass: {sent} messages, {len(first)} records, "
          f"{out_wall:.3f} s (CPU {out_cpu:.3f} s)")
    return 0


def only(planner: str, province: str, count: int, today: dt.date, repeat: int, seed: int) -> int:
    overrides = {"calendar": {"confirmed_years": [today.year - 1, today.year, today.year + 1]}}
    policy = load_policy(ROOT / "policies" / f"{province}.yml", overrides)
    accounts, requests = snapshot(province, policy, count, today, seed)
    result = None
    for _ in range(repeat):
        result = plan(policy, accounts, today, requests=requests, indexed=planner == "indexed")
    print(f"{province} {planner}: {len(result)} actions")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--provinces", default="ninhbinh,hanam,cantho,gialai,hagiang")
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date(2027, 1, 25))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", choices=("indexed", "naive"))
    args = parser.parse_args()
    if args.only:
        province = args.provinces.split(",")[0]
        return only(args.only, province, args.accounts, args.today, args.repeat, args.seed)
    status = 0
    for province in args.provinces.split(","):
        status |= bench(province.strip(), args.accounts, args.today, args.repeat, args.seed)
    return status


if __name__ == "__main__":
    sys.exit(main())
