"""Mailboxes copied in from an incumbent IMAP server (issue 16 item 4; docs/migration.md):
playbooks/migrate.yml on the all-in-one layout. The layout's own Dovecot plays the old server (IMAPS,
a mailbox of its own with Vietnamese folder names, flags, a large message and one without a
Message-ID); the copy goes into another account, as into a new system's account."""

from __future__ import annotations

import csv
import pathlib
import re
import subprocess
import uuid

import yaml
from backup_checks import (
    accounts,  # noqa: F401  (the fixture)
    imap_login,
    imap_session,
    ldap_attrs,
    ldap_modify,
    mx,
    playbook,
)
from mailcore import imap_quote

FOLDERS = ("INBOX", "Hồ sơ", "Hồ sơ/Công văn đến", "Lưu trữ 2024")


def message(subject: str, size: int = 0, message_id: bool = True) -> bytes:
    mid = f"Message-ID: <{uuid.uuid4()}@cu.example.gov.vn>\r\n" if message_id else ""
    body = "Công văn số 12/KT gửi kèm.\r\n" + ("Nội dung đính kèm dài.\r\n" * (size // 26))
    return (f"From: Văn thư <vanthu@example.gov.vn>\r\nTo: nguoinhan@example.gov.vn\r\n"
            f"Subject: {subject}\r\n{mid}MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            f"{body}Trân trọng.\r\n").encode()


def messages_in(conn, folder: str) -> list[tuple[bytes, frozenset[str]]]:
    """(raw message, flags) of every message of ``folder``, sorted (a multiset: no key needed)."""
    typ, _ = conn.select(imap_quote(folder), readonly=True)
    assert typ == "OK", folder
    _, ids = conn.search(None, "ALL")
    found = []
    for num in ids[0].split():
        _, data = conn.fetch(num, "(FLAGS BODY.PEEK[])")
        flags = frozenset(re.search(rb"FLAGS \(([^)]*)\)", data[0][0]).group(1).decode().split())
        found.append((data[0][1], flags & {"\\Seen", "\\Flagged"}))
    return sorted(found)


def empty_mailbox(stage, address: str) -> None:
    home = mx(stage).out(f"doveadm user -f home {address}").strip()
    assert home.startswith("/var/vmail/"), home
    mx(stage).out(f"rm -rf '{home}'")


def vaulted(stage, path: pathlib.Path, data: dict) -> pathlib.Path:
    """The migration file as the docs ask for it: ansible-vault encrypted (it holds passwords)."""
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    subprocess.run(["ansible-vault", "encrypt", "--vault-password-file",
                    str(stage.inventory / ".secrets" / "demo-vault-password"), str(path)],
                   check=True, capture_output=True)
    return path


def migrate(stage, job: pathlib.Path, *extra: str):
    """playbooks/migrate.yml as the docs run it, with the vault password of the file."""
    return playbook(stage, "migrate.yml", "-e", f"migration_file={job}", "--vault-password-file",
                    str(stage.inventory / ".secrets" / "demo-vault-password"), *extra)


def report_rows(run) -> list[dict]:
    found = re.findall(r"/\S+/artifacts/migration/\S+?\.csv", run.flat)
    assert found, run.stdout[-3000:]
    path = pathlib.Path(found[-1])
    with path.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_bad_migration_files_are_refused_whole_before_anything_is_copied(stage, accounts, tmp_path):  # noqa: F811
    target = accounts.ensure("moi")
    data = {"source": {"host": mx(stage).name, "port": 993, "tls": "plain", "colour": "blue"},
            "mailboxes": [{"source": "a@cu.example.gov.vn", "target": target.mail, "password": "x"},
                          {"source": "b@cu.example.gov.vn", "target": target.mail.upper(), "password": "y"},
                          {"source": "c@cu.example.gov.vn", "target": "không phải địa chỉ"},
                          {"source": "a@cu.example.gov.vn", "target": "khac@hanam.gov.vn", "password": "z"}]}
    before = mx(stage).out(f"doveadm mailbox status -u {target.mail} messages '*' || true")
    run = migrate(stage, vaulted(stage, tmp_path / "bad.yaml", data))
    assert run.returncode != 0
    for said in ("colour: unknown key", "is not one of imaps, starttls",
                 f"target {target.mail} is also the target of mailboxes[1]",
                 "is not a mail address [the account's address here]",
                 "no password, and the source has no master user",
                 "source a@cu.example.gov.vn is also the source of mailboxes[1]", "nothing copied"):
        assert said in run.flat, (said, run.stdout[-3000:])
    assert "Copy and verify every mailbox" not in run.stdout
    assert mx(stage).out(f"doveadm mailbox status -u {target.mail} messages '*' || true") == before


def test_mailboxes_come_in_complete_and_once_even_after_a_pass_stopped_halfway(stage, accounts, tmp_path):  # noqa: F811
    old, new = accounts.ensure("cu"), accounts.ensure("moi")
    for person in (old, new):
        empty_mailbox(stage, person.mail)
    sent = {}
    with imap_session(stage, old) as conn:
        for folder in FOLDERS[1:]:
            assert conn.create(imap_quote(folder))[0] == "OK", folder
        for n, folder in enumerate(FOLDERS * 10):
            raw = message(f"Công văn {n} — {folder}", size=2_000)
            assert conn.append(imap_quote(folder), r"(\Seen \Flagged)" if n % 3 == 0 else r"(\Seen)", None,
                               raw)[0] == "OK"
        conn.append(imap_quote("Hồ sơ/Công văn đến"), None, None, message("Hồ sơ lớn", size=3_000_000))
        conn.append("INBOX", None, None, message("Thư không có Message-ID", message_id=False))
        conn.append("INBOX", None, None, message("Thư không có Message-ID", message_id=False))
        for folder in FOLDERS:
            sent[folder] = messages_in(conn, folder)
    assert sum(len(v) for v in sent.values()) == 43
    data = {"source": {"host": mx(stage).name, "port": 993, "tls": "imaps"},
            "mailboxes": [{"source": old.mail, "target": new.mail, "password": old.password}]}
    job = vaulted(stage, tmp_path / "migration.yaml", data)

    # A pass that stops part-way (here: one folder of the new mailbox cannot be written, as on a disk
    # that went read-only): the run fails, and its report says what is missing
    stuck = "Lưu trữ 2024"
    node = mx(stage)
    node.out(f"doveadm mailbox create -u {new.mail} '{stuck}'")
    path = node.out(f"doveadm mailbox path -u {new.mail} '{stuck}'").strip()
    node.out(f"chmod 0500 '{path}/cur' '{path}/new' '{path}/tmp'")
    try:
        first = migrate(stage, job)
    finally:
        node.out(f"chmod 0700 '{path}/cur' '{path}/new' '{path}/tmp'")
    assert first.returncode != 0, first.stdout[-3000:]
    assert "NOT COMPLETE" in first.flat and "not complete" in first.flat, first.stdout[-3000:]
    rows = {r["folder"]: r for r in report_rows(first)}
    assert rows[stuck]["ok"] == "False" and int(rows[stuck]["missing"]) == 10, rows[stuck]
    assert all(r["ok"] == "True" for f, r in rows.items() if f != stuck), rows
    assert all(r["duplicated"] == "0" for r in rows.values()), rows

    # Put right, the next pass copies what is missing and nothing twice
    second = migrate(stage, job)
    assert second.returncode == 0, second.stdout[-4000:]
    assert "10 messages brought in by this pass" in second.flat, second.stdout[-3000:]
    rows = report_rows(second)
    assert set(FOLDERS) <= {r["folder"] for r in rows}, rows  # with the old server's empty Sent, Trash...
    assert all(r["ok"] == "True" and r["source_messages"] == r["target_messages"] for r in rows), rows
    assert sum(int(r["target_messages"]) for r in rows) == 43
    with imap_session(stage, new) as conn:
        for folder in FOLDERS:  # byte for byte, with their flags, each once
            assert messages_in(conn, folder) == sent[folder], folder

    # Mail delivered to the new mailbox since is kept; --check copies nothing and still verifies
    with imap_session(stage, new) as conn:
        conn.append("INBOX", None, None, message("Thư mới sau khi chuyển"))
    check = migrate(stage, job, "--check")
    assert check.returncode == 0, check.stdout[-3000:]
    inbox = next(r for r in report_rows(check) if r["folder"] == "INBOX")
    assert (int(inbox["source_messages"]), int(inbox["target_messages"])) == (12, 13), inbox
    again = migrate(stage, job)
    assert again.returncode == 0, again.stdout[-3000:]
    assert "0 messages brought in by this pass" in again.flat, again.stdout[-3000:]
    assert re.search(r"TASK \[Copy and verify every mailbox\] \**\s+ok:", again.stdout), again.stdout[-3000:]
    assert sum(int(r["target_messages"]) for r in report_rows(again)) == 44


def test_old_passwords_come_over_where_the_directory_checks_them_and_the_user_chose_none(
        stage, accounts, tmp_path):  # noqa: F811
    """The old directory's hashes (password_hash): a {CRYPT} SHA512-crypt hash becomes the password
    of an account still on its initial password, with no forced change (Hà Nam Art 8.2.a forces the
    change of the initial password the system issued; this one is the user's own); a {SSHA512} hash
    (no pw-sha2 module here) leaves the initial password and its forced change; a password the user
    has set here since is never replaced. Each carried password is in the audit log."""
    old, old2 = accounts.ensure("cu", "Cu#Matkhau2019"), accounts.ensure("cu2", "Cu2#Matkhau2019")
    new, new2 = accounts.ensure("moi", must_change=True), accounts.ensure("moi2", must_change=True)
    assert old.password != new.password
    for person in (old, old2, new, new2):
        empty_mailbox(stage, person.mail)
    old_hash = ldap_attrs(stage, old.dn, "userPassword")["userPassword"][0]
    assert old_hash.startswith("{CRYPT}$6$"), old_hash
    data = {"source": {"host": mx(stage).name, "port": 993, "tls": "imaps"},
            "mailboxes": [{"source": old.mail, "target": new.mail, "password": old.password,
                           "password_hash": old_hash},
                          {"source": old2.mail, "target": new2.mail, "password": old2.password,
                           "password_hash": "{SSHA512}c2hhNTEyIHNhbHRlZCBoYXNoIGZyb20gWmltYnJh"}]}
    job = vaulted(stage, tmp_path / "passwords.yaml", data)
    assert not imap_login(stage, new, old.password)
    since = mx(stage).out("date +%s").strip()

    run = migrate(stage, job)
    assert run.returncode == 0, run.stdout[-4000:]
    assert f"{new.mail}: carry ({{CRYPT}})" in run.flat, run.stdout[-3000:]
    assert f"{new2.mail}: reset ({{SSHA512}})" in run.flat, run.stdout[-3000:]
    assert imap_login(stage, new, old.password)  # the old password, no forced change first
    assert not imap_login(stage, new, new.password)
    assert ldap_attrs(stage, new.dn, "congvuMustChangePassword")["congvuMustChangePassword"] == ["FALSE"]
    assert not ldap_attrs(stage, new.dn, "pwdReset").get("pwdReset")
    assert ldap_attrs(stage, new2.dn, "congvuMustChangePassword")["congvuMustChangePassword"] == ["TRUE"]
    assert ldap_attrs(stage, new2.dn, "pwdReset").get("pwdReset") == ["TRUE"]
    assert not imap_login(stage, new2, old2.password)
    ldap_host = stage.first("ldap_servers")
    records = ldap_host.out(f"find /var/lib/congvu/audit -name 'audit-*.jsonl' -newermt @{since} "
                            "-exec grep -h password_carried {} +")
    assert new.mail in records and new2.mail not in records and "CRYPT" in records, records

    # the user sets another one here (written as root, then its reset mark cleared, as after the
    # user's own change); a later pass leaves it alone
    ldap_modify(stage, f"dn: {new.dn}\nchangetype: modify\nreplace: userPassword\n"
                       f"userPassword: {new.password}\n")
    accounts.clear_ppolicy(new)
    again = migrate(stage, job)
    assert again.returncode == 0, again.stdout[-3000:]
    assert f"{new.mail}: kept ({{CRYPT}})" in again.flat, again.stdout[-3000:]
    assert imap_login(stage, new, new.password) and not imap_login(stage, new, old.password)
