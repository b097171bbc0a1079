"""congvu.takedown: a message taken down from every mailbox and queue (Ninh Bình Art 14.3). Over the
wire, on both layouts: tests/layouts/takedown_checks.py."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from source_files import load as load_file

from congvu import takedown
from congvu.audit import read
from congvu.errors import PolicyError
from congvu.policy import load_policy
from congvu.takedown import TakedownError, audit_records, matches, normalise_id, queued_ids, record, report_vi

POLICIES = Path(__file__).resolve().parents[2] / "policies"
MID = "<20261208.abc@ninhbinh.gov.vn>"
TS = dt.datetime(2026, 12, 8, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=7)))


def hit(mail: str, folder: str, uid: int, message_id: str = MID, **more) -> dict:
    return {"username": mail, "mailbox": folder, "mailbox-guid": f"guid-{folder}", "uid": str(uid),
            "hdr.message-id": message_id, "hdr.subject": "=?utf-8?b?QsOhbyBjw6FvIG3huq10?=",
            "hdr.from": "Sở Y tế <vanthu.syt@ninhbinh.gov.vn>", "date.received": "2026-12-08 08:00:00",
            **more}


@pytest.mark.parametrize("given", [MID, MID[1:-1], f"  {MID}\n"])
def test_a_message_id_is_taken_with_or_without_its_angle_brackets(given):
    assert normalise_id(given) == MID


@pytest.mark.parametrize("given", ["", "   ", "not-an-id", "<a b@c>", "<<a@b>>", "a@b c", None])
def test_anything_else_is_refused_naming_the_variable_and_the_rule(given):
    with pytest.raises(TakedownError) as info:
        normalise_id(given)
    assert info.value.key == "takedown_message_id" and info.value.rule == takedown.RULE


def test_only_the_whole_message_id_matches_whatever_dovecot_s_substring_search_returned():
    fetched = [hit("b@ninhbinh.gov.vn", "INBOX", 7), hit("a@ninhbinh.gov.vn", "Sent", 3),
               hit("a@ninhbinh.gov.vn", "INBOX", 9, message_id=f" {MID}\n\t"),  # folded: still it
               hit("c@ninhbinh.gov.vn", "INBOX", 1, message_id="<x" + MID[1:]),
               hit("c@ninhbinh.gov.vn", "INBOX", 2, message_id=MID + ".other")]
    found = matches(fetched, MID)
    assert [(m["mail"], m["folder"], m["uid"]) for m in found] == [
        ("a@ninhbinh.gov.vn", "INBOX", 9), ("a@ninhbinh.gov.vn", "Sent", 3),
        ("b@ninhbinh.gov.vn", "INBOX", 7)]
    assert found[0]["subject"] == "Báo cáo mật" and found[0]["mailbox_guid"] == "guid-INBOX"


def test_queued_messages_match_on_their_own_message_id_not_on_a_reply_s_references():
    headers = {
        "A1": f"*** HEADER EXTRACTED A1 ***\nSubject: x\nMessage-ID:\n {MID}\nFrom: a@b\n",
        "B2": f"*** HEADER EXTRACTED B2 ***\nmessage-id: {MID}\n",
        "C3": f"*** HEADER EXTRACTED C3 ***\nMessage-ID: <other@x>\nIn-Reply-To: {MID}\nReferences: {MID}\n",
    }
    assert queued_ids(headers, MID) == ["A1", "B2"]


def results() -> list[dict]:
    found = matches([hit("a@ninhbinh.gov.vn", "INBOX", 9), hit("a@ninhbinh.gov.vn", "Hồ sơ", 2),
                     hit("b@ninhbinh.gov.vn", "Sent", 3)], MID)
    replica = matches([hit("a@ninhbinh.gov.vn", "INBOX", 9)], MID)
    return [{"message_id": MID, "host": "mx", "queued": ["Q1"], "queue_left": [], "found": found,
             "removed": found, "left": []},
            {"message_id": MID, "host": "mx2", "queued": [], "queue_left": [], "found": replica,
             "removed": replica, "left": []}]


def test_one_audit_record_per_mailbox_with_its_folders_hosts_and_reason(tmp_path):
    records = audit_records(results(), actor="nguyenvana", reason="Công văn 12/SYT",
                            article="Ninh Bình Art 14.3", ts=TS)
    assert [(r.mail, r.action, r.source, r.article) for r in records] == [
        ("a@ninhbinh.gov.vn", "takedown", "operator", "Ninh Bình Art 14.3"),
        ("b@ninhbinh.gov.vn", "takedown", "operator", "Ninh Bình Art 14.3")]
    assert dict(records[0].details) == {"message_id": MID, "folders": ["Hồ sơ", "INBOX"],
                                        "hosts": ["mx", "mx2"], "messages": 2, "reason": "Công văn 12/SYT"}
    # record(): the job of the playbook's last play, appended to the audit log the reports read
    job = {"results": results(), "actor": "nguyenvana", "reason": "Công văn 12/SYT", "article": "",
           "audit_dir": str(tmp_path)}
    assert record(job) == 2
    assert [r.mail for r in read(tmp_path, action="takedown")] == ["a@ninhbinh.gov.vn", "b@ninhbinh.gov.vn"]


def test_the_record_cites_ninh_binh_art_14_3_and_says_what_the_backups_keep():
    policy = load_policy(POLICIES / "ninhbinh.yml")
    text = report_vi(results(), policy, reason="Công văn số 12/SYT của Sở Y tế", ts=TS)
    assert text.startswith("BIÊN BẢN GỠ BỎ THƯ KHỎI HỆ THỐNG THƯ ĐIỆN TỬ CÔNG VỤ TỈNH NINH BÌNH\n")
    assert "Căn cứ: khoản 3 Điều 14 Quy chế" in text
    assert "Thời điểm gỡ bỏ: 09:30 ngày 08/12/2026." in text
    assert "Tiêu đề: Báo cáo mật" in text and "Người gửi: Sở Y tế <vanthu.syt@ninhbinh.gov.vn>" in text
    assert "Đã gỡ bỏ 3 bản khỏi 2 hộp thư:" in text  # the replica's copy counted once
    assert '- a@ninhbinh.gov.vn, thư mục "Hồ sơ" (vào hộp thư lúc 2026-12-08 08:00:00)' in text
    assert "Thư đang chờ chuyển trong hàng đợi đã xoá: 1 (Q1)." in text
    assert "Còn lại trên các máy chủ thư: không còn bản nào." in text
    keep = policy["backup"]["keep"]
    until = (TS + dt.timedelta(days=keep)).strftime("%d/%m/%Y")
    assert f"({keep} ngày, tức đến hết ngày {until})" in text


def test_a_province_without_the_article_cites_the_request_and_a_copy_left_is_said():
    policy = load_policy(POLICIES / "hanam.yml")
    assert policy["classified"]["takedown_article"] is None
    left = results()
    left[1]["left"] = left[1]["removed"]
    text = report_vi(left, policy, reason="x", ts=TS)
    assert "Căn cứ: đề nghị của cơ quan, đơn vị phát hiện thư." in text
    assert "Điều" not in text.split("Lý do")[0]
    assert "Còn lại trên các máy chủ thư: 1 bản, cần kiểm tra lại." in text


def test_the_takedown_article_belongs_to_the_province():
    with pytest.raises(PolicyError) as info:
        load_policy(POLICIES / "hanam.yml", {"classified": {"takedown_article": "Ninh Bình Art 14.3"}})
    assert "classified.takedown_article" in str(info.value)


def test_a_run_expunges_until_nothing_is_left_queues_first(monkeypatch):
    # an organisation mailbox with lazy_expunge (Cần Thơ Art 11.3): the first expunge moves the message
    # to its lazy-expunge folder, the second round takes it from there
    calls: list[list[str]] = []
    rounds = iter([
        matches([hit("vp@cantho.gov.vn", "INBOX", 4)], MID),
        matches([hit("vp@cantho.gov.vn", "Thư đã xoá", 1)], MID),
        [],
    ])
    queue = iter([["Q1"], []])
    monkeypatch.setattr(takedown, "_doveadm_fetch", lambda _mid: next(rounds))
    monkeypatch.setattr(takedown, "_queued", lambda _mid: next(queue))

    def fake_run(argv, **_kw):
        calls.append(argv)
        return subprocess.CompletedProcess(argv, 0, "", "")

    monkeypatch.setattr(takedown.subprocess, "run", fake_run)
    result = takedown.run({"message_id": MID[1:-1]})
    assert calls[0] == ["postsuper", "-d", "Q1"]
    assert [c[:3] for c in calls[1:]] == [["doveadm", "expunge", "-u"]] * 2
    assert calls[2][3:] == ["vp@cantho.gov.vn", "mailbox-guid", "guid-Thư đã xoá", "uid", "1"]
    assert [h["folder"] for h in result["removed"]] == ["INBOX", "Thư đã xoá"]
    assert result["left"] == [] and result["queue_left"] == [] and result["queued"] == ["Q1"]


def test_check_mode_removes_nothing(monkeypatch):
    monkeypatch.setattr(takedown, "_doveadm_fetch", lambda _mid: matches([hit("a@b.vn", "INBOX", 1)], MID))
    monkeypatch.setattr(takedown, "_queued", lambda _mid: ["Q1"])
    monkeypatch.setattr(takedown.subprocess, "run", lambda *a, **k: pytest.fail("nothing may run"))
    result = takedown.run({"message_id": MID, "check": True})
    assert len(result["found"]) == 1 and result["removed"] == [] and result["left"] == []


FILTER = load_file("filter_plugins/takedown.py", "congvu_filter_takedown")


def test_the_filters_wrap_the_module():
    assert FILTER.congvu_takedown_id(MID[1:-1]) == MID
    with pytest.raises(AnsibleFilterError, match=r"takedown\.yml: takedown_message_id: .*<left@right>"):
        FILTER.congvu_takedown_id("nope")
    text = FILTER.congvu_takedown_report(results(), load_policy(POLICIES / "ninhbinh.yml"), "Công văn 12/SYT")
    assert "Lý do: Công văn 12/SYT." in text and "khoản 3 Điều 14" in text
    with pytest.raises(AnsibleFilterError, match="list of results"):
        FILTER.congvu_takedown_report({"a": 1}, {}, "x")
