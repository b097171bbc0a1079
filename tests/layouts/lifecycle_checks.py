"""The account lifecycle on a converged layout (issue 12, docs/lifecycle.md), over the wire.

The run is the installed ``congvu-lifecycle`` command on the first mail host, with the role's
configuration, limited to a test agency the module creates (``lifecycle_organisations``: a scope plans
that agency only) and with its own archive, audit and journal-cursor directories, because the clock is
moved months ahead (``--today``) and a future-dated audit file must not prune the real log. The directory,
Dovecot, Postfix and the mail store are the layout's. Each test names the article it enforces.

Clock (T0: today in Vietnam): T0+35 the initial password is a month old (Hà Nam Art 7.2.d); T0+80 the
inactivity warning, two weeks before the lock; T0+100 the 03-month inactivity lock (Art 7.2.a), mail
still delivered (Art 7.1), the agency told; T0+190 the 06-month reclaim (Art 6.2.c), archive first.
"""

from __future__ import annotations

import datetime as dt
import email
import email.header
import email.policy
import imaplib
import json
import secrets
import smtplib
import uuid

import pytest
from attacks import (
    PASSWORD,
    base_dn,
    imap_login,
    ldap_attrs,
    ldap_modify,
    ldap_root,
    smtp_login,
    tls_context,
)
from attacks import Account as Mailbox
from polling import wait_for

from congvu.lifecycle_dir import day_time

AGENCY = "ktvongdoi"
AGENCY_NAME = "Sở Kiểm thử Vòng đời"
TEST_CONFIG = "/etc/congvu/lifecycle-test.json"


def write_test_config(host, agency: str, state: str) -> None:
    """``TEST_CONFIG`` on ``host``: the role's configuration limited to ``agency`` (a scope plans that
    agency only), with its own archive, audit and journal-cursor directories under ``state``."""
    script = (
        "import json; c = json.load(open('/etc/congvu/lifecycle.json')); "
        f"c['organisations'] = [{agency!r}]; c['audit_dir'] = '{state}/audit'; "
        f"c['journal_state'] = '{state}/journal.cursor'; "
        f"c['mailboxes']['archive_root'] = '{state}/archive'; "
        f"json.dump(c, open('{TEST_CONFIG}', 'w'))")
    # 0711: doveadm writes the archives as the mail store's owner, below this directory. The journal is
    # read from now on: an earlier run of these tests on the same host mailed the same test addresses,
    # which would otherwise count as their mail activity.
    host.run(f"install -d -m 0711 {state} && python3 -c \"{script}\" && chmod 0600 {TEST_CONFIG} && "
             f"journalctl -n 1 -o cat --show-cursor | sed -n 's/^-- cursor: //p' > {state}/journal.cursor",
             check=True)


class Lifecycle:
    """The test agency, its mailboxes, and the run at a given day."""

    def __init__(self, stage):
        self.stage = stage
        self.host = stage.first("mail_servers")
        self.base = base_dn(stage)
        self.domain = stage.policy["domains"]["primary"]
        self.org_dn = f"o={AGENCY},ou=organisations,{self.base}"
        self.today = dt.date.fromisoformat(self.host.out("TZ=Asia/Ho_Chi_Minh date +%F").strip())
        self.state = f"/var/lib/congvu-test/{uuid.uuid4().hex[:8]}"
        self.boxes: dict[str, Mailbox] = {}

    # --- set-up -------------------------------------------------------------------------------------
    def setup(self) -> None:
        self.cleanup_directory()
        ldap_modify(self.stage, f"dn: {self.org_dn}\nchangetype: add\nobjectClass: organization\n"
                                f"objectClass: congvuOrganisation\no: {AGENCY}\ndisplayName: {AGENCY_NAME}\n"
                                "congvuOrgKind: agency\n")
        # the agency mailbox (the notices' recipient), three people, and a mailbox to restore into
        for local, kind, must_change in (("vanthu", "agency", False), ("nhanroi", "personal", False),
                                         ("giulai", "personal", False), ("moi", "personal", True),
                                         ("khoiphuc", "personal", False), ("nghiviec", "personal", False),
                                         ("quantri", "personal", False)):
            uid = f"lc.{local}"
            dn = f"uid={uid},{self.org_dn}"
            mail = f"{uid}@{self.domain}"
            ldif = (f"dn: {dn}\nchangetype: add\nobjectClass: inetOrgPerson\nobjectClass: congvuMailAccount\n"
                    f"uid: {uid}\ncn: Kiểm thử vòng đời {local}\nsn: Kiểm thử\n"
                    f"displayName: Kiểm thử {local}\n"
                    f"mail: {mail}\ncongvuMailboxClass: {kind}\ncongvuAccountState: active\n"
                    f"congvuMustChangePassword: {'TRUE' if must_change else 'FALSE'}\n"
                    f"congvuOrganisationDN: {self.org_dn}\nuserPassword: {PASSWORD}\n")
            if must_change:
                ldif += "pwdReset: TRUE\n"
            ldap_modify(self.stage, ldif)
            self.boxes[local] = Mailbox(dn, mail, PASSWORD)
        # the agency's delegated admin, and a person the roster apply marked as leaving today
        ldap_modify(self.stage, f"dn: cn=admins,{self.org_dn}\nchangetype: add\nobjectClass: groupOfNames\n"
                                f"cn: admins\nmember: {self.boxes['quantri'].dn}\n")
        # the agency's mailing list (docs/lists.md): the reclaim takes its member off it
        self.list_dn = f"cn=lc-toanso,{self.org_dn}"
        ldap_modify(self.stage, f"dn: {self.list_dn}\nchangetype: add\nobjectClass: congvuMailList\n"
                                f"cn: lc-toanso\nmail: lc-toanso@{self.domain}\n"
                                f"member: {self.boxes['nhanroi'].dn}\nmember: {self.boxes['khoiphuc'].dn}\n")
        leaving = dt.datetime.now(dt.UTC).strftime("%Y%m%d%H%M%SZ")
        ldap_modify(self.stage, f"dn: {self.boxes['nghiviec'].dn}\nchangetype: modify\n"
                                f"replace: congvuLeavingSince\ncongvuLeavingSince: {leaving}\n")
        write_test_config(self.host, AGENCY, self.state)

    def cleanup_directory(self) -> None:
        out = ldap_root(self.stage, f"ldapsearch -LLL -o ldif-wrap=no -b '{self.org_dn}' dn",
                        check=False).stdout_text
        dns = [line[4:] for line in out.splitlines() if line.startswith("dn: ")]
        for dn in sorted(dns, key=lambda d: -d.count(",")):
            ldap_root(self.stage, f"ldapdelete '{dn}'", check=False)

    def cleanup(self) -> None:
        self.cleanup_directory()
        self.host.run(f"rm -rf {self.state} {TEST_CONFIG} /var/vmail/{self.domain}/lc.*", check=False)

    # --- the run ------------------------------------------------------------------------------------
    def day(self, offset: int) -> dt.date:
        return self.today + dt.timedelta(days=offset)

    def run(self, offset: int, *args: str, requests: list[dict] | None = None):
        """``congvu-lifecycle --json`` at T0+offset: (exit status, report or None, stderr)."""
        extra = list(args)
        if requests is not None:
            path = f"{self.state}/requests.json"
            self.host.run(f"cat > {path}", stdin=json.dumps(requests, ensure_ascii=False), check=True)
            extra += ["--requests", path]
        res = self.host.run(f"/usr/local/sbin/congvu-lifecycle --config {TEST_CONFIG} --json "
                            f"--today {self.day(offset)} " + " ".join(extra))
        report = json.loads(res.stdout_text) if res.stdout_text.strip().startswith("{") else None
        return res.returncode, report, res.stderr_text

    def as_admin(self, command: str, ldif: str):
        """``ldapmodify``/``ldapadd`` bound as the agency's delegated admin (simple bind over ldapi)."""
        admin = self.boxes["quantri"]
        return self.stage.first("ldap_servers").run(
            f"{command} -x -H ldapi:/// -D '{admin.dn}' -w '{admin.password}'", stdin=ldif)

    def state_of(self, local: str) -> dict[str, list[str]]:
        return ldap_attrs(self.stage, self.boxes[local].dn, "congvuAccountState", "congvuLockReason",
                          "congvuNoticeSent", "congvuHoldUntil", "congvuLastMailActivity", "objectClass")

    # --- mail ---------------------------------------------------------------------------------------
    def deliver(self, local: str) -> str:
        """A message from outside to ``local`` on port 25; returns its subject."""
        subject = f"Thư kiểm thử vòng đời {secrets.token_hex(4)}"
        with smtplib.SMTP(self.host.address, 25, timeout=60) as smtp:
            smtp.starttls(context=tls_context(self.stage))
            smtp.sendmail("congdan@example.org", [self.boxes[local].mail],
                          (f"From: congdan@example.org\r\nTo: {self.boxes[local].mail}\r\nSubject: "
                           f"{email.header.Header(subject, 'utf-8').encode()}\r\n"
                           f"Message-ID: <{uuid.uuid4()}@example.org>"
                           "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
                           "Nội dung kiểm thử.\r\n").encode())
        return subject

    def stored(self, local: str, subject: str) -> bool:
        """Whether the mailbox holds ``subject`` (read on the host: a locked mailbox cannot log in)."""
        res = self.host.run(f"doveadm search -u {self.boxes[local].mail} mailbox INBOX subject "
                            f"'{subject.split()[-1]}'")
        return res.returncode == 0 and bool(res.stdout_text.strip())

    def on_host(self, local: str) -> list[tuple[str, email.message.EmailMessage]]:
        """The INBOX read on the host with doveadm (for a mailbox that cannot log in)."""
        mail = self.boxes[local].mail
        out = []
        for line in self.host.out(f"doveadm search -u {mail} mailbox INBOX all").splitlines():
            guid, uid = line.split()
            raw = self.host.run(f"doveadm fetch -u {mail} text mailbox-guid {guid} uid {uid}").stdout
            raw = raw.split(b"\n", 1)[1] if raw.startswith(b"text:") else raw
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            out.append((str(msg["Subject"]), msg))
        return out

    def inbox_subjects(self, local: str) -> list[tuple[str, email.message.EmailMessage]]:
        box = self.boxes[local]
        ctx = tls_context(self.stage)
        with imaplib.IMAP4_SSL(self.host.address, 993, ssl_context=ctx, timeout=60) as imap:
            imap.login(box.mail, box.password)
            imap.select("INBOX", readonly=True)
            _, found = imap.search(None, "ALL")
            out = []
            for num in found[0].split():
                _, data = imap.fetch(num, "(BODY.PEEK[])")
                msg = email.message_from_bytes(data[0][1], policy=email.policy.default)
                out.append((str(msg["Subject"]), msg))
            return out


@pytest.fixture(scope="module")
def lc(stage):
    made = Lifecycle(stage)
    made.setup()
    yield made
    made.cleanup()


# --- the role ------------------------------------------------------------------------------------------

def test_the_daily_run_is_scheduled_and_succeeds_today(stage):
    # Issue 12 item 2: a systemd timer runs the lifecycle every morning on the first mail host.
    host = stage.first("mail_servers")
    assert host.out("systemctl is-enabled congvu-lifecycle.timer").strip() == "enabled"
    assert host.out("systemctl is-active congvu-lifecycle.timer").strip() == "active"
    since = host.out("date '+%F %T'").strip()
    res = host.run("systemctl start congvu-lifecycle.service")
    assert res.returncode == 0, host.journal(("congvu-lifecycle",))
    assert host.out("systemctl show -p Result --value congvu-lifecycle.service").strip() == "success"
    log = host.out(f"journalctl -u congvu-lifecycle --since '{since}' --no-pager -o cat")
    assert "congvu-lifecycle " in log, log
    # the plan of the whole province, read through the run's own account (the ACL lets it read all)
    res = host.run("/usr/local/sbin/congvu-lifecycle --check --json")
    assert res.returncode == 0, res.stderr_text
    report = json.loads(res.stdout_text)
    assert report["applied"] is False and report["plan"] == [], report["diff"]  # the same day: nothing


def test_the_run_and_dovecot_read_every_account_past_slapds_size_limit(stage):
    # slapd answers 500 entries to a search by default. The daily run reads the whole province
    # (20,000 accounts: bench/lifecycle_run_bench.py) and Dovecot's user iteration (doveadm -A, the host
    # restore's force-resync) every mailbox: the openldap role lifts the limit for those two accounts
    # only (docs/openldap.md, "Limits"). 600 throwaway accounts in an organisation of their own.
    host, base = stage.first("mail_servers"), base_dn(stage)
    org = f"o=ktgioihan{secrets.token_hex(3)},ou=organisations,{base}"
    domain = stage.policy["domains"]["primary"]
    tag = org.split(",")[0][2:]
    ldif = [f"dn: {org}\nobjectClass: organization\nobjectClass: congvuOrganisation\no: {tag}\n"]
    ldif += [f"dn: uid={tag}.{i},{org}\nobjectClass: inetOrgPerson\nobjectClass: congvuMailAccount\n"
             f"uid: {tag}.{i}\ncn: Giới hạn {i}\nsn: Giới hạn\nmail: {tag}.{i}@{domain}\n"
             f"congvuAccountState: active\ncongvuOrganisationDN: {org}\n" for i in range(600)]
    read = ("import sys; sys.path.insert(0, '/usr/local/lib/congvu'); "
            "from congvu.lifecycle_cli import load_config, _collaborators; "
            "c = load_config('/etc/congvu/lifecycle.json'); d = _collaborators(c)[0]; "
            "print(len(d.search('ou=organisations,' + c['ldap']['base'], "
            f"'(&(objectClass=congvuMailAccount)(mail={tag}.*))', ['mail'])))")
    try:
        ldap_root(stage, "ldapadd", stdin="\n".join(ldif))
        res = host.run(f'python3 -c "{read}"')  # as the run binds: cn=lifecycle, paged
        assert res.returncode == 0 and res.stdout_text.split() == ["600"], (res.stdout_text, res.stderr_text)
        res = host.run("doveadm user '*'")  # as Dovecot binds: cn=dovecot, unpaged
        assert res.returncode == 0, res.stderr_text
        assert sum(line.startswith(f"{tag}.") for line in res.stdout_text.splitlines()) == 600
    finally:
        ldap_root(stage, f"ldapdelete -r '{org}'", check=False)


def test_a_mailbox_archives_into_the_shipped_archive_root(lc):
    # Issue 12 item 3 (Hà Nam Art 6.2.c and every reclaim): the archive is made by the run's own code
    # (congvu.mailbox, as installed) into the archive root the role made, where doveadm writes as the
    # mail store's owner. The other tests use their own root; this one the daily run's.
    config = json.loads(lc.host.out("cat /etc/congvu/lifecycle.json"))
    root = config["mailboxes"]["archive_root"]
    subject = lc.deliver("giulai")
    assert wait_for(lambda: lc.stored("giulai", subject), timeout=60)
    mail, probe = lc.boxes["giulai"].mail, f"{root}/probe-{uuid.uuid4().hex[:8]}"
    script = (f"import sys; sys.path.insert(0, {config.get('package_dir', '/usr/local/lib/congvu')!r}); "
              "from pathlib import Path; from congvu.mailbox import Mailboxes; "
              f"m = Mailboxes({config['mailboxes'].get('vmail_home', '/var/vmail')!r}, {root!r}); "
              f"print(m.export({mail!r}, m.home({mail!r}), Path({probe!r}), {{}}))")
    try:
        res = lc.host.run(f'python3 -c "{script}"')
        assert res.returncode == 0, res.stderr_text
        assert "'INBOX': " in res.stdout_text and "'INBOX': 0" not in res.stdout_text, res.stdout_text
    finally:
        lc.host.run(f"rm -rf {probe}")


# --- the rules, with the clock moved -----------------------------------------------------------------

def test_a_leaver_is_locked_at_once_and_still_receives_mail(lc):
    # Hà Nam Art 6.2.a-b (issue 12: "leavers keep working accounts"): the roster's leaving mark locks
    # the mailbox the same day; mail is still delivered until it is closed, 03 working days later.
    box = lc.boxes["nghiviec"]
    assert imap_login(lc.stage, box)
    rc, report, err = lc.run(0)
    assert rc == 0, (err, report and report["failures"])
    # Issue 12 item 1: the login just made is read from Dovecot's log and recorded once for the day
    # (no write at the login itself: directory_checks.test_a_bind_writes_nothing_to_the_directory)
    seen = ldap_attrs(lc.stage, box.dn, "congvuLastLogin", "pwdLastSuccess")
    assert seen == {"congvuLastLogin": [day_time(lc.today)]}, seen
    (lock,) = [a for a in report["plan"] if a["mail"] == box.mail and a["action"] != "apply_quota"]
    assert lock["action"] == "lock_leaver" and lock["article"] == "Hà Nam Art 6.2.a-b"
    state = lc.state_of("nghiviec")
    assert state["congvuAccountState"] == ["locked"] and state["congvuLockReason"] == ["leaver"]
    assert not imap_login(lc.stage, box) and not smtp_login(lc.stage, box)
    subject = lc.deliver("nghiviec")
    assert wait_for(lambda: lc.stored("nghiviec", subject), timeout=60), "a leaver's mailbox got no mail"


def test_a_dry_run_plans_the_default_password_lock_and_changes_nothing(lc):
    # Hà Nam Art 7.2.d: an initial password unchanged a month after issue locks the mailbox. --check
    # (playbooks/lifecycle.yml --check) shows it with its date and article and writes nothing.
    rc, report, err = lc.run(35, "--check")
    assert rc == 0, (err, report and report["failures"])
    assert report["applied"] is False
    planned = {(a["action"], a["mail"]): a for a in report["plan"]}
    lock = planned[("lock_default_password", lc.boxes["moi"].mail)]
    assert lock["article"] == "Hà Nam Art 7.2.d"
    assert lc.state_of("moi")["congvuAccountState"] == ["active"]


def test_the_default_password_lock_is_applied_once(lc):
    # Hà Nam Art 7.2.d; re-running the same day changes nothing (docs/lifecycle.md, "Plan first").
    # The leaver's 03 working days are over too (Art 6.2.a-b): archived, then retired.
    rc, report, err = lc.run(35)
    assert rc == 0, (err, report and report["failures"])
    assert report["applied"] and report["changed"]
    state = lc.state_of("moi")
    assert state["congvuAccountState"] == ["locked"] and state["congvuLockReason"] == ["default_password"]
    assert "congvuLifecycle" in state["objectClass"]
    assert ("retire_leaver", lc.boxes["nghiviec"].mail) in {(a["action"], a["mail"]) for a in report["plan"]}
    assert lc.state_of("nghiviec")["congvuAccountState"] == ["retired"]
    assert [a["mail"] for a in report["archives"]] == [lc.boxes["nghiviec"].mail]
    rc, again, err = lc.run(35)
    assert rc == 0, (err, report and report["failures"])
    assert again["plan"] == [] and again["changed"] is False


def test_an_agency_admin_asks_through_a_request_and_cannot_write_the_state(lc):
    # The lifecycle's record is not the agency's to edit (docs/lifecycle.md, "The directory"): its admin
    # files a request entry, which slapd stamps with the creator; the run reopens the mailbox, removes the
    # unchanged initial password and forces a change (Hà Nam Art 7.3), and deletes the request. (The day
    # after the default-password lock: slapd dates the request today, and the inactivity clock restarts
    # from it.)
    res = lc.as_admin("ldapmodify", f"dn: {lc.boxes['moi'].dn}\nchangetype: modify\n"
                                    f"replace: congvuHoldUntil\ncongvuHoldUntil: 20991231170000Z\n")
    assert res.returncode == 50, (res.returncode, res.stderr_text)
    requests = f"cn=requests,{lc.org_dn}"
    request = f"cn=mo-lai-moi,{requests}"
    res = lc.as_admin("ldapadd", f"dn: {requests}\nobjectClass: organizationalRole\ncn: requests\n\n"
                                 f"dn: {request}\nobjectClass: congvuRequest\ncn: mo-lai-moi\n"
                                 f"congvuRequestKind: reopen\ncongvuRequestFor: {lc.boxes['moi'].mail}\n"
                                 "congvuRequestReason: Cán bộ đã trở lại làm việc\n")
    assert res.returncode == 0, res.stderr_text
    rc, report, err = lc.run(36)
    assert rc == 0, (err, report and report["failures"])
    (reopen,) = [a for a in report["plan"] if a["action"] == "reopen"]
    assert reopen["mail"] == lc.boxes["moi"].mail and reopen["article"] == "Hà Nam Art 7.3"
    state = ldap_attrs(lc.stage, lc.boxes["moi"].dn, "congvuAccountState", "userPassword", "pwdReset")
    assert state.get("congvuAccountState") == ["active"], state
    assert "userPassword" not in state and state.get("pwdReset") == ["TRUE"], state
    gone = ldap_root(lc.stage, f"ldapsearch -LLL -b '{request}' -s base dn", check=False)
    assert gone.returncode == 32, gone.stdout_text  # noSuchObject: carried out and removed
    # the admin who asked gets the answer, in Vietnamese (Hà Nam Art 6.2.b; congvu.notices.request_replies)
    (answer,) = [m for m in report["messages"] if m["kind"] == "request_reply"]
    assert answer["to"] == [lc.boxes["quantri"].mail] and answer["sent"], answer
    subject = f"Kết quả xử lý đề nghị mở lại hộp thư {lc.boxes['moi'].mail}"
    found = wait_for(lambda: [m for s, m in lc.on_host("quantri") if s == subject], timeout=60)
    assert found, "no answer in the admin's INBOX"
    body = found[-1].get_content()
    assert "đã được mở lại" in body and "đặt mật khẩu ban đầu mới" in body


def test_the_inactivity_warning_reaches_the_user_in_vietnamese(lc):
    # Hà Nam Art 7.2.a: the lock waits for a reason the agency may give; the user is warned
    # (lifecycle.inactivity_warning_days) in Vietnamese, with the lock date.
    rc, report, err = lc.run(80)
    assert rc == 0, (err, report and report["failures"])
    warned = [a for a in report["plan"] if a["action"] == "warn_inactivity"]
    assert lc.boxes["nhanroi"].mail in {a["mail"] for a in warned}
    lock_day = next(a["deadline"] for a in warned if a["mail"] == lc.boxes["nhanroi"].mail)
    # straight into the mailbox over Dovecot's LMTP socket (lifecycle_lmtp_socket), not through Postfix
    (sent,) = [m for m in report["messages"]
               if m["kind"] == "warn_inactivity" and lc.boxes["nhanroi"].mail in m["to"]]
    assert sent["sent"] and sent.get("by") == "lmtp", sent
    shown = dt.date.fromisoformat(lock_day).strftime("%d/%m/%Y")
    found = wait_for(lambda: [m for s, m in lc.inbox_subjects("nhanroi") if "sẽ bị tạm khóa" in s],
                     timeout=60)
    assert found, "no warning in the INBOX"
    (msg,) = found
    assert shown in str(msg["Subject"])
    body = msg.get_content()
    assert "Kính gửi" in body and lc.boxes["nhanroi"].mail in body
    assert msg["Auto-Submitted"] == "auto-generated"


def test_a_hold_from_the_agency_keeps_the_mailbox_open(lc):
    # Hà Nam Art 7.2.a ("mà không thông báo lý do"): the agency's reason, recorded by the operator
    # (source: operator), stops the inactivity clock until the hold ends.
    # (khoiphuc, the mailbox an archive is restored into later, is held too)
    until = lc.day(250).isoformat()
    rc, report, err = lc.run(80, requests=[{
        "kind": "hold", "mail": lc.boxes[local].mail, "received": lc.day(80).isoformat(),
        "by": "Văn phòng Sở", "until": until, "reason": "Đi học dài hạn", "ref": "12/CV-KTVD"}
        for local in ("giulai", "khoiphuc")])
    assert rc == 0, (err, report and report["failures"])
    assert ("hold", lc.boxes["giulai"].mail) in {(a["action"], a["mail"]) for a in report["plan"]}
    assert lc.state_of("giulai")["congvuHoldUntil"], "the hold is not recorded"


def test_a_bad_request_is_refused_before_any_change(lc):
    # Issue 12: a request for an unknown account refuses the whole run, naming the entry and the rule.
    before = lc.state_of("giulai")
    rc, report, err = lc.run(90, requests=[{
        "kind": "hold", "mail": f"khongtontai@{lc.domain}", "received": lc.day(90).isoformat(),
        "by": "Văn phòng Sở", "until": lc.day(200).isoformat()}])
    assert rc == 2 and report is None
    assert "requests[0]" in err and "khongtontai" in err
    assert lc.state_of("giulai") == before


def test_the_inactivity_lock_refuses_logins_but_mail_is_still_delivered(lc):
    # Hà Nam Art 7.2.a: three months without sending or receiving -> locked; Art 7.1: a locked mailbox
    # still receives mail. The agency is told, in Vietnamese, with the reclaim date (Art 6.2.c).
    box = lc.boxes["nhanroi"]
    assert imap_login(lc.stage, box), "the mailbox should still log in before the lock"
    rc, report, err = lc.run(100)
    assert rc == 0, (err, report and report["failures"])
    actions = {(a["action"], a["mail"]): a for a in report["plan"]}
    assert actions[("lock_inactive", box.mail)]["article"] == "Hà Nam Art 7.2.a"
    assert ("lock_inactive", lc.boxes["giulai"].mail) not in actions  # held
    state = lc.state_of("nhanroi")
    assert state["congvuAccountState"] == ["locked"] and state["congvuLockReason"] == ["inactivity"]
    # the runs since the warning was delivered read its delivery in the journal: the system's own
    # message is not the reader's mail activity, or the warning would put the lock off for ever
    assert not state.get("congvuLastMailActivity"), state
    assert not imap_login(lc.stage, box) and not smtp_login(lc.stage, box)
    subject = lc.deliver("nhanroi")
    assert wait_for(lambda: lc.stored("nhanroi", subject), timeout=60), "a locked mailbox got no mail"
    # the agency mailbox is itself idle and locked too (Art 7.2.a): read it on the host
    notices = wait_for(lambda: [m for s, m in lc.on_host("vanthu") if "Thông báo tạm khóa" in s], timeout=60)
    assert notices, "the agency mailbox got no notice"
    body = notices[-1].get_content()
    assert AGENCY_NAME in str(notices[-1]["Subject"]), str(notices[-1]["Subject"])
    assert box.mail in body, body
    assert "Điều 7" in body and "thu hồi ngày" in body
    assert lc.state_of("giulai")["congvuAccountState"] == ["active"]


def test_reclaim_archives_first_retires_and_the_archive_restores(lc):
    # Hà Nam Art 6.2.c: six months without sending or receiving -> reclaimed. Nothing is lost: the
    # mailbox is archived and checked before the account is retired (issue 12 item 3), Postfix then
    # refuses the address, and the archive restores into another mailbox (docs/lifecycle.md, "Archive").
    box = lc.boxes["nhanroi"]
    rc, report, err = lc.run(190)
    assert rc == 0, (err, report and report["failures"])
    actions = {(a["action"], a["mail"]): a for a in report["plan"]}
    assert actions[("reclaim", box.mail)]["article"] == "Hà Nam Art 6.2.c"
    assert ("reclaim", lc.boxes["giulai"].mail) not in actions  # held until T0+250
    (archive,) = [a for a in report["archives"] if a["mail"] == box.mail]
    assert lc.state_of("nhanroi")["congvuAccountState"] == ["retired"]
    manifest = json.loads(lc.host.out(f"cat {archive['archive']}/manifest.json"))
    assert manifest["status"] == "complete" and manifest["article"] == "Hà Nam Art 6.2.c"
    assert manifest["counts"].get("INBOX", 0) >= 2, manifest  # the warning, the mail delivered while locked
    assert lc.host.run(f"test -e /var/vmail/{lc.domain}/lc.nhanroi").returncode != 0, "live mailbox left"
    with pytest.raises(smtplib.SMTPRecipientsRefused):
        lc.deliver("nhanroi")
    # and leaves the agency's mailing list, where Postfix would bounce every post to the list's sender
    assert ldap_attrs(lc.stage, lc.list_dn, "member")["member"] == [lc.boxes["khoiphuc"].dn]
    # the documented restore: doveadm import of the archive into a live mailbox
    target = lc.boxes["khoiphuc"].mail
    res = lc.host.run(f"doveadm import -u {target} -s maildir:{archive['archive']}/Maildir '' all")
    assert res.returncode == 0, res.stderr_text
    restored = [s for s, _ in lc.inbox_subjects("khoiphuc")]
    assert any("Thư kiểm thử vòng đời" in s for s in restored), restored


def test_the_audit_log_records_each_action_with_its_article(lc):
    # Issue 12 item 5: who, what, when and the article, for the regulations' reports.
    out = lc.host.out(f"cat {lc.state}/audit/*.jsonl")
    records = [json.loads(line) for line in out.splitlines() if line.strip()]
    seen = {(r["action"], r["mail"], r.get("article")) for r in records}
    assert ("lock_default_password", lc.boxes["moi"].mail, "Hà Nam Art 7.2.d") in seen
    assert ("lock_inactive", lc.boxes["nhanroi"].mail, "Hà Nam Art 7.2.a") in seen
    assert ("reclaim", lc.boxes["nhanroi"].mail, "Hà Nam Art 6.2.c") in seen
    assert any(r["action"] == "archive" and r["mail"] == lc.boxes["nhanroi"].mail for r in records)
