#!/usr/bin/env python3
"""Lifecycle benchmark: one day's plan over 20,000 generated accounts, indexed planner vs naive loop.

    python bench/lifecycle_bench.py [--accounts 20000] [--provinces ninhbinh,hanam] [--today 2027-01-25]
                                    [--repeat 5] [--seed 1]

People come from congvu.names (data/vn_names.yml frequencies) spread over 60 agencies with one
delegated admin and one agency mailbox each. Their state is a province on an ordinary day: most
mailboxes used in the last weeks, some dormant for months, some locked with a notice running, new
accounts still on their initial password, leavers, pending moves, quotas off the policy, passwords
about to expire, and 100 agency requests (reopen, hold). `today` defaults to 25/01/2027, just before
Tết 2027, so the working-day deadlines cross it; 2026 and 2027 are confirmed by override for the run.

For each province it times, in the same process and on the same snapshot (median of --repeat runs,
wall clock and this process's CPU):

* `plan indexed`: congvu.lifecycle.plan as the lifecycle run calls it (thresholds computed once, quiet
  accounts skipped, working days from the Calendar index);
* `plan naive`: the same rules evaluated for every account with day-by-day working-day walks
  (`plan(..., indexed=False)`), the per-account loop one would write first;
* `re-plan after apply`: the snapshot once the plan is applied (congvu.lifecycle.apply_plan), planned
  again the same day: must be empty;
* `notices + audit`: rendering every message (congvu.notices) and appending every audit record
  (congvu.audit) to a temporary directory.

The two plans are compared action by action; the run fails if they differ.
"""

from __future__ import annotations

import argparse
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

    admins = {}
    for i, person in enumerate(people):
        local = vn_ascii(person.full_name, lower=True).replace(" ", "").replace("-", "") + str(i)
        fields = {"mail": f"{local}@{domain}", "dn": f"uid={local},o={person.org},ou=organisations",
                  "organisation": person.org, "name": person.full_name,
                  "agency_name": f"Cơ quan {person.org}",
                  "created": ago(60, 3000), "last_login": ago(0, 60), "last_mail": ago(0, 10),
                  "password_changed": ago(0, 200), "quota": quota["personal"]}
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


def bench(province: str, count: int, today: dt.date, repeat: int, seed: int) -> int:
    overrides = {"calendar": {"confirmed_years": [today.year - 1, today.year, today.year + 1]}}
    policy = load_policy(ROOT / "policies" / f"{province}.yml", overrides)
    accounts, requests = snapshot(province, policy, count, today, seed)
    fast, fast_wall, fast_cpu = timed(repeat, lambda: plan(policy, accounts, today, requests=requests))
    slow, slow_wall, slow_cpu = timed(repeat, lambda: plan(policy, accounts, today, requests=requests,
                                                           indexed=False))
    if fast != slow:
        print(f"{province}: the indexed and naive plans differ", file=sys.stderr)
        return 1
    after = apply_plan(accounts, fast)
    again, again_wall, again_cpu = timed(repeat, lambda: plan(policy, after, today, requests=requests))
    again_naive, again_naive_wall, _ = timed(repeat, lambda: plan(policy, after, today, requests=requests,
                                                                  indexed=False))
    if len(again) or len(again_naive):
        print(f"{province}: re-planning after apply gave {again.counts()}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        ts = dt.datetime.combine(today, dt.time(6, 0), tzinfo=VN_TZ)
        def write() -> int:
            mails = messages(fast, accounts, policy)
            audit.append(tmp, audit.records_from_plan(fast, ts))
            return len(mails)
        sent, out_wall, out_cpu = timed(1, write)
    counts = ", ".join(f"{k} {v}" for k, v in sorted(fast.counts().items()))
    print(f"\n{province}: {len(accounts)} accounts, {len(requests)} requests, today {today}; "
          f"{len(fast)} actions ({counts}); {sent} messages")
    print(f"  {'step':32} {'wall s':>8} {'CPU s':>8}")
    print(f"  {'plan indexed':32} {fast_wall:8.3f} {fast_cpu:8.3f}")
    print(f"  {'plan naive (per-account loop)':32} {slow_wall:8.3f} {slow_cpu:8.3f}   "
          f"x{slow_wall / fast_wall:.1f}, identical plans")
    print(f"  {'re-plan after apply, indexed':32} {again_wall:8.3f} {again_cpu:8.3f}   0 actions")
    print(f"  {'re-plan after apply, naive':32} {again_naive_wall:8.3f} {'':8}   "
          f"x{again_naive_wall / again_wall:.1f}")
    print(f"  {'notices + audit (once)':32} {out_wall:8.3f} {out_cpu:8.3f}   {len(fast)} records")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--provinces", default="ninhbinh,hanam,cantho,gialai,hagiang")
    parser.add_argument("--today", type=dt.date.fromisoformat, default=dt.date(2027, 1, 25))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    status = 0
    for province in args.provinces.split(","):
        status |= bench(province.strip(), args.accounts, args.today, args.repeat, args.seed)
    return status


if __name__ == "__main__":
    sys.exit(main())
