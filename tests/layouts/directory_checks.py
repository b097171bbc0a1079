"""The province directory (role `openldap`) of a shipped layout, tested with real LDAP clients on the
LDAP host (ldapsearch, ldappasswd, ldapwhoami over LDAPS to the host's own name, verified against the
staging CA) and TLS from the test runner: schema and tree, TLS-only binds, anonymous access, password
policies per role (ppolicy + ppm from the province policy), lockout, lastbind, the ACLs of the
organisations' delegated admins (Gia Lai Art 5.2, 10.8) and of operators, unique addresses, and the
lookups of the three service accounts (docs/directory.md).

Imported by a thin test file per layout (tests/layouts/<layout>/test_directory*.py). The accounts come
from the ``testpeople`` fixture (tests/layouts/testpeople.py): test people in the catalogue's
organisations, throwaway people for the tests that change state (deleted at the end), and the demo
roster's own delegated admin of an agency (column "Quản trị"), whose password is set for the session
and restored afterwards.
"""

from __future__ import annotations

import secrets
import shlex
import subprocess

import pytest
from mailcore import smtp_send, tls_context

TLS_ENV = "LDAPTLS_CACERT=/etc/ssl/congvu/ca.crt LDAPTLS_REQCERT=demand"
READER_PASSWORD = "Minh#Reader2026"
OTHER_PASSWORD = "Hoang#Other2026"
ADMIN_PASSWORD = "Admin#Kiemthu2026x"
OPERATOR_PASSWORD = "Operator#Test2026"
MAILBOX_PASSWORD = "Agency#Mailbox2026"


def q(value: str) -> str:
    return shlex.quote(value)


class Ldap:
    """The directory of the layout as its clients see it, from the LDAP host itself."""

    def __init__(self, stage, people) -> None:
        self.stage = stage
        self.people = people
        self.host = stage.first("ldap_servers")
        self.name = self.host.name
        self.base = people.base
        self.orgs = people.orgs
        services = f"ou=services,{self.base}"
        self.postfix = (f"cn=postfix,{services}", stage.secret("openldap_postfix_password").split()[0])
        self.dovecot = (f"cn=dovecot,{services}", stage.secret("openldap_dovecot_password").split()[0])
        self.roundcube = (f"cn=roundcube,{services}", stage.secret("openldap_roundcube_password").split()[0])

    def as_user(self, tool: str, who: tuple[str, str], args: str = "", *, uri: str | None = None,
                starttls: bool = False, stdin: str | None = None):
        dn, password = who
        uri = uri or f"ldaps://{self.name}"
        zz = "-ZZ " if starttls else ""
        return self.host.run(f"{TLS_ENV} {tool} -x {zz}-H {uri} -D {q(dn)} -w {q(password)} {args}",
                             stdin=stdin)

    def ldif_as(self, tool: str, who: tuple[str, str], ldif: str):
        """ldapmodify/ldapadd as ``who`` over LDAPS with an LDIF on stdin."""
        return self.as_user(tool, who, stdin=ldif + "\n")

    def root(self, tool: str, args: str = "", stdin: str | None = None):
        return self.people.root(tool, args, stdin=stdin)


def replace(dn: str, attr: str, value: str, op: str = "replace") -> str:
    return f"dn: {dn}\nchangetype: modify\n{op}: {attr}\n{attr}: {value}\n"


def refused(res, code: int) -> bool:
    """ldappasswd exits 1 on any LDAP error: check the result code it prints."""
    names = {19: "Constraint violation (19)", 50: "Insufficient access (50)"}
    return res.returncode != 0 and names[code] in (res.stderr_text + res.stdout_text)


def dns(output: str) -> list[str]:
    return [line[4:] for line in output.splitlines() if line.startswith("dn: ")]


# --- the accounts the checks use ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def ldap(stage, testpeople):
    return Ldap(stage, testpeople)


@pytest.fixture(scope="module")
def orgs(testpeople):
    """An agency (a top-level organisation with a unit under it and a delegated admin in the demo
    roster), that unit, and another top-level organisation."""
    top = testpeople.top_level()
    for code in top:
        units = testpeople.children(code)
        admins = [m for m in testpeople.attr(f"cn=admins,{testpeople.org_dn(code)}", "member")
                  if not m.lower().startswith("cn=nobody,")]
        if units and admins:
            other = next(c for c in top if c != code)
            return {"agency": code, "unit": units[0], "other": other}
    pytest.fail(f"no top-level organisation with a unit and a roster admin among {top}")


@pytest.fixture(scope="module")
def accounts(testpeople, orgs):
    agency, other = orgs["agency"], orgs["other"]
    domain = testpeople.mail_domain(agency)
    reader = testpeople.ensure("kiemthu.docgia", "Nguyễn Văn Minh", agency, READER_PASSWORD,
                               aliases=(f"kiemthu.bidanh@{domain}",), quota=2_000_000_000)
    mailbox = testpeople.ensure("kiemthu-hopthu", "Hộp thư kiểm thử", agency, MAILBOX_PASSWORD,
                                mailbox_class="agency", policy="organisations", delegates=(reader.mail,))
    return {
        "reader": reader,
        "mailbox": mailbox,
        "other": testpeople.ensure("kiemthu.coquankhac", "Lê Hoàng", other, OTHER_PASSWORD),
        "operator": testpeople.operator(testpeople.ensure("kiemthu.vanhanh", "Trần Vận Hành", agency,
                                                          OPERATOR_PASSWORD)),
        "admin": testpeople.roster_admin(agency, ADMIN_PASSWORD),
    }


# --- service, TLS ----------------------------------------------------------------------------------

def test_slapd_running_and_listening(ldap):
    assert ldap.host.run("systemctl is-active slapd").returncode == 0
    assert ldap.host.run("systemctl is-enabled slapd").returncode == 0
    listening = ldap.host.out("ss -Hltn").split()
    assert "0.0.0.0:389" in listening and "0.0.0.0:636" in listening, listening


def test_config_passes_slaptest(ldap):
    res = ldap.host.run("slaptest -u -F /etc/ldap/slapd.d")
    assert res.returncode == 0, res.stderr_text


def test_ldaps_bind_with_ca(ldap):
    res = ldap.as_user("ldapwhoami", ldap.postfix)
    assert res.returncode == 0, res.stderr_text
    assert res.stdout_text.strip() == f"dn:{ldap.postfix[0]}"


def test_starttls_bind_with_ca(ldap):
    res = ldap.as_user("ldapwhoami", ldap.postfix, uri=f"ldap://{ldap.name}", starttls=True)
    assert res.returncode == 0, res.stderr_text


def test_plain_simple_bind_refused(ldap):
    res = ldap.as_user("ldapwhoami", ldap.postfix, uri=f"ldap://{ldap.name}")
    assert res.returncode == 13, (res.returncode, res.stdout_text, res.stderr_text)  # confidentialityRequired
    assert "Confidentiality required" in res.stderr_text


def test_simple_bind_over_ldapi_allowed(ldap):
    res = ldap.host.run(f"ldapwhoami -x -H ldapi:/// -D {q(ldap.postfix[0])} -w {q(ldap.postfix[1])}")
    assert res.returncode == 0, res.stderr_text


def s_client(stage, ldap, *args: str) -> subprocess.CompletedProcess:
    """openssl s_client from the test runner to the LDAP host's LDAPS port."""
    return subprocess.run(["openssl", "s_client", "-connect", f"{ldap.host.address}:636", *args],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("proto", ["-tls1", "-tls1_1"])
def test_old_tls_refused(stage, ldap, proto):
    res = s_client(stage, ldap, proto, "-cipher", "DEFAULT@SECLEVEL=0")
    assert res.returncode != 0, res.stdout
    assert "Cipher is (NONE)" in res.stdout or "no protocols available" in res.stderr, res.stdout + res.stderr


def test_tls12_accepted(stage, ldap):
    res = s_client(stage, ldap, "-tls1_2", "-CAfile", stage.ca_file, "-servername", ldap.name,
                   "-verify_hostname", ldap.name, "-verify_return_error")
    assert res.returncode == 0, res.stderr
    assert "Verify return code: 0 (ok)" in res.stdout


# --- anonymous -------------------------------------------------------------------------------------

def test_anonymous_reads_nothing(ldap):
    res = ldap.host.run(f"{TLS_ENV} ldapsearch -x -LLL -H ldaps://{ldap.name} -b {ldap.base} "
                        "'(objectClass=*)' dn")
    assert res.returncode in (0, 32), res.stderr_text
    assert dns(res.stdout_text) == []


def test_anonymous_reads_root_dse_only(ldap):
    res = ldap.host.run(f"{TLS_ENV} ldapsearch -x -LLL -H ldaps://{ldap.name} -s base -b '' namingContexts")
    assert res.returncode == 0, res.stderr_text
    assert f"namingContexts: {ldap.base}" in res.stdout_text


# --- schema and tree -------------------------------------------------------------------------------

def test_schema_and_tree(stage, ldap, testpeople):
    flt = "(|(objectClass=organizationalUnit)(objectClass=congvuOrganisation))"
    found = {dn.lower() for dn, _ in testpeople.search(ldap.base, flt, "1.1")}
    for dn in (f"ou=services,{ldap.base}", f"ou=policies,{ldap.base}", f"ou=groups,{ldap.base}", ldap.orgs):
        assert dn.lower() in found, dn
    # every organisation of the catalogue, units nested under their parent
    for code, org in stage.catalogue.items():
        dn = testpeople.org_dn(code)
        assert dn.lower() in found
        if org.kind == "unit" and org.parent:
            assert dn.lower().endswith("," + testpeople.org_dn(org.parent).lower()), (code, dn)


def test_every_top_level_organisation_has_an_admin_group(testpeople):
    # Gia Lai Art 5.2: each organisation's delegated admins; the group of a top-level organisation
    # grants rights over its whole subtree (docs/directory.md)
    for code in testpeople.top_level():
        group = f"cn=admins,{testpeople.org_dn(code)}"
        assert "groupOfNames" in testpeople.attr(group, "objectClass"), group
        assert testpeople.attr(group, "member"), group


def test_passwords_stored_as_sha512_crypt(ldap, testpeople, orgs):
    person = testpeople.throwaway(orgs["other"])  # given in clear, hashed by slapd
    for dn in (ldap.postfix[0], person.dn):
        value = testpeople.attr(dn, "userPassword")
        assert value and value[0].startswith("{CRYPT}$6$"), (dn, value)


def test_mail_and_alias_are_unique(ldap, testpeople, orgs, accounts):
    person = testpeople.throwaway(orgs["other"])
    alias = accounts["reader"].mail.replace("kiemthu.docgia", "kiemthu.bidanh")
    res = ldap.root("ldapmodify", stdin=replace(person.dn, "congvuMailAlias", alias))
    # constraintViolation from the unique overlay
    assert res.returncode == 19, (res.returncode, res.stderr_text)
    res = ldap.root("ldapmodify", stdin=replace(person.dn, "mail", accounts["reader"].mail))
    assert res.returncode == 19, (res.returncode, res.stderr_text)


def test_an_address_two_entries_answer_for_is_deferred_not_delivered_or_sent_as(stage, ldap, testpeople,
                                                                                 orgs, accounts):
    """The unique overlay compares mail with mail and alias with alias, not one with the other, so a
    hand-made alias equal to another person's address is accepted (here written by the agency's
    admin, or by root where the agency's own mail subdomain keeps the admin to it). Postfix's guard
    (unique_address.cf) then defers mail to that address (4xx: the sender retries, nothing reaches
    either mailbox) and lets neither entry send as it; removing the alias ends it."""
    victim = accounts["other"]
    person = testpeople.throwaway(orgs["agency"], password="Hijack#Attempt2026")
    add = replace(person.dn, "congvuMailAlias", victim.mail, op="add")
    res = ldap.ldif_as("ldapmodify", accounts["admin"].login, add)
    if res.returncode == 50:  # insufficientAccess: the organisation's subdomain rule (Gia Lai Art 5.2)
        res = ldap.root("ldapmodify", stdin=add)
    assert res.returncode == 0, (res.returncode, res.stderr_text)
    mx = stage.first("mail_servers")
    ctx = tls_context(stage.ca_file)
    try:
        # the guard's temporary lookup failure, at RCPT: not a quota's 450 nor a login failure
        inbound = smtp_send(ctx, mx.address, 25, mail_from="congvan@example.org", rcpts=[victim.mail],
                            subject="Địa chỉ trùng", timeout=60)
        assert inbound["stage"] == "rcpt", inbound
        code, said = inbound["rcpt"][victim.mail]
        assert code == 451 and "4.3.0" in said, inbound
        as_victim = smtp_send(ctx, mx.address, 587, user=person.mail, password=person.password,
                              mail_from=victim.mail, rcpts=[person.mail], subject="Mạo danh", timeout=60)
        assert as_victim["stage"] == "rcpt", as_victim  # logged in; its sender refused at RCPT
        code, said = as_victim["rcpt"][person.mail]
        assert code == 451 and "4.3.0" in said, as_victim
    finally:
        ldap.root("ldapmodify", stdin=replace(person.dn, "congvuMailAlias", victim.mail, op="delete"))
    # the wrong value removed, the address is one entry's again: the victim receives, the person
    # sends as itself
    back = smtp_send(ctx, mx.address, 25, mail_from="congvan@example.org", rcpts=[victim.mail],
                     subject="Địa chỉ trở lại", timeout=60)
    assert back["ok"], back
    own = smtp_send(ctx, mx.address, 587, user=person.mail, password=person.password,
                    mail_from=person.mail, rcpts=[person.mail], subject="Địa chỉ của mình", timeout=60)
    assert own["ok"], own


# --- users -----------------------------------------------------------------------------------------

def test_user_reads_own_entry_only(ldap, accounts):
    reader = accounts["reader"]
    res = ldap.as_user("ldapsearch", reader.login, f"-LLL -b {q(reader.dn)} -s base mail userPassword")
    assert res.returncode == 0, res.stderr_text
    assert f"mail: {reader.mail}" in res.stdout_text
    assert "userPassword" not in res.stdout_text
    res = ldap.as_user("ldapsearch", reader.login, f"-LLL -b {ldap.base} '(uid=kiemthu.coquankhac)' dn")
    assert dns(res.stdout_text) == []


def test_weak_password_refused_by_ppm_strong_accepted(ldap, testpeople, orgs):
    # Hà Nam Art 8.2.b, Gia Lai Art 9.2: upper, lower, digit and special characters
    user = testpeople.throwaway(orgs["other"])
    old = user.password
    res = ldap.as_user("ldappasswd", user.login, f"-a {q(old)} -s {q('weakpassword')}")
    assert refused(res, 19), (res.returncode, res.stderr_text)
    # ppm's reason reaches the client (ldappasswd prints it on stdout)
    reason = f'Password for dn="{user.dn}" does not pass required number of strength checks'
    assert reason in res.stdout_text, res.stdout_text
    res = ldap.as_user("ldappasswd", user.login, f"-a {q(old)} -s {q('NoSpecial2026')}")
    assert refused(res, 19), (res.returncode, res.stderr_text)
    assert "strength checks (3 of 4)" in res.stdout_text, res.stdout_text
    strong = "Strong#Pass26" + secrets.token_hex(3)  # all four classes whatever the hex digits are
    res = ldap.as_user("ldappasswd", user.login, f"-a {q(old)} -s {q(strong)}")
    assert res.returncode == 0, res.stderr_text
    assert ldap.as_user("ldapwhoami", (user.dn, strong)).returncode == 0
    assert testpeople.attr(user.dn, "pwdReset") == []


def test_short_password_refused(ldap, testpeople, orgs):
    user = testpeople.throwaway(orgs["other"])
    res = ldap.as_user("ldappasswd", user.login, f"-a {q(user.password)} -s {q('Ab1#x')}")
    assert refused(res, 19), (res.returncode, res.stderr_text)


def test_admin_policy_needs_a_longer_password(stage, ldap, testpeople, orgs):
    # Ninh Bình Art 11.1 style: administrators have a longer minimum (the province policy's
    # passwords.admin.min_length, above the users' one)
    minimum = int(stage.policy["passwords"]["admin"]["min_length"])
    assert minimum > int(stage.policy["passwords"]["user"]["min_length"])
    user = testpeople.throwaway(orgs["other"], password="Initial#Admin2026xyz", policy="admins")
    short = ("Ab1#" + "cdefghijklmnopqrstuvwxyz")[:minimum - 1]
    res = ldap.as_user("ldappasswd", user.login, f"-a {q(user.password)} -s {q(short)}")
    assert refused(res, 19), (res.returncode, res.stderr_text)
    enough = ("Ab1#" + "cdefghijklmnopqrstuvwxyz")[:minimum]
    res = ldap.as_user("ldappasswd", user.login, f"-a {q(user.password)} -s {q(enough)}")
    assert res.returncode == 0, res.stderr_text


def test_repeated_failures_lock_the_account(stage, ldap, testpeople, orgs):
    attempts = int(stage.policy["passwords"]["user"]["lockout_attempts"])
    user = testpeople.throwaway(orgs["other"])
    for _ in range(attempts):
        res = ldap.as_user("ldapwhoami", (user.dn, "Wrong#Pass2026x"))
        assert res.returncode == 49
    assert testpeople.attr(user.dn, "pwdAccountLockedTime"), "pwdAccountLockedTime not set"
    res = ldap.as_user("ldapwhoami", user.login)
    assert res.returncode == 49, "a locked account could bind with its correct password"


def test_a_bind_writes_nothing_to_the_directory(ldap, testpeople, orgs):
    # Issue 12 item 1: activity "without a directory write per login". slapd 2.5's lastbind has no
    # precision setting, so it is off (openldap_lastbind); the lifecycle reads logins from the mail logs
    # and writes congvuLastLogin once a day (tests/layouts/lifecycle_checks.py).
    user = testpeople.throwaway(orgs["other"])
    config = ldap.host.out("ldapsearch -LLL -Q -Y EXTERNAL -H ldapi:/// -b cn=config "
                           "'(olcSuffix=*)' olcLastBind")
    assert "olcLastBind: FALSE" in config, config
    before = testpeople.search(user.dn, "(objectClass=*)", "modifyTimestamp", "entryCSN", scope="base")
    assert ldap.as_user("ldapwhoami", user.login).returncode == 0
    assert testpeople.attr(user.dn, "pwdLastSuccess") == []
    after = testpeople.search(user.dn, "(objectClass=*)", "modifyTimestamp", "entryCSN", scope="base")
    assert after == before, (before, after)


# --- delegated administration (Gia Lai Art 5.2, 10.8) ----------------------------------------------

def test_agency_admin_resets_password_in_own_agency(ldap, testpeople, orgs, accounts):
    # a person of a unit nested in the admin's agency
    user = testpeople.throwaway(orgs["unit"])
    new = "Reset#Pass26" + secrets.token_hex(3)  # all four classes whatever the hex digits are
    res = ldap.as_user("ldappasswd", accounts["admin"].login, f"-s {q(new)} {q(user.dn)}")
    assert res.returncode == 0, res.stderr_text
    assert testpeople.attr(user.dn, "pwdReset") == ["TRUE"]
    res = ldap.ldif_as("ldapmodify", accounts["admin"].login, replace(user.dn, "title", "Chuyên viên"))
    assert res.returncode == 0, res.stderr_text


def test_agency_admin_creates_entry_in_own_agency(ldap, testpeople, orgs, accounts):
    uid = f"kiemthu-{secrets.token_hex(4)}"
    dn = f"uid={uid},{testpeople.org_dn(orgs['agency'])}"
    res = ldap.ldif_as("ldapadd", accounts["admin"].login,
                       f"dn: {dn}\nobjectClass: inetOrgPerson\nobjectClass: congvuMailAccount\nuid: {uid}\n"
                       f"cn: {uid}\nsn: {uid}\nmail: {uid}@{testpeople.mail_domain(orgs['agency'])}\n")
    testpeople.forget(dn)
    assert res.returncode == 0, res.stderr_text


def test_agency_admin_refused_on_another_agency(ldap, accounts):
    other = accounts["other"].dn
    res = ldap.as_user("ldappasswd", accounts["admin"].login, f"-s {q('Other#Pass2026xy')} {q(other)}")
    assert refused(res, 50), (res.returncode, res.stderr_text)
    res = ldap.ldif_as("ldapmodify", accounts["admin"].login, replace(other, "title", "x"))
    assert res.returncode == 50, (res.returncode, res.stderr_text)


def test_agency_admin_cannot_claim_domains_or_appoint_admins(ldap, testpeople, orgs, accounts):
    unit = testpeople.org_dn(orgs["unit"])
    res = ldap.ldif_as("ldapmodify", accounts["admin"].login,
                       replace(unit, "associatedDomain", "evil.gov.vn", "add"))
    assert res.returncode == 50, (res.returncode, res.stderr_text)
    group = f"cn=admins,{testpeople.org_dn(orgs['agency'])}"
    res = ldap.ldif_as("ldapmodify", accounts["admin"].login,
                       replace(group, "member", accounts["reader"].dn, "add"))
    assert res.returncode == 50, (res.returncode, res.stderr_text)


def test_operator_writes_everywhere(ldap, accounts):
    res = ldap.ldif_as("ldapmodify", accounts["operator"].login,
                       replace(accounts["other"].dn, "title", "Chuyên viên"))
    assert res.returncode == 0, res.stderr_text


def test_plain_user_cannot_change_others(ldap, accounts):
    res = ldap.as_user("ldappasswd", accounts["reader"].login,
                       f"-s {q('Other#Pass2026xy')} {q(accounts['other'].dn)}")
    assert refused(res, 50), (res.returncode, res.stderr_text)


def test_agency_admin_cannot_exempt_accounts_from_policy(ldap, testpeople, orgs, accounts):
    user = testpeople.throwaway(orgs["unit"])
    services = f"cn=services,ou=policies,{ldap.base}"
    res = ldap.ldif_as("ldapmodify", accounts["admin"].login, replace(user.dn, "pwdPolicySubentry", services))
    assert res.returncode == 50, (res.returncode, res.stderr_text)
    organisations = f"cn=organisations,ou=policies,{ldap.base}"
    res = ldap.ldif_as("ldapmodify", accounts["admin"].login,
                       replace(user.dn, "pwdPolicySubentry", organisations))
    assert res.returncode == 0, res.stderr_text


# --- service accounts (docs/directory.md lookups) ----------------------------------------------------

def test_postfix_lookups(stage, ldap, testpeople, accounts):
    reader, alias = accounts["reader"], accounts["reader"].mail.replace("kiemthu.docgia", "kiemthu.bidanh")
    res = ldap.as_user("ldapsearch", ldap.postfix,
                       f"-LLL -b {ldap.base} '(&(objectClass=congvuMailAccount)(|(mail={alias})"
                       f"(congvuMailAlias={alias}))(!(congvuAccountState=retired)))' "
                       "mail userPassword congvuMailQuota")
    assert res.returncode == 0, res.stderr_text
    assert f"mail: {reader.mail}" in res.stdout_text
    assert "userPassword" not in res.stdout_text
    assert "congvuMailQuota" not in res.stdout_text
    # the province's domains on the base entry, an organisation's own subdomain on the organisation
    # (Gia Lai Art 4)
    for domain in (stage.policy["domains"]["primary"], *stage.policy["domains"].get("extra", [])):
        res = ldap.as_user("ldapsearch", ldap.postfix,
                           f"-LLL -b {ldap.base} '(associatedDomain={domain})' dn")
        assert dns(res.stdout_text) == [ldap.base], (domain, res.stdout_text)
    if stage.policy["domains"].get("organisation_subdomains"):
        for code in testpeople.top_level():
            domain = testpeople.mail_domain(code)
            res = ldap.as_user("ldapsearch", ldap.postfix,
                               f"-LLL -b {ldap.base} '(associatedDomain={domain})' dn")
            assert dns(res.stdout_text) == [testpeople.org_dn(code)], (domain, res.stdout_text)
    mailbox = accounts["mailbox"]
    res = ldap.as_user("ldapsearch", ldap.postfix,
                       f"-LLL -b {ldap.base} '(mail={mailbox.mail})' congvuMailDelegate")
    assert f"congvuMailDelegate: {reader.mail}" in res.stdout_text


def test_dovecot_lookups(ldap, accounts):
    reader = accounts["reader"]
    res = ldap.as_user("ldapsearch", ldap.dovecot,
                       f"-LLL -b {ldap.base} '(&(objectClass=congvuMailAccount)(mail={reader.mail})"
                       "(congvuAccountState=active)(!(congvuMustChangePassword=TRUE)))' "
                       "congvuMailQuota userPassword")
    assert res.returncode == 0, res.stderr_text
    assert dns(res.stdout_text) == [reader.dn]
    assert "congvuMailQuota: 2000000000" in res.stdout_text
    assert "userPassword" not in res.stdout_text


def test_roundcube_address_book(ldap, accounts):
    res = ldap.as_user("ldapsearch", ldap.roundcube,
                       f"-LLL -o ldif-wrap=no -b {ldap.base} '(&(objectClass=congvuMailAccount)"
                       "(congvuAccountState=active))' displayName mail userPassword")
    assert res.returncode == 0, res.stderr_text
    assert f"dn: {accounts['reader'].dn}" in res.stdout_text
    assert "displayName" in res.stdout_text
    assert "userPassword" not in res.stdout_text


def test_services_cannot_read_secrets_or_write(ldap, accounts):
    for svc in (ldap.postfix, ldap.dovecot, ldap.roundcube):
        res = ldap.as_user("ldapsearch", svc,
                           f"-LLL -b {ldap.base} '(objectClass=*)' userPassword pwdHistory")
        assert "userPassword" not in res.stdout_text and "pwdHistory" not in res.stdout_text
        res = ldap.ldif_as("ldapmodify", svc, replace(accounts["reader"].dn, "congvuAccountState", "retired"))
        assert res.returncode == 50, (svc[0], res.returncode, res.stderr_text)
