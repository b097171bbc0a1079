#!/usr/bin/env python3
"""Benchmark of a merge's planning: Hà Nam's congvu-mail directory (N accounts) taken into the merged
Ninh Bình (policies/ninhbinh2025.yml), which already holds N people of its own.

    source scripts/env.sh && python bench/merge_bench.py [--people 20000] [--rounds 3]

Pure Python, no server: the steps an operator's merge runs on the control node and in the roster
apply's planning, each timed over ``--rounds`` rounds (the best and the median are printed):

1. ``intake``: the absorbed directory's LDIF export read and planned
   by ``congvu.intake`` (every address checked, the rosters and the migration file made);
2. ``rosters``: the rosters it wrote read back by ``congvu.roster.load_rosters``;
3. ``plan``: the roster apply's plan (``congvu.reconcile.plan``) of the surviving province's own
   rosters plus the merged ones against a directory holding the surviving province's people: the
   scheme names every newcomer, every old address becomes an alias and is checked against the
   directory;
4. ``re-plan``: the same plan once everything is written (a second run: nothing to do).

Writing the entries into slapd is the roster apply's own cost, measured by bench/reconcile_bench.py
(docs/accounts.md, "Performance"). Figures go to docs/restructuring.md ("Performance").
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from fakedirectory import Directory  # noqa: E402

from congvu.intake import plan_for_province  # noqa: E402
from congvu.names import generate_people  # noqa: E402
from congvu.naming import make_scheme  # noqa: E402
from congvu.orgs import load_catalogue  # noqa: E402
from congvu.policy import load_policy  # noqa: E402
from congvu.reconcile import org_dns, plan  # noqa: E402
from congvu.roster import Person, Roster, load_rosters, to_csv  # noqa: E402

HANAM_BASE = "dc=hanam,dc=gov,dc=vn"
NOW = "20261207080000Z"
# The absorbed catalogue's codes onto the merged one's (the district tier removed: every district's
# organisations to a commune of the province, Phủ Lý).
MAPPING = {"ubndt": "ubnd", "stttt": "skhcn", "pttbcxb": "skhcn", "sldtbxh": "snv"}


def hanam_export(count: int, seed: int, seen: set[tuple[str, str, str]]) -> tuple[str, dict[str, str]]:
    """The absorbed directory as LDIF, and the organisation mapping covering every code in it. A
    generated person with the name and birth date of somebody already in the organisation they map to
    (``seen``) is left out: the roster apply would stop and ask for their home towns (as in a real
    merge), and this measures the run that goes through."""
    catalogue = load_catalogue(ROOT / "data/catalogues/hanam.yml")
    dns = org_dns(catalogue, HANAM_BASE)
    people = generate_people(count * 11 // 10, list(catalogue), seed=seed, province="hanam",
                             birth_date_share=1.0)
    blocks, used = [], {}
    for p in people:
        key = (p.full_name, p.birth_date.isoformat(), MAPPING.get(p.org, "phuly"))
        if key in seen:
            continue
        seen.add(key)
        index = len(blocks)
        if index == count:
            break
        local = f"hn{index:06d}"
        org_dn = dns[p.org]
        cn = base64.b64encode(p.full_name.encode()).decode()
        blocks.append(
            f"dn: uid={local},{org_dn}\nobjectClass: inetOrgPerson\nobjectClass: congvuMailAccount\n"
            f"uid: {local}\nmail: {local}@hanam.gov.vn\ncongvuMailAlias: {local}.old@hanam.gov.vn\n"
            f"cn:: {cn}\nemployeeNumber: HN-{index:06d}\ncongvuBirthDate: {p.birth_date.isoformat()}\n"
            f"congvuOrganisationDN: {org_dn}\ncongvuMailboxClass: personal\ncongvuAccountState: active\n"
            f"congvuMustChangePassword: FALSE\nuserPassword: {{CRYPT}}$6$rounds=5000$salt{index:06d}$"
            "4f1vH9ds0u3bqQ0b8c3t1oI2lQm0eVqk8tD7gW0zNfJrQbq9q8dZb6d7XH3Kp1pZ2mQhS3tV0yW4xL5nR6aB.\n")
        used[p.org] = MAPPING.get(p.org, "phuly")
    return "version: 1\n\n" + "\n".join(blocks), used


def own_rosters(count: int, seed: int, seen: set[tuple[str, str, str]]) -> list[tuple[str, str]]:
    """The surviving province's own people (its catalogue), as one CSV roster (one of two people with
    the same name and birth date in one organisation left out, see :func:`hanam_export`)."""
    catalogue = load_catalogue(ROOT / "data/catalogues/ninhbinh2025.yml")
    people = generate_people(count * 11 // 10, list(catalogue), seed=seed, province="ninhbinh",
                             birth_date_share=1.0, id_prefix="NB-")
    kept = []
    for p in people:
        key = (p.full_name, p.birth_date.isoformat(), p.org)
        if key not in seen and len(kept) < count:
            seen.add(key)
            kept.append(Person(id=p.id, name=p.full_name, birth_date=p.birth_date.isoformat(), org=p.org))
    return [("own.csv", to_csv(kept))]


def timed(fn, rounds: int) -> tuple[list[float], object]:
    times, result = [], None
    for _ in range(rounds):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--people", type=int, default=20000, help="accounts on each side (default 20000)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    policy = load_policy(ROOT / "policies/ninhbinh2025.yml")
    catalogue_file = str(ROOT / "data/catalogues/ninhbinh2025.yml")
    scheme = make_scheme(policy["naming"], catalogue_file)
    seen: set[tuple[str, str, str]] = set()
    own = own_rosters(args.people, seed=11, seen=seen)
    export, mapping = hanam_export(args.people, seed=7, seen=seen)
    intake_file = {"format": "congvu", "addresses": "scheme", "organisations": mapping,
                   "source": {"host": "mail.hanam.gov.vn", "tls": "imaps", "master_user": "migration",
                              "master_password": "m" * 32}}

    # the surviving province's directory before the merge: its own people, applied once
    directory = Directory()
    first = plan(policy=policy, scheme=scheme, roster=load_rosters(own, scheme.catalogue),
                 current=directory.current(), now=NOW)
    directory.apply(first.changes)

    rows = []
    t_intake, intake = timed(lambda: plan_for_province(export, intake_file, policy, catalogue_file),
                             args.rounds)
    rows.append(("intake (LDIF read, checked, rosters and migration file made)", t_intake))
    merged_files = own + [(f"intake/{name}", text) for name, text in intake.rosters.items()]
    t_rosters, roster = timed(lambda: load_rosters(merged_files, scheme.catalogue), args.rounds)
    rows.append(("rosters read back (own + merged)", t_rosters))
    assert isinstance(roster, Roster)
    t_plan, result = timed(lambda: plan(policy=policy, scheme=scheme, roster=roster,
                                        current=directory.current(), now=NOW), args.rounds)
    rows.append(("roster apply's plan (newcomers named, aliases checked)", t_plan))
    created = sum(1 for c in result.created if c["kind"] == "person")
    pending = len(result.pending)
    directory.apply(result.changes)
    t_again, again = timed(lambda: plan(policy=policy, scheme=scheme, roster=roster,
                                        current=directory.current(), now=NOW), args.rounds)
    rows.append(("the same plan again (nothing to do)", t_again))

    print(f"merge of {args.people} Hà Nam accounts into Ninh Bình ({args.people} own people), "
          f"{args.rounds} rounds")
    print(f"{'step':<62} {'best s':>8} {'median s':>9}")
    for label, times in rows:
        print(f"{label:<62} {min(times):>8.2f} {statistics.median(times):>9.2f}")
    print(f"accounts taken in: {len(intake.people)}; created: {created}; "
          f"waiting for the operator: {pending}; "
          f"aliases: {sum(len(p['aliases']) for p in intake.people)}; changes on the second plan: "
          f"{len(again.changes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
