"""The account lifecycle on the split layout (Gia Lai): the daily run on the mail host binds to the
directory on another host (389 + StartTLS, cn=lifecycle) and succeeds, and it and Dovecot read every
account past slapd's size limit over that connection. The rules themselves, with the clock moved, are
checked on the all-in-one layout (tests/layouts/lifecycle_checks.py). Here, what two mailbox servers
add (docs/lifecycle.md, "Two mailbox servers"): the second counts the mail its own logs saw, and sets
aside its copy of a mailbox the first reclaimed."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import smtplib
import uuid

import pytest
from attacks import Account, base_dn, imap_login, ldap_attrs, ldap_root
from polling import wait_until

from congvu.lifecycle_dir import day_time

try:  # tests/layouts is a plain directory, or a package named layouts
    from lifecycle_checks import (
        TEST_CONFIG,
        test_the_daily_run_is_scheduled_and_succeeds_today,
        test_the_run_and_dovecot_read_every_account_past_slapds_size_limit,
        write_test_config,
    )
except ImportError:  # pragma: no cover
    from layouts.lifecycle_checks import (  # noqa: F401
        TEST_CONFIG,
        test_the_daily_run_is_scheduled_and_succeeds_today,
        test_the_run_and_dovecot_read_every_account_past_slapds_size_limit,
        write_test_config,
    )

AGENCY = "ktbansao"


class Pair:
    """A test agency with one mailbox, and each mail server's run with the role's configuration limited
    to that agency and its own state (archive root, audit log, journal cursor)."""

    def __init__(self, stage):
        self.stage = stage
        self.first, self.second = (stage.hosts[n] for n in stage.groups["mail_servers"])
        self.org_dn = f"o={AGENCY},ou=organisations,{base_dn(stage)}"
        self.domain = stage.policy["domains"]["primary"]
        # a new address each run: the mail logs keep an earlier run's delivery to the last one
        self.uid = f"{AGENCY}.bs{secrets.token_hex(3)}"
        self.mail = f"{self.uid}@{self.domain}"
        self.dn = f"uid={self.uid},{self.org_dn}"
        self.password = f"Ban#Sao{secrets.token_hex(4)}9"
        self.state = f"/var/lib/congvu-test/{uuid.uuid4().hex[:8]}"
        self.today = dt.date.fromisoformat(self.first.out("TZ=Asia/Ho_Chi_Minh date +%F").strip())

    def setup(self) -> None:
        self.cleanup()
        ldap_root(self.stage, "ldapadd", stdin=(
            f"dn: {self.org_dn}\nobjectClass: organization\nobjectClass: congvuOrganisation\no: {AGENCY}\n"
            "displayName: Sở Kiểm thử Bản sao\ncongvuOrgKind: agency\n\n"
            f"dn: {self.dn}\nobjectClass: inetOrgPerson\nobjectClass: congvuMailAccount\n"
            f"uid: {self.uid}\ncn: Kiểm thử bản sao\nsn: Kiểm thử\nmail: {self.mail}\n"
            f"congvuMailboxClass: personal\ncongvuAccountState: active\ncongvuMustChangePassword: FALSE\n"
            f"congvuOrganisationDN: {self.org_dn}\nuserPassword: {self.password}\n"))
        for host in (self.first, self.second):
            write_test_config(host, AGENCY, self.state)

    def cleanup(self) -> None:
        ldap_root(self.stage, f"ldapdelete -r '{self.org_dn}'", check=False)
        for host in (self.first, self.second):
            host.run(f"rm -rf {self.state} {TEST_CONFIG} /var/vmail/{self.domain}/{AGENCY}.*", check=False)

    def run(self, host, day: dt.date, requests: list[dict] | None = None) -> dict:
        extra = ""
        if requests is not None:
            host.run(f"cat > {self.state}/requests.json", stdin=json.dumps(requests), check=True)
            extra = f" --requests {self.state}/requests.json"
        res = host.run(f"/usr/local/sbin/congvu-lifecycle --config {TEST_CONFIG} --json --today {day}{extra}")
        assert res.returncode == 0, (host.name, res.stdout_text, res.stderr_text)
        return json.loads(res.stdout_text)

    def holds(self, host, mid: str) -> bool:
        res = host.run(f"doveadm search -u {self.mail} mailbox INBOX header message-id '{mid}'")
        return res.returncode == 0 and bool(res.stdout_text.strip())


@pytest.fixture(scope="module")
def pair(stage):
    made = Pair(stage)
    made.setup()
    yield made
    made.cleanup()


def test_the_second_mail_server_runs_the_replica_part_before_the_first(pair):
    # docs/lifecycle.md, "Two mailbox servers": the wiring gives every mail host the role; the second
    # runs the replica's part, at 06:00, before the province's run at 06:30 judges inactivity.
    config = json.loads(pair.second.out("cat /etc/congvu/lifecycle.json"))
    assert config["replica"] is True
    assert json.loads(pair.first.out("cat /etc/congvu/lifecycle.json"))["replica"] is False
    assert pair.second.out("systemctl is-enabled congvu-lifecycle.timer").strip() == "enabled"
    timer = "systemctl cat congvu-lifecycle.timer"
    assert "OnCalendar=*-*-* 06:00:00 Asia/Ho_Chi_Minh" in pair.second.out(timer)
    assert "OnCalendar=*-*-* 06:30:00 Asia/Ho_Chi_Minh" in pair.first.out(timer)
    # the unit the timer starts succeeds there, as the replica (its report in the journal)
    since = pair.second.out("date '+%F %T'").strip()
    res = pair.second.run("systemctl start congvu-lifecycle.service")
    assert res.returncode == 0, pair.second.journal(("congvu-lifecycle",))
    log = pair.second.out(f"journalctl -u congvu-lifecycle --since '{since}' --no-pager -o cat")
    assert "(applied, replica)" in log, log
    # requests go to the first server's run (Gia Lai Art 6.3.b: answered by the province's run)
    res = pair.second.run("/usr/local/sbin/congvu-lifecycle --check --requests /dev/null")
    assert res.returncode == 2 and "first mail server" in res.stderr_text, res.stderr_text


def test_mail_and_logins_on_the_second_server_count_and_its_copy_of_a_reclaimed_mailbox_is_set_aside(pair):
    # Gia Lai Art 6.2.a: a login, mail sent or received is activity (Art 5.4: logins); mail that only the
    # second server delivered (a partner's server using the second MX) and a login it served are in the
    # second's logs only, and the login wrote nothing to the directory when it happened.
    mid = f"<{uuid.uuid4()}@doitac.example.org>"
    with smtplib.SMTP(pair.second.address, 25, timeout=120) as smtp:
        smtp.ehlo("doitac.example.org")
        smtp.sendmail("congvan@doitac.example.org", [pair.mail],
                      (f"From: congvan@doitac.example.org\r\nTo: {pair.mail}\r\nSubject: ban sao\r\n"
                       f"Message-ID: {mid}\r\n\r\nKiem thu ban sao.\r\n").encode())
    wait_until(f"{mid} delivered on the second server and replicated to the first",
               lambda: pair.holds(pair.second, mid) and pair.holds(pair.first, mid), seconds=120)
    assert imap_login(pair.stage, Account(pair.dn, pair.mail, pair.password), host=pair.second)
    activity = ("congvuLastMailActivity", "congvuLastLogin", "pwdLastSuccess")
    assert ldap_attrs(pair.stage, pair.dn, *activity) == {}
    report = pair.run(pair.second, pair.today)
    assert report["replica"] and report["activity"]["writes"] >= 1, report
    seen = ldap_attrs(pair.stage, pair.dn, *activity)
    assert seen == {"congvuLastMailActivity": [day_time(pair.today)],
                    "congvuLastLogin": [day_time(pair.today)]}, seen

    # Gia Lai Art 5.4 (reclaim; here on request, Art 6.3.b): the first server archives, retires and
    # removes its copy; the second's copy waits a day (the first finishes its archive first), then is
    # archived on the second, checked, and removed.
    first = pair.run(pair.first, pair.today, requests=[
        {"kind": "reclaim", "mail": pair.mail, "received": str(pair.today), "by": "operator"}])
    assert [a["action"] for a in first["plan"]] == ["reclaim"], first["diff"]
    assert ldap_attrs(pair.stage, pair.dn, "congvuAccountState")["congvuAccountState"] == ["retired"]
    live = f"/var/vmail/{pair.domain}/{pair.uid}"
    assert pair.first.run(f"test -e {live}").returncode != 0, "the first server kept its copy"
    assert pair.run(pair.second, pair.today)["archives"] == []
    assert pair.second.run(f"test -d {live}/Maildir").returncode == 0
    later = pair.run(pair.second, pair.today + dt.timedelta(days=1))
    (archive,) = later["archives"]
    assert later["counts"] == {"replica_archive": 1}, later
    assert pair.second.run(f"test -e {live}").returncode != 0, "the second server kept its copy"
    kept = archive["archive"]
    assert kept.startswith(f"{pair.state}/archive/{pair.mail}/")
    manifest = json.loads(pair.second.out(f"cat {kept}/manifest.json"))
    assert manifest["status"] == "complete" and manifest["action"] == "replica_archive", manifest
    found = pair.second.out(f"grep -rl -F 'Message-ID: {mid}' {kept}/Maildir").strip()
    assert found, f"{mid} is not in the second server's archive {kept}"
    records = [json.loads(line) for line in pair.second.out(f"cat {pair.state}/audit/*.jsonl").splitlines()]
    assert [(r["action"], r["mail"]) for r in records] == [("replica_archive", pair.mail)]
