"""Province policy files and their validator (congvu.policy)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from congvu.errors import PolicyError
from congvu.policy import (
    NAMING_SCHEMES,
    SCHEMA,
    bound_article,
    deep_merge,
    load_policy,
    parse_duration,
    policy_path,
    province_codes,
    validate_policy,
)

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
PROVINCES = province_codes(POLICIES)  # every policies/<code>.yml
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "policies"


def _policy(province: str, overrides=None) -> dict:
    return load_policy(POLICIES / f"{province}.yml", overrides)


def _variant(tmp_path: Path, province: str, old: str, new: str) -> Path:
    """A copy of a real policy file with one textual change (keeps comments and line numbers)."""
    text = (POLICIES / f"{province}.yml").read_text(encoding="utf-8")
    assert old in text, f"test setup: {old!r} not in {province}.yml"
    path = tmp_path / f"{province}.yml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def _error(path: Path, overrides=None) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        load_policy(path, overrides)
    return info.value


# --- the real files ---------------------------------------------------------------------------------

def test_the_five_seeded_provinces_are_configured():
    assert {"hanam", "gialai", "cantho", "hagiang", "ninhbinh"} <= set(PROVINCES)


@pytest.mark.parametrize("province", PROVINCES)
def test_every_province_file_loads_and_is_normalised(province):
    policy = _policy(province)
    assert policy["province"]["code"] == province
    assert policy["naming"]["scheme"] in NAMING_SCHEMES  # a province may use another's scheme
    assert policy["naming"]["domain"] == policy["domains"]["primary"]
    assert policy["source"].endswith(f"{province}.yml")
    # sizes in bytes, durations in days
    assert isinstance(policy["attachments"]["max_size"], int)
    assert all(isinstance(policy["passwords"][r]["max_age"], int | type(None))
               for r in ("user", "admin", "organisation"))
    assert isinstance(policy["logs"]["retention"], int)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", policy["province"]["in_force"])
    assert policy["derived"]["message_size_limit"] > policy["attachments"]["max_size"]
    # forwarding never leaves state-issued domains (Hà Nam Art 4.5, Ninh Bình Art 12.5)
    assert all(d.endswith(".gov.vn") for d in policy["forwarding"]["allowed_domains"])


def test_hanam_values():
    p = _policy("hanam")
    assert p["quota"]["personal"] == 2_000_000_000  # Hà Nam Art 8.1.b
    assert p["quota"]["unit"] == p["quota"]["agency"] == 10_000_000_000  # Hà Nam Art 8.1.b
    assert p["attachments"]["max_size"] == 20_000_000  # Hà Nam Art 8.1.b
    assert p["passwords"]["user"]["min_length"] == 8  # Hà Nam Art 8.2.b
    assert p["passwords"]["user"]["special_chars"] == "!@#%$*&"  # Hà Nam Art 8.2.b
    assert p["passwords"]["user"]["max_age"] == 90  # Hà Nam Art 8.2.a
    assert p["lifecycle"]["inactivity_lock"] == 90  # Hà Nam Art 7.2.a
    assert p["lifecycle"]["inactivity_measure"] == "mail"  # Hà Nam Art 7.2.a
    assert p["lifecycle"]["default_password_lock"] == 30  # Hà Nam Art 7.2.d
    assert p["lifecycle"]["reclaim_after"] == 180  # Hà Nam Art 6.2.c
    assert p["lifecycle"]["locked_mailbox_receives"] is True  # Hà Nam Art 7.1
    assert p["operations"]["downtime_notice_working_days"] == 2  # Hà Nam Art 10.5


def test_gialai_values():
    p = _policy("gialai")
    assert p["domains"]["organisation_subdomains"] is True  # Gia Lai Art 2.2, Art 4
    assert "binhdinh.gov.vn" in p["derived"]["domains_all"]  # replaces Bình Định 55/2011
    assert p["passwords"]["user"]["min_length"] == 12  # Gia Lai Art 9.2
    assert p["logs"]["retention"] >= 90  # Gia Lai Art 7.2
    assert p["quota"]["warning_percent"]  # Gia Lai Art 7.3.d
    assert p["lifecycle"]["inactivity_measure"] == "any"  # Gia Lai Art 6.2.a
    assert p["lifecycle"]["reclaim_measure"] == "login"  # Gia Lai Art 5.4
    assert p["operations"]["incident_report_hours"] == 24  # Gia Lai Art 8.3.d
    assert bound_article(p, "operations.incident_report_hours") == "Gia Lai Art 8.3.d"
    assert bound_article(_policy("hanam"), "operations.incident_report_hours") is None  # no bound


def test_cantho_values():
    p = _policy("cantho")
    assert p["quota"]["personal"] == 5_000_000_000  # Cần Thơ Art 4.1.c
    assert p["quota"]["unit"] == 10_000_000_000  # Cần Thơ Art 4.1.b
    assert p["quota"]["agency"] is None  # Cần Thơ Art 4.1.a: unlimited
    assert p["passwords"]["organisation"]["max_age"] == 60  # Cần Thơ Art 11.4
    assert p["passwords"]["user"]["max_age"] == 90  # Cần Thơ Art 10.3
    assert p["lifecycle"]["reclaim_notice_working_days"] == 15  # Cần Thơ Art 5.4
    assert p["retention"]["organisation_delete"] == "keep_copy"  # Cần Thơ Art 11.3
    assert p["retention"]["organisation_folders"] == ["INBOX", "Sent"]  # Cần Thơ Art 11.3
    assert p["display_name"]["format"] == "{full_name} - {agency}"  # Cần Thơ Art 4.2.đ


def test_hagiang_values():
    p = _policy("hagiang")
    assert p["classified"]["action"] == "reject"  # Hà Giang Art 3.4
    assert p["backup"]["weekday"] == "friday"  # Hà Giang Art 10.2.d
    assert p["passwords"]["user"]["must_change_initial"] is True  # Hà Giang Art 12.1
    assert p["lifecycle"]["inactivity_lock"] is None  # Hà Giang Art 5: on request only


def test_ninhbinh_values():
    p = _policy("ninhbinh")
    assert p["passwords"]["admin"]["min_length"] == 10  # Ninh Bình Art 11.1
    assert p["passwords"]["user"]["min_length"] == 8  # Ninh Bình Art 11.1
    assert p["passwords"]["admin"]["max_age"] == 90  # Ninh Bình Art 11.2
    assert p["passwords"]["user"]["max_age"] == 180  # Ninh Bình Art 11.2
    assert {".exe", ".com", ".dll", ".net"} <= set(p["attachments"]["blocked_extensions"])  # Art 2.7
    assert p["attachments"]["encrypted_archives"] == "flag"  # Ninh Bình Art 11.6 "hạn chế"
    assert p["lifecycle"]["inactivity_lock"] == 180  # Ninh Bình Art 7.1
    assert p["lifecycle"]["leaver_deadline_working_days"] == 3  # Ninh Bình Art 7.2


@pytest.mark.parametrize("province", PROVINCES)
def test_every_value_is_commented(province):
    """Each value line carries an article or a default note, on the line or above it in its block."""
    lines = (POLICIES / f"{province}.yml").read_text(encoding="utf-8").splitlines()
    section = None
    uncommented = []
    for i, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith("#") or line.startswith("---"):
            continue
        indent = len(line) - len(line.lstrip())
        if indent == 0:
            section = line.split(":")[0]
            continue
        if section in ("province", "regulation") or line.lstrip().startswith("- "):
            continue
        _key, _, value = line.strip().partition(":")
        if not value.strip() or "#" in value:
            continue  # a block header, or an inline comment
        # look upwards within the parent block for a comment line
        j, covered = i - 1, False
        while j >= 0:
            above = lines[j]
            above_indent = len(above) - len(above.lstrip())
            if above.lstrip().startswith("#"):
                covered = True
                break
            if above.strip() and above_indent < indent:
                break
            j -= 1
        if not covered:
            uncommented.append(f"{province}.yml:{i + 1}: {line.strip()}")
    assert not uncommented, "values without an article or default note:\n" + "\n".join(uncommented)


@pytest.mark.parametrize("province", PROVINCES)
def test_every_bound_cites_its_province(province):
    policy = _policy(province)
    name = policy["province"]["issued_by"]  # the province itself, or the one whose regulation still applies
    assert policy["regulation"], "each province fixes at least one bound"
    for path, bound in policy["regulation"].items():
        assert bound["article"].startswith(f"{name} Art "), path


# --- overrides --------------------------------------------------------------------------------------

def test_override_within_bounds_is_applied():
    p = _policy("hanam", {"quota": {"personal": "3GiB"}, "passwords": {"user": {"min_length": 10}}})
    assert p["quota"]["personal"] == 3 * 2**30
    assert p["passwords"]["user"]["min_length"] == 10
    assert p["passwords"]["user"]["max_age"] == 90  # deep merge keeps the siblings


def test_override_cannot_go_below_hanam_quota():
    err = _error(POLICIES / "hanam.yml", {"quota": {"personal": "1GB"}})
    text = str(err)
    assert "congvu_policy_overrides" in text and "hanam.yml" in text
    assert "quota.personal" in text
    assert "Hà Nam Art 8.1.b" in text and ">= 2GB" in text


def test_override_cannot_weaken_password_minimum():
    err = _error(POLICIES / "ninhbinh.yml", {"passwords": {"admin": {"min_length": 9}}})
    assert "passwords.admin.min_length" in str(err)
    assert "Ninh Bình Art 11.1" in str(err) and ">= 10" in str(err)


def test_override_cannot_lengthen_cantho_organisation_interval():
    err = _error(POLICIES / "cantho.yml", {"passwords": {"organisation": {"max_age": "3 months"}}})
    assert "passwords.organisation.max_age" in str(err)
    assert "Cần Thơ Art 11.4" in str(err) and "<= 60 days" in str(err)


def test_override_cannot_forward_outside_state_domains():
    err = _error(POLICIES / "hanam.yml", {"forwarding": {"allowed_domains": ["gmail.com", "*.gov.vn"]}})
    assert "forwarding.allowed_domains" in str(err)
    assert "gmail.com" in str(err) and "Hà Nam Art 4.5" in str(err)


def test_override_cannot_unblock_ninhbinh_executables():
    err = _error(POLICIES / "ninhbinh.yml", {"attachments": {"blocked_extensions": [".bat"]}})
    assert "attachments.blocked_extensions" in str(err) and "Ninh Bình Art 11.6" in str(err)
    assert ".exe" in str(err)


@pytest.mark.parametrize("section", ["regulation", "province"])
def test_override_cannot_touch_fixed_sections(section):
    err = _error(POLICIES / "hanam.yml", {section: {}})
    assert err.source == "congvu_policy_overrides"
    assert err.key == section and err.rule == "fixed by the regulation"


def test_override_unknown_key_names_the_override():
    err = _error(POLICIES / "hanam.yml", {"quota": {"personnal": "3GB"}})
    assert err.source == "congvu_policy_overrides"
    assert err.key == "quota.personnal" and err.rule == "known keys"


def test_override_must_be_a_mapping():
    err = _error(POLICIES / "hanam.yml", ["quota"])
    assert err.source == "congvu_policy_overrides" and err.rule == "type: mapping"


def test_gialai_warning_cannot_be_switched_off():
    err = _error(POLICIES / "gialai.yml", {"quota": {"warning_percent": []}})
    assert "quota.warning_percent" in str(err) and "Gia Lai Art 7.3.d" in str(err)


def test_several_problems_are_reported_together():
    err = _error(POLICIES / "hanam.yml", {"quota": {"personal": "1GB", "unit": "-1"},
                                          "passwords": {"user": {"max_age": "-3 days"}}})
    assert str(err).startswith(f"{POLICIES / 'hanam.yml'}: 3 problems")
    keys = {p["key"] for p in err.problems}
    assert keys == {"quota.personal", "quota.unit", "passwords.user.max_age"}
    assert "duration >= 0" in str(err)


@pytest.mark.parametrize("province", ["hanam", "gialai", "cantho", "hagiang", "ninhbinh", "ninhbinh2025"])
def test_aliases_log_in_only_when_a_transition_is_set(province):
    """docs/restructuring.md, "Logging in with the old address": no seed sets a transition; a
    province sets its last day (a date) by override."""
    assert _policy(province)["domains"]["alias_login_until"] is None
    assert _policy(province, {"domains": {"alias_login_until": "2027-06-30"}})["domains"][
        "alias_login_until"] == "2027-06-30"


def test_alias_login_until_must_be_a_date():
    err = _error(POLICIES / "ninhbinh2025.yml", {"domains": {"alias_login_until": "end of June"}})
    assert err.key == "domains.alias_login_until"
    assert "expected a date as YYYY-MM-DD or null, got 'end of June'" in str(err)


def test_deep_merge_replaces_lists_and_keeps_base():
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 4}
    merged = deep_merge(base, {"a": {"c": [3]}})
    assert merged == {"a": {"b": 1, "c": [3]}, "d": 4}
    assert base["a"]["c"] == [1, 2]


# --- bad policy files: each names the file, the key and the rule ------------------------------------

def test_fixture_hanam_personal_quota_under_2gb():
    path = FIXTURES / "hanam_quota_too_small.yml"
    err = _error(path)
    assert str(path) in str(err)
    assert err.key == "quota.personal"
    assert err.rule == "Hà Nam Art 8.1.b: >= 2GB"
    assert "1.5GB" in str(err)


def test_fixture_cantho_personal_quota_over_5gb():
    path = FIXTURES / "cantho_quota_too_big.yml"
    err = _error(path)
    assert str(path) in str(err)
    assert err.key == "quota.personal"
    assert err.rule == "Cần Thơ Art 4.1.c: <= 5GB"


@pytest.mark.parametrize(("province", "old", "new", "key", "rule"), [
    ("hanam", "  personal: 2GB", "  personnal: 2GB", "quota.personnal", "known keys"),
    ("hanam", "  personal: 2GB", "  other: 2GB", "quota.personal", "required"),
    ("hanam", "    min_length: 8  # Art 8.2.b:", "    min_length: eight  # Art 8.2.b:",
     "passwords.user.min_length", "type: integer"),
    ("hanam", "    min_length: 8  # Art 8.2.b:", "    min_length: 7  # Art 8.2.b:",
     "passwords.user.min_length", "Hà Nam Art 8.2.b: >= 8"),
    ("hanam", "  max_size: 20MB", "  max_size: 25MB", "attachments.max_size", "Hà Nam Art 8.1.b: <= 20MB"),
    ("hanam", "  max_size: 20MB", "  max_size: twenty", "attachments.max_size", "size syntax"),
    ("hanam", "  retention: 3 months", "  retention: -2", "logs.retention", "duration >= 0"),
    ("hanam", "  retention: 3 months", "  retention: 3 fortnights", "logs.retention", "duration syntax"),
    ("hanam", "  encrypted_archives: flag", "  encrypted_archives: maybe", "attachments.encrypted_archives",
     "one of allow|flag|reject"),
    ("hanam", "  organisation_subdomains: false", "  organisation_subdomains: 'no'",
     "domains.organisation_subdomains", "type: boolean"),
    ("hanam", "  primary: hanam.gov.vn", "  primary: Hanam.gov.vn", "domains.primary",
     "RFC 1035 domain, lower case"),
    ("hanam", "  scheme: hanam", "  scheme: hanoi", "naming.scheme",
     "one of hanam|gialai|cantho|hagiang|ninhbinh"),
    ("hanam", "  domain: hanam.gov.vn  # Art 5", "  domain: hanam.gov.com  # Art 5", "naming.domain",
     "naming.domain in domains"),
    ("hanam", "  warning_percent: [90, 95]", "  warning_percent: [95, 90]", "quota.warning_percent",
     "ascending"),
    ("hanam", "  warning_percent: [90, 95]", "  warning_percent: [90, 120]", "quota.warning_percent[1]",
     "<= 99"),
    ("hanam", '  time: "23:00"', '  time: "25:00"', "backup.time", "a time as HH:MM (24 h)"),
    ("hanam", "  format: \"{full_name} - {agency}\"", "  format: \"{name}\"", "display_name.format",
     "known fields"),
    ("hanam", "  in_force: 2023-06-23", "  in_force: 23/06/2023", "province.in_force", "ISO 8601 date"),
    ("hanam", "  reclaim_after: 6 months", "  reclaim_after: 2 months", "lifecycle.reclaim_after",
     "reclaim_after >= inactivity_lock"),
    ("hanam", "  quota.personal: {min: 2GB, article: Hà Nam Art 8.1.b}", "  quota.personal: {min: 2GB}",
     "regulation.quota.personal.article", "required"),
    ("hanam", "  quota.personal: {", "  quota.personel: {", "regulation.quota.personel", "known keys"),
    ("hanam", "  quota.personal: {min: 2GB,", "  quota.personal: {least: 2GB,", "regulation.quota.personal",
     "known keys"),
    ("hanam", "  quota.personal: {min: 2GB,", "  quota.personal: {min: 2 gigs,",
     "regulation.quota.personal.min", "size syntax"),
    ("hanam", "  quota.personal: {min: 2GB,", "  quota.personal: {includes: [2GB],",
     "regulation.quota.personal.includes", "bound kind"),
    ("hanam", "  passwords.user.classes:\n    includes:", "  passwords.user.classes:\n    min:",
     "regulation.passwords.user.classes.min", "bound kind"),
    ("ninhbinh", "    min_length: 10\n", "    min_length: 6\n", "passwords.admin.min_length",
     "Ninh Bình Art 11.1: >= 10"),
    ("gialai", "  extra: [binhdinh.gov.vn]", "  extra: binhdinh.gov.vn", "domains.extra", "type: list"),
    ("gialai", "  extra: [binhdinh.gov.vn]", "  extra: [binhdinh.gov.vn, binhdinh.gov.vn]",
     "domains.extra[1]", "no duplicates"),
    ("hanam", "  primary: hanam.gov.vn", "  primary: 42", "domains.primary", "type: domain"),
    ("hanam", "  max_size: 20MB", "  max_size: 0", "attachments.max_size", "size > 0"),
    ("cantho", "  agency: unlimited", "  agency: 0GB", "quota.agency", "size > 0"),
    ("cantho", "  agency: unlimited", "  agency: lots", "quota.agency", "size syntax"),
    ("hagiang", "  action: reject", "  action: hold", "classified.action", "Hà Giang Art 3.4: == 'reject'"),
    ("hagiang", "  weekday: friday", "  weekday: monday", "backup.weekday",
     "Hà Giang Art 10.2.d: == 'friday'"),
])
def test_bad_value_names_file_key_and_rule(tmp_path, province, old, new, key, rule):
    path = _variant(tmp_path, province, old, new)
    err = _error(path)
    problems = getattr(err, "problems", [])
    assert any(p["key"] == key and p["rule"] == rule for p in problems), str(err)
    text = str(err)
    assert str(path) in text and key in text and rule in text


@pytest.mark.parametrize(("name", "rule"), [
    ("bad_yaml.yml", "YAML syntax"),
    ("duplicate_key.yml", "YAML syntax"),
    ("empty.yml", "type: mapping"),
    ("not_mapping.yml", "type: mapping"),
])
def test_unreadable_files(name, rule):
    path = FIXTURES / name
    err = _error(path)
    assert str(path) in str(err) and err.rule == rule


def test_duplicate_key_is_named():
    err = _error(FIXTURES / "duplicate_key.yml")
    assert "duplicate key 'code'" in str(err) and err.key == "line 4"


def test_missing_file():
    err = _error(Path("/nonexistent/hanam.yml"))
    assert "/nonexistent/hanam.yml" in str(err) and err.rule == "readable file"


def test_policy_path_rejects_path_tricks():
    assert policy_path("hanam", "/x") == Path("/x/hanam.yml")
    with pytest.raises(PolicyError) as info:
        policy_path("../etc/passwd", "/x")
    assert info.value.key == "congvu_province"


@pytest.mark.parametrize(("text", "days"), [
    (0, 0), (15, 15), ("3 months", 90), ("1 month", 30), ("2 weeks", 14), ("1 year", 365), ("10 days", 10),
])
def test_parse_duration(text, days):
    assert parse_duration(text) == days


def test_provinces_under_one_regulation_share_its_bounds():
    """A province running another's regulation (Tuyên Quang under Hà Giang's until it issues its own)
    keeps every bound of that regulation: policy files with the same seed have the same regulation."""
    by_seed: dict[str, list[dict]] = {}
    for province in PROVINCES:
        policy = _policy(province)
        by_seed.setdefault(policy["province"]["seed"], []).append(policy)
    for policies in by_seed.values():
        first = policies[0]
        for other in policies[1:]:
            assert other["province"]["issued_by"] == first["province"]["issued_by"], other["source"]
            assert other["regulation"] == first["regulation"], (other["source"], first["source"])
            assert other["province"]["directory_citation"] == first["province"]["directory_citation"]


def test_merged_ninhbinh_differs_from_hanam_where_its_header_says():
    """policies/ninhbinh2025.yml applies Ninh Bình's regulation to the former Hà Nam staff too; its header
    (and docs/adding-a-province.md) lists the values Hà Nam's own regulation would refuse."""
    merged = yaml.safe_load((POLICIES / "ninhbinh2025.yml").read_text(encoding="utf-8"))
    hanam = yaml.safe_load((POLICIES / "hanam.yml").read_text(encoding="utf-8"))
    with pytest.raises(PolicyError) as info:
        validate_policy({**merged, "regulation": hanam["regulation"]}, "ninhbinh2025 under Hà Nam's bounds")
    refused = {(p["key"], p["rule"].split(":")[0]) for p in info.value.problems}
    assert refused == {("passwords.user.max_age", "Hà Nam Art 8.2.a"),
                       ("passwords.organisation.max_age", "Hà Nam Art 8.2.a"),
                       ("lifecycle.inactivity_lock", "Hà Nam Art 7.2.a"),
                       ("lifecycle.default_password_lock", "Hà Nam Art 7.2.d"),
                       ("lifecycle.reclaim_after", "Hà Nam Art 6.2.c"),
                       ("operations.downtime_on_days_off", "Hà Nam Art 10.5")}


def test_parse_duration_errors():
    assert parse_duration(None, nullable=True) is None
    assert parse_duration("never", nullable=True) is None
    for bad in (-1, "-3 days", "soon", True, 1.5):
        with pytest.raises(ValueError):
            parse_duration(bad)
    with pytest.raises(ValueError):
        parse_duration(None)


def test_schema_and_files_agree():
    """Every top-level key of the schema appears in every file, and nothing else does."""
    for province in PROVINCES:
        data = yaml.safe_load((POLICIES / f"{province}.yml").read_text(encoding="utf-8"))
        assert set(data) == set(SCHEMA), province


@pytest.mark.parametrize("province", PROVINCES)
def test_effective_policy_validates_again_unchanged(province):
    """Modules receive the congvu_policy fact and may validate it again: it must be a fixed point."""
    first = _policy(province)
    again = validate_policy(first, first["source"])
    assert again == first
    # and overrides still apply on top, still bounded by the regulation
    with pytest.raises(PolicyError):
        validate_policy(first, first["source"], {"passwords": {"user": {"min_length": 1}}})


def test_file_must_match_the_inventory_province(tmp_path):
    path = tmp_path / "cantho.yml"
    path.write_text((POLICIES / "hanam.yml").read_text(encoding="utf-8"), encoding="utf-8")
    assert load_policy(path)["province"]["code"] == "hanam"
    with pytest.raises(PolicyError) as info:
        load_policy(path, province="cantho")
    assert str(path) in str(info.value)
    assert info.value.key == "province.code" and info.value.rule == "province.code == congvu_province"


@pytest.mark.parametrize("province", ["hanam", "cantho"])
def test_no_bad_value_crashes_the_validator(province):
    """Any value of the wrong type anywhere gives a PolicyError, never another exception."""
    base = yaml.safe_load((POLICIES / f"{province}.yml").read_text(encoding="utf-8"))

    def paths(node, prefix=()):
        for key, value in node.items():
            yield (*prefix, key)
            if isinstance(value, dict):
                yield from paths(value, (*prefix, key))

    checked = 0
    for path in paths(base):
        for bad in (None, [], {}, "x", -1, True, 0, ["a"]):
            data = copy.deepcopy(base)
            node = data
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = bad
            try:
                validate_policy(data, "fuzz.yml")
            except PolicyError as exc:
                assert "fuzz.yml" in str(exc)
            checked += 1
    assert checked > 500


# --- a dated switch of regulation (issue 16) ---------------------------------------------------------

def _switching(tmp_path: Path, switch: str, target: str = "ninhbinh2025") -> Path:
    """Hà Nam's file with ``switch`` (YAML) appended, beside a copy of ``target``'s file."""
    (tmp_path / f"{target}.yml").write_text((POLICIES / f"{target}.yml").read_text(encoding="utf-8"),
                                            encoding="utf-8")
    path = tmp_path / "hanam.yml"
    path.write_text((POLICIES / "hanam.yml").read_text(encoding="utf-8") + "\n" + switch, encoding="utf-8")
    return path


SWITCH = "regulation_switch:\n  from: 2026-07-01\n  to: ninhbinh2025\n"


def test_a_switch_applies_the_other_regulation_from_its_day_and_keeps_the_province(tmp_path):
    """Hà Nam's staff keep Hà Nam's rules until the day; from it Ninh Bình's (the six values the merged
    file's header lists, Hà Nam Art 8.2.a against Ninh Bình Art 11.2...), with Hà Nam's code, domains,
    webmail and naming, and Ninh Bình's bounds and decision."""
    path = _switching(tmp_path, SWITCH)
    hanam, merged = _policy("hanam"), _policy("ninhbinh2025")
    before = load_policy(path, today="2026-06-30", province="hanam")
    after = load_policy(path, today="2026-07-01", province="hanam")
    for key in ("quota", "passwords", "lifecycle", "operations", "regulation", "calendar", "backup"):
        assert before[key] == hanam[key], key
        assert after[key] == merged[key], key
    for key in ("domains", "webmail", "naming"):
        assert before[key] == after[key] == hanam[key], key
    assert after["province"]["code"] == "hanam" and after["province"]["name"] == "Hà Nam"
    assert after["province"]["issued_by"] == "Ninh Bình"
    assert after["province"]["decision"] == merged["province"]["decision"]
    assert before["passwords"]["user"]["max_age"] == 90 and after["passwords"]["user"]["max_age"] == 180
    assert before["regulation_switch"] == {**after["regulation_switch"], "applied": False,
                                           "today": "2026-06-30"}
    assert after["regulation_switch"]["applied"] and after["regulation_switch"]["to"] == "ninhbinh2025"
    assert after["regulation_switch"]["file"] == str(tmp_path / "ninhbinh2025.yml")
    # modules validate the fact again: a fixed point, switch included
    assert validate_policy(after, after["source"]) == after
    # files without a switch say so
    assert hanam["regulation_switch"] is None


def test_an_override_the_coming_regulation_refuses_is_reported_before_the_day(tmp_path):
    """Both periods are validated on every run: unblocking executables passes under Hà Nam's rules (no
    bound on the list) but not Ninh Bình's (Ninh Bình Art 11.6), so a run months before the day
    already refuses it, naming the switched period."""
    path = _switching(tmp_path, SWITCH)
    override = {"attachments": {"blocked_extensions": []}}
    assert load_policy(POLICIES / "hanam.yml", override)["attachments"]["blocked_extensions"] == []
    with pytest.raises(PolicyError) as info:
        load_policy(path, override, today="2026-01-01")
    assert "from 2026-07-01 with the rules of" in str(info.value), str(info.value)
    assert "attachments.blocked_extensions" in str(info.value)


@pytest.mark.parametrize("switch, key, rule", [
    ("regulation_switch:\n  from: 1 July\n  to: ninhbinh2025\n", "regulation_switch.from", "ISO 8601 date"),
    ("regulation_switch:\n  from: 2026-07-01\n  to: nowhere\n", None, "readable file"),
    ("regulation_switch:\n  from: 2026-07-01\n  to: hanam\n", "regulation_switch.to",
     "another province's policy"),
    ("regulation_switch:\n  from: 2026-07-01\n  to: ninhbinh2025\n  at: noon\n", "regulation_switch.at",
     "known keys"),
    ("regulation_switch: 2026-07-01\n", "regulation_switch", "type: mapping"),
])
def test_a_bad_switch_names_the_file_the_key_and_the_rule(tmp_path, switch, key, rule):
    path = _switching(tmp_path, switch)
    with pytest.raises(PolicyError) as info:
        load_policy(path, today="2026-01-01")
    assert info.value.rule == rule, str(info.value)
    assert info.value.key == key
    assert str(tmp_path) in str(info.value)


def test_a_switch_to_a_policy_that_switches_again_is_refused(tmp_path):
    target = tmp_path / "ninhbinh2025.yml"
    path = _switching(tmp_path, SWITCH)
    again = "\nregulation_switch:\n  from: 2027-01-01\n  to: hanam\n"
    target.write_text(target.read_text(encoding="utf-8") + again, encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(path, today="2026-01-01")
    assert info.value.rule == "one switch at a time" and info.value.key == "regulation_switch.to"


def test_the_day_to_judge_must_be_a_date():
    with pytest.raises(PolicyError) as info:
        load_policy(POLICIES / "hanam.yml", today="01/07/2026")
    assert info.value.source == "congvu_policy_date" and info.value.rule == "ISO 8601 date"


def test_overrides_cannot_set_a_switch():
    with pytest.raises(PolicyError) as info:
        load_policy(POLICIES / "hanam.yml", {"regulation_switch": {"on": "2026-07-01", "to": "ninhbinh"}})
    assert "regulation_switch" in str(info.value)


@pytest.mark.parametrize("province", sorted(PROVINCES))
def test_no_override_turns_the_classification_rule_off(province):
    # every regulation forbids state secrets by mail (Hà Nam Art 4.1, Gia Lai Art 3.2, Cần Thơ Art 7.1,
    # Hà Giang Art 3.4, Ninh Bình Art 14.3): a stamped message is held or refused, never delivered
    policy = _policy(province)
    article = bound_article(policy, "classified.action")
    assert article and article.startswith(f"{policy['province']['issued_by']} Art ")
    with pytest.raises(PolicyError, match=r"classified\.action: 'off' is (not one of|different from)"):
        _policy(province, {"classified": {"action": "off"}})


def test_one_of_takes_single_values_of_the_key_s_own_kind(tmp_path):
    line = "  classified.action: {one_of: [hold, reject], article: Hà Nam Art 4.1}\n"
    bad_value = _variant(tmp_path, "hanam", line,
                         "  classified.action: {one_of: [hold, drop], article: Hà Nam Art 4.1}\n")
    with pytest.raises(PolicyError, match=r"regulation\.classified\.action\.one_of"):
        load_policy(bad_value)
    on_a_list = _variant(tmp_path, "hanam", line, line
                         + "  classified.stamps: {one_of: [[MẬT]], article: Hà Nam Art 4.1}\n")
    with pytest.raises(PolicyError, match="'one_of' only applies to single values"):
        load_policy(on_a_list)
    assert _policy("hanam", {"classified": {"action": "reject"}})["classified"]["action"] == "reject"
