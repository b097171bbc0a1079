"""The audit log (congvu.audit): append-only JSON Lines, one file per month."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from congvu import audit
from congvu.errors import AuditError
from congvu.lifecycle import Account, plan
from congvu.policy import load_policy
from congvu.workdays import VN_TZ

POLICIES = Path(__file__).resolve().parents[2] / "policies"


def _ts(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=VN_TZ)


def _record(ts, action="lock_inactive", organisation="stttt", source="lifecycle", mail="a@x.gov.vn"):
    return audit.Record(ts=ts, actor="lifecycle", source=source, action=action, mail=mail, dn="uid=a",
                        organisation=organisation, article="Ninh Bình Art 7.1",
                        details={"since": dt.date(2026, 5, 1)})


def test_one_file_per_month_in_vietnam_time(tmp_path):
    utc_late = dt.datetime(2026, 11, 30, 18, 30, tzinfo=dt.UTC)  # 01:30 on 1 December in Vietnam
    assert audit.file_for(tmp_path, utc_late).name == "audit-2026-12.jsonl"
    records = [_record(_ts(2026, 11, 30, 23, 59)), _record(utc_late), _record(_ts(2026, 12, 2, 6))]
    assert audit.append(tmp_path, records) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit-2026-11.jsonl", "audit-2026-12.jsonl"]
    line = json.loads((tmp_path / "audit-2026-12.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert line["ts"] == "2026-12-01T01:30:00+07:00"
    assert set(line) == set(audit.FIELDS)
    assert line["details"] == {"since": "2026-05-01"}


def test_appending_never_rewrites(tmp_path):
    audit.append(tmp_path, [_record(_ts(2026, 12, 1, 6))])
    first = (tmp_path / "audit-2026-12.jsonl").read_bytes()
    audit.append(tmp_path, [_record(_ts(2026, 12, 2, 6), action="reclaim")])
    second = (tmp_path / "audit-2026-12.jsonl").read_bytes()
    assert second.startswith(first) and second.count(b"\n") == 2
    assert "Ninh Bình" in second.decode("utf-8")  # UTF-8, not \\u escapes


def test_reader_filters_period_organisation_action_source(tmp_path):
    audit.append(tmp_path, [
        _record(_ts(2026, 5, 31, 23)), _record(_ts(2026, 6, 1, 8), organisation="snv"),
        _record(_ts(2026, 6, 15, 8), action="reclaim"), _record(_ts(2026, 7, 1, 0, 5), source="console"),
        _record(_ts(2026, 12, 1, 8), mail="b@x.gov.vn"),
    ])
    half = list(audit.read(tmp_path, start=dt.date(2026, 6, 1), end=dt.date(2026, 6, 30)))
    assert [r.ts.day for r in half] == [1, 15]
    assert [r.organisation for r in audit.read(tmp_path, organisation="snv")] == ["snv"]
    assert len(list(audit.read(tmp_path, organisation={"snv", "stttt"}))) == 5
    assert [r.action for r in audit.read(tmp_path, action=("reclaim",))] == ["reclaim"]
    assert [r.source for r in audit.read(tmp_path, source="console")] == ["console"]
    assert [r.mail for r in audit.read(tmp_path, mail="b@x.gov.vn")] == ["b@x.gov.vn"]
    assert list(audit.read(tmp_path / "missing")) == []


def test_malformed_line_names_file_and_line(tmp_path):
    audit.append(tmp_path, [_record(_ts(2026, 6, 1, 8))])
    path = tmp_path / "audit-2026-06.jsonl"
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"ts": "2026-06-02"}\n')
    with pytest.raises(AuditError) as info:
        list(audit.read(tmp_path))
    assert f"{path}:2" in str(info.value)


@pytest.mark.parametrize(("field", "value"), [("ts", dt.datetime(2026, 6, 1)), ("source", "cron"),
                                              ("action", ""), ("mail", " ")])
def test_bad_records_are_refused(field, value):
    values = {"ts": _ts(2026, 6, 1), "actor": "lifecycle", "source": "lifecycle", "action": "lock",
              "mail": "a@x"}
    values[field] = value
    with pytest.raises(AuditError):
        audit.Record(**values)


def test_prune_keeps_the_retention(tmp_path):
    # logs.audit_retention (default 2 years): whole months older than that go.
    for month in (1, 2, 12):
        audit.append(tmp_path, [_record(_ts(2024, month, 10, 8))])
    audit.append(tmp_path, [_record(_ts(2026, 12, 1, 8))])
    retention = load_policy(POLICIES / "hanam.yml")["logs"]["audit_retention"]
    removed = audit.prune(tmp_path, retention, dt.date(2026, 12, 2))
    assert [p.name for p in removed] == ["audit-2024-01.jsonl", "audit-2024-02.jsonl"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit-2024-12.jsonl", "audit-2026-12.jsonl"]
    with pytest.raises(AuditError):
        audit.prune(tmp_path, -1, dt.date(2026, 12, 2))


def test_records_from_a_plan(tmp_path):
    # Ninh Bình Art 7.1: the lock and the notice are recorded with their article and dates.
    policy = load_policy(POLICIES / "ninhbinh.yml", {"calendar": {"confirmed_years": [2027]}})
    minh = Account(mail="minhnv.stttt@ninhbinh.gov.vn", dn="uid=minhnv.stttt,o=stttt", organisation="pttbc",
                   agency="stttt", created=dt.date(2024, 1, 2), last_login=dt.date(2026, 7, 29),
                   quota=5 * 10**9)
    p = plan(policy, [minh], dt.date(2027, 1, 25))
    records = audit.records_from_plan(p, _ts(2027, 1, 25, 6))
    audit.append(tmp_path, records)
    back = list(audit.read(tmp_path, organisation="stttt"))
    assert [r.action for r in back] == ["lock_inactive", "notify_agency"]
    assert all(r.article == "Ninh Bình Art 7.1" and r.source == "lifecycle" for r in back)
    assert back[1].details["deadline"] == "2027-02-22"
    assert back[1].details["reason_vi"].startswith("Thông báo")


def test_records_of_a_roster_apply(tmp_path):
    # what a roster apply wrote, as the audit log keeps it (issue 15 item 5): the account changes only,
    # the agency from the DN, attribute names but never a value such as a password hash
    from congvu.reconcile import Change

    base = "ou=organisations,dc=hanam,dc=gov,dc=vn"
    ha = f"uid=nguyenthithanhha,o=stttt,{base}"
    an = f"uid=tranvanan,o=pttbcxb,o=stttt,{base}"
    box = f"uid=stttt,o=stttt,{base}"
    changes = [
        Change("add", f"o=stttt,{base}", "organisation", "stttt", {"o": ["stttt"]}),
        Change("add", ha, "person", "HN-1", {"mail": ["nguyenthithanhha@hanam.gov.vn"],
                                             "userPassword": ["{CRYPT}$6$secret"]}),
        Change("modify", an, "person", "HN-3", {"congvuPosition": ["Trưởng phòng"]}, {"congvuPosition": []}),
        Change("modify", an, "person", "HN-3", {"congvuLeavingSince": ["20261205000000Z"]}),
        Change("modify", ha, "person", "HN-1", {"mail": ["ha.stttt@hanam.gov.vn"]},
               {"mail": ["nguyenthithanhha@hanam.gov.vn"]}),
        Change("modify", box, "mailbox", "stttt", {"congvuReservedAddress": ["hop.stttt@hanam.gov.vn"],
                                                   "+objectClass": ["congvuLifecycle"]}),
        Change("delete", f"cn=hop,o=stttt,{base}", "list", "hop"),
        Change("modify", f"cn=admins,o=stttt,{base}", "group", "stttt", {"member": [ha]}),
    ]
    mails = {an.lower(): "tranvanan@hanam.gov.vn", box: "stttt@hanam.gov.vn",
             f"cn=hop,o=stttt,{base}": "hop.stttt@hanam.gov.vn"}
    records = audit.records_from_changes(changes, mails, _ts(2026, 12, 5, 9), "nguyenvana")
    assert [(r.action, r.mail, r.organisation) for r in records] == [
        ("create", "nguyenthithanhha@hanam.gov.vn", "stttt"),
        ("change", "tranvanan@hanam.gov.vn", "stttt"),
        ("mark_leaving", "tranvanan@hanam.gov.vn", "stttt"),
        ("readdress", "ha.stttt@hanam.gov.vn", "stttt"),
        ("reserve_address", "stttt@hanam.gov.vn", "stttt"),
        ("delete", "hop.stttt@hanam.gov.vn", "stttt"),
    ]
    assert {r.source for r in records} == {"roster"} and {r.actor for r in records} == {"nguyenvana"}
    assert records[1].details["attributes"] == ["congvuPosition"]
    assert records[3].details["from"] == "nguyenthithanhha@hanam.gov.vn"
    assert records[4].details["addresses"] == ["hop.stttt@hanam.gov.vn"]
    assert audit.append(tmp_path, records) == 6
    text = (tmp_path / "audit-2026-12.jsonl").read_text(encoding="utf-8")
    assert "secret" not in text and "{CRYPT}" not in text
    back = audit.read(tmp_path, start=dt.date(2026, 12, 1), end=dt.date(2026, 12, 31), source="roster")
    assert [r.action for r in back] == [r.action for r in records]
