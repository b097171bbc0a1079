"""Realistic Vietnamese people for demo rosters and benchmarks.

Names are drawn from ``data/vn_names.yml`` (weighted surnames, gender-specific middle and given
names, an occasional second middle name), so the same full names come up as often as they do in a
real province and the naming schemes' clash rules are exercised. A province with
``minority_examples`` in the file (Gia Lai, Hà Giang...) mixes in ethnic-minority names (Jrai/Bahnar,
Hmong, Tày...) recombined from them, at the file's ``minority_share`` for it: no Kinh middle name,
apostrophes (``H'Nhiên``), two-word clan names (``Rơ Mah``).

Everything is seeded: the same arguments give the same people.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from congvu.errors import NamingError
from congvu.fold import split_name
from congvu.naming import Person

__all__ = ["DEFAULT_NAMES", "generate_people", "load_names"]

DEFAULT_NAMES = Path(__file__).resolve().parent.parent / "data" / "vn_names.yml"
HOME_TOWNS = ("Hà Nội", "Nam Định", "Thái Bình", "Nghệ An", "Thanh Hóa", "Hải Dương", "Huế",
              "Quảng Nam", "Bình Định", "Cần Thơ", "Ninh Bình", "Hà Nam", "Gia Lai", "Hà Giang")


@lru_cache(maxsize=4)
def load_names(path: str | None = None) -> dict[str, Any]:
    """The name-frequency file, checked for the sections the generator uses."""
    source = path or str(DEFAULT_NAMES)
    try:
        data = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
    except OSError as exc:
        raise NamingError(f"cannot read names file: {exc.strerror}", source=source, rule="names") from None
    for key in ("surnames", "middle_names", "given_names"):
        if not isinstance(data, dict) or not isinstance(data.get(key), dict) or not data[key]:
            raise NamingError("missing or empty section", source=source, key=key, rule="names")
    for key in ("male", "female"):
        for section in ("middle_names", "given_names"):
            if not data[section].get(key):
                raise NamingError("missing or empty section", source=source, key=f"{section}.{key}",
                                  rule="names")
    for province, share in (data.get("minority_share") or {}).items():
        if isinstance(share, bool) or not isinstance(share, int | float) or not 0 <= share <= 1:
            raise NamingError(f"must be a number from 0 to 1, got {share!r}", source=source,
                              key=f"minority_share.{province}", rule="names")
    return data


class _Picker:
    """Weighted choice with precomputed cumulative weights (fast for 50,000 draws)."""

    def __init__(self, weights: dict[str, float]) -> None:
        self.items = list(weights)
        self.cum = list(itertools.accumulate(float(w) for w in weights.values()))

    def __call__(self, rng: random.Random) -> str:
        return rng.choices(self.items, cum_weights=self.cum, k=1)[0]


def _minority_parts(examples: Sequence[str]) -> tuple[list[str], list[str]]:
    surnames, rests = [], []
    for name in examples:
        parts = split_name(name)
        if parts.surname:
            surnames.append(parts.surname)
        rests.append(" ".join([*parts.middles, parts.given]))
    return sorted(set(surnames)), sorted(set(rests))


def generate_people(count: int, orgs: Sequence[str], *, seed: int = 1, province: str | None = None,
                    second_middle_share: float = 0.12, birth_date_share: float = 0.9,
                    home_town_share: float = 0.5, names_file: str | None = None,
                    id_prefix: str = "p") -> list[Person]:
    """``count`` people spread evenly over the organisation codes ``orgs``.

    ``province`` (a province code) selects the minority-name mix: the file's ``minority_examples``
    and ``minority_share`` for it, none when it has no examples. The shares say how often a person
    has a second middle name, a birth date and a home town.
    """
    if count < 0 or not orgs:
        raise NamingError("need a count >= 0 and at least one organisation", rule="names")
    data = load_names(names_file)
    rng = random.Random(seed)
    surname = _Picker(data["surnames"])
    middle = {g: _Picker(data["middle_names"][g]) for g in ("male", "female")}
    second = _Picker(data["middle_names"].get("second") or data["middle_names"]["female"])
    given = {g: _Picker(data["given_names"][g]) for g in ("male", "female")}
    examples = (data.get("minority_examples") or {}).get(province or "") or []
    minority_share = float((data.get("minority_share") or {}).get(province or "", 0.0)) if examples else 0.0
    m_surnames, m_rests = _minority_parts(examples)
    start = dt.date(1965, 1, 1).toordinal()
    span = dt.date(2003, 12, 31).toordinal() - start
    people = []
    for index in range(count):
        if minority_share and rng.random() < minority_share:
            full = f"{rng.choice(m_surnames)} {rng.choice(m_rests)}"
        else:
            gender = "female" if rng.random() < 0.5 else "male"
            words = [surname(rng), middle[gender](rng)]
            if rng.random() < second_middle_share:
                extra = second(rng)
                if extra != words[-1]:
                    words.append(extra)
            words.append(given[gender](rng))
            full = " ".join(words)
        birth = dt.date.fromordinal(start + rng.randrange(span)) if rng.random() < birth_date_share else None
        home = rng.choice(HOME_TOWNS) if rng.random() < home_town_share else None
        people.append(Person(id=f"{id_prefix}{index:06d}", full_name=full, org=orgs[index % len(orgs)],
                             birth_date=birth, home_town=home))
    return people
