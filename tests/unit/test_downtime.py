"""congvu.downtime: the planned-stop notice (Hà Nam Art 10.5, Gia Lai Art 8.2) on the province's
calendar. The same checks run over the wire in tests/layouts/demo/test_notice.py."""

from __future__ import annotations

import datetime as dt
from email import message_from_bytes
from email.header import decode_header, make_header
from pathlib import Path

import pytest
from source_files import load

from congvu.downtime import plan_incident_notice, plan_notice
from congvu.errors import PolicyError
from congvu.mailbox import render
from congvu.policy import load_policy
from congvu.workdays import Calendar

POLICIES = Path(__file__).resolve().parents[2] / "policies"
REASON = "nâng cấp phần mềm các máy chủ thư điện tử"


def policy(province: str, **operations):
    overrides = {"calendar": {"confirmed_years": [2026, 2027]}}
    if operations:
        overrides["operations"] = operations
    return load_policy(POLICIES / f"{province}.yml", overrides)


def at(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M")


def notice(province_policy, start, end, now, **kw):
    calendar = Calendar.from_policy(province_policy)
    return plan_notice(province_policy, calendar, start, end, REASON, at(now), **kw)


def test_hanam_two_whole_working_days_between_the_notice_and_a_stop_on_days_off():
    hanam = policy("hanam")  # Hà Nam Art 10.5: 2 working days ahead, the work on days off
    # Wednesday 09/12/2026: Thursday and Friday lie between it and Saturday 12/12
    ok = notice(hanam, "2026-12-12 22:00", "2026-12-13 06:00", "2026-12-09 16:00")
    assert (ok.lead, ok.required, ok.article) == (2, 2, "Hà Nam Art 10.5")
    assert ok.earliest_start == dt.date(2026, 12, 12)
    # Thursday: only Friday between -> refused, naming the key, the article and the earliest start
    with pytest.raises(PolicyError) as err:
        notice(hanam, "2026-12-12 22:00", "2026-12-13 06:00", "2026-12-10 08:00")
    text = str(err.value)
    assert "policies/hanam.yml: operations.downtime_notice_working_days" in text
    assert "1 whole working day(s)" in text and "2 are required (Hà Nam Art 10.5)" in text
    assert "start on 2026-12-19 or later" in text  # Tue 15/12 would do for the lead; Sat 19/12 is off


def test_hanam_refuses_a_stop_that_touches_a_working_day():
    hanam = policy("hanam")
    with pytest.raises(PolicyError) as err:  # Sunday 22:00 to Monday 02:00
        notice(hanam, "2026-12-13 22:00", "2026-12-14 02:00", "2026-12-01 09:00")
    assert "operations.downtime_on_days_off" in str(err.value)
    assert "2026-12-14" in str(err.value) and "Hà Nam Art 10.5" in str(err.value)
    # ending exactly at Monday 00:00 touches Sunday only
    assert notice(hanam, "2026-12-13 20:00", "2026-12-14 00:00", "2026-12-01 09:00").lead > 2


def test_gialai_three_working_days_and_any_day():
    gialai = policy("gialai")  # Gia Lai Art 8.2: 3 working days; the seed does not ask for days off
    ok = notice(gialai, "2026-12-10 12:00", "2026-12-10 13:00", "2026-12-04 10:00")  # Friday -> Thursday
    assert (ok.lead, ok.article) == (3, "Gia Lai Art 8.2")  # Mon, Tue, Wed
    with pytest.raises(PolicyError, match=r"start on 2026-12-10 or later"):
        notice(gialai, "2026-12-09 12:00", "2026-12-09 13:00", "2026-12-04 10:00")


def test_public_holidays_do_not_count():
    # Friday 28/08/2026, Gia Lai (3 working days): 29/08-02/09 is the National Day break with the swapped
    # Monday 31/08 (the policy's extra_days_off), so only Thursday 03/09 lies before Friday 04/09
    gialai = policy("gialai")
    with pytest.raises(PolicyError) as err:
        notice(gialai, "2026-09-04 12:00", "2026-09-04 13:00", "2026-08-28 10:00")
    assert "1 whole working day(s)" in str(err.value)
    assert "start on 2026-09-08 or later" in str(err.value)  # 03/09, 04/09, 07/09 between
    assert notice(gialai, "2026-09-08 12:00", "2026-09-08 13:00", "2026-08-28 10:00").lead == 3


def test_bad_windows_are_named():
    hanam = policy("hanam")
    for start, end, key in (("12/12/2026 22:00", "2026-12-13 06:00", "downtime_start"),
                            ("2026-12-13 06:00", "2026-12-12 22:00", "downtime_end"),
                            ("2026-11-28 22:00", "2026-11-29 06:00", "downtime_start"),
                            ("2026-12-12 22:00", "2026-12-26 06:00", "downtime_end")):
        with pytest.raises(PolicyError) as err:
            notice(hanam, start, end, "2026-12-01 09:00")
        assert f"notice.yml: {key}:" in str(err.value), str(err.value)
    with pytest.raises(PolicyError, match="downtime_reason"):
        plan_notice(hanam, Calendar.from_policy(hanam), "2026-12-12 22:00", "2026-12-13 06:00", " ",
                    at("2026-12-01 09:00"))


def test_unconfirmed_year_is_refused():
    hanam = load_policy(POLICIES / "hanam.yml")  # 2026 not confirmed in the shipped file
    with pytest.raises(PolicyError, match=r"calendar\.confirmed_years"):
        notice(hanam, "2026-12-12 22:00", "2026-12-13 06:00", "2026-12-01 09:00")


def test_the_notice_is_vietnamese_cites_the_article_and_renders_for_everyone():
    hanam = policy("hanam")
    ok = notice(hanam, "2026-12-12 22:00", "2026-12-13 06:00", "2026-12-01 09:00", contact="0226 3852 xxx")
    msg = ok.message
    assert msg.subject == ("Thông báo tạm ngừng Hệ thống thư điện tử công vụ tỉnh Hà Nam "
                           "từ 22:00 ngày 12/12/2026 đến 06:00 ngày 13/12/2026")
    assert "Để nâng cấp phần mềm các máy chủ thư điện tử, Hệ thống" in msg.body
    assert "- Từ 22 giờ 00 thứ bảy ngày 12/12/2026;" in msg.body
    assert "- Đến 06 giờ 00 chủ nhật ngày 13/12/2026." in msg.body
    assert "theo quy định tại khoản 5 Điều 10" in msg.body  # Hà Nam Art 10.5
    assert "0226 3852 xxx" in msg.body and msg.sender == "postmaster@hanam.gov.vn"
    mime = message_from_bytes(render(msg, dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC), "hanam.gov.vn"))
    assert mime["To"] == "undisclosed-recipients:;"
    assert str(make_header(decode_header(mime["Subject"]))) == msg.subject
    assert mime["X-Congvu-Notice"] == "downtime_notice" and mime["Auto-Submitted"] == "auto-generated"
    assert mime.get_payload(decode=True).decode("utf-8") == msg.body


def test_a_province_whose_seed_is_silent_cites_nothing():
    cantho = policy("cantho")  # 2 working days by default, no article
    ok = notice(cantho, "2026-12-10 22:00", "2026-12-11 02:00", "2026-12-01 09:00")
    assert ok.article is None and "theo quy định tại" not in ok.message.body
    assert "thành phố Cần Thơ" in ok.message.subject


def test_the_filter_wraps_the_check_and_names_the_error():
    from ansible.errors import AnsibleFilterError

    module = load("filter_plugins/downtime.py", "congvu_filter_downtime")
    flt = module.FilterModule().filters()["congvu_downtime_notice"]
    hanam = policy("hanam")
    far = (dt.date.today() + dt.timedelta(days=60))
    saturday = far + dt.timedelta(days=(5 - far.weekday()) % 7)
    confirmed = policy("hanam")
    confirmed["calendar"]["confirmed_years"] = list(range(2025, saturday.year + 2))
    out = flt(confirmed, f"{saturday} 22:00", f"{saturday + dt.timedelta(days=1)} 06:00", REASON)
    assert out["sender"] == "postmaster@hanam.gov.vn" and out["lead_working_days"] >= 2
    assert "undisclosed-recipients:;" in out["message"] and out["message"].isascii()
    with pytest.raises(AnsibleFilterError, match=r"operations.downtime_notice_working_days"):
        flt(confirmed, f"{dt.date.today() + dt.timedelta(days=1)} 22:00",
            f"{dt.date.today() + dt.timedelta(days=2)} 06:00", REASON)
    with pytest.raises(AnsibleFilterError, match="effective policy"):
        flt({"domains": {}}, "x", "y", REASON)
    assert hanam["operations"]["downtime_on_days_off"] is True  # Hà Nam Art 10.5


# --- the notice of an unplanned stop (Hà Giang Art 10.2.b, Gia Lai Art 8.3.d) -----------------------

INCIDENT = "sự cố phần cứng máy chủ lưu trữ hộp thư"


def test_an_incident_is_announced_while_it_lasts_with_its_recovery_time():
    """Hà Giang Art 10.2.b: an incident that stops the system is announced with the time of recovery;
    no lead time, any day; the article cited in Vietnamese."""
    hagiang = policy("hagiang")
    n = plan_incident_notice(hagiang, "2026-12-08 09:10", "2026-12-08 15:00", INCIDENT,
                             at("2026-12-08 09:40"), contact="Trung tâm CNTT-TT, 0219 3866 999")
    assert n.kind == "incident" and n.lead is None and n.article == "Hà Giang Art 10.2.b"
    m = n.message
    assert m.kind == "incident_notice"
    assert "dự kiến hoạt động trở lại lúc 15:00 ngày 08/12/2026" in m.subject
    assert f"Do {INCIDENT}, Hệ thống thư điện tử công vụ tỉnh Hà Giang bị ngừng hoạt động" in m.body
    assert "Thời gian dự kiến hệ thống hoạt động trở lại: 15 giờ 00" in m.body
    assert "khoản 2 Điều 10" in m.body and "0219 3866 999" in m.body
    assert n.summary()["kind"] == "incident"
    # Gia Lai Art 8.3.d; Hà Nam's regulation is silent: the notice goes out all the same, citing nothing
    assert plan_incident_notice(policy("gialai"), "2026-12-08 09:10", "2026-12-08 15:00", INCIDENT,
                                at("2026-12-08 09:40")).article == "Gia Lai Art 8.3.d"
    hanam = plan_incident_notice(policy("hanam"), "2026-12-08 09:10", "2026-12-08 15:00", INCIDENT,
                                 at("2026-12-08 09:40"))
    assert hanam.article is None and "theo quy định tại" not in hanam.message.body


@pytest.mark.parametrize("start, end, key", [
    ("2026-12-08 10:00", "2026-12-08 15:00", "downtime_start"),   # not begun: a planned stop
    ("2026-11-30 09:00", "2026-12-08 15:00", "downtime_start"),   # began more than 7 days ago
    ("2026-12-08 09:10", "2026-12-08 09:30", "downtime_end"),     # recovery already past
    ("2026-12-08 09:10", "2026-12-16 09:30", "downtime_end"),     # recovery beyond 7 days
])
def test_an_incident_window_the_rule_refuses_names_the_key(start, end, key):
    with pytest.raises(PolicyError) as info:
        plan_incident_notice(policy("hagiang"), start, end, INCIDENT, at("2026-12-08 09:40"))
    assert info.value.key == key and "unplanned stop" in info.value.rule


def test_an_incident_needs_its_cause():
    with pytest.raises(PolicyError) as info:
        plan_incident_notice(policy("hagiang"), "2026-12-08 09:10", "2026-12-08 15:00", " ",
                             at("2026-12-08 09:40"))
    assert info.value.key == "downtime_reason"


def test_the_incident_article_belongs_to_the_province():
    with pytest.raises(PolicyError) as info:
        policy("hanam", incident_notice_article="Hà Giang Art 10.2.b")
    assert "operations.incident_notice_article" in str(info.value)
