"""The demo/benchmark people generator (congvu.names)."""

from __future__ import annotations

from collections import Counter

import pytest
import yaml

from congvu.errors import NamingError
from congvu.fold import split_name
from congvu.names import DEFAULT_NAMES, generate_people, load_names


def test_reproducible_and_spread_over_organisations():
    a = generate_people(2000, ["s1", "s2", "s3"], seed=4)
    b = generate_people(2000, ["s1", "s2", "s3"], seed=4)
    c = generate_people(2000, ["s1", "s2", "s3"], seed=5)
    assert a == b and a != c
    assert Counter(p.org for p in a) == {"s1": 667, "s2": 667, "s3": 666}
    assert len({p.id for p in a}) == 2000


def test_realistic_frequencies_give_clashes():
    people = generate_people(20_000, ["s"], seed=1)
    surnames = Counter(split_name(p.full_name).surname for p in people)
    assert 0.3 < surnames["Nguyễn"] / len(people) < 0.45  # about 38 %
    names = Counter(p.full_name for p in people)
    assert names.most_common(1)[0][1] >= 5  # "Nguyễn Văn Minh"-style repeats
    assert any(len(split_name(p.full_name).middles) == 2 for p in people)  # second middle names
    assert 0.85 < sum(p.birth_date is not None for p in people) / len(people) < 0.95


@pytest.mark.parametrize(("province", "marker"), [("gialai", "Ksor"), ("hagiang", "Giàng")])
def test_minority_names(province, marker):
    people = generate_people(3000, ["x"], seed=2, province=province)
    assert any(p.full_name.startswith(marker) for p in people)
    assert not any(p.full_name.startswith(marker) for p in generate_people(3000, ["x"], seed=2))


def test_bad_arguments_and_file(tmp_path):
    with pytest.raises(NamingError, match="at least one organisation"):
        generate_people(3, [])
    bad = tmp_path / "names.yml"
    bad.write_text("surnames: {Nguyễn: 1}\n", encoding="utf-8")
    with pytest.raises(NamingError, match="middle_names: missing or empty section"):
        load_names(str(bad))
    with pytest.raises(NamingError, match="cannot read names file"):
        load_names(str(tmp_path / "none.yml"))


def test_minority_share_is_data(tmp_path):
    # The share of minority names per province lives in the names file, next to its examples.
    data = yaml.safe_load(DEFAULT_NAMES.read_text(encoding="utf-8"))
    data["minority_share"] = {"gialai": 1.0}
    names = tmp_path / "all-minority.yml"
    names.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    examples = set(data["minority_examples"]["gialai"])
    surnames = {split_name(n).surname for n in examples}
    people = generate_people(50, ["x"], seed=2, province="gialai", names_file=str(names))
    assert all(split_name(p.full_name).surname in surnames for p in people)
    assert not all(p.full_name in examples for p in people)  # recombined, not copied
    data["minority_share"] = {"gialai": 1.5}
    bad = tmp_path / "bad-share.yml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(NamingError, match=r"minority_share\.gialai: must be a number from 0 to 1"):
        load_names(str(bad))
