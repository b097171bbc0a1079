"""The disaster-recovery drill of the split layout (issue 13, docs/backup.md "Disaster recovery").

Three servers die at once, the directory, the mail and the filter host: each container is removed
with everything it held and an empty one takes its name and address (``./stage replace``). The
webmail host, which is also the backup server, loses its webmail database. The operator then runs
what docs/backup.md says: ``site.yml`` for the new hosts, ``playbooks/restore.yml -e restore_host=all
-e restore_apply=true``, and the DNS records again. Everything must be back: every message byte for
byte in its folder with its flags (Vietnamese folder names, an organisation mailbox, a locked
account's mailbox), the Sieve script, every directory entry with its attributes and the passwords
that log in, the DKIM keys (a signature made after the restore verifies against the record published
before the disaster, and the zone snippets are the same), Rspamd's Redis data, the webmail users.
The layout has two directory servers: the first dies, the second lives, so the rebuilt first takes
the directory back from it by replication when site.yml deploys it, and the restore loads no directory
archive over it (docs/backup.md, "Several directory servers"); the comparison with the entries before
the disaster is the same.
The other tests of the layout that run after this file run on the restored hosts.
"""

from __future__ import annotations

import imaplib
import json
import os
import pathlib
import re
import subprocess

try:  # tests/layouts is a plain directory, or a package named layouts
    from attacks import accounts, imap_session, ldap_modify, tls_context
    from backup_checks import back_up, fetch_all, playbook, raw_message
    from dkim_checks import sign
    from filtermail import dkim_record, dkim_verifies
    from mailcore import imap_quote
    from polling import wait_until
except ImportError:  # pragma: no cover
    from layouts.attacks import accounts, imap_session, ldap_modify, tls_context  # noqa: F401
    from layouts.backup_checks import back_up, fetch_all, playbook, raw_message
    from layouts.dkim_checks import sign
    from layouts.filtermail import dkim_record, dkim_verifies
    from layouts.mailcore import imap_quote
    from layouts.polling import wait_until

ROOT = pathlib.Path(__file__).resolve().parents[3]
FOLDER = "Công văn đến/Năm 2026"
WEBMAIL_DB = "/var/lib/dbconfig-common/sqlite3/roundcube/roundcube"  # backup_webmail_sqlite_dir
SIEVE = 'require ["fileinto"];\nif header :contains "subject" "Hỏa tốc" { fileinto "INBOX"; stop; }\n'

# Every message of the mail store: (mailbox directory, folder, Message-ID) -> [sha256, flags].
STORE = r'''
import hashlib, json, os, re, sys
out = {}
for top, dirs, files in os.walk("/var/vmail"):
    if os.path.basename(top) not in ("cur", "new") or "/.congvu-tmp-" in top:
        continue
    maildir = os.path.dirname(top)
    for name in files:
        path = os.path.join(top, name)
        data = open(path, "rb").read()
        mid = re.search(rb"^Message-ID:\s*(\S+)", data, re.M | re.I)
        flags = name.rpartition(":2,")[2] if ":2," in name else ""
        ident = mid.group(1).decode() if mid else name.split(",")[0]
        key = maildir.replace("/var/vmail/", "") + "|" + ident
        out[key] = [hashlib.sha256(data).hexdigest(), "".join(sorted(flags))]
json.dump(out, sys.stdout)
'''
OPERATIONAL = re.compile(r"^(entryCSN|modifyTimestamp|modifiersName|contextCSN|pwdLastSuccess|"
                         r"pwdFailureTime|authTimestamp):", re.I)


def store(mx) -> dict:
    return json.loads(mx.out("python3 -", stdin=STORE))


def replicated(mx, held: dict) -> dict:
    """The messages of ``held`` (a store) in the mailboxes of accounts Dovecot lists, the ones
    replication carries; a mailbox left on disk by an account deleted from the directory (the other
    tests' throwaway accounts) is not one of them (docs/mailcore.md, "Two mailbox servers")."""
    homes = mx.out("for u in $(doveadm user '*'); do doveadm user -f home \"$u\"; done").split()
    assert homes, "Dovecot lists no account"
    return {k: v for k, v in held.items()
            if any(f"/var/vmail/{k.split('|')[0]}/".startswith(f"{h}/") for h in homes)}


def wait_for_store(mx, wanted: dict, seconds: float = 600) -> None:
    """Until ``mx``'s store holds every message of ``wanted`` as it was, which replication brings
    (AssertionError naming what is missing or different, and the replicator's account of it, after
    ``seconds``: a failed sync is retried five minutes later)."""
    def differ() -> list[str]:
        now = store(mx)
        return sorted(k for k, v in wanted.items() if now.get(k) != v)

    def why() -> str:
        missing = differ()
        return (f"{len(missing)} message(s) missing or different on {mx.name}, e.g. {missing[:5]}\n"
                + mx.run("doveadm replicator status '*'").stdout_text)

    wait_until(f"{mx.name}'s mail store by replication", lambda: not differ(), seconds, step=2, explain=why)


def directory(ldap) -> list[str]:
    """slapcat of the data, operational attributes that change on their own left out, sorted by DN."""
    text = ldap.out("slapcat -n 1 -o ldif-wrap=no")
    entries = []
    for block in text.strip().split("\n\n"):
        lines = [line for line in block.splitlines() if not OPERATIONAL.match(line)]
        entries.append("\n".join(sorted(lines)))
    return sorted(entries)


def zones(stage) -> dict[str, str]:
    """The zone snippets playbooks/dns.yml wrote for the operator to publish (docs/dns.md)."""
    return {z.name: z.read_text(encoding="utf-8") for z in sorted(stage.dns_dir.glob("*.zone"))}


def stage_command(stage, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CONGVU_STAGE_NAME": stage.name,
           "CONGVU_STAGE_INVENTORY": str(stage.inventory / "hosts.yml"), "CONGVU_STAGE_PORTS": "none"}
    return subprocess.run([str(ROOT / "stage"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def test_three_dead_hosts_and_a_lost_database_come_back_from_the_backups(stage, accounts):
    mx, ldap = stage.first("mail_servers"), stage.first("ldap_servers")
    flt, web = stage.first("filter_servers"), stage.first("webmail_servers")

    # --- what there is to lose -----------------------------------------------------------------
    person = accounts.ensure("khoiphuc")
    locked = accounts.ensure("khoiphuc.khoa")
    conn = imap_session(stage, person)
    try:
        conn.create(imap_quote(FOLDER))
        conn.append("INBOX", r"(\Seen \Flagged)", None, raw_message("Công văn hỏa tốc", person.mail))
        conn.append("INBOX", r"(\Answered)", None, raw_message("Giấy mời họp", person.mail))
        conn.append(imap_quote(FOLDER), r"(\Seen)", None, raw_message("Quyết định số 15", person.mail))
        mailbox = {**fetch_all(conn, "INBOX"), **fetch_all(conn, FOLDER)}
    finally:
        conn.logout()
    conn = imap_session(stage, locked)
    try:
        conn.append("INBOX", r"(\Seen)", None, raw_message("Thư trước khi khóa", locked.mail))
    finally:
        conn.logout()
    ldap_modify(stage, f"dn: {locked.dn}\nchangetype: modify\nreplace: congvuAccountState\n"
                       "congvuAccountState: locked\n")
    mx.out(f"doveadm sieve put -a -u {person.mail} hoa-toc", stdin=SIEVE)
    # an organisation mailbox: the agency's, as the directory names it
    found = ldap.out(f"ldapsearch -LLL -Q -Y EXTERNAL -H ldapi:/// -b '{accounts.org_dn}' -s base mail")
    org_mail = found.split("mail: ")[1].split()[0]
    mx.out(f"doveadm save -u {org_mail} -m INBOX", stdin=raw_message("Văn bản đến cơ quan", org_mail))
    web_users = f"sqlite3 {WEBMAIL_DB} 'select username from users order by 1'"
    # Rspamd's learned state lives in Redis: a marker stands for the Bayes statistics
    marker = f"congvu:drill:{os.getpid()}"
    flt.out(f"redis-cli set {marker} 'Thư rác đã học'")
    before = {"store": store(mx), "directory": directory(ldap),
              "sieve": mx.out(f"doveadm sieve get -u {person.mail} hoa-toc"),
              "dkim": flt.out("cd /var/lib/rspamd/dkim && sha256sum *.key"),
              "zones": zones(stage),
              "webmail": web.out(web_users)}
    seeded = [k for k in before["store"] if k.endswith(tuple(mailbox))]
    assert len(seeded) == len(mailbox), "the seeded messages are not in the store"
    paired = len(stage.groups["mail_servers"]) > 1
    if paired:
        # replication is asynchronous: the drill is of a disaster once the second mailbox server holds
        # what the first holds (mail the first took in its last seconds would come back with the first
        # only, docs/backup.md "Two mailbox servers")
        wait_for_store(stage.hosts[stage.groups["mail_servers"][1]], replicated(mx, before["store"]))
    # every host, the survivors too: `restore.yml -e restore_host=all` refuses a host without an
    # archive, and on a fresh layout nothing else has backed up the second directory and mailbox
    # servers yet (found running this file alone)
    for host in stage.hosts.values():
        assert back_up(host)["result"] == "ok", host.name

    # --- the disaster ----------------------------------------------------------------------------
    dead = (ldap, mx, flt)
    for host in dead:
        replaced = stage_command(stage, "replace", host.name)
        assert replaced.returncode == 0, replaced.stdout + replaced.stderr
    assert mx.run("test -e /var/vmail").returncode != 0  # empty hosts
    assert ldap.run("test -e /var/lib/ldap").returncode != 0
    web.out(f"rm -f {WEBMAIL_DB}")

    # --- the runbook -----------------------------------------------------------------------------
    # three hosts converged from nothing: the layout's other lane may be converging beside them in CI
    deploy = playbook(stage, "site.yml", "-e", "congvu_policy_quiet=true",
                      "--limit", ",".join(h.name for h in dead), timeout=2400)
    assert deploy.returncode == 0, deploy.stdout[-4000:] + deploy.stderr[-2000:]
    shown = playbook(stage, "restore.yml", "-e", f"restore_host={mx.name}")
    assert shown.returncode == 0, shown.stdout[-3000:]
    assert "nothing changed (add --apply" in shown.flat, shown.stdout[-3000:]
    if not paired:  # with two mailbox servers the other one's replicator may have refilled it already
        assert not set(seeded) & set(store(mx))
    restore = playbook(stage, "restore.yml", "-e", "restore_host=all", "-e", "restore_apply=true")
    assert restore.returncode == 0, restore.stdout[-5000:] + restore.stderr[-2000:]
    for host in (ldap, mx, flt, web):
        assert f"{host.name}" in restore.stdout
    if len(stage.groups["ldap_servers"]) > 1:
        # docs/backup.md, "Several directory servers": the rebuilt first server joined the second when
        # site.yml deployed it, so no archive is loaded over what replication brought back
        assert "comes back by replication from" in restore.stdout, restore.stdout[-5000:]
        assert "not loaded from the archive" in restore.stdout, restore.stdout[-5000:]
    # every message there was (mail that arrived since may be there too)
    expected = before["store"]
    if paired:
        # docs/backup.md, "Two mailbox servers": the second mailbox server still holds every mailbox,
        # so the rebuilt first takes them from it by replication and loads no archive over them
        assert "The mail store comes back by replication from" in restore.stdout, restore.stdout[-5000:]
        assert "the other mailbox server holds the mail" in restore.stdout, restore.stdout[-5000:]
        expected = replicated(mx, expected)
        wait_for_store(mx, expected)
    # the zone snippets site.yml wrote for the new filter host's keys are written again from the
    # restored ones (docs/backup.md, the dkim row)
    dns = playbook(stage, "policy.yml", "dns.yml", "-e", "congvu_policy_quiet=true")
    assert dns.returncode == 0, dns.stdout[-3000:]

    # --- nothing lost ----------------------------------------------------------------------------
    assert directory(ldap) == before["directory"]
    after = store(mx)
    assert {key: after.get(key) for key in expected} == expected
    conn = imap_session(stage, person)  # the password in the restored directory logs in
    try:
        back = {**fetch_all(conn, "INBOX"), **fetch_all(conn, FOLDER)}
    finally:
        conn.logout()
    assert back.keys() == mailbox.keys()
    for mid, (raw, flags) in mailbox.items():
        assert back[mid] == (raw, flags), mid
    try:
        imap_session(stage, locked)
        raise AssertionError("the locked account logs in after the restore")
    except imaplib.IMAP4.error:
        pass
    assert mx.out(f"doveadm sieve get -u {person.mail} hoa-toc") == before["sieve"]
    assert flt.out("cd /var/lib/rspamd/dkim && sha256sum *.key") == before["dkim"]
    assert zones(stage) == before["zones"]
    domain = stage.policy["domains"]["primary"]
    assert dkim_verifies(sign(flt, domain), dkim_record(stage, domain))
    assert web.out(web_users) == before["webmail"]
    assert flt.out(f"redis-cli --raw get {marker}").strip() == "Thư rác đã học"
    flt.out(f"redis-cli del {marker}")
    # mail flows to the restored mailbox, and the rebuilt host backs up to the same repository
    mx.out(f"doveadm save -u {person.mail} -m INBOX", stdin=raw_message("Sau khi khôi phục", person.mail))
    assert back_up(mx)["result"] == "ok"
