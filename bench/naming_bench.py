#!/usr/bin/env python3
"""Naming benchmark: 50,000 generated people across one province, for every scheme.

    python bench/naming_bench.py [--people 50000] [--seed 1] [--schemes hanam,gialai,...]

Each province gets a synthetic catalogue the size of a real one (40 agencies with 5 units
each, 10 districts with 4 units and 15 communes each) and a roster drawn from data/vn_names.yml
(congvu.names), so name clashes are as frequent as in a real province. Prints, per scheme, the
time of `Scheme.assign` alone (name-folding caches cleared first; wall clock and this process's
CPU time), the addresses issued and the people left to the operator.
"""

from __future__ import annotations

import argparse
import itertools
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from congvu.names import generate_people
from congvu.naming import SCHEMES, make_scheme
from congvu.schemes import base


def synthetic_catalogue(province: str) -> dict:
    """A province-sized catalogue with explicit abbreviations (and Hà Nam clash codes)."""
    codes = ("".join(p) for p in itertools.product(string.ascii_lowercase, repeat=2))
    orgs = []
    for a in range(40):
        orgs.append({"code": f"s{a:02d}", "name": f"Sở số {a}", "kind": "agency", "abbr": f"s{a:02d}",
                     "clash_code": next(codes)})
        orgs += [{"code": f"s{a:02d}p{u}", "name": f"Phòng {u}", "kind": "unit", "abbr": f"p{u}",
                  "parent": f"s{a:02d}"} for u in range(5)]
    for d in range(10):
        orgs.append({"code": f"h{d:02d}", "name": f"Huyện số {d}", "kind": "district", "abbr": f"h{d:02d}",
                     "clash_code": next(codes)})
        orgs += [{"code": f"h{d:02d}p{u}", "name": f"Phòng {u}", "kind": "unit", "abbr": f"p{u}",
                  "parent": f"h{d:02d}"} for u in range(4)]
        orgs += [{"code": f"h{d:02d}x{c:02d}", "name": f"Xã số {d} {c}", "kind": "commune",
                  "abbr": f"x{d:02d}{c:02d}", "parent": f"h{d:02d}"} for c in range(15)]
    if province != "hanam":
        for entry in orgs:
            entry.pop("clash_code", None)
    if province == "gialai":  # no districts since 2025: communes stand alone
        orgs = [o for o in orgs if not o["code"].startswith("h") or "x" in o["code"]]
        for o in orgs:
            if o["kind"] == "commune":
                o.pop("parent")
    return {"province": province, "organisations": orgs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--schemes", default=",".join(SCHEMES))
    args = parser.parse_args()
    print(f"{'scheme':<10} {'orgs':>5} {'people':>7} {'assigned':>9} {'operator':>9} "
          f"{'wall s':>7} {'cpu s':>6}")
    worst = 0.0
    for name in args.schemes.split(","):
        catalogue = synthetic_catalogue(name)
        scheme = make_scheme({"scheme": name, "domain": f"{name}.gov.vn"}, catalogue)
        orgs = list(scheme.catalogue)
        people = generate_people(args.people, orgs, seed=args.seed, province=name)
        base._fold_full.cache_clear()  # cold caches: every scheme folds its names from scratch
        base._fold_word.cache_clear()
        start, cpu = time.perf_counter(), time.process_time()
        result = scheme.assign(people)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        worst = max(worst, elapsed)
        print(f"{name:<10} {len(orgs):>5} {len(people):>7} {len(result.new):>9} "
              f"{len(result.needs_operator):>9} {elapsed:>7.3f} {cpu:>6.3f}")
    print(f"slowest scheme: {worst:.3f} s wall for {args.people} people "
          "(cpu s is this process alone: compare it when the machine is busy)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
