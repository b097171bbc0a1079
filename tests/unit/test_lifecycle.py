"""The lifecycle planner (congvu.lifecycle) on every province's policy, with an injected "today".

Each test names the article it checks, so ``grep -rn "Ninh Bình Art 7.1"`` leads here from the policy
and the code. The government has not announced the 2027 and 2028 swap days (nor has an operator
checked 2026): these tests confirm those years by override, so the calendar is the `holidays`
package's estimate plus the policies' listed swaps. Production refuses them until confirmed
(test_unconfirmed_year_*).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from functools import cache
from pathlib import Path

import pytest

from congvu import audit
from congvu.errors import LifecycleError, PolicyError
from congvu.lifecycle import ACTIONS, Account, Request, apply_plan, plan
from congvu.notices import agency_notices
from congvu.policy import load_policy

D = dt.date
DAY = dt.timedelta(days=1)
POLICIES = Path(__file__).resolve().parents[2] / "policies"
CONFIRMED = {"calendar": {"confirmed_years": [2025, 2026, 2027, 2028]}}
#: The five regulations (the seeds); further policy files apply one of them.
PROVINCES = ("hanam", "gialai", "cantho", "hagiang", "ninhbinh")
#: Policy files that apply one of the five regulations, and the one they apply.
REUSED = {"tuyenquang": "hagiang", "ninhbinh2025": "ninhbinh"}


@cache
def _policy(province: str) -> dict:
    return load_policy(POLICIES / f"{province}.yml", CONFIRMED)


def acct(province: str, local: str, today: dt.date, *, org: str = "stttt", **fields) -> Account:
    """An active, recently used mailbox of ``org``; ``fields`` override the defaults."""
    policy = _policy(province)
    cls = fields.get("mailbox_class", "personal")
    values = {"mail": f"{local}@{policy['domains']['primary']}",
              "dn": f"uid={local},o={org},ou=organisations", "organisation": org, "created": D(2024, 1, 2),
              "last_login": today - DAY,
              "last_mail": today - DAY, "password_changed": today - DAY, "quota": policy["quota"][cls]}
    values.update(fields)
    return Account(**values)


def run(province: str, accounts, today: dt.date, requests=()):
    return plan(_policy(province), accounts, today, requests=requests)


def kinds(p) -> list[tuple[str, str]]:
    return [(a.action, a.mail.split("@")[0]) for a in p]


def settle(province: str, accounts, today: dt.date, requests=()):
    """Plan and apply ``today``; planning again the same day must give nothing (idempotence)."""
    p = run(province, accounts, today, requests)
    after = apply_plan(accounts, p)
    assert len(run(province, after, today, requests)) == 0, "re-planning the same day changed something"
    return p, after


# --- Ninh Bình ------------------------------------------------------------------------------------------

def test_ninhbinh_six_months_without_login_suspend_notify_then_remove_across_tet_2027():
    # Ninh Bình Art 7.1: 06 months without login -> suspended, the agency notified; removed once 15 working
    # days have passed since the notice. Notice on Monday 25/01/2027; Tết 2027 (4-10 February) is skipped,
    # so the 15th working day is Monday 22/02/2027 (not 15/02) and the removal Tuesday 23/02.
    today = D(2027, 1, 25)
    minh = acct("ninhbinh", "minhnv.stttt", today, last_login=D(2026, 7, 29), last_mail=D(2027, 1, 24))
    p, after = settle("ninhbinh", [minh], today)
    assert kinds(p) == [("lock_inactive", "minhnv.stttt"), ("notify_agency", "minhnv.stttt")]
    lock, notice = p.actions
    assert lock.article == notice.article == "Ninh Bình Art 7.1"
    assert lock.effective == today and lock.details["receives_mail"] is True
    assert notice.deadline == D(2027, 2, 22)
    assert "22/02/2027" in notice.reason_vi and "không đăng nhập" in notice.reason_vi
    assert len(run("ninhbinh", after, D(2027, 2, 22))) == 0
    removal = run("ninhbinh", after, D(2027, 2, 23))
    assert kinds(removal) == [("reclaim", "minhnv.stttt")]
    assert removal.actions[0].effective == D(2027, 2, 23)
    assert removal.actions[0].details["archive_keep_days"] == 365
    retired = apply_plan(after, removal)
    assert retired[0].state == "retired"
    assert len(run("ninhbinh", retired, D(2027, 3, 1))) == 0  # a retired mailbox has no further action


def test_ninhbinh_reopen_request_within_fifteen_days_keeps_the_mailbox():
    # Ninh Bình Art 7.1: "không có văn bản đề nghị mở lại" -- a reopen request stops the removal.
    today = D(2027, 1, 25)
    admin = acct("ninhbinh", "lanntt.stttt", today, admin=True)
    minh = acct("ninhbinh", "minhnv.stttt", today, last_login=D(2026, 7, 29))
    _, after = settle("ninhbinh", [admin, minh], today)
    request = Request(kind="reopen", mail=minh.mail, received=D(2027, 2, 1), by=admin.mail,
                      ref="Công văn 12/STTTT")
    p, after = settle("ninhbinh", after, D(2027, 2, 1), [request])
    assert kinds(p) == [("reopen", "minhnv.stttt")]
    reopen = p.actions[0]
    assert reopen.article == "Ninh Bình Art 7.1" and reopen.source == "console" and reopen.actor == admin.mail
    # Ninh Bình Art 6.2: answered within 03 working days: 2 and 3 February, then Tết, then 11 February
    assert reopen.deadline == D(2027, 2, 11)
    account = after[1]
    assert account.state == "active" and account.must_change_password and account.notice_sent is None
    for day in (D(2027, 2, 23), D(2027, 3, 1)):
        assert not run("ninhbinh", after, day, [request]).of("reclaim")


def test_ninhbinh_leaver_locked_at_once_then_closed_within_three_working_days():
    # Ninh Bình Art 7.2: terminated within 03 working days of the request; locked (mail still
    # delivered) in between. Request Thursday 20/08/2026: Saturday 22/08/2026 is a working day (worked
    # for Monday 31/08), so the deadline is Monday 24/08.
    today = D(2026, 8, 20)
    hung = acct("ninhbinh", "hungpv.stttt", today, leaving_since=today)
    p, after = settle("ninhbinh", [hung], today)
    assert kinds(p) == [("lock_leaver", "hungpv.stttt")]
    assert p.actions[0].article == "Ninh Bình Art 7.2"
    assert p.actions[0].deadline == D(2026, 8, 24)
    assert not run("ninhbinh", after, D(2026, 8, 22))
    closing = run("ninhbinh", after, D(2026, 8, 24))
    assert kinds(closing) == [("retire_leaver", "hungpv.stttt")]
    assert "24/08/2026" not in closing.actions[0].reason_vi  # the reason says why, the date is the action's


def test_ninhbinh_leaver_across_new_year_2026_uses_the_policy_swap():
    # Ninh Bình Art 7.2 over New Year 2026: 1 January is a holiday and Friday 2 January 2026 a swapped day
    # off (Công văn 12729/VPCP-KGVX, in the policy's calendar, unknown to the holidays package).
    today = D(2025, 12, 31)
    hung = acct("ninhbinh", "hungpv.stttt", today, leaving_since=today)
    p, after = settle("ninhbinh", [hung], today)
    assert p.actions[0].deadline == D(2026, 1, 7)
    assert not run("ninhbinh", after, D(2026, 1, 6))
    assert kinds(run("ninhbinh", after, D(2026, 1, 7))) == [("retire_leaver", "hungpv.stttt")]


def test_ninhbinh_password_warnings_follow_the_role():
    # Ninh Bình Art 11.2: users change every 06 months, administrators every 03 months; warned 14 days
    # ahead (lifecycle.password_warning_days, default: seed silent).
    today = D(2026, 12, 13)
    user = acct("ninhbinh", "minhnv.stttt", today, password_changed=D(2026, 6, 30))  # expires 27/12/2026
    admin = acct("ninhbinh", "lanntt.stttt", today, admin=True, password_changed=D(2026, 9, 28))  # 27/12
    early = acct("ninhbinh", "hoapt.stttt", today, password_changed=D(2026, 7, 1))  # window opens 14/12
    p, after = settle("ninhbinh", [user, admin, early], today)
    assert kinds(p) == [("warn_password_expiry", "lanntt.stttt"), ("warn_password_expiry", "minhnv.stttt")]
    assert all(a.article == "Ninh Bình Art 11.2" and a.deadline == D(2026, 12, 27) for a in p)
    assert kinds(run("ninhbinh", after, D(2026, 12, 14))) == [("warn_password_expiry", "hoapt.stttt")]
    assert not run("ninhbinh", after, D(2026, 12, 20)).of("warn_password_expiry")[:-1]


def test_ninhbinh_transfer_issues_the_new_agency_address_and_keeps_the_old_one():
    # Ninh Bình Art 5.2.a, 7.2: the address ends with the agency's abbreviation, so a move issues a new
    # one; the old address stays an alias for good (transfer_alias_keep: null).
    today = D(2026, 11, 2)
    minh = acct("ninhbinh", "minhnv.stttt", today, transfer_to="snv", transfer_since=D(2026, 10, 30))
    p = run("ninhbinh", [minh], today)
    assert kinds(p) == [("transfer", "minhnv.stttt")]
    move = p.actions[0]
    assert move.article == "Ninh Bình Art 5.2.a, 7.2"
    assert move.details["to"] == "snv" and move.details["alias_until"] is None
    assert move.deadline == D(2026, 11, 4)  # Ninh Bình Art 6.2: 03 working days from Friday 30/10
    after = apply_plan([minh], p, {minh.mail: "minhnv.snv@ninhbinh.gov.vn"})
    assert after[0].mail == "minhnv.snv@ninhbinh.gov.vn" and after[0].organisation == "snv"
    assert after[0].expiring_aliases == ()  # kept for good: nothing ever drops it
    assert len(run("ninhbinh", after, today)) == 0


# --- Cần Thơ --------------------------------------------------------------------------------------------

def test_cantho_three_months_without_login_notice_counts_the_worked_saturday():
    # Cần Thơ Art 5.4: 03 months without login -> suspended, the agency notified, reclaimed 15 working
    # days after the notice unless it confirms. Notice on Friday 09/01/2026: Saturday 10/01/2026 is
    # worked (Công văn 12729/VPCP-KGVX), so the 15th working day is Thursday 29/01, not Friday 30/01.
    today = D(2026, 1, 9)
    nam = acct("cantho", "nvnam", today, org="snv", last_login=D(2025, 10, 11))
    p, after = settle("cantho", [nam], today)
    assert kinds(p) == [("lock_inactive", "nvnam"), ("notify_agency", "nvnam")]
    assert all(a.article == "Cần Thơ Art 5.4" for a in p)
    assert p.actions[1].deadline == D(2026, 1, 29)
    assert not run("cantho", after, D(2026, 1, 29))
    assert kinds(run("cantho", after, D(2026, 1, 30))) == [("reclaim", "nvnam")]


def test_cantho_confirmed_account_is_not_reclaimed():
    # Cần Thơ Art 5.4: "nếu cơ quan nhà nước không có xác nhận thì ... thu hồi" -- a confirmation (a hold
    # with the agency's reason) stops the reclaim; the inactivity clock restarts when it ends.
    today = D(2026, 1, 9)
    admin = acct("cantho", "ttlan", today, org="snv", admin=True)
    nam = acct("cantho", "nvnam", today, org="snv", last_login=D(2025, 10, 11))
    _, after = settle("cantho", [admin, nam], today)
    hold = {"kind": "hold", "mail": nam.mail, "received": "2026-01-20", "by": admin.mail,
            "until": "2026-06-30", "reason": "nghỉ thai sản"}
    p, after = settle("cantho", after, D(2026, 1, 20), [hold])
    assert kinds(p) == [("hold", "nvnam")]
    assert p.actions[0].article == "Cần Thơ Art 6"
    assert "nghỉ thai sản" in p.actions[0].reason_vi and "30/06/2026" in p.actions[0].reason_vi
    for day in (D(2026, 1, 30), D(2026, 6, 30), D(2026, 9, 27)):
        assert not [a for a in run("cantho", after, day, [hold]) if a.mail == nam.mail], day
    # Three months after the hold's end, still unused: a new notice, a new 15 working days.
    p = run("cantho", after, D(2026, 9, 28), [hold])
    assert ("notify_agency", "nvnam") in kinds(p)


def test_cantho_organisation_mailbox_is_notified_but_never_reclaimed():
    # Cần Thơ Art 11.3: the mail of agency and unit mailboxes must not be deleted.
    today = D(2026, 1, 9)
    box = acct("cantho", "sonv", today, org="snv", mailbox_class="agency", last_login=D(2025, 10, 11))
    p, after = settle("cantho", [box], today)
    assert kinds(p) == [("lock_inactive", "sonv"), ("notify_agency", "sonv")]
    assert p.actions[1].details["reply_by"] is None and "Cần Thơ Art 11.3" in p.actions[1].reason_vi
    assert not run("cantho", after, D(2026, 12, 31))
    # Reclaimed only on request, and then its archive is kept for good.
    request = Request(kind="reclaim", mail=box.mail, received=D(2026, 3, 2), by="Sở KH&CN (operator)",
                      source="operator", ref="Quyết định giải thể")
    p = run("cantho", after, D(2026, 3, 2), [request])
    assert kinds(p) == [("reclaim", "sonv")]
    assert p.actions[0].details["archive_keep_days"] is None and p.actions[0].source == "operator"


def test_cantho_quota_limits_reach_existing_mailboxes():
    # Cần Thơ Art 4.1: personal at most 5GB (a 6GB mailbox shrinks), agency mailboxes unlimited (the
    # directory's 0 reads as unlimited).
    today = D(2026, 3, 2)
    big = acct("cantho", "nvnam", today, org="snv", quota=6 * 10**9)
    agency = Account.from_mapping({**dataclasses.asdict(acct("cantho", "sonv", today, org="snv",
                                                               mailbox_class="agency")), "quota": 0})
    p, _ = settle("cantho", [big, agency], today)
    assert kinds(p) == [("apply_quota", "nvnam")]
    assert p.actions[0].article == "Cần Thơ Art 4.1"
    assert p.actions[0].details == {"quota_from": 6 * 10**9, "quota_to": 5 * 10**9, "shrink": True}


def test_cantho_organisation_password_changes_every_two_months():
    # Cần Thơ Art 10.3, 11.4: users every 03 months, agency/unit mailboxes every 02 months.
    today = D(2026, 2, 16)  # 14 days before 02/03/2026
    box = acct("cantho", "sonv", today, org="snv", mailbox_class="agency", password_changed=D(2026, 1, 1))
    user = acct("cantho", "nvnam", today, org="snv", password_changed=D(2026, 1, 1))
    p, _ = settle("cantho", [box, user], today)
    assert kinds(p) == [("warn_password_expiry", "sonv")]
    assert p.actions[0].deadline == D(2026, 3, 2) and p.actions[0].article == "Cần Thơ Art 10.3, 11.4"


# --- Hà Nam ---------------------------------------------------------------------------------------------

def test_hanam_mail_activity_is_the_measure_not_logins():
    # Hà Nam Art 7.2.a: no sending or receiving for 03 months -> locked, mail still delivered (Art 7.1).
    today = D(2026, 6, 1)
    reader = acct("hanam", "nguyenvanminh", today, org="stttt", last_login=today - DAY,
                  last_mail=today - dt.timedelta(days=90))
    p, _ = settle("hanam", [reader], today)
    assert kinds(p) == [("lock_inactive", "nguyenvanminh"), ("notify_agency", "nguyenvanminh")]
    assert p.actions[0].article == "Hà Nam Art 7.2.a"
    assert "không gửi, nhận thư" in p.actions[0].reason_vi.lower() and p.actions[0].details["receives_mail"]
    # Hà Nam reclaims after 06 months without sending or receiving (Art 6.2.c), with no notice period:
    # the agency is told of the lock and of that date, not given a reply deadline.
    notice = p.of("notify_agency")[0]
    assert notice.details["reply_by"] is None and notice.details["reclaim_on"] == D(2026, 8, 30)
    assert notice.deadline == D(2026, 8, 30) and notice.article == "Hà Nam Art 7.2.a"
    assert notice.details["reclaim_article"] == "Hà Nam Art 6.2.c"
    assert "thu hồi ngày 30/08/2026 nếu đến ngày đó vẫn không gửi, nhận thư" in notice.reason_vi


def test_hanam_locked_mailbox_that_keeps_receiving_is_not_reclaimed():
    # Hà Nam Art 7.1: a locked mailbox still receives mail; Art 6.2.c reclaims after 06 months without
    # sending or receiving, so mail received while locked keeps it.
    today = D(2026, 9, 1)
    kept = acct("hanam", "nguyenvanminh", today, state="locked", lock_reason="inactivity",
                last_login=D(2026, 1, 1), last_mail=D(2026, 8, 30))
    silent = acct("hanam", "tranthilan", today, state="locked", lock_reason="inactivity",
                  last_login=D(2026, 1, 1), last_mail=D(2026, 3, 5))
    p, _ = settle("hanam", [kept, silent], today)
    assert kinds(p) == [("reclaim", "tranthilan")]
    assert p.actions[0].article == "Hà Nam Art 6.2.c" and p.actions[0].effective == D(2026, 9, 1)
    assert p.actions[0].details["trigger"] == "inactivity"


def test_hanam_default_password_lock_on_leap_day_2028_and_reopen_restarts_it():
    # Hà Nam Art 7.2.d: the default password unchanged 01 month (30 days) after issue -> locked.
    # Issued 30/01/2028: due on 29/02/2028. Art 7.3: reopening resets the password and forces a change,
    # so the month starts again.
    today = D(2028, 2, 28)
    new = acct("hanam", "lethihoa", today, created=D(2028, 1, 30), must_change_password=True,
               password_changed=D(2028, 1, 30), last_login=None, last_mail=D(2028, 2, 20))
    assert not run("hanam", [new], today)
    p, after = settle("hanam", [new], D(2028, 2, 29))
    assert kinds(p) == [("lock_default_password", "lethihoa")]
    assert p.actions[0].effective == D(2028, 2, 29) and p.actions[0].article == "Hà Nam Art 7.2.d"
    request = Request(kind="reopen", mail=new.mail, received=D(2028, 3, 6), by="Sở KH&CN", source="operator")
    p, after = settle("hanam", after, D(2028, 3, 6), [request])
    assert kinds(p) == [("reopen", "lethihoa")] and p.actions[0].article == "Hà Nam Art 7.3"
    assert p.actions[0].deadline == D(2028, 3, 9)  # Hà Nam Art 6.2.b: 03 working days
    assert after[0].password_changed == D(2028, 3, 6) and after[0].must_change_password
    assert not run("hanam", after, D(2028, 4, 4), [request])
    assert kinds(run("hanam", after, D(2028, 4, 5), [request])) == [("lock_default_password", "lethihoa")]


def test_hanam_inactivity_lock_on_leap_day_and_warning_before():
    # Hà Nam Art 7.2.a: last mail 01/12/2027, 90 days later is 29/02/2028; warned 14 days ahead
    # (inactivity_warning_days, default: seed silent).
    minh = acct("hanam", "nguyenvanminh", D(2028, 2, 15), last_mail=D(2027, 12, 1))
    p, after = settle("hanam", [minh], D(2028, 2, 15))
    assert kinds(p) == [("warn_inactivity", "nguyenvanminh")]
    assert p.actions[0].deadline == D(2028, 2, 29) and p.actions[0].article == "Hà Nam Art 7.2.a"
    assert not run("hanam", after, D(2028, 2, 28))
    assert kinds(run("hanam", after, D(2028, 2, 29))) == [("lock_inactive", "nguyenvanminh"),
                                                          ("notify_agency", "nguyenvanminh")]


def test_hanam_no_password_warning_to_a_mailbox_locked_the_same_day():
    # Hà Nam Art 7.2.a locks the mailbox today (90 days without mail); its password also enters the
    # 14-day warning window today (changed every 03 months, Hà Nam Art 8.2.a). The user is told
    # nothing they cannot act on: the lock and the agency's notice only, and no warning while it
    # stays locked.
    today = D(2027, 3, 1)
    minh = acct("hanam", "nguyenvanminh", today, last_mail=today - 90 * DAY, last_login=today - 90 * DAY,
                password_changed=today - 85 * DAY)
    lan = acct("hanam", "tranthilan", today, password_changed=today - 85 * DAY)
    p, after = settle("hanam", [minh, lan], today)
    assert sorted(kinds(p)) == [("lock_inactive", "nguyenvanminh"), ("notify_agency", "nguyenvanminh"),
                                ("warn_password_expiry", "tranthilan")]
    assert p.of("warn_password_expiry")[0].article == "Hà Nam Art 8.2.a"
    assert not run("hanam", after, today + 5 * DAY).of("warn_password_expiry")


def test_hanam_quota_floor_and_hold_deadline():
    # Hà Nam Art 8.1.b: personal mailboxes at least 2GB; Art 6.2.b: requests answered in 03 working days.
    today = D(2026, 4, 28)
    small = acct("hanam", "nguyenvanminh", today, quota=10**9)
    admin = acct("hanam", "tranthilan", today, admin=True)
    hold = Request(kind="hold", mail=small.mail, received=today, by=admin.mail, until=D(2026, 10, 1),
                   reason="đi học")
    p, _ = settle("hanam", [small, admin], today, [hold])
    assert kinds(p) == [("hold", "nguyenvanminh"), ("apply_quota", "nguyenvanminh")]
    assert p.actions[0].article == "Hà Nam Art 6.2.b"
    assert p.actions[0].deadline == D(2026, 5, 5)  # 30/4, 1/5 and the weekend skipped
    assert p.actions[1].article == "Hà Nam Art 8.1.b" and p.actions[1].details["quota_to"] == 2 * 10**9


# --- Gia Lai --------------------------------------------------------------------------------------------

def test_gialai_any_activity_keeps_it_unlocked_but_logins_alone_decide_the_reclaim():
    # Gia Lai Art 6.2.a: no login, sending or receiving for 03 months -> locked; Art 5.4: reclaimed after
    # 06 months without a login, whatever mail it receives.
    today = D(2026, 7, 1)
    quynh = acct("gialai", "quynhhtn", today, org="skhcn", last_login=D(2026, 1, 1), last_mail=today - DAY)
    p, _ = settle("gialai", [quynh], today)
    assert kinds(p) == [("reclaim", "quynhhtn")]
    assert p.actions[0].article == "Gia Lai Art 5.4" and p.actions[0].effective == D(2026, 6, 30)
    nguyen = acct("gialai", "nguyentd", D(2026, 4, 1), org="dakpo", last_login=D(2026, 1, 1),
                  last_mail=D(2026, 1, 1))
    p, _ = settle("gialai", [nguyen], D(2026, 4, 1))
    assert kinds(p) == [("lock_inactive", "nguyentd"), ("notify_agency", "nguyentd")]
    assert p.actions[0].article == "Gia Lai Art 6.2.a"
    # Gia Lai Art 5.4: reclaimed after 06 months without a login; the agency is told that date.
    assert p.actions[1].details["reclaim_on"] == D(2026, 6, 30)
    assert p.actions[1].details["reclaim_article"] == "Gia Lai Art 5.4"


def test_gialai_default_password_month_end():
    # Gia Lai Art 6.2.d: a month counts 30 days, so an account issued 31/01/2026 is due 02/03/2026.
    new = acct("gialai", "nguyentd", D(2026, 3, 1), org="dakpo", created=D(2026, 1, 31),
               must_change_password=True, password_changed=D(2026, 1, 31), last_login=None)
    assert not run("gialai", [new], D(2026, 3, 1))
    p = run("gialai", [new], D(2026, 3, 2))
    assert kinds(p) == [("lock_default_password", "nguyentd")] and p.actions[0].article == "Gia Lai Art 6.2.d"


def test_gialai_admin_of_another_agency_is_refused():
    # Gia Lai Art 5.2, 10.8: an agency's admin manages its own accounts only.
    today = D(2026, 6, 1)
    admin = acct("gialai", "ttcds", today, org="skhcn", admin=True)
    other = acct("gialai", "nguyentd", today, org="dakpo", state="locked", lock_reason="inactivity")
    with pytest.raises(LifecycleError) as info:
        run("gialai", [admin, other], today, [Request(kind="reopen", mail=other.mail, received=today,
                                                      by=admin.mail)])
    assert "requests[0] (reopen nguyentd@gialai.gov.vn)" in str(info.value)
    assert "administers skhcn" in str(info.value) and "Gia Lai Art 5.2" in str(info.value)


def test_gialai_transfer_and_leaver():
    # Gia Lai Art 4.2.a, 5.3: the subdomain is the agency's, a move gives a new address; a leaver is
    # closed within 03 working days (leaver_deadline_working_days, as Art 6.3.b).
    today = D(2026, 6, 1)
    mover = acct("gialai", "quynhhtn", today, org="skhcn", transfer_to="pleiku")
    leaver = acct("gialai", "nguyentd", today, org="dakpo", leaving_since=today)
    p, _ = settle("gialai", [mover, leaver], today)
    assert kinds(p) == [("transfer", "quynhhtn"), ("lock_leaver", "nguyentd")]
    assert p.actions[0].article == "Gia Lai Art 4.2.a, 5.3"
    assert p.actions[1].article == "Gia Lai Art 5.3" and p.actions[1].deadline == D(2026, 6, 4)


def test_gialai_any_activity_is_login_send_or_receive():
    # Gia Lai Art 6.2.a: "không phát sinh hoạt động đăng nhập, gửi, nhận" for 03 months -> locked
    # (inactivity_measure: any). No login for 120 days but mail yesterday: not locked; neither: locked.
    # Measured by logins alone (a policy copy with inactivity_measure: login), both would be.
    today = D(2026, 6, 1)
    reader = acct("gialai", "quynhhtn", today, org="skhcn", last_login=today - 120 * DAY,
                  last_mail=today - DAY)
    idle = acct("gialai", "nguyentd", today, org="skhcn", last_login=today - 120 * DAY,
                last_mail=today - 120 * DAY)
    p, _ = settle("gialai", [reader, idle], today)
    assert kinds(p) == [("lock_inactive", "nguyentd"), ("notify_agency", "nguyentd")]
    lock = p.actions[0]
    assert lock.article == "Gia Lai Art 6.2.a" and lock.details["since"] == today - 120 * DAY
    assert lock.effective == today - 30 * DAY  # 03 months (90 days) after the last activity
    assert "Không đăng nhập, gửi hay nhận thư kể từ ngày 01/02/2026" in lock.reason_vi
    by_login = load_policy(POLICIES / "gialai.yml",
                           {**CONFIRMED, "lifecycle": {"inactivity_measure": "login"}})
    assert kinds(plan(by_login, [reader, idle], today).of("lock_inactive")) == [
        ("lock_inactive", "nguyentd"), ("lock_inactive", "quynhhtn")]


def test_transfer_alias_kept_for_a_set_period_is_dropped_on_its_day():
    # Gia Lai Art 4.2.a, 5.3: a move gives the new agency's address. With transfer_alias_keep set (90 days,
    # a policy copy: the shipped policies keep the old address for good) the old one is delivered until
    # the 90th day after the move, then dropped (and stays reserved), not a day before.
    policy = load_policy(POLICIES / "gialai.yml",
                         {**CONFIRMED, "lifecycle": {"transfer_alias_keep": "90 days"}})
    today = D(2026, 6, 1)
    until = D(2026, 8, 30)
    mover = acct("gialai", "quynhhtn", today, org="skhcn", transfer_to="pleiku", transfer_since=today)
    p = plan(policy, [mover], today)
    assert kinds(p) == [("transfer", "quynhhtn")] and p.actions[0].details["alias_until"] == until
    assert "đến hết ngày 30/08/2026" in p.actions[0].reason_vi
    moved = apply_plan([mover], p, {mover.mail: "quynhhtn@pleiku.gialai.gov.vn"})[0]
    assert moved.expiring_aliases == ((mover.mail, until),)
    assert not plan(policy, [moved], today)

    def used(day):  # still in use, so only the alias can be due
        return [dataclasses.replace(moved, last_login=day, last_mail=day, password_changed=day)]

    assert not plan(policy, used(until - DAY), until - DAY)
    p = plan(policy, used(until), until)
    assert kinds(p) == [("drop_alias", "quynhhtn")]
    drop = p.actions[0]
    assert drop.article == "Gia Lai Art 4.2.a, 5.3" and drop.details == {"alias": mover.mail}
    assert drop.effective == drop.deadline == until and mover.mail in drop.reason_vi
    after = apply_plan(used(until), p)
    assert after[0].expiring_aliases == () and not plan(policy, after, until)
    # a run missed on the day drops it on the next, dated the day it was due
    late = plan(policy, used(until + 3 * DAY), until + 3 * DAY)
    assert kinds(late) == [("drop_alias", "quynhhtn")] and late.actions[0].effective == until


# --- Hà Giang -------------------------------------------------------------------------------------------

def test_hagiang_no_automatic_lock_or_reclaim():
    # Hà Giang Art 5: mailboxes change on request only: two years unused changes nothing.
    today = D(2026, 6, 1)
    old = acct("hagiang", "nvminh.stttt", today, last_login=D(2024, 3, 1), last_mail=D(2024, 3, 1),
               password_changed=D(2026, 5, 1))
    assert not run("hagiang", [old], today)


def test_hagiang_leaver_and_reclaim_on_request():
    # Hà Giang Art 5.1.a: leavers ("nghỉ việc, về hưu") removed on request (deadline: default 03
    # working days); Art 5.2: a removal the operator records from a request.
    today = D(2026, 4, 29)
    leaver = acct("hagiang", "nvminh.stttt", today, leaving_since=today)
    gone = acct("hagiang", "ttlan.stttt", today)
    request = Request(kind="reclaim", mail=gone.mail, received=today, by="Trung tâm CNTT", source="operator")
    p, after = settle("hagiang", [leaver, gone], today, [request])
    assert kinds(p) == [("lock_leaver", "nvminh.stttt"), ("reclaim", "ttlan.stttt")]
    assert p.actions[0].article == "Hà Giang Art 5.1.a"
    assert p.actions[0].deadline == D(2026, 5, 6)  # 30/4, 1/5 and the weekend skipped
    assert p.actions[1].article == "Hà Giang Art 5.2" and p.actions[1].deadline == today  # no time limit
    assert kinds(run("hagiang", after, D(2026, 5, 6), [request])) == [("retire_leaver", "nvminh.stttt")]


def test_hagiang_transfer_gives_the_new_unit_address():
    # Hà Giang Art 4.2, 5.1.a: the address ends with the unit's mailbox name ("luân chuyển").
    today = D(2026, 6, 1)
    mover = acct("hagiang", "nvminh.stttt", today, transfer_to="snv")
    p = run("hagiang", [mover], today)
    assert kinds(p) == [("transfer", "nvminh.stttt")] and p.actions[0].article == "Hà Giang Art 4.2, 5.1.a"


# --- every province -------------------------------------------------------------------------------------

#: Monday 01/06/2026; 03 working days later is Thursday 04/06/2026.
MONDAY = D(2026, 6, 1)
#: What brings each action about: fields of the account, and the request an agency admin files.
SCENARIOS = {
    "lock_leaver": ({"leaving_since": MONDAY}, None),
    "reopen": ({"state": "locked", "lock_reason": "violation"}, "reopen"),
    "hold": ({}, "hold"),
    "warn_password_expiry": ({"password_changed": MONDAY - 80 * DAY}, None),
    "apply_quota": ({"quota": 10**9}, None),
}


@pytest.mark.parametrize(("province", "action", "article", "deadline"), [
    # Cần Thơ Art 5.3: a leaver's mailbox is cancelled (the seed gives no deadline: default 03 working days)
    ("cantho", "lock_leaver", "Cần Thơ Art 5.3", D(2026, 6, 4)),
    # Gia Lai Art 6.3: reopened on the agency's request, within 03 working days (Gia Lai Art 6.3.b)
    ("gialai", "reopen", "Gia Lai Art 6.3", D(2026, 6, 4)),
    # Cần Thơ Art 5.4: the agency's confirmation; Art 6's time limit is lost in the OCR (none applied)
    ("cantho", "reopen", "Cần Thơ Art 5.4", MONDAY),
    # Hà Giang Art 5.1.a: mailboxes change on request; Art 5.2 sets no time limit
    ("hagiang", "reopen", "Hà Giang Art 5.1.a", MONDAY),
    # Gia Lai Art 6.3.b: the agency's reason (a hold) is handled within 03 working days
    ("gialai", "hold", "Gia Lai Art 6.3.b", D(2026, 6, 4)),
    # Ninh Bình Art 6.2: requests answered within 03 working days
    ("ninhbinh", "hold", "Ninh Bình Art 6.2", D(2026, 6, 4)),
    # Gia Lai Art 9.1: the password changed regularly (default every 03 months), warned 14 days ahead
    ("gialai", "warn_password_expiry", "Gia Lai Art 9.1", D(2026, 6, 11)),
    # Gia Lai Art 7.3.a-b: the quota the Sở Khoa học và Công nghệ sets reaches existing mailboxes
    ("gialai", "apply_quota", "Gia Lai Art 7.3.a-b", MONDAY),
])
def test_each_action_carries_its_article(province, action, article, deadline):
    fields, kind = SCENARIOS[action]
    admin = acct(province, "admin", MONDAY, admin=True)
    user = acct(province, "nguyenvana", MONDAY, **fields)
    requests = [Request(kind=kind, mail=user.mail, received=MONDAY, by=admin.mail,
                        until=D(2026, 9, 1) if kind == "hold" else None)] if kind else []
    p, after = settle(province, [admin, user], MONDAY, requests)
    assert kinds(p) == [(action, "nguyenvana")]
    assert p.actions[0].article == article and p.actions[0].deadline == deadline
    if action == "lock_leaver":  # closed on the deadline, under the same article
        closing = run(province, after, deadline, requests)
        assert kinds(closing) == [("retire_leaver", "nguyenvana")] and closing.actions[0].article == article


@pytest.mark.parametrize(("province", "article"), [
    ("hanam", "Hà Nam Art 7.1"),  # "Hộp thư điện tử bị tạm khóa vẫn có thể nhận thư điện tử"
    ("gialai", "Gia Lai Art 6.1"),
    ("ninhbinh", "default: seed silent (as Hà Nam Art 7.1)"),
])
def test_every_lock_keeps_delivering_and_cites_why(province, article):
    # Hà Nam Art 7.1, Gia Lai Art 6.1 (lifecycle.articles.locked_mailbox_receives): a locked mailbox still
    # receives mail; each lock says so with the article, and the audit log keeps it.
    today = MONDAY
    lock_days = _policy(province)["lifecycle"]["inactivity_lock"]
    idle = acct(province, "idle", today, last_login=today - (lock_days + 5) * DAY,
                last_mail=today - (lock_days + 5) * DAY)
    leaver = acct(province, "leaver", today, leaving_since=today)
    new = acct(province, "new", today, created=today - 40 * DAY, must_change_password=True,
               password_changed=today - 40 * DAY, last_login=None)
    p, _ = settle(province, [idle, leaver, new], today)
    locks = p.of("lock_leaver", "lock_inactive", "lock_default_password")
    expected = {"lock_leaver", "lock_inactive"}
    if _policy(province)["lifecycle"]["default_password_lock"] is not None:
        expected.add("lock_default_password")
    assert {a.action for a in locks} == expected
    assert all(a.details["receives_mail"] is True and a.details["receives_mail_article"] == article
               for a in locks)
    records = audit.records_from_plan(p, dt.datetime(2026, 6, 1, 2, 0, tzinfo=dt.UTC), locks)
    assert {r.details["receives_mail_article"] for r in records} == {article}


def test_hanam_organisation_mailboxes_reclaimed_for_inactivity_only_when_the_policy_says_so():
    # Hà Nam Art 6.2.c: 06 months without sending or receiving -> reclaimed. An agency or unit mailbox is
    # reclaimed on request only (reclaim_organisation_mailboxes: false, default: seed silent); a policy
    # copy that sets it true reclaims it like a personal one, and tells the agency that date at the lock.
    box = {"mailbox_class": "unit", "org": "stttt", "last_mail": D(2026, 3, 2)}
    reclaiming = load_policy(POLICIES / "hanam.yml",
                             {**CONFIRMED, "lifecycle": {"reclaim_organisation_mailboxes": True}})
    lock_day = D(2026, 5, 31)  # 90 days after 02/03/2026
    unit = acct("hanam", "vanphong", lock_day, **box)
    kept = run("hanam", [unit], lock_day).of("notify_agency")[0]
    assert "reclaim_on" not in kept.details and "không thu hồi" in kept.reason_vi
    notice = plan(reclaiming, [unit], lock_day).of("notify_agency")[0]
    assert notice.details["reclaim_on"] == D(2026, 8, 29)
    assert notice.details["reclaim_article"] == "Hà Nam Art 6.2.c"
    today = D(2026, 8, 29)
    unit = acct("hanam", "vanphong", today, state="locked", lock_reason="inactivity", notice_sent=lock_day,
                **box)
    assert not run("hanam", [unit], today)
    p = plan(reclaiming, [unit], today)
    assert kinds(p) == [("reclaim", "vanphong")]
    assert p.actions[0].article == "Hà Nam Art 6.2.c" and p.actions[0].details["trigger"] == "inactivity"
    assert p.actions[0].details["archive_keep_days"] == 365  # retention.organisation_delete: allow


def test_ninhbinh_organisation_mailbox_reclaimed_after_the_notice_only_when_the_policy_says_so():
    # Ninh Bình Art 7.1: suspended after 06 months without login, removed 15 working days after the notice.
    # Its agency mailbox is removed on request only (default: seed silent); a policy copy with
    # reclaim_organisation_mailboxes: true gives it the formal notice and the removal.
    today = D(2027, 1, 25)
    box = acct("ninhbinh", "stttt", today, mailbox_class="agency", last_login=D(2026, 7, 29))
    kept, after = settle("ninhbinh", [box], today)
    assert kept.of("notify_agency")[0].details["reply_by"] is None
    assert not run("ninhbinh", after, D(2027, 3, 1))
    policy = load_policy(POLICIES / "ninhbinh.yml",
                         {**CONFIRMED, "lifecycle": {"reclaim_organisation_mailboxes": True}})
    p = plan(policy, [box], today)
    assert kinds(p) == [("lock_inactive", "stttt"), ("notify_agency", "stttt")]
    assert p.actions[1].article == "Ninh Bình Art 7.1" and p.actions[1].details["reply_by"] == D(2027, 2, 22)
    after = apply_plan([box], p)
    assert not plan(policy, after, D(2027, 2, 22))
    removal = plan(policy, after, D(2027, 2, 23))
    assert kinds(removal) == [("reclaim", "stttt")] and removal.actions[0].article == "Ninh Bình Art 7.1"
    assert removal.actions[0].details["trigger"] == "notice"


@pytest.mark.parametrize("province", PROVINCES)
def test_returning_leaver_is_unlocked(province):
    today = D(2026, 6, 2)
    back = acct(province, "nguyenvanminh", today, state="locked", lock_reason="leaver")
    p, after = settle(province, [back], today)
    assert kinds(p) == [("unlock_returned", "nguyenvanminh")]
    assert after[0].state == "active"


@pytest.mark.parametrize("path", sorted(POLICIES.glob("*.yml")), ids=lambda p: p.stem)
def test_every_article_cites_the_regulation_that_applies(path):
    policy = load_policy(path)
    name = policy["province"].get("issued_by") or policy["province"]["name"]
    for rule, article in policy["lifecycle"]["articles"].items():
        assert article is None or article.startswith((f"{name} Art ", "default: seed silent")), rule


@pytest.mark.parametrize("province", PROVINCES)
def test_indexed_planner_agrees_with_the_naive_loop(province):
    """The fast path and the working-day index never change a plan (random snapshots)."""
    rng = random.Random(province)
    today = D(2027, 2, 8)
    accounts = [_random_account(province, i, today, rng) for i in range(400)]
    fast = run(province, accounts, today)
    slow = plan(_policy(province), accounts, today, indexed=False)
    assert fast == slow
    assert len(fast) > 20


def _random_account(province: str, i: int, today: dt.date, rng: random.Random) -> Account:
    def day(span: int) -> dt.date | None:
        return None if rng.random() < 0.1 else today - dt.timedelta(days=rng.randrange(span))

    state = rng.choice(["active"] * 6 + ["locked", "retired"])
    cls = rng.choice(["personal"] * 8 + ["unit", "agency"])
    org = rng.choice(["stttt", "snv", "skhcn"])
    return acct(province, f"user{i}", today, org=org, mailbox_class=cls, state=state,
                lock_reason=(rng.choice(["inactivity", "leaver", "default_password"]) if state == "locked"
                             else None),
                created=today - dt.timedelta(days=rng.randrange(30, 900)), last_login=day(400),
                last_mail=day(400),
                password_changed=day(250), must_change_password=rng.random() < 0.1,
                leaving_since=day(8) if rng.random() < 0.1 else None,
                notice_sent=day(40) if state == "locked" and rng.random() < 0.5 else None,
                quota=rng.choice([None, 10**9, _policy(province)["quota"][cls]]), admin=rng.random() < 0.05,
                transfer_to="snv" if rng.random() < 0.05 else None)


@pytest.mark.parametrize("province", [*PROVINCES, *REUSED])
def test_a_year_of_daily_runs(province):
    """Run every day for a year across Tết 2027, applying each plan and letting people use their mail:
    the indexed and naive planners agree, every due action is applied on its day, nothing is planned
    twice, and planning again after applying changes nothing. A file that reuses a regulation's rules
    (REUSED) lives the same year as the regulation's own file, with its own domains and calendar."""
    rng = random.Random(f"year-{REUSED.get(province, province)}")
    start = D(2026, 9, 1)
    accounts = [_random_account(province, i, start, rng) for i in range(60)]
    accounts = [dataclasses.replace(a, state="active", lock_reason=None, notice_sent=None, leaving_since=None)
                for a in accounts]
    dormant = {a.mail: rng.random() < 0.3 for a in accounts}
    admins = {a.agency: a.mail for a in accounts if a.admin}
    seen: dict[tuple[str, str, dt.date], int] = {}
    for offset in range(366):
        today = start + dt.timedelta(days=offset)
        accounts, requests = _live_one_day(accounts, today, rng, dormant, admins)
        p = run(province, accounts, today, requests)
        assert p == plan(_policy(province), accounts, today, requests=requests, indexed=False)
        for action in p:
            key = (action.action, action.mail, action.deadline)
            assert key not in seen or action.action == "apply_quota", f"{key} planned twice"
            seen[key] = offset
            if offset and action.action in ("lock_inactive", "lock_default_password", "reclaim",
                                            "retire_leaver") and action.details.get("trigger") != "request":
                assert action.effective == today, f"{action.action} of {action.mail} applied late"
        accounts = apply_plan(accounts, p)
        assert not run(province, accounts, today, requests)
    assert {k[0] for k in seen} >= YEAR_COVERS[REUSED.get(province, province)]


#: What a year of daily runs must have exercised, per province.
YEAR_COVERS = {
    "hanam": {"lock_inactive", "lock_default_password", "reclaim", "warn_inactivity", "warn_password_expiry",
              "lock_leaver", "retire_leaver", "apply_quota", "hold"},
    "gialai": {"lock_inactive", "lock_default_password", "reclaim", "reopen", "transfer", "retire_leaver",
               "hold"},
    "cantho": {"lock_inactive", "notify_agency", "reclaim", "reopen", "retire_leaver", "hold"},
    "hagiang": {"lock_leaver", "retire_leaver", "transfer", "warn_password_expiry"},
    "ninhbinh": {"lock_inactive", "notify_agency", "reclaim", "reopen", "retire_leaver", "warn_inactivity",
                 "hold"},
}


def _live_one_day(accounts, today, rng, dormant, admins):
    """People use their mailboxes, leave, and agencies send requests."""
    out, requests = [], []
    active = {a.mail for a in accounts if a.state == "active"}
    for a in accounts:
        if a.state == "retired":
            out.append(a)
            continue
        changes = {}
        if not dormant[a.mail]:
            if rng.random() < 0.4:
                changes["last_mail"] = today
            if a.state == "active" and not a.must_change_password and rng.random() < 0.3:
                changes["last_login"] = today
            if a.state == "active" and a.must_change_password and rng.random() < 0.05:
                changes.update(must_change_password=False, password_changed=today, last_login=today)
            if a.warned_password and a.state == "active" and rng.random() < 0.3:
                changes.update(password_changed=today, warned_password=None)
        if a.leaving_since is None and a.mailbox_class == "personal" and rng.random() < 0.002:
            changes["leaving_since"] = today
        elif a.leaving_since is not None and a.state == "locked" and rng.random() < 0.05:
            changes["leaving_since"] = None  # back on the roster
        admin = admins.get(a.agency)
        if (a.state == "locked" and a.leaving_since is None and admin in active and admin != a.mail
                and rng.random() < 0.05):
            requests.append(Request(kind="reopen", mail=a.mail, received=today, by=admin))
        elif dormant[a.mail] and a.leaving_since is None and rng.random() < 0.01:
            until = today + dt.timedelta(days=rng.randrange(30, 120))  # recorded from the agency's letter
            requests.append(Request(kind="hold", mail=a.mail, received=today, by="Sở KH&CN",
                                    source="operator", until=until, reason="công tác dài ngày"))
        out.append(dataclasses.replace(a, **changes) if changes else a)
    return out, requests


# --- bad input, calendar, output ------------------------------------------------------------------------

def test_bad_requests_are_refused_together_before_anything_is_planned():
    today = D(2026, 6, 1)
    admin = acct("ninhbinh", "lanntt.stttt", today, admin=True)
    locked = acct("ninhbinh", "minhnv.stttt", today, state="locked", lock_reason="inactivity")
    user = acct("ninhbinh", "hoapt.stttt", today)
    foreign = acct("ninhbinh", "binhnt.snv", today, org="snv", state="locked", lock_reason="inactivity")
    requests = [
        {"kind": "reopen", "mail": "nobody@ninhbinh.gov.vn", "received": today, "by": admin.mail},
        {"kind": "reopen", "mail": foreign.mail, "received": today, "by": admin.mail},
        {"kind": "hold", "mail": locked.mail, "received": today, "by": admin.mail, "until": "2026-05-01"},
        {"kind": "reopen", "mail": locked.mail, "received": "2026-06-05", "by": admin.mail},
        {"kind": "reopen", "mail": user.mail, "received": today, "by": admin.mail},
        {"kind": "reclaim", "mail": locked.mail, "received": today, "by": user.mail},
        {"kind": "close", "mail": locked.mail, "received": today, "by": admin.mail},
    ]
    with pytest.raises(LifecycleError) as info:
        run("ninhbinh", [admin, locked, user, foreign], today, requests)
    err = info.value
    assert len(err.problems) == 7
    text = str(err)
    assert "requests[0] (reopen nobody@ninhbinh.gov.vn): no such account" in text
    assert "requests[1]" in text and "administers stttt, the account belongs to snv" in text
    assert "requests[2]" in text and "a date in the past" in text
    assert "requests[3]" in text and "after today" in text
    assert "requests[4]" in text and "not locked" in text
    assert "requests[5]" in text and "not an active delegated admin" in text
    assert "requests[6]" in text and "'close' is not one of" in text


def test_a_request_already_carried_out_is_not_checked_again():
    # Gia Lai Art 6.3.b, 4.2.a: a hold filed by the old agency's admin, then the person moves: giving the
    # same request again changes nothing and is not refused for the other agency.
    today = D(2026, 6, 1)
    admin = acct("gialai", "ttcds", today, org="skhcn", admin=True)
    quynh = acct("gialai", "quynhhtn", today, org="skhcn", transfer_to="pleiku")
    hold = Request(kind="hold", mail=quynh.mail, received=today, by=admin.mail, until=D(2026, 9, 1))
    p, after = settle("gialai", [admin, quynh], today, [hold])
    assert kinds(p) == [("hold", "quynhhtn"), ("transfer", "quynhhtn")]
    assert after[1].agency == "pleiku"
    assert not run("gialai", after, D(2026, 6, 2), [hold])


def test_bad_snapshot_is_refused():
    today = D(2026, 6, 1)
    good = acct("hanam", "nguyenvanminh", today)
    with pytest.raises(LifecycleError) as info:
        run("hanam", [good, good, {"mail": "x@hanam.gov.vn", "dn": "uid=x", "organisation": "stttt",
                                   "created": "2026-06-03"}, {"mail": "y@hanam.gov.vn"}], today)
    text = str(info.value)
    assert "listed twice" in text and "created after today" in text and "dn: required" in text


def test_snapshot_from_ldap_values():
    a = Account.from_mapping({"mail": "NguyenVanMinh@hanam.gov.vn", "dn": "uid=nguyenvanminh,o=stttt",
                              "organisation": "stttt", "created": "20240102030405Z",
                              "last_login": "20260531180000Z", "must_change_password": "TRUE", "quota": 0})
    assert a.mail == "nguyenvanminh@hanam.gov.vn" and a.created == D(2024, 1, 2)
    assert a.last_login == D(2026, 6, 1)  # 18:00 UTC is 01:00 the next day in Vietnam
    assert a.must_change_password is True and a.quota is None and a.agency == "stttt"


def test_unconfirmed_year_today_is_refused_with_file_key_and_rule():
    # The shipped policies confirm 2025 only (docs/policy.md, "Calendar").
    policy = load_policy(POLICIES / "ninhbinh.yml")
    with pytest.raises(PolicyError) as info:
        plan(policy, [], D(2026, 12, 2))
    err = info.value
    assert err.source.endswith("policies/ninhbinh.yml") and err.key == "calendar.confirmed_years"
    assert err.rule == "working days are only counted in calendar.confirmed_years"
    assert "2026 is not confirmed" in err.message


def test_unconfirmed_year_of_a_deadline_is_refused():
    # Ninh Bình Art 7.1: a notice on 22/12/2026 ends in January 2027, whose calendar is not confirmed.
    policy = load_policy(POLICIES / "ninhbinh.yml", {"calendar": {"confirmed_years": [2026]}})
    today = D(2026, 12, 22)
    minh = acct("ninhbinh", "minhnv.stttt", today, last_login=D(2026, 6, 25))
    with pytest.raises(PolicyError) as info:
        plan(policy, [minh], today)
    assert "2027 is not confirmed" in str(info.value)
    assert "the reclaim deadline of minhnv.stttt@ninhbinh.gov.vn (Ninh Bình Art 7.1)" in str(info.value)


def test_plan_is_sorted_deterministic_and_json_ready():
    today = D(2027, 1, 25)
    accounts = [acct("ninhbinh", f"u{i}.stttt", today, last_login=D(2026, 7, 29 + i % 3), quota=10**9)
                for i in range(12)]
    p1 = run("ninhbinh", accounts, today)
    p2 = run("ninhbinh", list(reversed(accounts)), today)
    assert p1 == p2
    order = [ACTIONS.index(a.action) for a in p1]
    assert order == sorted(order)
    json.dumps(p1.to_dicts(), ensure_ascii=False)
    assert p1.counts() == {"apply_quota": 12, "lock_inactive": 4, "notify_agency": 4, "warn_inactivity": 8}


def test_locked_mailbox_must_keep_receiving():
    # Hà Nam Art 7.1 / Gia Lai Art 6.1: the directory contract delivers to locked mailboxes; a policy
    # saying otherwise is refused until the servers support it.
    overrides = {**CONFIRMED, "lifecycle": {"locked_mailbox_receives": False}}
    policy = load_policy(POLICIES / "hagiang.yml", overrides)
    with pytest.raises(LifecycleError) as info:
        plan(policy, [], D(2026, 6, 1))
    assert info.value.key == "lifecycle.locked_mailbox_receives"


def test_today_must_be_a_date():
    with pytest.raises(LifecycleError):
        run("hanam", [], dt.datetime(2026, 6, 1, 8, 0))


def test_a_compromised_or_misused_mailbox_is_locked_on_request_and_reopened_by_the_agency():
    """Hà Nam Art 7.2.b-c: a mailbox taken over by a virus or someone else, whose password leaked, or
    used for what Art 4 forbids, is locked. A lock request (the agency's admin, or the operator on a
    security warning) says why; the lock keeps the mail coming (Hà Nam Art 7.1) and a reopen request
    ends it with a new password (Art 7.3). Filed again, the carried-out lock does nothing; a lock of
    a mailbox not active, or without its reason, is refused."""
    today = D(2027, 3, 2)
    admin = acct("hanam", "lanntt.stttt", today, admin=True)
    minh = acct("hanam", "minhnv.stttt", today)
    lock = Request(kind="lock", mail=minh.mail, received=today, by=admin.mail,
                   reason="lộ mật khẩu, thư rác gửi đi từ hộp thư")
    p, after = settle("hanam", [admin, minh], today, [lock])
    assert kinds(p) == [("lock_violation", "minhnv.stttt")]
    action = p.actions[0]
    assert action.article == "Hà Nam Art 7.2.b-c" and action.actor == admin.mail
    assert "lộ mật khẩu" in action.reason_vi and "vẫn nhận thư" in action.reason_vi
    assert after[1].state == "locked" and after[1].lock_reason == "violation"
    assert not run("hanam", after, today, [lock])  # carried out: nothing again
    later = D(2027, 3, 9)
    reopen = Request(kind="reopen", mail=minh.mail, received=later, by=admin.mail)
    p, back = settle("hanam", after, later, [reopen])
    assert kinds(p) == [("reopen", "minhnv.stttt")]
    assert back[1].state == "active" and back[1].must_change_password
    assert not run("hanam", back, later, [reopen])  # carried out
    # the old lock given again after the reopen is refused, not carried out again nor skipped quietly
    with pytest.raises(LifecycleError, match="dated after the agency's last word"):
        run("hanam", back, later, [lock, reopen])
    idle = acct("hanam", "cu.stttt", today, state="locked", lock_reason="inactivity")
    with pytest.raises(LifecycleError, match="only an active mailbox is locked"):
        run("hanam", [admin, idle], today,
            [Request(kind="lock", mail=idle.mail, received=today, by=admin.mail, reason="phát tán mã độc")])
    with pytest.raises(LifecycleError, match="reason"):
        Request.from_mapping({"kind": "lock", "mail": minh.mail, "received": "2027-03-02", "by": admin.mail})


def test_ninhbinh_a_violation_lock_is_notified_and_the_mailbox_removed_fifteen_working_days_later():
    """Ninh Bình Art 7.1 suspends a mailbox used for what Art 12 forbids as it suspends one unused for six
    months: the agency is notified, and the mailbox is removed 15 working days after the notice unless the
    agency asks to reopen it (lifecycle.violation_reclaim). Elsewhere (Hà Nam above) it stays locked."""
    today = D(2027, 3, 2)  # a Tuesday; no holiday until 30 April
    admin = acct("ninhbinh", "lanntt.stttt", today, admin=True)
    minh = acct("ninhbinh", "minhnv.stttt", today)
    lock = Request(kind="lock", mail=minh.mail, received=today, by=admin.mail,
                   reason="phát tán thư có nội dung bị cấm (Điều 12)")
    p, after = settle("ninhbinh", [admin, minh], today, [lock])
    assert kinds(p) == [("lock_violation", "minhnv.stttt"), ("notify_agency", "minhnv.stttt")]
    notice = p.actions[1]
    assert notice.article == "Ninh Bình Art 7.1" and notice.details["cause"] == "violation"
    assert notice.deadline == D(2027, 3, 23) and "vi phạm" in notice.reason_vi
    (message,) = agency_notices(p, after, _policy("ninhbinh"))
    assert message.subject.startswith("Thông báo tạm khóa hộp thư điện tử công vụ do vi phạm quy chế - ")
    assert "khoản 1 Điều 7" in message.body
    assert ("tạm khóa do vi phạm quy chế từ ngày 02/03/2027; căn cứ khoản 1 Điều 7; thu hồi sau ngày "
            "23/03/2027") in message.body, message.body
    assert "không sử dụng" not in message.body
    assert not run("ninhbinh", after, D(2027, 3, 23), [lock])
    removal = run("ninhbinh", after, D(2027, 3, 24), [lock])
    assert kinds(removal) == [("reclaim", "minhnv.stttt")]
    assert removal.actions[0].details["trigger"] == "notice"
    # a reopen request before the deadline keeps it
    reopen = Request(kind="reopen", mail=minh.mail, received=D(2027, 3, 15), by=admin.mail)
    _, back = settle("ninhbinh", after, D(2027, 3, 15), [reopen])
    assert back[1].state == "active" and back[1].notice_sent is None
    assert not run("ninhbinh", back, D(2027, 3, 24), [reopen]).of("reclaim")
    # an organisation mailbox is told about but kept (reclaim_organisation_mailboxes: false)
    office = acct("ninhbinh", "vanphong.stttt", today, mailbox_class="unit")
    leak = Request(kind="lock", mail=office.mail, received=today, by=admin.mail, reason="lộ mật khẩu")
    p, after = settle("ninhbinh", [admin, office], today, [leak])
    assert kinds(p) == [("lock_violation", "vanphong.stttt"), ("notify_agency", "vanphong.stttt")]
    assert p.actions[1].details["reply_by"] is None
    assert not run("ninhbinh", after, D(2027, 6, 1)).of("reclaim")


def test_violation_reclaim_needs_the_notice_period():
    with pytest.raises(PolicyError, match="violation_reclaim needs reclaim_notice_working_days"):
        load_policy(POLICIES / "hanam.yml", {"lifecycle": {"violation_reclaim": True}})
