"""The province directory, tested with real LDAP clients inside the container.

Each test that changes state creates its own throw-away people (random uid) as local root over
ldapi:///, so the suite can run again on the same instance.
"""

import secrets
import shlex

import pytest

# testinfra's podman backend: `podman exec` per command, much faster than an ansible run each.
testinfra_hosts = ["podman://congvu-openldap"]

BASE = "dc=hanam,dc=gov,dc=vn"
ORGS = f"ou=organisations,{BASE}"
SERVICES = f"ou=services,{BASE}"
POSTFIX = (f"cn=postfix,{SERVICES}", "test-postfix-Pa55word!")
DOVECOT = (f"cn=dovecot,{SERVICES}", "test-dovecot-Pa55word!")
ROUNDCUBE = (f"cn=roundcube,{SERVICES}", "test-roundcube-Pa55word!")
MINH = (f"uid=nguyenvanminh,o=stttt,{ORGS}", "Minh#Reader2026")
ADMIN_STTTT = (f"uid=admin.stttt,o=stttt,{ORGS}", "Admin#Stttt2026")
OPERATOR = (f"uid=operator,o=stttt,{ORGS}", "Operator#Test2026")
LEHOANG = f"uid=lehoang,o=sonv,{ORGS}"
TLS_ENV = "LDAPTLS_CACERT=/etc/ssl/congvu/ca.crt LDAPTLS_REQCERT=demand"
LDAPS = "ldaps://localhost"
ROOT = "-Q -Y EXTERNAL -H ldapi:///"


def q(value):
    return shlex.quote(value)


def as_user(host, tool, who, args, uri=LDAPS, starttls=False):
    dn, password = who
    zz = "-ZZ " if starttls else ""
    return host.run(f"{TLS_ENV} {tool} -x {zz}-H {uri} -D {q(dn)} -w {q(password)} {args}")


def ldif_as(host, tool, who, ldif):
    """Run ldapmodify/ldapadd as `who` over LDAPS with an LDIF on stdin."""
    dn, password = who
    return host.run(f"{TLS_ENV} {tool} -x -H {LDAPS} -D {q(dn)} -w {q(password)} <<'LDIF'\n{ldif}\nLDIF")


def replace(dn, attr, value, op="replace"):
    return f"dn: {dn}\nchangetype: modify\n{op}: {attr}\n{attr}: {value}"


def root(host, tool, args, stdin=None):
    if stdin is None:
        return host.run(f"{tool} {ROOT} {args}")
    return host.run(f"{tool} {ROOT} {args} <<'LDIF'\n{stdin}\nLDIF")


def root_attr(host, dn, attr):
    """Values of one attribute (operational ones included) read as local root."""
    res = root(host, "ldapsearch", f"-LLL -o ldif-wrap=no -b {q(dn)} -s base {attr}")
    assert res.rc == 0, res.stderr
    return [line.split(": ", 1)[1] for line in res.stdout.splitlines() if line.startswith(f"{attr}: ")]


def new_person(host, org_dn, password="Initial#Pass2026", policy=None):
    uid = "t" + secrets.token_hex(4)
    dn = f"uid={uid},{org_dn}"
    ldif = (
        f"dn: {dn}\nobjectClass: inetOrgPerson\nobjectClass: congvuMailAccount\nuid: {uid}\n"
        f"cn: Test {uid}\nsn: {uid}\nmail: {uid}@hanam.gov.vn\ncongvuAccountState: active\n"
        f"userPassword: {password}\n"
    )
    if policy:
        ldif += f"pwdPolicySubentry: cn={policy},ou=policies,{BASE}\n"
    res = root(host, "ldapadd", "", ldif)
    assert res.rc == 0, res.stderr
    return dn, password


def refused(res, code):
    """ldappasswd exits 1 on any LDAP error: check the result code it prints."""
    names = {19: "Constraint violation (19)", 50: "Insufficient access (50)"}
    return res.rc != 0 and names[code] in (res.stderr + res.stdout)


def dns(output):
    return [line[4:] for line in output.splitlines() if line.startswith("dn: ")]


# --- service, TLS -------------------------------------------------------------------------------

def test_slapd_running_and_listening(host):
    slapd = host.service("slapd")
    assert slapd.is_running
    assert slapd.is_enabled
    assert host.socket("tcp://0.0.0.0:389").is_listening
    assert host.socket("tcp://0.0.0.0:636").is_listening


def test_config_passes_slaptest(host):
    res = host.run("slaptest -u -F /etc/ldap/slapd.d")
    assert res.rc == 0, res.stderr


def test_ldaps_bind_with_ca(host):
    res = as_user(host, "ldapwhoami", POSTFIX, "")
    assert res.rc == 0, res.stderr
    assert res.stdout.strip() == f"dn:{POSTFIX[0]}"


def test_starttls_bind_with_ca(host):
    res = as_user(host, "ldapwhoami", POSTFIX, "", uri="ldap://localhost", starttls=True)
    assert res.rc == 0, res.stderr


def test_plain_simple_bind_refused(host):
    res = as_user(host, "ldapwhoami", POSTFIX, "", uri="ldap://localhost")
    assert res.rc == 13, (res.rc, res.stdout, res.stderr)  # confidentialityRequired
    assert "Confidentiality required" in res.stderr


def test_simple_bind_over_ldapi_allowed(host):
    res = host.run(f"ldapwhoami -x -H ldapi:/// -D {q(POSTFIX[0])} -w {q(POSTFIX[1])}")
    assert res.rc == 0, res.stderr


@pytest.mark.parametrize("proto", ["-tls1", "-tls1_1"])
def test_old_tls_refused(host, proto):
    res = host.run(
        f"openssl s_client -connect localhost:636 {proto} -cipher DEFAULT@SECLEVEL=0 </dev/null"
    )
    assert res.rc != 0, res.stdout
    assert "Cipher is (NONE)" in res.stdout or "no protocols available" in res.stderr, res.stdout


def test_tls12_accepted(host):
    res = host.run(
        "openssl s_client -connect localhost:636 -tls1_2 -CAfile /etc/ssl/congvu/ca.crt </dev/null"
    )
    assert res.rc == 0, res.stderr
    assert "Verify return code: 0 (ok)" in res.stdout


# --- anonymous ----------------------------------------------------------------------------------

def test_anonymous_reads_nothing(host):
    res = host.run(f"{TLS_ENV} ldapsearch -x -LLL -H {LDAPS} -b {BASE} '(objectClass=*)' dn")
    assert res.rc in (0, 32), res.stderr
    assert dns(res.stdout) == []


def test_anonymous_reads_root_dse_only(host):
    res = host.run(f"{TLS_ENV} ldapsearch -x -LLL -H {LDAPS} -s base -b '' namingContexts")
    assert res.rc == 0, res.stderr
    assert f"namingContexts: {BASE}" in res.stdout


# --- schema and tree ----------------------------------------------------------------------------

def test_schema_and_tree(host):
    flt = "(|(objectClass=organizationalUnit)(objectClass=congvuOrganisation))"
    res = root(host, "ldapsearch", f"-LLL -b {BASE} '{flt}' dn")
    assert res.rc == 0, res.stderr
    found = set(dns(res.stdout))
    for dn in (f"ou=services,{BASE}", f"ou=policies,{BASE}", f"ou=groups,{BASE}", ORGS,
               f"o=stttt,{ORGS}", f"o=pttbcxb,o=stttt,{ORGS}", f"o=sonv,{ORGS}"):
        assert dn in found


def test_every_organisation_has_an_admin_group(host):
    for org in (f"o=stttt,{ORGS}", f"o=pttbcxb,o=stttt,{ORGS}", f"o=sonv,{ORGS}", f"o=skhcn,{ORGS}"):
        assert root_attr(host, f"cn=admins,{org}", "objectClass") == ["groupOfNames"]


def test_passwords_stored_as_sha512_crypt(host):
    for dn in (POSTFIX[0], MINH[0]):
        res = root(host, "ldapsearch", f"-LLL -o ldif-wrap=no -b {q(dn)} -s base userPassword")
        value = res.stdout.split("userPassword:: ", 1)[1].split()[0]
        assert host.run(f"echo {value} | base64 -d").stdout.startswith("{CRYPT}$6$")


def test_mail_and_alias_are_unique(host):
    dn, _ = new_person(host, f"o=sonv,{ORGS}")
    res = root(host, "ldapmodify", "", replace(dn, "congvuMailAlias", "minhnv@hanam.gov.vn"))
    assert res.rc == 19, (res.rc, res.stderr)  # constraintViolation from the unique overlay
    res = root(host, "ldapmodify", "", replace(dn, "mail", "nguyenvanminh@hanam.gov.vn"))
    assert res.rc == 19, (res.rc, res.stderr)


# --- users --------------------------------------------------------------------------------------

def test_user_reads_own_entry_only(host):
    res = as_user(host, "ldapsearch", MINH, f"-LLL -b {q(MINH[0])} -s base mail userPassword")
    assert res.rc == 0, res.stderr
    assert "mail: nguyenvanminh@hanam.gov.vn" in res.stdout
    assert "userPassword" not in res.stdout
    res = as_user(host, "ldapsearch", MINH, f"-LLL -b {BASE} '(uid=lehoang)' dn")
    assert dns(res.stdout) == []


def test_weak_password_refused_by_ppm_strong_accepted(host):
    # Hà Nam Art 8.2.b: upper, lower, digit and special characters
    dn, old = new_person(host, f"o=sonv,{ORGS}")
    user = (dn, old)
    res = as_user(host, "ldappasswd", user, f"-a {q(old)} -s {q('weakpassword')}")
    assert refused(res, 19), (res.rc, res.stderr)
    # ppm's reason reaches the client (ldappasswd prints it on stdout)
    reason = f'Password for dn="{dn}" does not pass required number of strength checks'
    assert reason in res.stdout, res.stdout
    res = as_user(host, "ldappasswd", user, f"-a {q(old)} -s {q('NoSpecial2026')}")
    assert refused(res, 19), (res.rc, res.stderr)
    assert "strength checks (3 of 4)" in res.stdout, res.stdout
    strong = "Strong#Pass" + secrets.token_hex(3)
    res = as_user(host, "ldappasswd", user, f"-a {q(old)} -s {q(strong)}")
    assert res.rc == 0, res.stderr
    assert as_user(host, "ldapwhoami", (dn, strong), "").rc == 0
    assert root_attr(host, dn, "pwdReset") == []


def test_short_password_refused(host):
    dn, old = new_person(host, f"o=sonv,{ORGS}")
    res = as_user(host, "ldappasswd", (dn, old), f"-a {q(old)} -s {q('Ab1#x')}")
    assert refused(res, 19), (res.rc, res.stderr)


def test_admin_policy_needs_ten_characters(host):
    # Ninh Bình Art 11.1 style: administrators have a longer minimum (10 in the defaults)
    dn, old = new_person(host, f"o=sonv,{ORGS}", policy="admins")
    res = as_user(host, "ldappasswd", (dn, old), f"-a {q(old)} -s {q('Ab1#cdef9')}")
    assert refused(res, 19), (res.rc, res.stderr)
    res = as_user(host, "ldappasswd", (dn, old), f"-a {q(old)} -s {q('Ab1#cdef9XY')}")
    assert res.rc == 0, res.stderr


def test_repeated_failures_lock_the_account(host):
    dn, password = new_person(host, f"o=sonv,{ORGS}")
    for _ in range(5):
        res = as_user(host, "ldapwhoami", (dn, "Wrong#Pass2026"), "")
        assert res.rc == 49
    assert root_attr(host, dn, "pwdAccountLockedTime"), "pwdAccountLockedTime not set"
    res = as_user(host, "ldapwhoami", (dn, password), "")
    assert res.rc == 49, "a locked account could bind with its correct password"


def test_last_success_recorded_on_bind(host):
    dn, password = new_person(host, f"o=sonv,{ORGS}")
    assert root_attr(host, dn, "pwdLastSuccess") == []
    assert as_user(host, "ldapwhoami", (dn, password), "").rc == 0
    values = root_attr(host, dn, "pwdLastSuccess")
    assert len(values) == 1
    now = host.run("date -u +%Y%m%d%H%M%S").stdout.strip()
    assert abs(int(now) - int(values[0][:14])) < 300


# --- delegated administration (Gia Lai Art 5.2, 10.8) -------------------------------------------

def test_agency_admin_resets_password_in_own_agency(host):
    dn, _ = new_person(host, f"o=pttbcxb,o=stttt,{ORGS}")
    new = "Reset#Pass" + secrets.token_hex(3)
    res = as_user(host, "ldappasswd", ADMIN_STTTT, f"-s {q(new)} {q(dn)}")
    assert res.rc == 0, res.stderr
    assert root_attr(host, dn, "pwdReset") == ["TRUE"]
    res = ldif_as(host, "ldapmodify", ADMIN_STTTT, replace(dn, "title", "Chuyên viên", "replace"))
    assert res.rc == 0, res.stderr


def test_agency_admin_creates_entry_in_own_agency(host):
    uid = "t" + secrets.token_hex(4)
    res = host.run(
        f"{TLS_ENV} ldapadd -x -H {LDAPS} -D {q(ADMIN_STTTT[0])} -w {q(ADMIN_STTTT[1])} <<'LDIF'\n"
        f"dn: uid={uid},o=stttt,{ORGS}\nobjectClass: inetOrgPerson\nobjectClass: congvuMailAccount\n"
        f"uid: {uid}\ncn: {uid}\nsn: {uid}\nmail: {uid}@hanam.gov.vn\nLDIF"
    )
    assert res.rc == 0, res.stderr


def test_agency_admin_refused_on_another_agency(host):
    res = as_user(host, "ldappasswd", ADMIN_STTTT, f"-s {q('Other#Pass2026')} {q(LEHOANG)}")
    assert refused(res, 50), (res.rc, res.stderr)
    res = ldif_as(host, "ldapmodify", ADMIN_STTTT, replace(LEHOANG, "title", "x", "replace"))
    assert res.rc == 50, (res.rc, res.stderr)


def test_agency_admin_cannot_claim_domains_or_appoint_admins(host):
    unit = f"o=pttbcxb,o=stttt,{ORGS}"
    res = ldif_as(host, "ldapmodify", ADMIN_STTTT, replace(unit, "associatedDomain", "evil.gov.vn", "add"))
    assert res.rc == 50, (res.rc, res.stderr)
    group = f"cn=admins,o=stttt,{ORGS}"
    res = ldif_as(host, "ldapmodify", ADMIN_STTTT, replace(group, "member", MINH[0], "add"))
    assert res.rc == 50, (res.rc, res.stderr)


def test_operator_writes_everywhere(host):
    res = ldif_as(host, "ldapmodify", OPERATOR, replace(LEHOANG, "title", "Chuyên viên", "replace"))
    assert res.rc == 0, res.stderr


def test_plain_user_cannot_change_others(host):
    res = as_user(host, "ldappasswd", MINH, f"-s {q('Other#Pass2026')} {q(LEHOANG)}")
    assert refused(res, 50), (res.rc, res.stderr)


# --- service accounts (docs/directory.md lookups) --------------------------------------------------

def test_postfix_lookups(host):
    res = as_user(host, "ldapsearch", POSTFIX,
                  f"-LLL -b {BASE} '(&(objectClass=congvuMailAccount)(|(mail=minhnv@hanam.gov.vn)"
                  "(congvuMailAlias=minhnv@hanam.gov.vn))(!(congvuAccountState=retired)))'"
                  " mail userPassword congvuMailQuota")
    assert res.rc == 0, res.stderr
    assert "mail: nguyenvanminh@hanam.gov.vn" in res.stdout
    assert "userPassword" not in res.stdout
    assert "congvuMailQuota" not in res.stdout
    res = as_user(host, "ldapsearch", POSTFIX, f"-LLL -b {BASE} '(associatedDomain=hanam-old.gov.vn)' dn")
    assert dns(res.stdout) == [BASE]
    res = as_user(host, "ldapsearch", POSTFIX, f"-LLL -b {BASE} '(associatedDomain=skhcn.hanam.gov.vn)' dn")
    assert dns(res.stdout) == [f"o=skhcn,{ORGS}"]
    res = as_user(host, "ldapsearch", POSTFIX,
                  f"-LLL -b {BASE} '(mail=stttt@hanam.gov.vn)' congvuMailDelegate")
    assert "congvuMailDelegate: nguyenvanminh@hanam.gov.vn" in res.stdout


def test_dovecot_lookups(host):
    res = as_user(host, "ldapsearch", DOVECOT,
                  f"-LLL -b {BASE} '(&(objectClass=congvuMailAccount)(mail=nguyenvanminh@hanam.gov.vn)"
                  "(congvuAccountState=active)(!(congvuMustChangePassword=TRUE)))'"
                  " congvuMailQuota userPassword")
    assert res.rc == 0, res.stderr
    assert dns(res.stdout) == [MINH[0]]
    assert "congvuMailQuota: 2000000000" in res.stdout
    assert "userPassword" not in res.stdout


def test_roundcube_address_book(host):
    res = as_user(host, "ldapsearch", ROUNDCUBE,
                  f"-LLL -b {BASE} '(&(objectClass=congvuMailAccount)(congvuAccountState=active))'"
                  " displayName mail userPassword")
    assert res.rc == 0, res.stderr
    assert f"dn: {MINH[0]}" in res.stdout
    assert "displayName" in res.stdout
    assert "userPassword" not in res.stdout


def test_services_cannot_read_secrets_or_write(host):
    for svc in (POSTFIX, DOVECOT, ROUNDCUBE):
        res = as_user(host, "ldapsearch", svc, f"-LLL -b {BASE} '(objectClass=*)' userPassword pwdHistory")
        assert "userPassword" not in res.stdout and "pwdHistory" not in res.stdout
        res = ldif_as(host, "ldapmodify", svc, replace(MINH[0], "congvuAccountState", "retired", "replace"))
        assert res.rc == 50, (svc[0], res.rc, res.stderr)


def test_agency_admin_cannot_exempt_accounts_from_policy(host):
    dn, _ = new_person(host, f"o=pttbcxb,o=stttt,{ORGS}")
    services = f"cn=services,ou=policies,{BASE}"
    res = ldif_as(host, "ldapmodify", ADMIN_STTTT, replace(dn, "pwdPolicySubentry", services))
    assert res.rc == 50, (res.rc, res.stderr)
    organisations = f"cn=organisations,ou=policies,{BASE}"
    res = ldif_as(host, "ldapmodify", ADMIN_STTTT, replace(dn, "pwdPolicySubentry", organisations))
    assert res.rc == 0, res.stderr
