"""An old system's accounts taken in (issue 16; docs/migration.md, "From the old system's export"):
``playbooks/intake.yml`` turns an LDAP export into a roster and a migration file, the roster apply
creates the account (the scheme's address, the old one kept as an alias), and ``playbooks/migrate.yml``
carries the old password over and copies the mailbox through the old server's master user.

The layout's own Dovecot plays the old server, with the master user the demo inventory configures
(``dovecot_master_user``, as a province merged into another would for the copy): the old account is
a test mailbox of this system, reached with the master user's password only. The new person is added
to a copy of the demo rosters; the entry and its mailbox are removed at the end (and before, if an
earlier run left them).
"""

from __future__ import annotations

import base64
import imaplib
import json
import pathlib
import re
import shlex
import shutil
import subprocess

import pytest
import yaml
from attacks import ldap_attrs, ldap_root, tls_context
from backup_checks import (
    accounts,  # noqa: F401  (the fixture)
    imap_login,
    imap_session,
    mx,
    playbook,
)
from mailcore import MailCore, brief, imap_quote, unique
from polling import wait_for
from test_migration import empty_mailbox, message, messages_in

ROOT = pathlib.Path(__file__).resolve().parents[3]
PERSON_ID = "KT-NHAP-0001"
NAME = "Lê Thị Nhập"
OLD_ADDRESS = "nhap.lt@hanam.gov.vn"
OLD_PASSWORD = "CuMatKhau#2024-nhap"
OLD_ORG = "Văn phòng (hệ thống cũ)"
FOLDERS = ("INBOX", "Hồ sơ cũ")


def _vault(stage) -> str:
    return str(stage.inventory / ".secrets" / "demo-vault-password")


def _find(stage) -> list[str]:
    base = stage.wiring[stage.first("ldap_servers").name]["postfix_ldap_base_dn"]
    out = ldap_root(stage, f"ldapsearch -LLL -o ldif-wrap=no -b 'ou=organisations,{base}' "
                           f"'(employeeNumber={PERSON_ID})' dn", check=False).stdout_text
    return [line[4:] for line in out.splitlines() if line.startswith("dn: ")]


def _remove(stage) -> None:
    for dn in _find(stage):
        for address in ldap_attrs(stage, dn, "mail").get("mail", []):
            local, _, domain = address.partition("@")
            mx(stage).run(f"rm -rf {shlex.quote(f'/var/vmail/{domain}/{local}')}")
        ldap_root(stage, f"ldapdelete {shlex.quote(dn)}", check=False)


@pytest.fixture
def clean(stage):
    _remove(stage)
    yield
    _remove(stage)


def _export(source_login: str) -> str:
    """The old directory's export (ldapsearch LDIF of inetOrgPerson entries): the person, whose old
    login is ``source_login``, and a guest account whose organisation the intake file skips."""
    crypt = subprocess.run(["openssl", "passwd", "-6", OLD_PASSWORD], check=True, capture_output=True,
                           text=True).stdout.strip()
    name = base64.b64encode(NAME.encode()).decode()
    return (f"version: 1\n\ndn: uid=nhap.lt,ou=people,dc=cu,dc=hanam\nobjectClass: inetOrgPerson\n"
            f"uid: {source_login}\nmail: {OLD_ADDRESS}\ncn:: {name}\nemployeeNumber: {PERSON_ID}\n"
            f"birthDate: 1988-08-08\nou: {OLD_ORG}\ntitle: Chuyên viên\nuserPassword: {{CRYPT}}{crypt}\n"
            "\ndn: uid=khach,ou=people,dc=cu,dc=hanam\nobjectClass: inetOrgPerson\nuid: khach\n"
            "mail: khach@hanam.gov.vn\ncn: Tài Khoản Khách\nou: Khách\n")


def _intake(stage, path: pathlib.Path, export: pathlib.Path, organisations: dict, out: pathlib.Path):
    master = (stage.inventory / ".secrets" / "dovecot_master_password").read_text().strip()
    data = {"export": str(export), "format": "ldap", "fields": {"birth_date": "birthDate"},
            "addresses": "scheme", "organisations": organisations,
            "source": {"host": mx(stage).name, "port": 993, "tls": "imaps", "master_user": "migration",
                       "master_password": master}}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return playbook(stage, "intake.yml", "-e", f"intake_file={path}", "-e", f"intake_out_dir={out}",
                    "-e", f"intake_vault_password_file={_vault(stage)}")


def test_an_export_becomes_an_account_with_its_old_address_password_and_mail(stage, accounts, clean,  # noqa: F811
                                                                            tmp_path):
    old = accounts.ensure("nguon")  # the old system's mailbox
    empty_mailbox(stage, old.mail)
    with imap_session(stage, old) as conn:
        assert conn.create(imap_quote(FOLDERS[1]))[0] == "OK"
        for n in range(8):
            folder = FOLDERS[n % 2]
            assert conn.append(imap_quote(folder), r"(\Seen)" if n % 3 else None, None,
                               message(f"Công văn cũ {n}", size=1_500))[0] == "OK"
        sent = {folder: messages_in(conn, folder) for folder in FOLDERS}
    export = tmp_path / "old-directory.ldif"
    export.write_text(_export(old.mail), encoding="utf-8")
    out = tmp_path / "intake"
    org = "stttt"

    # An organisation the intake file does not map stops it, named, before anything is written
    bad = _intake(stage, tmp_path / "intake-bad.yaml", export, {OLD_ORG: org}, out)
    assert bad.returncode != 0
    assert "organisation 'Khách' is not in the intake file's organisations" in bad.flat, bad.stdout[-3000:]
    assert not out.exists()

    run = _intake(stage, tmp_path / "intake.yaml", export, {OLD_ORG: org, "Khách": "skip"}, out)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    roster = (out / "rosters" / f"{org}.csv").read_text(encoding="utf-8-sig").splitlines()
    assert roster == ["Mã cán bộ,Họ và tên,Ngày sinh,Đơn vị,Chức vụ,Địa chỉ thư,Bí danh",
                      f"{PERSON_ID},{NAME},1988-08-08,{org},Chuyên viên,,{OLD_ADDRESS}"]
    assert (out / "migration.yml").read_text().startswith("$ANSIBLE_VAULT;")
    again = _intake(stage, tmp_path / "intake.yaml", export, {OLD_ORG: org, "Khách": "skip"}, out)
    assert again.returncode == 0 and re.search(r"changed=0\b", again.stdout), again.stdout[-2000:]

    # The roster apply, as the operator runs it with the intake's roster beside the province's
    data = tmp_path / "accounts"
    shutil.copytree(ROOT / "data" / "demo" / stage.province, data)
    shutil.copy(out / "rosters" / f"{org}.csv", data / "rosters" / f"intake-{org}.csv")
    apply = playbook(stage, "accounts.yml", "-e", f"accounts_data_dir={data}",
                     "-e", f"accounts_credentials_dir={data}/credentials",
                     "-e", "accounts_vault_password=intake-test-vault-2026")
    assert apply.returncode == 0, apply.stdout[-3000:] + apply.stderr[-2000:]
    (dn,) = _find(stage)
    entry = ldap_attrs(stage, dn, "mail", "congvuMailAlias")
    (new,) = entry["mail"]
    assert new != OLD_ADDRESS and new.endswith("@hanam.gov.vn"), new
    assert entry["congvuMailAlias"] == [OLD_ADDRESS]

    # The migration file the intake wrote: the target is the old address, an alias of the account
    # (as JSON: the helper takes a word ending in .yml for a playbook)
    migrate = playbook(stage, "migrate.yml", "-e", json.dumps({"migration_file": f"{out}/migration.yml"}),
                       "--vault-password-file", _vault(stage))
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-2000:]
    assert f"{new}: carry ({{CRYPT}})" in migrate.flat, migrate.stdout[-3000:]
    assert f"{new} (from {old.mail}): OK; 8 messages brought in" in migrate.flat, migrate.stdout[-3000:]

    # The old password opens the new account, which holds the old mail, flags and folders included
    person = type(old)(dn, new, OLD_PASSWORD)
    assert imap_login(stage, person)
    with imap_session(stage, person) as conn:
        assert {folder: messages_in(conn, folder) for folder in FOLDERS} == sent

    # Mail to the old address arrives in the new mailbox
    subject = unique("Thư gửi địa chỉ cũ")
    sent_mail = MailCore(stage).internet(rcpts=[OLD_ADDRESS], subject=subject)
    assert sent_mail["ok"], brief(sent_mail)
    assert wait_for(lambda: MailCore(stage).has_mail_on_host(new, subject))


def test_the_master_user_opens_mailboxes_over_imap_from_its_networks_only(stage, accounts):  # noqa: F811
    # dovecot_master_user (docs/migration.md, "When the old system is congvu-mail"): from the mail
    # host's own address (its dovecot_master_user_networks) over IMAP; not from elsewhere, and no
    # other service (here SMTP AUTH on submission) takes it
    person = accounts.ensure("chu")
    master = (stage.inventory / ".secrets" / "dovecot_master_password").read_text().strip()
    node = mx(stage)
    # the token goes in as its repr ('\x00' separators): a "\0" written before a password that starts
    # with a digit from 0 to 7 would be read as one octal escape, and Dovecot would get one NUL
    token = f"{person.mail}\0migration\0{master}"
    script = f"""
import base64, imaplib, smtplib, ssl
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
token = {token!r}
imap = imaplib.IMAP4_SSL("{node.address}", 993, ssl_context=ctx)
print("imap", imap.authenticate("PLAIN", lambda _: token.encode())[0])
smtp = smtplib.SMTP("{node.address}", 587)
smtp.starttls(context=ctx)
smtp.ehlo()
print("smtp", smtp.docmd("AUTH", "PLAIN " + base64.b64encode(token.encode()).decode())[0])
"""
    ran = node.run(f"python3 -c {shlex.quote(script)}")
    said = ran.stdout_text.split("\n")
    assert "imap OK" in said, (said, ran.stderr_text[-2000:])
    assert "smtp 535" in said, said  # the master user is IMAP's alone
    # from the test runner, outside its networks: refused like a wrong password
    with (imaplib.IMAP4_SSL(node.address, 993, ssl_context=tls_context(stage), timeout=60) as conn,
          pytest.raises(imaplib.IMAP4.error)):
        conn.authenticate("PLAIN", lambda _: token.encode())
