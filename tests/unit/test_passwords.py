"""Password rules per province and role, generation and hashing (congvu.passwords)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from congvu import passwords
from congvu.errors import PasswordError
from congvu.policy import load_policy, province_codes

POLICIES = Path(__file__).resolve().parents[2] / "policies"
PROVINCES = province_codes(POLICIES)
FAST = 5000  # SHA512-crypt rounds for tests that do not check the default


@pytest.fixture(scope="module")
def policies() -> dict[str, dict]:
    return {p: load_policy(POLICIES / f"{p}.yml") for p in PROVINCES}


def codes(password, policy, role="user"):
    return [v["code"] for v in passwords.password_violations(password, policy, role)]


# --- the seeds' own examples ------------------------------------------------------------------------

def test_hanam_example_breaks_its_own_rule(policies):
    # Hà Nam Art 8.2.b asks for upper case, yet its example "nguyendung@135" has none: the rule wins.
    assert codes("nguyendung@135", policies["hanam"]) == ["missing_upper"]
    assert codes("Nguyendung@135", policies["hanam"]) == []


def test_cantho_example_breaks_its_own_rule(policies):
    # Cần Thơ Art 10.3.b / 11.4.c ask for a special character; the example "MatKhaus7894" has none.
    assert codes("MatKhaus7894", policies["cantho"]) == ["missing_special"]
    assert codes("MatKhaus7894", policies["cantho"], "organisation") == ["missing_special"]
    assert codes("MatKhau#7894", policies["cantho"]) == []


def test_gialai_example_satisfies_its_rule(policies):
    # Gia Lai Art 9.2: 12 characters; its example "Matkhau@123!#A" has 14 and every class.
    assert codes("Matkhau@123!#A", policies["gialai"]) == []
    assert codes("Matkhau@123", policies["gialai"]) == ["too_short"]  # 11 < 12


# --- per role ---------------------------------------------------------------------------------------

def test_ninhbinh_admin_needs_ten_characters(policies):
    nb = policies["ninhbinh"]  # Ninh Bình Art 11.1: 10 for administrators, 8 for users
    assert codes("Abcdef1!x", nb, "user") == []  # 9 characters
    assert codes("Abcdef1!x", nb, "admin") == ["too_short"]
    assert codes("Abcdef1!xy", nb, "admin") == []


def test_max_age_per_role(policies):
    assert passwords.max_age_days(policies["cantho"], "user") == 90  # Cần Thơ Art 10.3
    assert passwords.max_age_days(policies["cantho"], "organisation") == 60  # Cần Thơ Art 11.4
    assert passwords.max_age_days(policies["ninhbinh"], "user") == 180  # Ninh Bình Art 11.2
    assert passwords.max_age_days(policies["ninhbinh"], "admin") == 90  # Ninh Bình Art 11.2
    assert passwords.max_age_days(policies["hanam"]) == 90  # Hà Nam Art 8.2.a


def test_every_rule_is_reported(policies):
    found = passwords.password_violations("abc", policies["hanam"])
    assert [v["code"] for v in found] == ["too_short", "missing_upper", "missing_digit", "missing_special"]


def test_hanam_special_characters_are_the_listed_ones(policies):
    # Hà Nam Art 8.2.b lists ! @ # % $ * &; a caret does not count as the special character
    assert codes("Abcdefg1^", policies["hanam"]) == ["missing_special"]
    for char in "!@#%$*&":
        assert codes(f"Abcdefg1{char}", policies["hanam"]) == [], char


def test_messages_in_vietnamese_and_english(policies):
    (item,) = passwords.password_violations("abcdefg1!", policies["hanam"], lang="vi")
    assert item["code"] == "missing_upper"
    assert item["message"] == item["vi"] == "Mật khẩu phải chứa ít nhất một chữ in hoa (A-Z)"
    (item,) = passwords.password_violations("abcdefg1!", policies["hanam"], lang="en")
    assert item["message"] == item["en"] == "must contain an upper-case letter (A-Z)"
    (item,) = passwords.password_violations("Ab1!", policies["gialai"])
    assert item["vi"] == "Mật khẩu phải có độ dài tối thiểu 12 ký tự"


def test_non_ascii_and_spaces_are_refused(policies):
    assert "invalid_character" in codes("Mậtkhẩu@2026", policies["hanam"])
    assert "invalid_character" in codes("Mat khau@2026", policies["hanam"])


def test_username_inside_password(policies):
    found = passwords.password_violations("Minhnv.stttt@1", policies["ninhbinh"], username="minhnv")
    assert [v["code"] for v in found] == ["same_as_username"]


def test_bad_arguments(policies):
    with pytest.raises(PasswordError) as info:
        passwords.password_violations("x", policies["hanam"], role="root")
    assert info.value.rule == "role"
    with pytest.raises(PasswordError):
        passwords.password_violations("x", policies["hanam"], lang="fr")
    with pytest.raises(PasswordError):
        passwords.password_violations(None, policies["hanam"])
    with pytest.raises(PasswordError) as info:
        passwords.password_violations("x", {"passwords": {}}, role="admin")
    assert info.value.key == "passwords.admin"


def test_check_password_raises_with_both_languages(policies):
    with pytest.raises(PasswordError) as info:
        passwords.check_password("nguyendung@135", policies["hanam"])
    assert info.value.rule == "missing_upper"
    assert "upper-case" in str(info.value) and "chữ in hoa" in str(info.value)
    passwords.check_password("Nguyendung@135", policies["hanam"])


# --- generation -------------------------------------------------------------------------------------

@pytest.mark.parametrize("province", PROVINCES)
@pytest.mark.parametrize("role", passwords.ROLES)
def test_generated_passwords_satisfy_the_policy(policies, province, role):
    policy = policies[province]
    seen = set()
    for _ in range(30):
        pw = passwords.generate_password(policy, role)
        assert passwords.password_violations(pw, policy, role) == []
        assert not set(pw) & passwords.AMBIGUOUS
        assert len(pw) == max(policy["passwords"][role]["min_length"], passwords.DEFAULT_GENERATED_LENGTH)
        seen.add(pw)
    assert len(seen) == 30


def test_generate_length_below_minimum_is_refused(policies):
    with pytest.raises(PasswordError) as info:
        passwords.generate_password(policies["gialai"], "user", length=10)
    assert info.value.key == "passwords.user.min_length"
    assert len(passwords.generate_password(policies["gialai"], "user", length=20)) == 20


# --- hashing ----------------------------------------------------------------------------------------

def test_hash_format_default_rounds():
    hashed = passwords.hash_password("Nguyendung@135")
    assert hashed.startswith("{CRYPT}$6$rounds=100000$")
    assert passwords.verify_password("Nguyendung@135", hashed)
    assert not passwords.verify_password("nguyendung@135", hashed)


def test_hash_keeps_explicit_rounds_at_glibc_default():
    assert passwords.hash_password("Abc@12345", rounds=FAST).startswith("{CRYPT}$6$rounds=5000$")


def test_salts_differ():
    first = passwords.hash_password("Abc@12345", rounds=FAST)
    assert first != passwords.hash_password("Abc@12345", rounds=FAST)


def test_verify_accepts_dovecot_prefix():
    hashed = passwords.hash_password("Abc@12345", rounds=FAST)
    assert passwords.verify("Abc@12345", "{SHA512-CRYPT}" + hashed[len("{CRYPT}"):])
    assert passwords.verify("Abc@12345", hashed[len("{CRYPT}"):])


def test_glibc_crypt_verifies_the_hash():
    """slapd's {CRYPT} calls glibc crypt(3): the stored string must verify there, not only in passlib."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        crypt = pytest.importorskip("crypt")
    hashed = passwords.hash_password("Abc@12345", rounds=FAST)
    setting = hashed[len("{CRYPT}"):]
    assert crypt.crypt("Abc@12345", setting) == setting
    assert crypt.crypt("Abc@12346", setting) != setting


def test_hash_errors():
    with pytest.raises(PasswordError):
        passwords.hash_password("")
    with pytest.raises(PasswordError) as info:
        passwords.hash_password("Abc@12345", rounds=999)
    assert info.value.key == "rounds"
    with pytest.raises(PasswordError):
        passwords.verify_password("x", "{SSHA}abcdef")
    with pytest.raises(PasswordError):
        passwords.verify_password("x", None)
