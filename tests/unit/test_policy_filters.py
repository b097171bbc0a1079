"""The thin Ansible filter wrappers of filter_plugins/policy.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from source_files import load

from congvu.policy import load_policy

ROOT = Path(__file__).resolve().parents[2]


PLUGIN = load("filter_plugins/policy.py", "congvu_filter_policy")
FILTERS = PLUGIN.FilterModule().filters()


@pytest.fixture(scope="module")
def hanam():
    return load_policy(ROOT / "policies" / "hanam.yml")


def test_documented():
    for text in (PLUGIN.DOCUMENTATION, PLUGIN.EXAMPLES, PLUGIN.RETURN):
        assert text.strip()
    for name in FILTERS:
        assert f"C({name})" in PLUGIN.DOCUMENTATION, name


def test_size_bytes():
    assert FILTERS["size_bytes"]("2GB") == 2 * 10**9
    assert FILTERS["size_bytes"]("unlimited") is None
    with pytest.raises(AnsibleFilterError, match="size syntax"):
        FILTERS["size_bytes"]("two gigs")
    with pytest.raises(AnsibleFilterError, match="size must be finite"):
        FILTERS["size_bytes"]("unlimited", allow_unlimited=False)


def test_message_size_limit(hanam):
    assert FILTERS["message_size_limit"](hanam["attachments"]["max_size"]) == 28_368_424  # Hà Nam Art 8.1.b
    with pytest.raises(AnsibleFilterError, match="attachment_limit"):
        FILTERS["message_size_limit"]("unlimited")


def test_password_violations(hanam):
    # Hà Nam Art 8.2.b: the seed's own example lacks an upper-case letter
    (item,) = FILTERS["password_violations"]("nguyendung@135", hanam)
    assert item["code"] == "missing_upper" and "chữ in hoa" in item["message"]
    assert FILTERS["password_violations"]("Nguyen@135", hanam, "admin", "en")[0]["code"] == "too_short"
    with pytest.raises(AnsibleFilterError, match="effective policy"):
        FILTERS["password_violations"]("x", {"quota": {}})
    with pytest.raises(AnsibleFilterError, match="role"):
        FILTERS["password_violations"]("x", hanam, "root")
    with pytest.raises(AnsibleFilterError, match="string"):
        FILTERS["password_violations"](12345678, hanam)


def test_hash_and_verify():
    hashed = FILTERS["password_hash_congvu"]("Nguyendung@135", 5000)
    assert hashed.startswith("{CRYPT}$6$rounds=5000$")
    assert FILTERS["password_verify_congvu"]("Nguyendung@135", hashed) is True
    assert FILTERS["password_verify_congvu"]("nguyendung@135", hashed) is False
    with pytest.raises(AnsibleFilterError, match="rounds"):
        FILTERS["password_hash_congvu"]("x", 10)
    with pytest.raises(AnsibleFilterError):
        FILTERS["password_verify_congvu"]("x", "plain")


def test_initial_password_and_max_age(hanam):
    pw = FILTERS["initial_password"](hanam, "admin")
    assert FILTERS["password_violations"](pw, hanam, "admin") == []
    assert FILTERS["password_max_age_days"](hanam, "user") == 90  # Hà Nam Art 8.2.a
    with pytest.raises(AnsibleFilterError):
        FILTERS["initial_password"](hanam, "guest")


def test_add_working_days():
    assert FILTERS["add_working_days"]("2026-02-10", 15) == "2026-03-10"  # across Tết 2026
    assert FILTERS["add_working_days"]("2026-02-10", "15") == "2026-03-10"  # Jinja may hand a string
    with pytest.raises(AnsibleFilterError, match="ISO 8601 date"):
        FILTERS["add_working_days"]("10/02/2026", 15)
