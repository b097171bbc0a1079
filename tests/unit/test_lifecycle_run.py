"""The lifecycle run (congvu.lifecycle_run) against an in-memory directory, mail store and mailer.

What the servers do is checked over the wire by tests/layouts/demo/test_lifecycle.py; here, the order
of the run and its guarantees: archive before retirement, mail before its record, bad requests set aside
naming their entries, nothing written twice on the same day. Each test names its article.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path

import pytest

from congvu.activity import Seen
from congvu.errors import LifecycleError
from congvu.lifecycle import to_date
from congvu.lifecycle_dir import day_time, snapshot
from congvu.lifecycle_run import Settings, run
from congvu.policy import load_policy
from congvu.workdays import VN_TZ

D = dt.date
POLICIES = Path(__file__).resolve().parents[2] / "policies"
BASE = "dc=hanam,dc=gov,dc=vn"
ORGS = f"ou=organisations,{BASE}"
RECENT = D(2026, 12, 1)
REQUESTED = D(2027, 3, 1)


@cache
def _policy(province: str = "hanam") -> dict:
    return load_policy(POLICIES / f"{province}.yml", {"calendar": {"confirmed_years": [2026, 2027]}})


class FakeDirectory:
    """Entries as ``dn -> {attribute: [str]}``; writes applied in order and logged."""

    def __init__(self, entries):
        self.entries = {dn: {k: list(v) for k, v in attrs.items()} for dn, attrs in entries.items()}
        self.log: list[tuple[str, str, dict]] = []
        self.fail_on: set[str] = set()

    def search(self, base, filterstr, attrs):
        return [(dn, {k: [v.encode() for v in vals] for k, vals in entry.items()})
                for dn, entry in self.entries.items() if dn.lower().endswith(base.lower())]

    def prime_in_place(self, changes):
        return []

    def apply(self, changes, mode="txn", batch_size=2000):
        for change in changes:
            if change.dn in self.fail_on:
                raise RuntimeError(f"write refused: {change.dn}")
            self.log.append((change.op, change.dn, dict(change.attrs)))
            if change.op == "delete":
                del self.entries[change.dn]
                continue
            entry = self.entries[change.dn]
            for name, values in change.attrs.items():
                if name.startswith("+"):
                    assert not set(values) & set(entry.get(name[1:], [])), f"{name} added twice"
                    entry.setdefault(name[1:], []).extend(values)
                elif values:
                    entry[name] = list(values)
                else:
                    entry.pop(name, None)

    def attr(self, mail, name):
        dn = next(dn for dn, e in self.entries.items() if e.get("mail") == [mail])
        return self.entries[dn].get(name, [])


class FakeMailboxes:
    def __init__(self, events, fail=()):
        self.events, self.fail, self.made = events, set(fail), {}

    def home(self, mail, pinned=None):
        return Path(pinned or f"/var/vmail/{mail}")

    def dest(self, mail, day):
        return Path(f"/archive/{mail}/{day}")

    def export(self, mail, home, dest, manifest):
        self.events.append(("export", mail))
        if mail in self.fail:
            raise OSError("doveadm backup failed")
        self.made[dest] = {**manifest, "mail": mail, "status": "exported", "counts": {"INBOX": 2}}
        return {"INBOX": 2}

    def finish(self, dest):
        self.events.append(("finish", self.made[dest]["mail"]))
        self.made[dest].update(status="complete", late_messages=0)
        return self.made[dest]

    def manifests(self, mail=None):
        return [(d, m) for d, m in self.made.items() if mail is None or m["mail"] == mail]

    def manifest(self, dest):
        return self.made.get(dest, {})

    def pending(self):
        return [d for d, m in self.made.items() if m["status"] == "exported"]

    def prune(self, today):
        return []


class FakeMailer:
    def __init__(self, events, fail=()):
        self.events, self.fail, self.sent = events, set(fail), []

    def send(self, message, now):
        self.events.append(("send", message.kind, message.to))
        if set(message.to) & self.fail:
            raise OSError("connection refused")
        self.sent.append(message)


class FakeJournal:
    """The logs' mail activity and logins since the last run, and the cursor the run commits."""

    def __init__(self, activity, cursor="cursor-1", logins=()):
        self.activity, self.logins = dict(activity), dict(logins)
        self.cursor, self.committed = cursor, None

    def read(self):
        return Seen(dict(self.activity), dict(self.logins)), self.cursor

    def commit(self, cursor):
        self.committed = cursor


def _person(local, org="stttt", recent=RECENT, **attrs):
    """An active mailbox of ``org`` that logged in and had mail on ``recent``; ``attrs`` override."""
    dn = f"uid={local},o={org},{ORGS}"
    entry = {"objectClass": ["inetOrgPerson", "congvuMailAccount"], "mail": [f"{local}@hanam.gov.vn"],
             "displayName": [local], "congvuOrganisationDN": [f"o={org},{ORGS}"],
             "congvuMailboxClass": ["personal"], "congvuAccountState": ["active"],
             "congvuMailQuota": ["2000000000"], "createTimestamp": ["20250101000000Z"],
             "pwdChangedTime": ["20260501000000Z"], "pwdLastSuccess": [day_time(recent)],
             "congvuLastMailActivity": [day_time(recent)]}
    entry.update({k: v if isinstance(v, list) else [v] for k, v in attrs.items()})
    return dn, entry


def _directory(*people, recent=RECENT):
    """Two agencies (their mailbox, admin, request container) and ``people``."""
    entries = {}
    for org, name in (("stttt", "Sở Thông tin và Truyền thông"), ("snv", "Sở Nội vụ")):
        entries[f"o={org},{ORGS}"] = {"objectClass": ["organization", "congvuOrganisation"], "o": [org],
                                      "displayName": [name]}
        entries[f"cn=requests,o={org},{ORGS}"] = {"objectClass": ["organizationalRole"], "cn": ["requests"]}
        entries[f"cn=admins,o={org},{ORGS}"] = {"objectClass": ["groupOfNames"],
                                                "member": [f"uid=quantri.{org},o={org},{ORGS}"]}
        dn, entry = _person(f"quantri.{org}", org, recent)
        entries[dn] = entry
        dn, entry = _person(org, org, recent, congvuMailboxClass="agency", congvuMailQuota="10000000000")
        entries[dn] = entry
    for dn, entry in people:
        entries[dn] = entry
    return FakeDirectory(entries)


def _request(directory, org, name, kind, target, creator_local, created=REQUESTED, **attrs):
    dn = f"cn={name},cn=requests,o={org},{ORGS}"
    creator_org = creator_local.rpartition(".")[2]
    directory.entries[dn] = {"objectClass": ["congvuRequest"], "cn": [name], "congvuRequestKind": [kind],
                             "congvuRequestFor": [target],
                             "creatorsName": [f"uid={creator_local},o={creator_org},{ORGS}"],
                             "createTimestamp": [day_time(created)], **attrs}
    return dn


def _settings(today, **kw):
    now = dt.datetime.combine(today, dt.time(6), tzinfo=VN_TZ)
    return Settings(policy=_policy(kw.pop("province", "hanam")), base=BASE, today=today, now=now,
                    audit_dir=kw.pop("audit_dir", None), **kw)


def test_snapshot_reads_every_field_the_planner_needs():
    # Hà Nam Art 7.2.a measures mail activity: the later of the directory's day and the logs' day counts.
    dn, entry = _person("nguyenvanminh", pwdReset="TRUE", congvuLastMailActivity=day_time(D(2026, 11, 2)),
                        congvuExpiringAlias="old@hanam.gov.vn 20270101", congvuMailQuota="0")
    directory = _directory((dn, entry))
    snap = snapshot(directory.search(ORGS, "", []), activity={"nguyenvanminh@hanam.gov.vn": D(2026, 11, 20)})
    by = snap.by_mail()
    minh = by["nguyenvanminh@hanam.gov.vn"]
    assert minh.organisation == "stttt" and minh.agency_name == "Sở Thông tin và Truyền thông"
    assert minh.must_change_password and minh.quota is None
    assert minh.last_mail == D(2026, 11, 20) and minh.last_login == D(2026, 12, 1)
    assert minh.created == D(2025, 1, 1) and minh.password_changed == D(2026, 5, 1)
    assert minh.expiring_aliases == (("old@hanam.gov.vn", D(2027, 1, 1)),)
    assert by["quantri.stttt@hanam.gov.vn"].admin and not minh.admin
    assert to_date(day_time(D(2027, 3, 5)), "x", "y") == D(2027, 3, 5)


def test_lock_then_notice_then_nothing_the_same_day(tmp_path):
    # Hà Nam Art 7.2.a: 03 months without sending or receiving -> locked, mail still delivered (Art 7.1);
    # the agency is told, with the reclaim date of Art 6.2.c. Running again the same day changes nothing.
    today = D(2027, 3, 5)
    idle = _person("tranvanbinh", congvuLastMailActivity=day_time(D(2026, 12, 1)),
                   pwdLastSuccess="20261101000000Z")
    directory = _directory(idle, recent=today - dt.timedelta(days=1))
    events = []
    mailer = FakeMailer(events)
    report = run(_settings(today, audit_dir=str(tmp_path)), directory, FakeMailboxes(events), mailer)
    assert report["counts"] == {"lock_inactive": 1, "notify_agency": 1}
    assert directory.attr("tranvanbinh@hanam.gov.vn", "congvuAccountState") == ["locked"]
    assert directory.attr("tranvanbinh@hanam.gov.vn", "congvuLockReason") == ["inactivity"]
    assert "congvuLifecycle" in directory.attr("tranvanbinh@hanam.gov.vn", "objectClass")
    assert directory.attr("tranvanbinh@hanam.gov.vn", "congvuNoticeSent") == [day_time(today)]
    (notice,) = mailer.sent
    assert notice.to == ("quantri.stttt@hanam.gov.vn", "stttt@hanam.gov.vn")
    assert "điểm a khoản 2 Điều 7" in notice.body
    # the notice was sent after the lock was written, and recorded only after it was sent
    writes = [(op, attrs) for op, _, attrs in directory.log]
    assert "congvuAccountState" in writes[0][1] and "congvuNoticeSent" in writes[-1][1]
    assert "congvuNoticeSent" not in writes[0][1]
    again = run(_settings(today, audit_dir=str(tmp_path)), directory, FakeMailboxes(events), mailer)
    assert again["counts"] == {} and not again["changed"] and len(mailer.sent) == 1
    records = (tmp_path / "audit-2027-03.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(records) == 2 and '"article": "Hà Nam Art 7.2.a"' in records[0]


def test_a_notice_that_fails_to_send_is_sent_again_next_run():
    # Ninh Bình Art 7.1: the suspension notice starts the 15 working days; recording it unsent would lose it.
    today = D(2027, 1, 25)
    idle = _person("hoapt.stttt", pwdLastSuccess="20260727170000Z")
    directory = _directory(idle, recent=today - dt.timedelta(days=1))
    events = []
    failing = FakeMailer(events, fail={"stttt@hanam.gov.vn"})
    report = run(_settings(today, province="ninhbinh"), directory, FakeMailboxes(events), failing)
    assert report["counts"]["notify_agency"] == 1 and report["failures"]
    assert directory.attr("hoapt.stttt@hanam.gov.vn", "congvuAccountState") == ["locked"]
    assert directory.attr("hoapt.stttt@hanam.gov.vn", "congvuNoticeSent") == []
    mailer = FakeMailer(events)
    report = run(_settings(today + dt.timedelta(days=1), province="ninhbinh"), directory,
                 FakeMailboxes(events), mailer)
    assert report["counts"] == {"notify_agency": 1} and len(mailer.sent) == 1
    assert directory.attr("hoapt.stttt@hanam.gov.vn", "congvuNoticeSent") == [day_time(D(2027, 1, 26))]


def test_reclaim_archives_before_retiring_and_a_failed_archive_retires_nothing():
    # Hà Nam Art 6.2.c: 06 months without sending or receiving -> reclaimed; the mailbox is archived
    # (lifecycle.archive_keep, 01 year) and checked before the account is retired and the mailbox removed.
    today = D(2027, 6, 10)
    old = _person("lethihoa", congvuAccountState="locked", congvuLockReason="inactivity",
                  congvuNoticeSent=day_time(D(2027, 3, 5)), congvuLastMailActivity=day_time(D(2026, 12, 1)))
    broken = _person("phamvanduc", congvuAccountState="locked", congvuLockReason="inactivity",
                     congvuNoticeSent=day_time(D(2027, 3, 5)),
                     congvuLastMailActivity=day_time(D(2026, 12, 1)))
    directory = _directory(old, broken, recent=today - dt.timedelta(days=1))
    events = []
    boxes = FakeMailboxes(events, fail={"phamvanduc@hanam.gov.vn"})

    original = directory.apply

    def apply(changes, mode="txn", batch_size=2000):
        events.append(("write", [c.key for c in changes]))
        original(changes, mode, batch_size)

    directory.apply = apply
    report = run(_settings(today), directory, boxes, FakeMailer(events))
    assert report["counts"] == {"reclaim": 2}
    assert directory.attr("lethihoa@hanam.gov.vn", "congvuAccountState") == ["retired"]
    assert directory.attr("phamvanduc@hanam.gov.vn", "congvuAccountState") == ["locked"]
    assert any("phamvanduc@hanam.gov.vn: not reclaim today" in f for f in report["failures"])
    order = [e[0] for e in events if e[0] in ("export", "write", "finish")]
    assert order[:4] == ["export", "export", "write", "finish"]
    (archive,) = report["archives"]
    assert archive["mail"] == "lethihoa@hanam.gov.vn" and archive["keep_until"] == "2028-06-09"


def test_a_reclaimed_account_leaves_its_mailing_lists_and_nobody_else_does():
    # docs/lists.md (Cần Thơ Art 11.5 lists): Postfix would otherwise expand the list to an address it
    # no longer accepts and bounce every post; the reclaim is Hà Nam Art 6.2.c's.
    today = D(2027, 6, 10)
    old = _person("lethihoa", congvuAccountState="locked", congvuLockReason="inactivity",
                  congvuNoticeSent=day_time(D(2027, 3, 5)), congvuLastMailActivity=day_time(D(2026, 12, 1)))
    stays = _person("tranvanan", recent=today - dt.timedelta(days=1))
    directory = _directory(old, stays, recent=today - dt.timedelta(days=1))
    members = [old[0].upper(), stays[0]]  # DNs as an admin may have typed them
    listed = f"cn=toanso,o=stttt,{ORGS}"
    other = f"cn=lanhdao,o=snv,{ORGS}"
    directory.entries[listed] = {"objectClass": ["congvuMailList"], "cn": ["toanso"],
                                 "mail": ["toanso@hanam.gov.vn"], "member": list(members)}
    directory.entries[other] = {"objectClass": ["congvuMailList"], "cn": ["lanhdao"],
                                "mail": ["lanhdao@hanam.gov.vn"], "member": [stays[0]]}
    report = run(_settings(today), directory, FakeMailboxes([]), FakeMailer([]))
    assert report["counts"] == {"reclaim": 1}
    assert directory.entries[listed]["member"] == [stays[0]]
    assert directory.entries[other]["member"] == [stays[0]]
    assert [c[1] for c in directory.log if c[1] in (listed, other)] == [listed]
    # the next run has nothing left to do on the lists
    directory.log.clear()
    run(_settings(today), directory, FakeMailboxes([]), FakeMailer([]))
    assert not [c for c in directory.log if c[1] in (listed, other)]


def test_bad_requests_are_refused_naming_their_entry_and_the_good_one_is_applied(tmp_path):
    # Gia Lai Art 5.2, 10.8 (an agency admin acts on its own agency only), Hà Nam Art 7.2.a (the agency
    # gives the reason an inactivity waits for): a hold for an unknown account, one for another agency's
    # account and one ending in the past are refused, each naming its entry, before any change to them.
    today = D(2027, 3, 3)
    minh = _person("nguyenvanminh", recent=today)
    other = _person("tranthilan", "snv", recent=today)
    directory = _directory(minh, other, recent=today)
    until = {"congvuHoldUntil": [day_time(D(2027, 9, 1))], "congvuRequestReason": ["Nghỉ thai sản"]}
    good = _request(directory, "stttt", "r1", "hold", "nguyenvanminh@hanam.gov.vn", "quantri.stttt", **until)
    unknown = _request(directory, "stttt", "r2", "hold", "khongco@hanam.gov.vn", "quantri.stttt", **until)
    foreign = _request(directory, "stttt", "r3", "hold", "tranthilan@hanam.gov.vn", "quantri.stttt", **until)
    past = _request(directory, "snv", "r4", "hold", "tranthilan@hanam.gov.vn", "quantri.snv",
                    congvuHoldUntil=[day_time(D(2027, 3, 1))])
    mailer = FakeMailer([])
    report = run(_settings(today, audit_dir=str(tmp_path)), directory, FakeMailboxes([]), mailer)
    refused = {r["entry"]: r["problem"] for r in report["refused"]}
    assert set(refused) == {unknown, foreign, past}
    # Hà Giang Art 5.3, Cần Thơ Art 6.2: the admin who asked is answered, the reason in Vietnamese, and
    # the carried-out hold too (Hà Nam Art 6.2.b)
    answers = {(m.kind, m.to[0], m.mails[0]): m for m in mailer.sent if m.kind.startswith("request_")}
    assert set(answers) == {("request_reply", "quantri.stttt@hanam.gov.vn", "nguyenvanminh@hanam.gov.vn"),
                            ("request_refused", "quantri.stttt@hanam.gov.vn", "khongco@hanam.gov.vn"),
                            ("request_refused", "quantri.stttt@hanam.gov.vn", "tranthilan@hanam.gov.vn"),
                            ("request_refused", "quantri.snv@hanam.gov.vn", "tranthilan@hanam.gov.vn")}
    said = answers[("request_refused", "quantri.snv@hanam.gov.vn", "tranthilan@hanam.gov.vn")].body
    assert "không được thực hiện" in said and "thời hạn giữ hộp thư phải là một ngày trong tương lai" in said
    said = answers[("request_refused", "quantri.stttt@hanam.gov.vn", "tranthilan@hanam.gov.vn")].body
    assert "không phải quản trị viên đang hoạt động của cơ quan quản lý hộp thư này" in said
    assert refused[unknown].startswith(f"{unknown} (hold khongco@hanam.gov.vn): no such account")
    assert "quantri.stttt@hanam.gov.vn administers stttt, the account belongs to snv" in refused[foreign]
    assert "a date in the past" in refused[past]
    assert directory.attr("tranthilan@hanam.gov.vn", "congvuHoldUntil") == []
    assert directory.entries[foreign]["congvuRequestStatus"] == ["refused"]
    assert good not in directory.entries  # carried out, in the audit log
    # how Directory.apply writes that deletion: tests/unit/test_reconcile.py (transaction_order)
    assert ("delete", good) in [(op, dn) for op, dn, _ in directory.log]
    assert directory.attr("nguyenvanminh@hanam.gov.vn", "congvuHoldUntil") == [day_time(D(2027, 9, 1))]
    assert directory.attr("nguyenvanminh@hanam.gov.vn", "congvuHoldReason") == ["Nghỉ thai sản"]
    audit_text = (tmp_path / "audit-2027-03.jsonl").read_text(encoding="utf-8")
    assert '"actor": "quantri.stttt@hanam.gov.vn"' in audit_text and '"source": "console"' in audit_text
    assert audit_text.count('"action": "request_refused"') == 3
    quiet = FakeMailer([])
    again = run(_settings(today), directory, FakeMailboxes([]), quiet)
    assert not again["changed"] and not again["refused"]  # refused entries wait for their admin
    assert quiet.sent == []  # each answered once


def test_an_agency_admin_locks_a_compromised_mailbox_through_a_request(tmp_path):
    # Hà Nam Art 7.2.b: a mailbox whose password leaked is locked on the agency's request; the
    # directory gets the state and the reason, the request entry goes, the admin is answered, the
    # audit log has the lock with its article.
    today = D(2027, 3, 3)
    minh = _person("nguyenvanminh", recent=today)
    directory = _directory(minh, recent=today)
    lock = _request(directory, "stttt", "r1", "lock", "nguyenvanminh@hanam.gov.vn", "quantri.stttt",
                    congvuRequestReason=["lộ mật khẩu"])
    mailer = FakeMailer([])
    report = run(_settings(today, audit_dir=str(tmp_path)), directory, FakeMailboxes([]), mailer)
    assert [(a["action"], a["article"]) for a in report["plan"]] == [("lock_violation", "Hà Nam Art 7.2.b-c")]
    assert directory.attr("nguyenvanminh@hanam.gov.vn", "congvuAccountState") == ["locked"]
    assert directory.attr("nguyenvanminh@hanam.gov.vn", "congvuLockReason") == ["violation"]
    assert lock not in directory.entries
    (answer,) = [m for m in mailer.sent if m.kind == "request_reply"]
    assert answer.to == ("quantri.stttt@hanam.gov.vn",) and "đã bị tạm khóa (lộ mật khẩu)" in answer.body
    audit_text = (tmp_path / "audit-2027-03.jsonl").read_text(encoding="utf-8")
    assert '"action": "lock_violation"' in audit_text and "Hà Nam Art 7.2.b-c" in audit_text
    again = run(_settings(today), directory, FakeMailboxes([]), FakeMailer([]))
    assert again["plan"] == []


def test_operator_requests_must_all_be_valid_or_nothing_runs():
    # Hà Nam Art 6.2.b: requests the operator records from letters; a bad one stops the run before writing.
    today = D(2027, 3, 3)
    idle = _person("tranvanbinh", congvuLastMailActivity=day_time(D(2026, 11, 1)))
    directory = _directory(idle, recent=today)
    bad = {"kind": "hold", "mail": "khongco@hanam.gov.vn", "received": "2027-03-02", "by": "operator",
           "until": "2027-06-01"}
    with pytest.raises(LifecycleError) as info:
        run(_settings(today, requests=[bad]), directory, FakeMailboxes([]), FakeMailer([]))
    assert "requests[0] (operator) (hold khongco@hanam.gov.vn): no such account" in str(info.value)
    assert directory.log == []


def test_check_mode_writes_nothing_and_lists_the_plan_and_the_mail():
    # Hà Nam Art 7.2.a and 6.2.c: --check shows who is locked and notified, on which date, and the mail.
    today = D(2027, 3, 5)
    directory = _directory(_person("tranvanbinh", congvuLastMailActivity=day_time(D(2026, 12, 1))),
                           recent=today)
    mailer = FakeMailer([])
    report = run(_settings(today, check=True), directory, FakeMailboxes([]), mailer)
    assert report["changed"] and not report["applied"] and directory.log == [] and not mailer.sent
    assert any(line.startswith("2027-03-01 lock_inactive") and "Hà Nam Art 7.2.a" in line
               for line in report["diff"])
    (message,) = report["messages"]
    assert message["subject"].startswith("Thông báo tạm khóa hộp thư điện tử công vụ không sử dụng")


def test_mail_activity_is_written_only_where_the_day_advanced():
    # Hà Nam Art 7.2.a: sent or received mail is the activity; one write per account per day at most.
    today = D(2026, 12, 3)
    directory = _directory(_person("nguyenvanminh"), _person("tranvanbinh"))
    journal = FakeJournal({"nguyenvanminh@hanam.gov.vn": D(2026, 12, 2),
                           "tranvanbinh@hanam.gov.vn": D(2026, 11, 30),
                           "khongco@hanam.gov.vn": D(2026, 12, 2)})
    report = run(_settings(today), directory, FakeMailboxes([]), FakeMailer([]), journal)
    assert report["activity"] == {"addresses": 3, "mail": 3, "logins": 0, "writes": 1}
    minh = directory.attr("nguyenvanminh@hanam.gov.vn", "congvuLastMailActivity")
    assert minh == [day_time(D(2026, 12, 2))]
    assert directory.attr("tranvanbinh@hanam.gov.vn", "congvuLastMailActivity") == [day_time(D(2026, 12, 1))]
    assert journal.committed == "cursor-1"


def test_logins_from_the_logs_are_written_once_a_day_and_count_as_the_last_login():
    # Ninh Bình Art 7.1: 06 months without a login -> suspended. Logins come from the mail logs (no
    # directory write at each login: issue 12 item 1); the latest of congvuLastLogin, pwdLastSuccess
    # (written by slapd's lastbind before it was turned off) and the logs' day is the last login.
    from congvu.lifecycle_dir import activity_changes, snapshot

    today = D(2027, 3, 5)
    old = _person("hoapt", pwdLastSuccess=day_time(D(2026, 8, 1)), congvuLastLogin=day_time(D(2026, 9, 1)))
    directory = _directory(old, _person("binhnv", congvuLastLogin=day_time(D(2027, 3, 4))),
                           recent=today - dt.timedelta(days=1))
    found = directory.search(ORGS, "", [])
    snap = snapshot(found, logins={"binhnv@hanam.gov.vn": D(2027, 3, 4)})
    assert snap.by_mail()["hoapt@hanam.gov.vn"].last_login == D(2026, 9, 1)
    logins = {"hoapt@hanam.gov.vn": D(2027, 3, 4), "binhnv@hanam.gov.vn": D(2027, 3, 4),
              "later@hanam.gov.vn": D(2027, 3, 6)}
    journal = FakeJournal({}, logins=logins)
    report = run(_settings(today), directory, FakeMailboxes([]), FakeMailer([]), journal)
    assert report["activity"] == {"addresses": 2, "mail": 0, "logins": 2, "writes": 1}  # not tomorrow
    assert directory.attr("hoapt@hanam.gov.vn", "congvuLastLogin") == [day_time(D(2027, 3, 4))]
    assert [dn.split(",")[0] for _, dn, attrs in directory.log if "congvuLastLogin" in attrs] == ["uid=hoapt"]
    again = snapshot(directory.search(ORGS, "", []))
    assert again.by_mail()["hoapt@hanam.gov.vn"].last_login == D(2027, 3, 4)
    assert activity_changes(again, {}, today, {"hoapt@hanam.gov.vn": D(2027, 3, 4)}) == []


def test_a_scope_plans_its_agencies_only_but_records_everyone_s_activity():
    # A pilot limited to one agency (lifecycle_organisations) must not lock another agency's idle
    # mailbox, yet must record its mail activity (Hà Nam Art 7.2.a), so widening the scope later judges
    # it on its real activity.
    today = D(2027, 3, 5)
    stale = {"congvuLastMailActivity": day_time(D(2026, 11, 1)), "pwdLastSuccess": "20261101000000Z"}
    inside = _person("tranvanbinh", **stale)
    outside = _person("lethihoa", org="snv", **stale)
    directory = _directory(inside, outside, recent=today - dt.timedelta(days=1))
    journal = FakeJournal({"lethihoa@hanam.gov.vn": D(2027, 3, 4)})
    report = run(_settings(today, scope=["STTTT"]), directory, FakeMailboxes([]), FakeMailer([]), journal)
    assert [(a["action"], a["mail"]) for a in report["plan"]] == [
        ("lock_inactive", "tranvanbinh@hanam.gov.vn"), ("notify_agency", "tranvanbinh@hanam.gov.vn")]
    assert directory.attr("lethihoa@hanam.gov.vn", "congvuAccountState") == ["active"]
    assert directory.attr("lethihoa@hanam.gov.vn", "congvuLastMailActivity") == [day_time(D(2027, 3, 4))]


def test_the_public_calendar_a_host_gets_counts_like_the_package():
    # The hosts have no calendar package: the wiring hands them the package's days for the confirmed
    # years; deadlines in working days (Ninh Bình Art 7.1: 15) must come out the same.
    from congvu.workdays import Calendar, public_calendar

    public = public_calendar([2026, 2027])
    with_package = Calendar.from_policy(_policy())
    on_host = Calendar.from_policy(_policy(), public=public)
    start = D(2026, 1, 1)
    for offset in range(0, 700, 3):
        day = start + dt.timedelta(days=offset)
        assert on_host.is_working_day(day) == with_package.is_working_day(day), day
    assert on_host.add(D(2027, 2, 1), 15) == with_package.add(D(2027, 2, 1), 15)  # across Tết 2027


def test_a_notice_subject_keeps_its_spaces_in_every_mail_reader():
    # Issue 18: what civil servants read is proper Vietnamese. A long subject is folded into several
    # RFC 2047 encoded words; the spaces must survive decoding ("điện tử", not "điệntử").
    import email
    import email.policy

    from congvu.mailbox import render
    from congvu.notices import Message

    subject = "Thông báo tạm khóa hộp thư điện tử công vụ không sử dụng - Sở Kiểm thử Vòng đời Tỉnh"
    message = Message(kind="agency_notice", sender="postmaster@hanam.gov.vn", to=("stttt@hanam.gov.vn",),
                      subject=subject, body="Kính gửi: Sở Thông tin và Truyền thông\n", summary_en="",
                      agency="stttt", mails=())
    raw = render(message, dt.datetime(2027, 3, 5, 6, tzinfo=VN_TZ), "hanam.gov.vn")
    import re

    assert all(len(word) <= 75 for word in re.findall(rb"=\?utf-8\?b\?[^?]*\?=", raw))  # RFC 2047 §2
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert str(parsed["Subject"]) == subject
    assert str(parsed["From"]) == "Hệ thống thư điện tử công vụ <postmaster@hanam.gov.vn>"
    assert parsed.get_content() == "Kính gửi: Sở Thông tin và Truyền thông\n"
    assert parsed["Auto-Submitted"] == "auto-generated"


def test_exports_and_mail_run_several_at_once_keeping_the_plan_order_and_each_failure():
    # The catch-up day of a 20,000-account province archives ~1,500 mailboxes and sends ~2,600 notices
    # (docs/lifecycle.md, "Performance"): ``workers`` processes at a time, results in the plan's order,
    # a failed one reported alone; a bug (not an OS or congvu error) is not swallowed.
    import threading

    from congvu.lifecycle_run import _each

    seen, gate = set(), threading.Barrier(3, timeout=5)

    def work(n):
        seen.add(threading.get_ident())
        if n < 3:
            gate.wait()  # three calls in flight at once, or this raises BrokenBarrierError
        if n == 4:
            raise OSError("sendmail exited 75")
        return n * 10

    out = _each(work, list(range(6)), workers=3)
    assert out[:4] == [0, 10, 20, 30] and isinstance(out[4], OSError) and out[5] == 50
    assert len(seen) > 1
    assert _each(work, [5], workers=1) == [50]
    with pytest.raises(ZeroDivisionError):
        _each(lambda n: 1 // n, [1, 0], workers=2)


def _maildir(home: Path, *names: str) -> None:
    for folder in ("", ".Sent"):
        for sub in ("cur", "new", "tmp"):
            (home / "Maildir" / folder / sub).mkdir(parents=True, exist_ok=True)
    for name in names:
        (home / "Maildir" / "cur" / f"{name}:2,S").write_text(f"Subject: {name}\n\nx\n", encoding="utf-8")


def test_the_second_mail_server_records_its_activity_and_sets_aside_retired_copies(tmp_path):
    # docs/lifecycle.md, "Two mailbox servers": mail delivered or sent on the second server counts
    # (Hà Nam Art 7.2.a); its copy of a mailbox the first server reclaimed (Hà Nam Art 7.2) is archived
    # on this host the way the first archives (kept lifecycle.archive_keep) and only then removed, a
    # day after the retirement; nothing is planned, locked or mailed here.
    import os

    from congvu import audit
    from congvu.lifecycle_run import replica_run
    from congvu.mailbox import Mailboxes

    today = D(2027, 6, 10)
    yesterday = today - dt.timedelta(days=1)
    gone = _person("lethihoa", congvuAccountState="retired", congvuStateChanged=day_time(yesterday),
                   congvuLastMailActivity=day_time(D(2026, 12, 1)))
    fresh = _person("phamvanduc", congvuAccountState="retired", congvuStateChanged=day_time(today),
                    congvuLastMailActivity=day_time(D(2026, 12, 1)))
    idle = _person("nguyenvanminh", congvuLastMailActivity=day_time(D(2027, 3, 1)),
                   pwdLastSuccess=day_time(D(2027, 3, 1)))
    directory = _directory(gone, fresh, idle, recent=yesterday)
    vmail = tmp_path / "vmail"
    for local in ("lethihoa", "phamvanduc", "nguyenvanminh"):
        _maildir(vmail / "hanam.gov.vn" / local, f"{local}-1", f"{local}-2")
    boxes = Mailboxes(vmail, tmp_path / "archive", owner=(os.getuid(), os.getgid()))
    journal = FakeJournal({"nguyenvanminh@hanam.gov.vn": yesterday})
    plan = replica_run(_settings(today, check=True), directory, boxes, journal)
    assert plan["counts"] == {"replica_archive": 1}
    assert plan["activity"] == {"addresses": 1, "mail": 1, "logins": 0, "writes": 1}
    assert "lethihoa@hanam.gov.vn" in plan["diff"][0] and not plan["applied"]
    assert (vmail / "hanam.gov.vn/lethihoa").is_dir() and journal.committed is None and not directory.log

    report = replica_run(_settings(today, audit_dir=str(tmp_path / "audit")), directory, boxes, journal)
    assert report["failures"] == [] and journal.committed == "cursor-1"
    assert directory.attr("nguyenvanminh@hanam.gov.vn", "congvuLastMailActivity") == [day_time(yesterday)]
    assert not (vmail / "hanam.gov.vn/lethihoa").exists()
    assert (vmail / "hanam.gov.vn/phamvanduc").is_dir()  # retired today: the first server finishes first
    assert (vmail / "hanam.gov.vn/nguyenvanminh").is_dir()
    (archive,) = report["archives"]
    kept = Path(archive["archive"])
    assert sorted(p.name for p in (kept / "Maildir/cur").iterdir()) == ["lethihoa-1:2,S", "lethihoa-2:2,S"]
    manifest = boxes.manifest(kept)
    assert manifest["status"] == "complete" and manifest["keep_until"] == "2028-06-09"
    (record,) = audit.read(tmp_path / "audit")
    assert (record.action, record.mail) == ("replica_archive", "lethihoa@hanam.gov.vn")
    assert [op for op, _, _ in directory.log] == ["modify"]  # the activity only: no state written here

    again = replica_run(_settings(today), directory, boxes, FakeJournal({}))
    assert again["counts"] == {} and not again["changed"]
    # kept until its day like the first server's archives, then pruned
    later = replica_run(_settings(D(2028, 6, 10)), directory, boxes, FakeJournal({}))
    assert [a["mail"] for a in later["archives"] if a.get("pruned")] == ["lethihoa@hanam.gov.vn"]


def test_a_copy_whose_archive_fails_stays_on_the_second_server(tmp_path, monkeypatch):
    # Hà Nam Art 7.2: reclaim loses nothing silently, on either server.
    import os

    from congvu.lifecycle_run import replica_run
    from congvu.mailbox import Mailboxes

    today = D(2027, 6, 10)
    gone = _person("lethihoa", congvuAccountState="retired",
                   congvuStateChanged=day_time(today - dt.timedelta(days=3)))
    directory = _directory(gone, recent=today)
    home = tmp_path / "vmail/hanam.gov.vn/lethihoa"
    _maildir(home, "a")
    boxes = Mailboxes(tmp_path / "vmail", tmp_path / "archive", owner=(os.getuid(), os.getgid()))

    def refuse(*args, **kwargs):
        raise OSError("No space left on device")

    monkeypatch.setattr(boxes, "export", refuse)
    report = replica_run(_settings(today), directory, boxes, FakeJournal({}))
    assert report["failures"] == ["lethihoa@hanam.gov.vn: this server's copy is kept, its archive failed: "
                                  "No space left on device"]
    assert (home / "Maildir/cur/a:2,S").is_file()


def test_the_second_server_keeps_an_organisation_mailbox_copy_as_long_as_the_first(tmp_path):
    # Cần Thơ Art 11.3: an organisation mailbox's mail is never thrown away: its archive is kept for
    # good on the first server (congvu.lifecycle.archive_keep_days), and so is the second's copy.
    import os

    from congvu.lifecycle import archive_keep_days
    from congvu.lifecycle_run import replica_run
    from congvu.mailbox import Mailboxes

    today = D(2027, 6, 10)
    unit = _person("vanphong", congvuMailboxClass="unit", congvuAccountState="retired",
                   congvuStateChanged=day_time(today - dt.timedelta(days=2)))
    directory = _directory(unit, recent=today)
    _maildir(tmp_path / "vmail/hanam.gov.vn/vanphong", "a")
    boxes = Mailboxes(tmp_path / "vmail", tmp_path / "archive", owner=(os.getuid(), os.getgid()))
    cantho = _policy("cantho")
    assert archive_keep_days(cantho, "unit") is None and archive_keep_days(cantho, "personal") == 365
    report = replica_run(_settings(today, province="cantho"), directory, boxes, FakeJournal({}))
    (archive,) = report["archives"]
    assert archive["keep_until"] is None and boxes.manifest(Path(archive["archive"]))["keep_until"] is None
    assert replica_run(_settings(D(2040, 1, 1), province="cantho"), directory, boxes, FakeJournal({}))[
        "archives"] == []  # never pruned


def test_the_run_prunes_archives_past_their_day_and_records_it(tmp_path):
    # Hà Nam Art 6.2.c (lifecycle.archive_keep, 01 year): an archive past its keep date is removed by the
    # daily run, named in the report and in the audit log.
    from congvu import audit

    gone = "/archive/lethihoa@hanam.gov.vn/2026-06-09"

    class Pruning(FakeMailboxes):
        def prune(self, today):
            return [{"mail": "lethihoa@hanam.gov.vn", "archive": gone, "dn": f"uid=lethihoa,o=stttt,{ORGS}",
                     "agency": "stttt", "keep_until": "2027-06-09"}]

    today = D(2027, 6, 10)
    report = run(_settings(today, audit_dir=str(tmp_path)), _directory(recent=today), Pruning([]),
                 FakeMailer([]), FakeJournal({}))
    assert [a for a in report["archives"] if a.get("pruned")] == [
        {"mail": "lethihoa@hanam.gov.vn", "archive": gone, "pruned": True}]
    (record,) = [r for r in audit.read(tmp_path) if r.action == "archive_pruned"]
    assert record.details == {"archive": gone, "keep_until": "2027-06-09"}
