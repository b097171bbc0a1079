"""The lifecycle's Vietnamese mail (congvu.notices)."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

from congvu.lifecycle import Account, plan
from congvu.notices import (
    agency_notices,
    cite_vi,
    messages,
    place_vi,
    request_replies,
    user_warnings,
)
from congvu.policy import load_policy

D = dt.date
POLICIES = Path(__file__).resolve().parents[2] / "policies"


@cache
def _policy(province: str) -> dict:
    return load_policy(POLICIES / f"{province}.yml", {"calendar": {"confirmed_years": [2026, 2027]}})


def _account(local: str, domain: str, today: dt.date, **fields) -> Account:
    values = {"mail": f"{local}@{domain}", "dn": f"uid={local}", "organisation": "stttt",
              "agency_name": "Sở Thông tin và Truyền thông", "created": D(2024, 1, 2),
              "last_login": today, "last_mail": today, "password_changed": today, "quota": 5 * 10**9}
    values.update(fields)
    return Account(**values)


def test_citations_read_like_a_vietnamese_document():
    ninhbinh, hanam, cantho = _policy("ninhbinh"), _policy("hanam"), _policy("cantho")
    assert cite_vi("Ninh Bình Art 7.1", ninhbinh) == (
        "khoản 1 Điều 7 Quy chế ban hành kèm theo Quyết định số 28/2020/QĐ-UBND "
        "của Ủy ban nhân dân tỉnh Ninh Bình")
    assert cite_vi("Hà Nam Art 7.2.a", hanam).startswith("điểm a khoản 2 Điều 7 Quy chế quản lý, sử dụng")
    assert cite_vi("Hà Nam Art 6.2.a-b", hanam).startswith("điểm a, b khoản 2 Điều 6 ")
    assert cite_vi("Hà Nam Art 7.2.a", hanam).endswith("tỉnh Hà Nam ban hành năm 2023")
    assert cite_vi("Cần Thơ Art 10.3, 11.4", cantho).startswith("khoản 3 Điều 10, khoản 4 Điều 11 Quy chế")
    assert place_vi(cantho) == "thành phố Cần Thơ"
    assert cite_vi("default: seed silent", hanam) is None
    assert cite_vi("Ninh Bình Art 7.1", hanam) is None  # another province's article is never cited


def test_agency_notice_lists_each_person_article_and_deadline():
    # Ninh Bình Art 7.1: the agency is notified of each suspended mailbox and the last day to answer.
    policy = _policy("ninhbinh")
    domain, today = "ninhbinh.gov.vn", D(2027, 1, 25)
    accounts = [
        _account("minhnv.stttt", domain, today, name="Nguyễn Văn Minh", last_login=D(2026, 7, 29)),
        _account("hoapt.stttt", domain, today, name="Phạm Thị Hoa", last_login=D(2026, 7, 28)),
        _account("stttt", domain, today, name="Sở Thông tin và Truyền thông", mailbox_class="agency",
                 quota=10 * 10**9),
        _account("lanntt.stttt", domain, today, name="Nguyễn Thị Thu Lan", admin=True),
        _account("binhnt.snv", domain, today, organisation="snv", last_login=D(2026, 7, 29),
                 agency_name="Sở Nội vụ"),
    ]
    p = plan(policy, accounts, today)
    notices = agency_notices(p, accounts, policy)
    assert [n.agency for n in notices] == ["snv", "stttt"]
    stttt = notices[1]
    assert stttt.to == ("lanntt.stttt@ninhbinh.gov.vn", "stttt@ninhbinh.gov.vn")
    assert notices[0].to == ("postmaster@ninhbinh.gov.vn",)  # no mailbox or admin known: the operator
    assert stttt.subject == ("Thông báo tạm khóa hộp thư điện tử công vụ không sử dụng - "
                             "Sở Thông tin và Truyền thông")
    body = stttt.body
    assert body.startswith("Kính gửi: Sở Thông tin và Truyền thông\n")
    assert "Căn cứ khoản 1 Điều 7 Quy chế ban hành kèm theo Quyết định số 28/2020/QĐ-UBND" in body
    # 15 working days from the notice (25/01/2027), Tết skipped
    assert "1. Phạm Thị Hoa <hoapt.stttt@ninhbinh.gov.vn>: tạm khóa do không đăng nhập từ ngày 28/07/2026; " \
           "căn cứ khoản 1 Điều 7; thu hồi sau ngày 22/02/2027." in body
    assert "2. Nguyễn Văn Minh <minhnv.stttt@ninhbinh.gov.vn>: tạm khóa do không đăng nhập từ ngày " \
           "29/07/2026" in body
    assert "06 tháng" in body and "vẫn nhận thư" in body and "01 năm" in body
    # locked_mailbox_receives is a default here ("as Hà Nam Art 7.1"): said, not cited
    assert ("trong thời gian 06 tháng. Hộp thư bị tạm khóa không đăng nhập được nhưng vẫn nhận thư "
            "đến.\n") in body
    assert "Trân trọng." in body and "tỉnh Ninh Bình" in body
    assert stttt.summary_en.startswith("Notice to stttt") and "Ninh Bình Art 7.1" in stttt.summary_en


def test_cantho_notice_for_an_organisation_mailbox_says_it_is_kept():
    # Cần Thơ Art 5.4 and Art 11.3: the agency mailbox is suspended and notified, never reclaimed.
    policy = _policy("cantho")
    box = _account("sonv", "cantho.gov.vn", D(2027, 1, 5), organisation="snv", mailbox_class="agency",
                   quota=None, last_login=D(2026, 10, 1), name="Sở Nội vụ", agency_name="Sở Nội vụ")
    p = plan(policy, [box], D(2027, 1, 5))
    (notice,) = agency_notices(p, [box], policy)
    assert "không thu hồi (khoản 3 Điều 11)" in notice.body
    assert "thành phố Cần Thơ" in notice.body


def test_hanam_notice_tells_the_agency_of_the_lock_and_the_reclaim_date():
    # Hà Nam Art 7.2.a: locked after 03 months without sending or receiving; Art 6.2.c: reclaimed after
    # 06 months without it, with no notice period, so the notice gives that date and points to the
    # restore procedure of Art 7.3 instead of a reply deadline.
    policy = _policy("hanam")
    today = D(2026, 6, 1)
    minh = _account("nguyenvanminh", "hanam.gov.vn", today, name="Nguyễn Văn Minh",
                    last_mail=D(2026, 3, 3))
    box = _account("stttt", "hanam.gov.vn", today, mailbox_class="agency", quota=10 * 10**9,
                   name="Sở Thông tin và Truyền thông")
    p = plan(policy, [minh, box], today)
    (notice,) = agency_notices(p, [minh, box], policy)
    assert notice.to == ("stttt@hanam.gov.vn",)
    body = notice.body
    assert "điểm a khoản 2 Điều 7" in body and "không gửi, nhận thư trong thời gian 03 tháng" in body
    assert ("1. Nguyễn Văn Minh <nguyenvanminh@hanam.gov.vn>: tạm khóa do không gửi, nhận thư từ ngày "
            "03/03/2026; căn cứ điểm c khoản 2 Điều 6; thu hồi ngày 30/08/2026 nếu đến ngày đó vẫn "
            "không gửi, "
            "nhận thư.") in body
    assert "thông báo lý do hoặc gửi văn bản đề nghị khôi phục hộp thư theo khoản 3 Điều 7" in body
    # Hà Nam Art 7.1: "Hộp thư điện tử bị tạm khóa vẫn có thể nhận thư điện tử"
    assert ("trong thời gian 03 tháng. Theo quy định tại khoản 1 Điều 7 Quy chế, hộp thư bị tạm khóa không "
            "đăng nhập được nhưng vẫn nhận thư đến.\n") in body
    assert "chậm nhất" not in body  # no reply deadline in Hà Nam
    assert "reclaimed on 2026-08-30 if still unused (Hà Nam Art 7.2.a)" in notice.summary_en


def test_user_warnings():
    # Ninh Bình Art 11.2 (password every 06 months), Art 7.1 (06 months without login).
    policy = _policy("ninhbinh")
    domain = "ninhbinh.gov.vn"
    today = D(2027, 1, 20)
    expiring = _account("minhnv.stttt", domain, today, name="Nguyễn Văn Minh",
                        password_changed=D(2026, 7, 26))
    idle = _account("hoapt.stttt", domain, today, name="Phạm Thị Hoa", last_login=D(2026, 7, 30))
    box = _account("stttt", domain, today, name="Sở Thông tin và Truyền thông", mailbox_class="agency",
                   quota=10 * 10**9, password_changed=D(2026, 7, 26))
    p = plan(policy, [expiring, idle, box], today)
    warnings = {m.to[0].split("@")[0]: m for m in user_warnings(p, [expiring, idle, box], policy)}
    assert set(warnings) == {"minhnv.stttt", "hoapt.stttt", "stttt"}
    pw = warnings["minhnv.stttt"]
    assert pw.subject == "Mật khẩu hộp thư điện tử công vụ sẽ hết hạn ngày 22/01/2027"
    assert pw.body.startswith("Kính gửi: Ông/Bà Nguyễn Văn Minh\n")
    assert "khoản 2 Điều 11" in pw.body and "06 tháng một lần" in pw.body
    assert "https://mail.ninhbinh.gov.vn/" in pw.body
    assert warnings["stttt"].body.startswith("Kính gửi: Sở Thông tin và Truyền thông\n")
    assert "Ông/Bà" not in warnings["stttt"].body
    idle_mail = warnings["hoapt.stttt"]
    assert idle_mail.subject == "Hộp thư điện tử công vụ sẽ bị tạm khóa ngày 26/01/2027"
    assert "không đăng nhập kể từ ngày 30/07/2026" in idle_mail.body
    assert len(messages(p, [expiring, idle, box], policy)) == 3


def test_no_citation_for_a_default():
    # Hà Giang: the password interval is a default (seed silent): the warning cites nothing.
    policy = load_policy(POLICIES / "hagiang.yml", {"calendar": {"confirmed_years": [2026]}})
    user = _account("nvminh.stttt", "hagiang.gov.vn", D(2026, 6, 1), password_changed=D(2026, 3, 10))
    p = plan(policy, [user], D(2026, 6, 1))
    (warning,) = user_warnings(p, [user], policy)
    assert "Căn cứ" not in warning.body and "03 tháng một lần" in warning.body


def test_gialai_notice_cites_that_a_locked_mailbox_still_receives_mail():
    # Gia Lai Art 6.1 (lifecycle.articles.locked_mailbox_receives): a locked mailbox still receives mail;
    # the notice of a Gia Lai Art 6.2.a lock says so with its article.
    policy = _policy("gialai")
    today = D(2026, 6, 1)
    idle = _account("nguyentd", "gialai.gov.vn", today, name="Nguyễn Thành Đạt", quota=5 * 10**9,
                    last_login=D(2026, 2, 1), last_mail=D(2026, 2, 1))
    (notice,) = agency_notices(plan(policy, [idle], today), [idle], policy)
    assert notice.body.startswith("Kính gửi: Sở Thông tin và Truyền thông\n\n"
                                  "Căn cứ điểm a khoản 2 Điều 6 Quy chế")
    assert ("không đăng nhập, gửi hay nhận thư trong thời gian 03 tháng. Theo quy định tại khoản 1 Điều 6 "
            "Quy chế, hộp thư bị tạm khóa không đăng nhập được nhưng vẫn nhận thư đến.\n") in notice.body


def test_the_admin_who_asked_gets_the_answer_in_vietnamese():
    """Hà Nam Art 6.2.b: a request is answered. A reopen and a hold filed by the agency's admin through
    the directory (source console) get one answer each, to that admin, with what was done and the
    article; a request the operator recorded from a letter gets none (the operator's letter answers)."""
    policy = _policy("hanam")
    domain, today = "hanam.gov.vn", D(2027, 3, 2)
    accounts = [
        _account("minhnv.stttt", domain, today, name="Nguyễn Văn Minh", state="locked",
                 lock_reason="inactivity"),
        _account("hoapt.stttt", domain, today, name="Phạm Thị Hoa"),
        _account("lanntt.stttt", domain, today, name="Nguyễn Thị Thu Lan", admin=True),
        _account("binhnt.stttt", domain, today, name="Ngô Thanh Bình"),
    ]
    admin = f"lanntt.stttt@{domain}"
    requests = [
        {"kind": "reopen", "mail": f"minhnv.stttt@{domain}", "received": "2027-03-01", "by": admin},
        {"kind": "hold", "mail": f"hoapt.stttt@{domain}", "received": "2027-03-01", "by": admin,
         "until": "2027-09-30", "reason": "Đi học dài hạn"},
        {"kind": "hold", "mail": f"binhnt.stttt@{domain}", "received": "2027-03-01", "by": "Văn phòng Sở",
         "source": "operator", "until": "2027-09-30"},
    ]
    p = plan(policy, accounts, today, requests=requests)
    replies = request_replies(p, accounts, policy)
    assert [(r.to, r.mails) for r in replies] == [((admin,), (f"minhnv.stttt@{domain}",)),
                                                   ((admin,), (f"hoapt.stttt@{domain}",))]
    reopen, hold = replies
    assert reopen.kind == "request_reply"
    assert reopen.subject == f"Kết quả xử lý đề nghị mở lại hộp thư minhnv.stttt@{domain}"
    assert "nhận ngày 01/03/2027, đã được thực hiện ngày 02/03/2027" in reopen.body
    assert "Nguyễn Văn Minh" in reopen.body and "đổi mật khẩu ở lần đăng nhập đầu tiên" in reopen.body
    assert "Quy chế" in reopen.body  # the article, in Vietnamese
    assert "đến hết ngày 30/09/2027" in hold.body
    assert hold.subject == f"Kết quả xử lý đề nghị giữ hộp thư hoapt.stttt@{domain}"
    assert "hộp thư hộp thư" not in hold.body + reopen.body
    assert reopen.sender.startswith("postmaster@")


def test_every_rule_a_request_is_refused_under_has_its_vietnamese_reason():
    """Hà Giang Art 5.3, Cần Thơ Art 6.2 ("nếu không thực hiện nêu rõ lý do"): every way
    congvu.lifecycle.check_requests refuses a request reads in Vietnamese in the answer, none falls
    back on the generic text."""
    from congvu.lifecycle import check_requests
    from congvu.notices import request_refusal

    policy = _policy("hanam")
    domain, today = "hanam.gov.vn", D(2027, 3, 2)
    accounts = {a.mail: a for a in [
        _account("lan", domain, today, admin=True),
        _account("khac", domain, today, admin=True, organisation="snv"),
        _account("thuong", domain, today),
        _account("khoa", domain, today, state="locked", lock_reason="inactivity"),
        _account("nghi", domain, today, state="locked", lock_reason="leaver", leaving_since=D(2027, 2, 1)),
        _account("thuhoi", domain, today, state="retired"),
        _account("giu", domain, today, confirmed=D(2027, 3, 1)),
    ]}
    by, other = f"lan@{domain}", f"khac@{domain}"

    def req(kind, local, **kw):
        return {"kind": kind, "mail": f"{local}@{domain}", "received": "2027-02-27", "by": by, **kw}

    requests = [
        req("hold", "khongco", until="2027-09-01"),                      # no such account
        req("reopen", "khoa"), req("reopen", "khoa"),                    # the same twice
        req("hold", "thuong", until="2027-09-01", by=f"thuong@{domain}"),  # not an admin
        req("hold", "thuong", until="2027-09-01", by=other),             # another agency's admin
        req("reclaim", "thuong", received="2027-03-09"),                 # received after today
        req("reclaim", "thuong", received="2023-01-01"),                 # before the mailbox was issued
        req("reopen", "thuhoi"),                                         # retired
        req("hold", "thuong", until="2027-03-01"),                       # a hold in the past
        req("reopen", "thuong"),                                         # not locked
        req("reopen", "nghi"),                                           # a leaver
        req("lock", "khoa", reason="lộ mật khẩu"),                       # not active
        req("lock", "giu", reason="lộ mật khẩu"),                        # older than the agency's word
        req("lock", "thuong"),                                           # no reason
    ]
    _, problems = check_requests(requests, accounts, today)
    assert len(problems) == len(requests) - 1, problems  # the first of the two reopens stands
    generic = "đề nghị chưa đủ thông tin hoặc không đúng mẫu"
    for i, problem in problems:
        answer = request_refusal(requests[i], problem, policy, today)
        assert answer is not None and generic not in answer.body, problem
