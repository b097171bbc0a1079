"""The lifecycle, calendar and audit keys of the province policies (congvu.policy)."""

from __future__ import annotations

from pathlib import Path

import holidays
import pytest

from congvu.errors import PolicyError
from congvu.policy import load_policy

POLICIES = Path(__file__).resolve().parents[2] / "policies"
#: The five regulations (the seeds); further policy files apply one of them.
PROVINCES = ("hanam", "gialai", "cantho", "hagiang", "ninhbinh")


def _error(province: str, overrides: dict) -> PolicyError:
    with pytest.raises(PolicyError) as info:
        load_policy(POLICIES / f"{province}.yml", overrides)
    return info.value


@pytest.mark.parametrize("province", PROVINCES)
def test_calendar_lists_the_known_swaps(province):
    calendar = load_policy(POLICIES / f"{province}.yml")["calendar"]
    worked = {d["date"] for d in calendar["extra_workdays"]}
    off = {d["date"] for d in calendar["extra_days_off"]}
    assert {"2025-04-26", "2026-01-10", "2026-08-22"} <= worked
    assert {"2025-05-02", "2026-01-02", "2026-08-31"} <= off
    assert all(d["source"] for d in calendar["extra_workdays"] + calendar["extra_days_off"])
    # 2026 waits for an operator: 24/11/2026 is a day off in the package, not yet in the Labour Code
    assert calendar["confirmed_years"] == [2025]


def test_calendar_agrees_with_the_package_where_the_package_knows():
    """Each swap the package also lists is the same day; the policy adds what it lacks (New Year 2026)."""
    calendar = load_policy(POLICIES / "hanam.yml")["calendar"]
    vn = holidays.country_holidays("VN", years=[2025, 2026])
    for entry in calendar["extra_days_off"]:
        if entry["date"] != "2026-01-02":
            assert entry["date"] in {d.isoformat() for d in vn}, entry
    package_worked = {d.isoformat() for d in getattr(vn, "weekend_workdays", ())}
    assert {d["date"] for d in calendar["extra_workdays"]} - package_worked == {"2026-01-10"}


@pytest.mark.parametrize(("overrides", "key", "rule"), [
    ({"calendar": {"extra_workdays": [{"date": "2027-02-13"}]}}, "calendar.extra_workdays[0]",
     "type: dated entry with its source"),
    ({"calendar": {"extra_workdays": ["2027-02-13"]}}, "calendar.extra_workdays[0]",
     "type: dated entry with its source"),
    ({"calendar": {"extra_days_off": [{"date": "13/02/2027", "source": "x"}]}},
     "calendar.extra_days_off[0].date", "ISO 8601 date"),
    ({"calendar": {"extra_days_off": [{"date": "2025-04-26", "source": "x"}]}}, "calendar.extra_days_off[0]",
     "each date listed once"),
    ({"calendar": {"confirmed_years": [1999]}}, "calendar.confirmed_years[0]", ">= 2000"),
    ({"lifecycle": {"articles": {"reclaim": "Cần Thơ Art 5.4"}}}, "lifecycle.articles.reclaim",
     "article of this province"),
    ({"lifecycle": {"articles": {"leaver": None}}}, "lifecycle.articles.leaver", "required"),
    ({"lifecycle": {"password_warning_days": 120}}, "lifecycle.password_warning_days", "<= 90"),
    ({"lifecycle": {"archive_keep": "forever"}}, "lifecycle.archive_keep", "duration syntax"),
    ({"logs": {"audit_retention": "6 months"}}, "logs.audit_retention", "audit_retention >= 365 days"),
])
def test_bad_lifecycle_values_name_key_and_rule(overrides, key, rule):
    err = _error("ninhbinh", overrides)
    assert err.key == key and err.rule == rule, str(err)
    assert "congvu_policy_overrides (over" in str(err)


def test_cantho_organisation_mailboxes_cannot_be_reclaimed():
    # Cần Thơ Art 11.3: the inbox and sent mail of agency and unit mailboxes must not be deleted.
    err = _error("cantho", {"lifecycle": {"reclaim_organisation_mailboxes": True}})
    assert err.key == "lifecycle.reclaim_organisation_mailboxes"
    assert err.rule == "Cần Thơ Art 11.3: == False"


def test_switched_off_rule_may_have_no_article():
    # Hà Giang Art 5: no automatic lock, so no article; switching one on requires one.
    policy = load_policy(POLICIES / "hagiang.yml")
    assert policy["lifecycle"]["articles"]["inactivity_lock"] is None
    err = _error("hagiang", {"lifecycle": {"inactivity_lock": "6 months"}})
    assert err.key == "lifecycle.articles.inactivity_lock" and err.rule == "required"


@pytest.mark.parametrize("province", PROVINCES)
def test_new_keys_are_normalised(province):
    policy = load_policy(POLICIES / f"{province}.yml")
    life = policy["lifecycle"]
    assert life["archive_keep"] == 365 and life["transfer_alias_keep"] is None
    assert life["password_warning_days"] == life["inactivity_warning_days"] == 14
    assert policy["logs"]["audit_retention"] == 730
    assert life["transfer_readdress"] is (province in ("gialai", "hagiang", "ninhbinh"))
