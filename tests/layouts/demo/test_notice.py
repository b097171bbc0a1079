"""playbooks/notice.yml on the all-in-one host: a planned stop announced to every active mailbox, in
Vietnamese, only as far ahead as the province's regulation asks (Hà Nam Art 10.5: 2 working days,
the work on days off; Gia Lai Art 8.2: 3). The windows are chosen from the province's own calendar,
so the tests hold for whichever province the demo inventory runs and on any date.
"""

from __future__ import annotations

import datetime as dt
import email
import json
import time
from email.header import decode_header, make_header

import pytest
from attacks import imap_session
from backup_checks import playbook
from monitoring_checks import silences

from congvu.workdays import Calendar

REASON = "nâng cấp phần mềm các máy chủ thư điện tử"
ACTIVE = "(&(objectClass=congvuMailAccount)(congvuAccountState=active)(!(congvuLeavingSince=*))(mail=*))"


def notice(stage, start: dt.datetime, end: dt.datetime, *extra: str, kind: str = "planned",
           reason: str = REASON):
    window = {"downtime_start": f"{start:%Y-%m-%d %H:%M}", "downtime_end": f"{end:%Y-%m-%d %H:%M}",
              "downtime_reason": reason, "downtime_contact": "Phòng Quản trị hệ thống, số máy lẻ 123",
              "downtime_kind": kind}
    return playbook(stage, "notice.yml", "-e", json.dumps(window, ensure_ascii=False), *extra)


def received(stage, mx, person, kind: str, send) -> email.message.Message:
    """Run ``send`` (a notice.yml run that must succeed), wait for one more message of ``kind``
    (X-Congvu-Notice) in the person's INBOX, and read it as the user does: IMAP over TLS with the
    person's password."""
    def notices() -> list[str]:
        return mx.out(f"doveadm search -u {person.mail} mailbox INBOX "
                      f"header X-Congvu-Notice {kind}").split("\n")[:-1]

    before = len(notices())
    run = send()
    assert run.returncode == 0, run.flat[-3000:]
    deadline = time.monotonic() + 90
    while len(notices()) < before + 1 and time.monotonic() < deadline:
        time.sleep(1)
    assert len(notices()) == before + 1
    with imap_session(stage, person, mx) as imap:
        imap.select("INBOX", readonly=True)
        _, found = imap.search(None, "HEADER", "X-Congvu-Notice", kind)
        _, data = imap.fetch(found[0].split()[-1], "(BODY.PEEK[])")
    return email.message_from_bytes(data[0][1])


@pytest.fixture(scope="module")
def rules(stage):
    policy = stage.policy
    ops = policy["operations"]
    assert ops["downtime_notice_working_days"] >= 1, "every shipped policy asks for a notice"
    return Calendar.from_policy(policy), ops["downtime_notice_working_days"], ops["downtime_on_days_off"]


def province_today(stage) -> dt.date:
    return dt.date.fromisoformat(stage.first("mail_servers").out("TZ=Asia/Ho_Chi_Minh date +%F").strip())


def first_allowed_day(stage, rules) -> dt.date:
    """The first day a stop announced today may start, and a day off where the policy asks for one."""
    calendar, required, days_off = rules
    today = province_today(stage)
    day = today + dt.timedelta(days=1)
    while (calendar.between(today, day - dt.timedelta(days=1)) < required
           or (days_off and calendar.is_working_day(day))):
        day += dt.timedelta(days=1)
    return day


def test_a_stop_too_close_is_refused_before_anything_is_sent(stage, rules):
    _, required, _ = rules
    tomorrow = province_today(stage) + dt.timedelta(days=1)
    start = dt.datetime.combine(tomorrow, dt.time(20, 0))
    run = notice(stage, start, start + dt.timedelta(hours=4))
    assert run.returncode != 0
    assert "operations.downtime_notice_working_days" in run.flat  # the key, the article, the way out
    assert f"{required} are required" in run.flat and "or later" in run.flat
    article = (stage.policy["regulation"].get("operations.downtime_notice_working_days") or {}).get("article")
    if article:  # Hà Nam Art 10.5, Gia Lai Art 8.2
        assert article in run.flat
    assert "Hand the notice to Postfix" not in run.stdout and "Read the active mailboxes" not in run.stdout


def test_a_stop_on_a_working_day_follows_the_province_rule(stage, rules):
    calendar, _, days_off = rules
    day = first_allowed_day(stage, rules)
    while not calendar.is_working_day(day):
        day += dt.timedelta(days=1)
    start = dt.datetime.combine(day, dt.time(12, 0))
    run = notice(stage, start, start + dt.timedelta(hours=1), "--check")
    if days_off:  # Hà Nam Art 10.5: the work is done on days off
        assert run.returncode != 0 and "operations.downtime_on_days_off" in run.flat, run.flat[-2000:]
    else:  # the seed is silent: announced (check mode: nothing sent)
        assert run.returncode == 0, run.flat[-2000:]
        assert "active mailboxes" in run.flat


def test_the_notice_reaches_every_active_mailbox_once_in_vietnamese(stage, testpeople, rules):
    mx = stage.first("mail_servers")
    org = testpeople.top_level()[0]
    person = testpeople.ensure("kiemthu.thongbao", "Kiểm Thử Thông Báo", org, "Initial#Pass2026")
    day = first_allowed_day(stage, rules)
    start = dt.datetime.combine(day, dt.time(20, 0))
    end = start + dt.timedelta(hours=4)
    stamp = f"/var/lib/congvu/notices/downtime-{start:%Y%m%d%H%M}.json"
    mx.run(f"rm -f {stamp}")  # an earlier run of this test announced the same window

    msg = received(stage, mx, person, "downtime_notice", lambda: notice(stage, start, end))
    subject = str(make_header(decode_header(msg["Subject"])))
    assert subject.startswith("Thông báo tạm ngừng Hệ thống thư điện tử công vụ ")
    assert f"từ 20:00 ngày {start:%d/%m/%Y} đến 00:00 ngày {end:%d/%m/%Y}" in subject
    body = msg.get_payload(decode=True).decode("utf-8")
    assert body.startswith("Kính gửi: Các cơ quan, đơn vị và cá nhân")
    assert f"Để {REASON}, Hệ thống" in body and "số máy lẻ 123" in body
    assert msg["From"].endswith(f"<postmaster@{stage.policy['domains']['primary']}>")
    assert msg["Auto-Submitted"] == "auto-generated"  # no vacation reply answers it
    # every active mailbox, and only those: the stamp's count is the directory's
    record = json.loads(mx.out(f"cat {stamp}"))
    ldap = stage.first("ldap_servers")
    base = ",".join(f"dc={part}" for part in stage.policy["domains"]["primary"].split("."))
    listed = ldap.out("ldapsearch -LLL -o ldif-wrap=no -Q -Y EXTERNAL -H ldapi:/// "
                      f"-b ou=organisations,{base} '{ACTIVE}' mail")
    assert record["recipients"] == len({line for line in listed.splitlines() if line.startswith("mail: ")})
    assert record["lead_working_days"] >= rules[1]
    # docs/monitoring.md: the monitoring host silences every alert for the window (Vietnam time)
    monitor = stage.first("monitoring_servers")
    window = f"{start:%Y-%m-%d %H:%M} - {end:%Y-%m-%d %H:%M}"

    def pending() -> list[dict]:
        return [s for s in silences(monitor) if window in s["comment"] and s["status"]["state"] == "pending"]

    silenced = pending()
    assert len(silenced) == 1, silences(monitor)
    vietnam = dt.timezone(dt.timedelta(hours=7))
    for key, when in (("startsAt", start), ("endsAt", end)):
        got = dt.datetime.fromisoformat(silenced[0][key].replace("Z", "+00:00"))
        assert got == when.replace(tzinfo=vietnam), (key, silenced[0])
    assert silenced[0]["matchers"] == [{"name": "alertname", "value": ".+", "isRegex": True, "isEqual": True}]
    # the same window again: nothing sent, no second silence
    again = notice(stage, start, end)
    assert again.returncode == 0 and "announced already" in again.flat
    assert "Hand the notice to Postfix" not in again.stdout
    assert len(pending()) == 1
    monitor.out(f"amtool --alertmanager.url=http://127.0.0.1:9093 silence expire {silenced[0]['id']}")


INCIDENT = "sự cố phần cứng máy chủ lưu trữ hộp thư"


def province_now(stage) -> dt.datetime:
    text = stage.first("mail_servers").out("TZ=Asia/Ho_Chi_Minh date '+%F %H:%M'").strip()
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M")


def test_an_unplanned_stop_is_announced_with_its_recovery_time_and_silences_nothing(stage, testpeople):
    """Hà Giang Art 10.2.b (an incident that stops the system is announced with the time of recovery),
    Gia Lai Art 8.3.d: downtime_kind=incident sends at once, no lead time, citing the province's
    article where its policy has one (operations.incident_notice_article; Hà Nam's has none) and
    silencing no alert: the operators must see the incident's. A stop that has not begun is refused
    before anything is read."""
    mx = stage.first("mail_servers")
    org = testpeople.top_level()[0]
    person = testpeople.ensure("kiemthu.thongbao", "Kiểm Thử Thông Báo", org, "Initial#Pass2026")
    now = province_now(stage)
    future = notice(stage, now + dt.timedelta(hours=1), now + dt.timedelta(hours=3), kind="incident",
                    reason=INCIDENT)
    assert future.returncode != 0 and "downtime_start" in future.flat and "unplanned stop" in future.flat
    assert "Read the active mailboxes" not in future.stdout
    start, end = now - dt.timedelta(minutes=20), now + dt.timedelta(hours=3)

    monitor = stage.first("monitoring_servers")
    silenced_before = len(silences(monitor))
    msg = received(stage, mx, person, "incident_notice",
                   lambda: notice(stage, start, end, kind="incident", reason=INCIDENT))
    subject = str(make_header(decode_header(msg["Subject"])))
    assert subject.startswith("Thông báo sự cố Hệ thống thư điện tử công vụ "), subject
    assert f"dự kiến hoạt động trở lại lúc {end:%H:%M} ngày {end:%d/%m/%Y}" in subject
    body = msg.get_payload(decode=True).decode("utf-8")
    assert f"Do {INCIDENT}, Hệ thống" in body and "Thời gian dự kiến hệ thống hoạt động trở lại" in body
    article = stage.policy["operations"].get("incident_notice_article")
    assert ("theo quy định tại" in body) == bool(article)
    assert len(silences(monitor)) == silenced_before  # no silence for an incident
    mx.run(f"rm -f /var/lib/congvu/notices/incident-{start:%Y%m%d%H%M}-{end:%Y%m%d%H%M}.json")
