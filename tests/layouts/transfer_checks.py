"""A transfer through the roster (issue 12 item 7; docs/accounts.md, "Transfers"), over the wire on a
layout whose province re-addresses a move: Gia Lai Art 4.2.a (the address carries the agency's
subdomain) and Art 5.3 (a move ends the old agency's account).

The test person is added to a copy of the layout's demo rosters, applied with ``playbooks/accounts.yml``
as an operator runs it, given a known password, sent mail; then the copy moves the person to another
agency and is applied again. The person must get the new agency's address and keep everything: the
mail already received, the old address still delivered into the same mailbox, the same password.
The person's webmail user (settings, identities, contacts) must follow them to the new login. The
person's entry, mailbox and webmail user are removed at the end (and before, if an earlier run left
them).
"""

from __future__ import annotations

import csv
import io
import pathlib
import re
import shlex
import shutil

import pytest
from attacks import ldap_attrs, ldap_modify, ldap_root
from backup_checks import playbook
from mailcore import PASSWORD, MailCore, brief, unique
from polling import wait_for
from webclient import Webmail

from congvu.naming import make_scheme

ROOT = pathlib.Path(__file__).resolve().parents[2]
PERSON_ID = "KT-CHUYEN-0001"
NAME = "Kiểm Thử Chuyển"
VAULT = "transfer-test-vault-2026"


def _find(stage) -> list[str]:
    base = stage.wiring[stage.first("ldap_servers").name]["postfix_ldap_base_dn"]
    out = ldap_root(stage, f"ldapsearch -LLL -o ldif-wrap=no -b 'ou=organisations,{base}' "
                           f"'(employeeNumber={PERSON_ID})' dn", check=False).stdout_text
    return [line[4:] for line in out.splitlines() if line.startswith("dn: ")]


#: Roundcube's users of some logins (argv), through its own database layer (SQLite or PostgreSQL):
#: ``{sql}`` is a statement on the users table; selected rows are printed "<user_id> <username>".
_WEBMAIL_DB = """define("INSTALL_PATH", "/var/lib/roundcube/");
require INSTALL_PATH . "program/include/clisetup.php";
$db = rcmail_utils::db();
$t = $db->table_name("users", true);
$logins = array_slice($argv, 1);
$in = implode(",", array_fill(0, count($logins), "?"));
$r = $db->query("{sql} WHERE username IN ($in)", $logins);
while ($r && ($row = $db->fetch_assoc($r))) echo implode(" ", $row), "\\n";
"""


def _webmail_db(stage, sql: str, *logins: str) -> str:
    """Run ``sql`` on Roundcube's users of ``logins``, as the web server's user."""
    code = _WEBMAIL_DB.replace("{sql}", sql)
    return stage.first("webmail_servers").out(
        f"runuser -u www-data -- php -r {shlex.quote(code)} -- {' '.join(map(shlex.quote, logins))}")


def _pairs(out: str) -> list[tuple[int, str]]:
    return sorted((int(line.split()[0]), line.split()[1]) for line in out.splitlines() if line.strip())


def _webmail_users(stage, *logins: str) -> list[tuple[int, str]]:
    """(user_id, login) of the webmail users of ``logins``."""
    return _pairs(_webmail_db(stage, "SELECT user_id, username FROM $t", *logins))


def _webmail_identities(stage, *logins: str) -> list[tuple[int, str]]:
    """(user_id, address) of the identities the webmail users of ``logins`` send as."""
    return _pairs(_webmail_db(stage, "SELECT u.user_id, i.email FROM identities i JOIN $t u "
                                     "ON u.user_id = i.user_id AND i.del <> 1", *logins))


def _remove(stage) -> None:
    """The test person's entry, mailboxes and webmail users, whatever an earlier run left."""
    mx = stage.first("mail_servers")
    for dn in _find(stage):
        entry = ldap_attrs(stage, dn, "mail", "congvuMailAlias", "congvuMailHome")
        for address in entry.get("mail", []) + entry.get("congvuMailAlias", []):
            local, _, domain = address.partition("@")
            mx.run(f"rm -rf {shlex.quote(f'/var/vmail/{domain}/{local}')}")
            _webmail_db(stage, "DELETE FROM $t", address.lower())
        for home in entry.get("congvuMailHome", []):
            mx.run(f"rm -rf {shlex.quote(home)}")
        ldap_root(stage, f"ldapdelete {shlex.quote(dn)}", check=False)


class Transfer:
    def __init__(self, stage, tmp: pathlib.Path) -> None:
        self.stage = stage
        self.data = tmp / "accounts"
        shutil.copytree(ROOT / "data" / "demo" / stage.province, self.data)
        scheme = make_scheme(stage.policy["naming"], stage.catalogue)
        tops = [code for code in stage.catalogue if stage.catalogue.top_of(code).code == code]
        self.source = tops[0]
        others = [c for c in tops[1:] if scheme.org_domain(c) != scheme.org_domain(self.source)]
        assert others, "the layout's province has a single mail domain: nothing to re-address"
        self.target = others[0]
        self.domains = (scheme.org_domain(self.source), scheme.org_domain(self.target))

    def place(self, org: str) -> None:
        """Put the test person in ``org``'s roster file (and in no other)."""
        for path in sorted((self.data / "rosters").glob("*.csv")):
            text = path.read_text(encoding="utf-8-sig")
            rows = list(csv.reader(io.StringIO(text)))
            rows = [r for r in rows if not r or r[0] != PERSON_ID]
            if path.stem == self.stage.catalogue.top_of(org).code:
                rows.append([PERSON_ID, NAME, "01/02/1990", "Nam", org, "Chuyên viên", "", "", "", ""])
            out = io.StringIO()
            csv.writer(out, lineterminator="\n").writerows(rows)
            path.write_text("\ufeff" + out.getvalue(), encoding="utf-8")

    def apply(self):
        run = playbook(self.stage, "accounts.yml", "-e", f"accounts_data_dir={self.data}",
                       "-e", f"accounts_credentials_dir={self.data}/credentials",
                       "-e", f"accounts_vault_password={VAULT}")
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
        return run

    def entry(self) -> dict[str, list[str]]:
        (dn,) = _find(self.stage)
        return {"dn": [dn], **ldap_attrs(self.stage, dn, "mail", "congvuMailAlias", "congvuMailHome",
                                          "congvuOrganisationDN", "objectClass")}


@pytest.fixture(scope="module")
def transfer(stage, tmp_path_factory):
    _remove(stage)
    made = Transfer(stage, tmp_path_factory.mktemp("transfer"))
    yield made
    _remove(stage)


def _deliver(stage, to: str, subject: str) -> None:
    """Mail from the Internet on port 25, as the mail core checks send it."""
    sent = MailCore(stage).internet(rcpts=[to], subject=subject)
    assert sent["ok"], brief(sent)


def _inbox_has(stage, login: str, subject: str) -> bool:
    return MailCore(stage).has_mail(login, subject)  # the test person's password is mailcore's PASSWORD


def test_a_transfer_readdresses_and_keeps_the_mailbox_and_the_old_address(stage, transfer):
    # Gia Lai Art 4.2.a, 5.3 (lifecycle.transfer_readdress): the new agency's address; nothing lost
    transfer.place(transfer.source)
    transfer.apply()
    before = transfer.entry()
    (old,) = before["mail"]
    assert old.endswith("@" + transfer.domains[0]), old
    ldap_modify(stage, f"dn: {before['dn'][0]}\nchangetype: modify\nreplace: userPassword\n"
                       f"userPassword: {PASSWORD}\n-\nreplace: congvuMustChangePassword\n"
                       "congvuMustChangePassword: FALSE\n")
    ldap_modify(stage, f"dn: {before['dn'][0]}\nchangetype: modify\ndelete: pwdReset\n", check=False)
    first = unique("Thư trước khi chuyển")
    _deliver(stage, old, first)
    assert wait_for(lambda: _inbox_has(stage, old, first))
    # a webmail user under the old login: its settings, identities and contacts hang on its user_id
    assert Webmail(stage).login(old, PASSWORD)[0]
    (user,) = _webmail_users(stage, old)
    assert _webmail_identities(stage, old) == [(user[0], old.lower())]  # Roundcube's first identity

    transfer.place(transfer.target)
    run = transfer.apply()
    after = transfer.entry()
    (new,) = after["mail"]
    assert new.endswith("@" + transfer.domains[1]) and new != old, new
    assert f"{old} -> {new}" in run.flat
    assert after["congvuMailAlias"] == [old]
    local, _, domain = old.partition("@")
    assert after["congvuMailHome"] == [f"/var/vmail/{domain}/{local}"]
    assert f"o={transfer.target}," in after["dn"][0]
    # the same mailbox and password under the new login; the old address still reaches it
    assert _inbox_has(stage, new, first)
    later = unique("Thư gửi địa chỉ cũ")
    _deliver(stage, old, later)
    assert wait_for(lambda: _inbox_has(stage, new, later))
    newer = unique("Thư gửi địa chỉ mới")
    _deliver(stage, new, newer)
    assert wait_for(lambda: _inbox_has(stage, new, newer))
    # the webmail user was carried over: the new login finds it instead of starting an empty one
    assert f"{old.lower()} -> {new.lower()}" in run.flat
    assert _webmail_users(stage, old, new) == [(user[0], new.lower())]
    assert _webmail_identities(stage, new) == [(user[0], new.lower())]  # it sends as the new address
    assert Webmail(stage).login(new, PASSWORD)[0]
    assert _webmail_users(stage, old, new) == [(user[0], new.lower())]
    # done once: applying the same roster again changes nothing
    again = transfer.apply()
    recap = again.stdout.rpartition("PLAY RECAP")[2]
    assert re.findall(r"changed=(\d+)", recap) and set(re.findall(r"changed=(\d+)", recap)) == {"0"}, recap
