"""Agency mailing lists (docs/lists.md; Cần Thơ Art 11.5: each agency controls its own mailing lists),
checked over the wire on a shipped layout: the agency's delegated admin makes and changes its list with
ldapadd/ldapmodify over LDAPS (and cannot touch another agency's), the directory keeps list addresses
unique, Postfix expands a list to its members, and the list policy service lets exactly the senders the
list's rule names post to it (SMTP submission and port 25 from the test runner, delivery read over
IMAP). Lists kept from the roster (the layout's demo ``lists.yml``, applied by ``playbooks/accounts.yml``)
carry the naming scheme's address and the roster's members, take posts, and a second apply changes
nothing while it reports a list whose address does not follow the scheme.

Imported by a thin test file per layout (tests/layouts/<layout>/test_lists*.py). The people are test
accounts of the ``testpeople`` fixture in the catalogue's organisations; the lists are made by the demo
roster's own admin of the agency, and deleted at the end of the session.
"""

from __future__ import annotations

import pathlib
import re
import secrets
import time

import pytest
from backup_checks import playbook
from directory_checks import ADMIN_PASSWORD, Ldap, orgs, replace  # noqa: F401  (orgs: the fixture)
from mailcore import INTERNET_SENDER, PASSWORD, MailCore, brief, managesieve_put, unique
from polling import wait_for

from congvu.lists import AGENCY_OWNER, load_lists
from congvu.naming import make_scheme
from congvu.roster import load_rosters

ROOT = pathlib.Path(__file__).resolve().parents[2]

ARTICLE = "Can Tho Art 11.5"  # Cần Thơ Art 11.5 as the SMTP reply writes it (ASCII)
STRANGER = "quangcao@example.net"


@pytest.fixture(scope="module")
def ldap(stage, testpeople):
    return Ldap(stage, testpeople)


@pytest.fixture(scope="module")
def mailcore(stage):
    """The SMTP and IMAP clients of the mail core checks (tests/layouts/mailcore.py), without its
    own test accounts: the lists use theirs."""
    return MailCore(stage)


@pytest.fixture(scope="module")
def people(testpeople, orgs):  # noqa: F811  (the fixture imported above)
    """An agency (a top-level organisation with a unit and a roster admin), its admin, two members of
    its list (one in the unit), a colleague who is not a member, and someone of another agency."""
    agency, unit, other = orgs["agency"], orgs["unit"], orgs["other"]
    return {
        "agency": agency, "unit": unit, "other": other,
        "admin": testpeople.roster_admin(agency, ADMIN_PASSWORD),
        "member": testpeople.ensure("kiemthu.dsthanhvien", "Kiểm thử Thành viên", agency, PASSWORD),
        "unit_member": testpeople.ensure("kiemthu.dsdonvi", "Kiểm thử Thành viên đơn vị", unit, PASSWORD),
        "colleague": testpeople.ensure("kiemthu.dsdongnghiep", "Kiểm thử Đồng nghiệp", agency, PASSWORD),
        "outsider": testpeople.ensure("kiemthu.dscoquankhac", "Kiểm thử Cơ quan khác", other, PASSWORD),
    }


def list_ldif(dn: str, mail: str, members, accept: str | None = None, senders=()) -> str:
    lines = [f"dn: {dn}", "objectClass: congvuMailList", f"cn: {dn.split(',')[0][3:]}", f"mail: {mail}",
             "description: Danh sách thư kiểm thử (tests/layouts/list_checks.py)"]
    lines += [f"member: {m}" for m in members]
    lines += [f"congvuListAccept: {accept}"] if accept else []
    lines += [f"congvuListSender: {s}" for s in senders]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def mlist(ldap, testpeople, people):
    """The agency's list, made by its own admin: the two members, members-only, and one Internet
    correspondent named as an allowed sender."""
    name = f"kiemthu-ds-{secrets.token_hex(3)}"
    dn = f"cn={name},{testpeople.org_dn(people['agency'])}"
    mail = f"{name}@{testpeople.mail_domain(people['agency'])}"
    res = ldap.ldif_as("ldapadd", people["admin"].login,
                       list_ldif(dn, mail, [people["member"].dn, people["unit_member"].dn], "members",
                                 senders=[INTERNET_SENDER]))
    testpeople.forget(dn)
    assert res.returncode == 0, res.stderr_text
    return {"dn": dn, "mail": mail}


def set_rule(ldap, people, mlist, accept: str | None) -> None:
    """The admin changes who may post (no value: the default rule)."""
    ldif = (replace(mlist["dn"], "congvuListAccept", accept) if accept
            else f"dn: {mlist['dn']}\nchangetype: modify\nreplace: congvuListAccept\n")
    res = ldap.ldif_as("ldapmodify", people["admin"].login, ldif)
    assert res.returncode == 0, res.stderr_text


def post(mailcore, who, mlist, label: str) -> tuple[dict, str]:
    subject = unique(label)
    return mailcore.smtp(user=who.mail, password=PASSWORD, mail_from=who.mail, rcpts=[mlist["mail"]],
                         subject=subject), subject


def received(mailcore, who, subject: str) -> bool:
    return mailcore.has_mail(who.mail, subject)  # every test person's password is mailcore's PASSWORD


def refused_at_rcpt(result: dict, code: int, text: str) -> bool:
    """Refused at RCPT with ``code``, the list's address in front, and ``text``."""
    ((address, (got, reply)),) = result["rcpt"].items() or [("", (None, ""))]
    prefix = f"<{address}>: Recipient address rejected: "
    return not result["ok"] and got == code and prefix in reply and text in reply


# --- the agency's own lists (Cần Thơ Art 11.5) ----------------------------------------------------

def test_agency_admin_makes_a_list_in_own_agency_only(ldap, testpeople, people, mlist):
    # Cần Thơ Art 11.5: the agency controls its lists; the directory's ACL confines it to its own
    assert testpeople.attr(mlist["dn"], "congvuListAccept") == ["members"]
    name = f"kiemthu-ds-{secrets.token_hex(3)}"
    dn = f"cn={name},{testpeople.org_dn(people['other'])}"
    mail = f"{name}@{testpeople.mail_domain(people['other'])}"
    res = ldap.ldif_as("ldapadd", people["admin"].login, list_ldif(dn, mail, [people["member"].dn]))
    if res.returncode == 0:
        testpeople.forget(dn)
    assert res.returncode == 50, (res.returncode, res.stderr_text)


def test_agency_admin_cannot_change_another_agency_s_list(ldap, testpeople, people):
    name = f"kiemthu-ds-{secrets.token_hex(3)}"
    dn = f"cn={name},{testpeople.org_dn(people['other'])}"
    testpeople.root("ldapadd", stdin=list_ldif(dn, f"{name}@{testpeople.mail_domain(people['other'])}",
                                               [people["outsider"].dn]), check=True)
    testpeople.forget(dn)
    res = ldap.ldif_as("ldapmodify", people["admin"].login, replace(dn, "member", people["member"].dn, "add"))
    assert res.returncode == 50, (res.returncode, res.stderr_text)


def test_a_list_cannot_take_an_address_in_use(ldap, testpeople, people, mlist):
    # one address, one recipient: the unique overlay covers mailboxes and lists alike
    for taken in (people["colleague"].mail, mlist["mail"]):
        name = f"kiemthu-ds-{secrets.token_hex(3)}"
        dn = f"cn={name},{testpeople.org_dn(people['agency'])}"
        res = ldap.ldif_as("ldapadd", people["admin"].login, list_ldif(dn, taken, [people["member"].dn]))
        if res.returncode == 0:
            testpeople.forget(dn)
        assert res.returncode == 19, (taken, res.returncode, res.stderr_text)


def test_the_list_s_owner_keeps_its_members_and_nothing_else(ldap, testpeople, people, mlist):
    # Cần Thơ Art 11.5: a list is managed by the agency's mailbox or a person the head of the agency
    # authorises; the agency's admin names that person as the list's owner
    owner, colleague = people["member"], people["colleague"]
    res = ldap.ldif_as("ldapmodify", people["admin"].login, replace(mlist["dn"], "owner", owner.dn))
    assert res.returncode == 0, res.stderr_text
    for op in ("add", "delete"):
        res = ldap.ldif_as("ldapmodify", owner.login, replace(mlist["dn"], "member", colleague.dn, op))
        assert res.returncode == 0, (op, res.stderr_text)
    for op in ("add", "delete"):
        res = ldap.ldif_as("ldapmodify", owner.login, replace(mlist["dn"], "congvuListSender", STRANGER, op))
        assert res.returncode == 0, (op, res.stderr_text)
    # the owner cannot hand the list on, rename its address or touch another entry
    for attr, value in (("owner", colleague.dn), ("mail", f"x-{mlist['mail']}")):
        res = ldap.ldif_as("ldapmodify", owner.login, replace(mlist["dn"], attr, value, "add"))
        assert res.returncode == 50, (attr, res.returncode, res.stderr_text)
    # nor can a member who is not its owner, or anyone else
    for who in (people["unit_member"], colleague):
        res = ldap.ldif_as("ldapmodify", who.login, replace(mlist["dn"], "member", colleague.dn, "add"))
        assert res.returncode == 50, (who.mail, res.returncode, res.stderr_text)
    assert sorted(testpeople.attr(mlist["dn"], "member")) == sorted([owner.dn, people["unit_member"].dn])


def test_postfix_expands_the_list_to_its_members(stage, mailcore, mlist, people):
    mx = stage.first("mail_servers")
    out = mx.out(f"postmap -q {mlist['mail']} proxy:ldap:/etc/postfix/ldap/mailing_lists.cf")
    assert sorted(out.strip().split(",")) == sorted([people["member"].mail, people["unit_member"].mail])


def test_a_member_who_moves_stays_on_the_list_and_one_who_goes_leaves_it(testpeople, people, mlist):
    # A move to another organisation (the roster apply's modrdn, a transfer: docs/accounts.md) changes
    # the member's DN; slapd's refint overlay follows it, so the person keeps getting the list's mail.
    # A deleted entry leaves the list.
    person = testpeople.throwaway(people["agency"])
    testpeople.modify(replace(mlist["dn"], "member", person.dn, "add"))
    rdn, _, _ = person.dn.partition(",")
    unit = testpeople.org_dn(people["unit"])
    testpeople.root("ldapmodrdn", f"-s '{unit}' '{person.dn}' '{rdn}'", check=True)
    moved = f"{rdn},{unit}"

    def members() -> set[str]:
        return {m.replace(" ", "").lower() for m in testpeople.attr(mlist["dn"], "member")}

    assert wait_for(lambda: moved.replace(" ", "").lower() in members()), members()
    assert person.dn.replace(" ", "").lower() not in members()
    testpeople.root("ldapdelete", f"'{moved}'", check=True)
    assert wait_for(lambda: moved.replace(" ", "").lower() not in members()), members()
    assert {people["member"].dn.lower(), people["unit_member"].dn.lower()} <= members()


# --- who may post -----------------------------------------------------------------------------------

def test_a_member_posts_and_every_member_receives(ldap, mailcore, people, mlist):
    set_rule(ldap, people, mlist, "members")
    sent, subject = post(mailcore, people["member"], mlist, "Thông báo họp giao ban")
    assert sent["ok"], brief(sent)
    for who in ("member", "unit_member"):
        assert wait_for(lambda w=who: received(mailcore, people[w], subject)), who
    assert not received(mailcore, people["colleague"], subject)


def test_members_only_refuses_everyone_else_but_a_named_sender(ldap, mailcore, people, mlist):
    # Cần Thơ Art 11.5, congvuListAccept: members
    set_rule(ldap, people, mlist, "members")
    sent, _ = post(mailcore, people["colleague"], mlist, "Không phải thành viên")
    assert refused_at_rcpt(sent, 554, "only the list's members may send"), brief(sent)
    assert ARTICLE in next(iter(sent["rcpt"].values()))[1]
    stranger = mailcore.internet(mail_from=STRANGER, rcpts=[mlist["mail"]], subject=unique("Quảng cáo"))
    assert refused_at_rcpt(stranger, 554, "only the list's members may send"), brief(stranger)
    # congvuListSender names an Internet correspondent: it posts on port 25
    subject = unique("Công văn gửi danh sách")
    named = mailcore.internet(rcpts=[mlist["mail"]], subject=subject)
    assert named["ok"], brief(named)
    assert wait_for(lambda: received(mailcore, people["member"], subject))


def test_organisation_rule_lets_the_agency_post_and_no_one_else(ldap, mailcore, people, mlist):
    set_rule(ldap, people, mlist, "organisation")
    sent, subject = post(mailcore, people["colleague"], mlist, "Đồng nghiệp gửi")
    assert sent["ok"], brief(sent)
    assert wait_for(lambda: received(mailcore, people["unit_member"], subject))
    sent, _ = post(mailcore, people["outsider"], mlist, "Cơ quan khác gửi")
    assert refused_at_rcpt(sent, 554, "only the accounts of the agency"), brief(sent)


def test_province_rule_is_the_default(ldap, mailcore, people, mlist):
    set_rule(ldap, people, mlist, None)
    sent, subject = post(mailcore, people["outsider"], mlist, "Cơ quan khác trong tỉnh gửi")
    assert sent["ok"], brief(sent)
    assert wait_for(lambda: received(mailcore, people["member"], subject))
    stranger = mailcore.internet(mail_from=STRANGER, rcpts=[mlist["mail"]], subject=unique("Quảng cáo"))
    assert refused_at_rcpt(stranger, 554, "only the province's official accounts"), brief(stranger)


def test_anyone_rule_takes_internet_mail(ldap, mailcore, people, mlist):
    set_rule(ldap, people, mlist, "anyone")
    subject = unique("Thư từ bên ngoài")
    sent = mailcore.internet(mail_from=STRANGER, rcpts=[mlist["mail"]], subject=subject)
    assert sent["ok"], brief(sent)
    assert wait_for(lambda: received(mailcore, people["unit_member"], subject))


def test_a_rule_the_policy_does_not_know_defers_and_loses_nothing(ldap, mailcore, people, mlist):
    set_rule(ldap, people, mlist, "thanhvien")
    sent, _ = post(mailcore, people["member"], mlist, "Quy tắc sai")
    assert refused_at_rcpt(sent, 450, "congvuListAccept is 'thanhvien'"), brief(sent)
    set_rule(ldap, people, mlist, "members")


def test_a_sieve_redirect_cannot_bypass_the_list_s_rule(ldap, mailcore, people, mlist):
    # The Sieve listener asks the list policy too (docs/lists.md): a non-member's redirect to a
    # members-only list is refused there, and Dovecot keeps the message in the INBOX (implicit keep).
    set_rule(ldap, people, mlist, "members")
    colleague = people["colleague"]
    since = time.time() - 5
    put = managesieve_put(mailcore.tls(), mailcore.mx.address, colleague.mail, PASSWORD, "chuyen-danh-sach",
                          f'redirect "{mlist["mail"]}";\n')
    assert put["ok"], put
    try:
        subject = unique("Chuyển tiếp vào danh sách")
        sent = mailcore.internet(rcpts=[colleague.mail], subject=subject)
        assert sent["ok"], brief(sent)
        assert wait_for(lambda: received(mailcore, colleague, subject))  # kept
        refusal = wait_for(lambda: [x for x in mailcore.journal(since) if "postfix/sieve/smtpd" in x
                                    and "reject: RCPT" in x and f"<{mlist['mail']}>" in x])
        assert refusal and "only the list's members may send" in refusal[0], refusal
    finally:
        managesieve_put(mailcore.tls(), mailcore.mx.address, colleague.mail, PASSWORD, "chuyen-danh-sach",
                        "keep;\n")


def test_an_operator_asks_the_policy_without_sending(stage, ldap, people, mlist):
    # the --check command of docs/lists.md, as the service's own user
    set_rule(ldap, people, mlist, "members")
    mx = stage.first("mail_servers")

    def check(sender: str) -> str:
        return mx.out(f"runuser -u congvu-lists -- /usr/local/libexec/congvu/list-policy --check "
                      f"/etc/postfix/congvu-list-policy.cf {mlist['mail']} {sender}").strip()

    assert check(people["member"].mail) == "DUNNO"
    assert check(people["colleague"].mail).startswith("REJECT 5.7.1 only the list's members may send")


def test_the_policy_service_runs_unprivileged(stage):
    mx = stage.first("mail_servers")
    assert "user=congvu-lists" in mx.out("postconf -M congvu-lists/unix")
    mode = mx.out("stat -c '%U:%G %a' /etc/postfix/congvu-list-policy.cf").strip()
    assert mode == "root:congvu-lists 640", mode
    # the service password in it is not for other local users
    assert mx.run("runuser -u nobody -- cat /etc/postfix/congvu-list-policy.cf").returncode != 0


# --- lists kept from the roster (docs/lists.md, "Lists kept from the roster") ---------------------

def _norm(dn: str) -> str:
    return dn.replace(" ", "").lower()


def _within(catalogue, org: str, code: str) -> bool:
    """A person of ``org`` is a person of ``code``: ``code`` itself or one of its units."""
    for item in catalogue.ancestors(org):
        if item.code == code:
            return True
        if item.kind != "unit":
            return False
    return False


@pytest.fixture(scope="module")
def roster_list(stage):
    """The first list of the layout's demo lists file whose members the roster keeps and that people
    of its agency may post to, with the scheme and the ids of the people it must hold."""
    path = ROOT / "data" / "demo" / stage.province / "lists.yml"
    if not path.is_file():
        pytest.skip(f"no demo lists file for {stage.province} ({path.relative_to(ROOT)})")
    scheme = make_scheme(stage.policy["naming"], stage.catalogue)
    roster = load_rosters(sorted((path.parent / "rosters").iterdir()), stage.catalogue)
    kept = [spec for spec in load_lists(path.read_bytes(), str(path.relative_to(ROOT)), scheme, roster)
            if spec.members is not None and spec.accept in ("organisation", "province", "anyone")]
    if not kept:
        pytest.skip(f"{path.relative_to(ROOT)} has no roster-kept list the agency may post to")
    spec = kept[0]
    ids = set(spec.members.people) | {p.id for p in roster for code in spec.members.organisations
                                      if _within(stage.catalogue, p.org, code)}
    return {"spec": spec, "scheme": scheme, "ids": ids}


def _apply_accounts(stage, tmp: pathlib.Path, *extra: str):
    run = playbook(stage, "accounts.yml", "-e", f"accounts_credentials_dir={tmp}/credentials",
                   "-e", "accounts_vault_password=lists-test-vault-2026", *extra)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return run


def _org_of(testpeople, mlist) -> str:
    """The catalogue code of the organisation a test list sits in (its parent entry)."""
    parent = _norm(mlist["dn"].split(",", 1)[1])
    return next(code for code, dn in testpeople.org_dns().items() if _norm(dn) == parent)


def test_a_second_accounts_apply_changes_nothing_and_names_a_misnamed_list(stage, testpeople, mlist,
                                                                           roster_list, tmp_path):
    # The roster apply keeps its lists (Cần Thơ Art 11.5) and leaves every other list alone; a list an
    # agency made with an address outside the naming scheme (this module's own test list) is reported.
    _apply_accounts(stage, tmp_path)
    again = _apply_accounts(stage, tmp_path)
    recap = again.stdout.rpartition("PLAY RECAP")[2]
    assert re.findall(r"changed=(\d+)", recap) and set(re.findall(r"changed=(\d+)", recap)) == {"0"}, recap
    # the report names the list, its address and the one the scheme gives; a [WARNING] says it too
    scheme = roster_list["scheme"]
    name = mlist["dn"].split(",")[0].partition("=")[2]
    expected = scheme.list_address(_org_of(testpeople, mlist), name)
    report = again.flat.rpartition("Report what changed")[2]
    for text in (mlist["dn"], f"the address {mlist['mail']} does not follow the naming scheme", expected):
        assert text in report, (text, report[-3000:])
    assert "[WARNING]: mailing list" in again.stderr
    assert roster_list["spec"].address not in report  # unchanged, and named by the scheme


def test_the_roster_s_list_has_the_scheme_s_address_and_the_roster_s_people(stage, testpeople, roster_list):
    spec, scheme = roster_list["spec"], roster_list["scheme"]
    dn = f"cn={spec.name},{testpeople.org_dn(spec.organisation)}"
    assert testpeople.attr(dn, "mail") == [scheme.list_address(spec.organisation, spec.name)]
    assert testpeople.attr(dn, "congvuListAccept") == [spec.accept]
    assert testpeople.attr(dn, "displayName") == [spec.display_name]
    if AGENCY_OWNER in spec.owners:  # Cần Thơ Art 11.5: the agency's own mailbox keeps the list
        agency = stage.catalogue.agency_of(spec.organisation).code
        box = f"uid={scheme.org_local(agency)},{testpeople.org_dn(agency)}"
        assert _norm(box) in {_norm(o) for o in testpeople.attr(dn, "owner")}
    # the roster's people of the organisation and its units, none retired or leaving
    people = testpeople.search(testpeople.orgs, "(&(objectClass=congvuMailAccount)(employeeNumber=*))",
                               "employeeNumber", "mail", "congvuAccountState", "congvuLeavingSince")
    expected = {_norm(pdn): attrs["mail"][0] for pdn, attrs in people
                if attrs["employeeNumber"][0] in roster_list["ids"]
                and attrs.get("congvuAccountState") != ["retired"] and not attrs.get("congvuLeavingSince")}
    assert expected
    assert {_norm(m) for m in testpeople.attr(dn, "member")} == set(expected)
    mx = stage.first("mail_servers")
    out = mx.out(f"postmap -q {spec.address} proxy:ldap:/etc/postfix/ldap/mailing_lists.cf")
    assert sorted(out.strip().split(",")) == sorted(expected.values())


def test_a_post_to_the_roster_s_list_reaches_its_members(stage, testpeople, mailcore, roster_list):
    spec = roster_list["spec"]
    agency = stage.catalogue.agency_of(spec.organisation).code
    sender = testpeople.ensure("kiemthu.dsdanhsach", "Kiểm thử Danh sách", agency, PASSWORD)
    dn = f"cn={spec.name},{testpeople.org_dn(spec.organisation)}"
    members = sorted(testpeople.attr(dn, "member"))
    # one member of the organisation itself and, when there is one, one of a unit
    direct = [m for m in members if _norm(m).split(",", 1)[1] == _norm(testpeople.org_dn(spec.organisation))]
    picked = {members[0], (direct or members)[0], members[-1]}
    readers = [testpeople.attr(m, "mail")[0] for m in picked]
    subject = unique("Thông báo toàn sở")
    sent = mailcore.smtp(user=sender.mail, password=PASSWORD, mail_from=sender.mail, rcpts=[spec.address],
                         subject=subject)
    assert sent["ok"], brief(sent)
    for reader in readers:  # demo people: nobody knows their password, so read on the mail host
        assert wait_for(lambda r=reader: mailcore.has_mail_on_host(r, subject)), reader


def test_the_lists_file_renames_a_list_keeping_its_address_then_removes_it(stage, testpeople, mailcore,
                                                                          roster_list, tmp_path):
    # Cần Thơ Art 11.5: the agency's lists change with the agency. A rename moves the entry (slapd's
    # modrdn, in the roster apply's LDAP transaction) and mail to the former address still reaches the
    # members; a removal deletes it, and Postfix then refuses the address (the sender is told).
    spec, scheme = roster_list["spec"], roster_list["scheme"]
    org, reader = spec.organisation, sorted(roster_list["ids"])[0]
    demo = (ROOT / "data" / "demo" / stage.province / "lists.yml").read_text(encoding="utf-8")
    names = ("kiemthu-cu", "kiemthu-moi")
    old, new = (scheme.list_address(org, n) for n in names)
    old_dn, new_dn = (f"cn={n},{testpeople.org_dn(org)}" for n in names)
    entry = (f"  - name: {{name}}\n    organisation: {org}\n    display_name: Kiểm thử đổi tên danh sách\n"
             f"    accept: anyone\n    members:\n      people: [{reader}]\n")
    path = tmp_path / "lists.yaml"  # playbook() takes an argument ending in .yml for a playbook

    def apply(extra: str):
        path.write_text(demo.rstrip("\n") + "\n" + extra, encoding="utf-8")
        return _apply_accounts(stage, tmp_path, "-e", f"accounts_lists_file={path}")

    def expands(address: str) -> str:
        lookup = f"postmap -q {address} proxy:ldap:/etc/postfix/ldap/mailing_lists.cf"
        return stage.first("mail_servers").run(lookup).stdout_text.strip()

    (person,) = testpeople.search(testpeople.orgs, f"(employeeNumber={reader})", "mail")
    member = person[1]["mail"][0]
    try:
        apply(entry.format(name=names[0]))
        assert testpeople.attr(old_dn, "mail") == [old]
        apply(entry.format(name=names[1]) + f"    renamed_from: {names[0]}\n")
        assert not testpeople.exists(old_dn)
        assert testpeople.attr(new_dn, "mail") == [new]
        assert testpeople.attr(new_dn, "congvuMailAlias") == [old]
        assert expands(new) == member and expands(old) == member
        subject = unique("Thư gửi địa chỉ cũ của danh sách")
        sent = mailcore.internet(rcpts=[old], subject=subject)
        assert sent["ok"], brief(sent)
        assert wait_for(lambda: mailcore.has_mail_on_host(member, subject)), member
        removed = apply(f"  - name: {names[1]}\n    organisation: {org}\n    state: absent\n")
        assert new in removed.flat.rpartition("Report what changed")[2]  # removed_lists names it
        assert not testpeople.exists(new_dn)
        assert expands(new) == "" and expands(old) == ""
        refused = mailcore.internet(rcpts=[new], subject=unique("Danh sách đã xóa"))
        assert not refused["ok"] and refused["rcpt"].get(new, (None,))[0] == 550, brief(refused)
        # both addresses stay reserved on the agency's mailbox: never given to anyone else
        holders = testpeople.search(testpeople.orgs, f"(congvuReservedAddress={new})",
                                    "congvuReservedAddress", "congvuMailboxClass")
        assert len(holders) == 1 and old in holders[0][1]["congvuReservedAddress"], holders
        assert holders[0][1]["congvuMailboxClass"] == ["agency"], holders
    finally:
        for dn in (old_dn, new_dn):
            if testpeople.exists(dn):
                testpeople.root("ldapdelete", f"'{dn}'", check=True)
