"""The mailing list policy service (roles/postfix/files/usr/local/libexec/congvu/list-policy): who may
send to an agency's list (docs/lists.md, Cần Thơ Art 11.5), and the Postfix policy protocol around
it. The directory side is checked over the wire by tests/layouts/list_checks.py."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import io
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ROOT / "roles" / "postfix" / "files" / "usr" / "local" / "libexec" / "congvu" / "list-policy"
ORGS = "ou=organisations,dc=cantho,dc=gov,dc=vn"


@pytest.fixture(scope="module")
def policy():
    loader = importlib.machinery.SourceFileLoader("congvu_list_policy", str(PROGRAM))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[loader.name] = module  # dataclasses look their module up
    loader.exec_module(module)
    return module


def person(local: str, *orgs: str) -> str:
    return ",".join([f"uid={local}", *(f"o={o}" for o in orgs), ORGS])


def a_list(policy, accept="members", senders=(), members=(), org=("stttt",)):
    dn = ",".join(["cn=toanso", *(f"o={o}" for o in org), ORGS])
    return policy.MailList(dn=dn, address="toanso@cantho.gov.vn", accept=accept,
                           senders=frozenset(senders), members=frozenset(policy.norm_dn(m) for m in members))


MEMBER = person("nguyenvana", "phongcntt", "stttt")
COLLEAGUE = person("lethib", "stttt")
OUTSIDER = person("tranvanc", "snv")


@pytest.mark.parametrize(("accept", "sender_dn", "allowed"), [
    ("members", MEMBER, True),
    ("members", COLLEAGUE, False),
    ("members", None, False),
    ("organisation", MEMBER, True),  # a unit of the agency is the agency
    ("organisation", COLLEAGUE, True),
    ("organisation", OUTSIDER, False),
    ("organisation", None, False),
    ("province", OUTSIDER, True),
    ("province", None, False),
    ("anyone", None, True),
    ("Members", MEMBER, True),  # values are matched without case, as the schema compares them
])
def test_who_may_send_by_the_list_s_rule(policy, accept, sender_dn, allowed):
    # Cần Thơ Art 11.5: the agency decides who posts to its list
    lst = a_list(policy, accept, members=[MEMBER])
    action = policy.decide(lst, "someone@cantho.gov.vn", sender_dn, ORGS)
    assert (action == "DUNNO") is allowed, action
    if not allowed:
        assert action.startswith("REJECT 5.7.1 only ")
        assert "Can Tho Art 11.5" in action  # Cần Thơ Art 11.5, in ASCII as SMTP replies are
        assert action.isascii()


def test_a_member_dn_matches_however_the_admin_typed_it(policy):
    lst = a_list(policy, members=["UID=NguyenVanA, o=PhongCNTT,o=stttt, " + ORGS.upper()])
    assert policy.decide(lst, "nguyenvana@cantho.gov.vn", MEMBER, ORGS) == "DUNNO"


def test_a_named_sender_may_post_whoever_it_is(policy):
    lst = a_list(policy, "members", senders={"vanthu@ubnd.tinhkhac.gov.vn"})
    assert policy.decide(lst, "VanThu@ubnd.tinhkhac.gov.vn", None, ORGS) == "DUNNO"
    assert policy.decide(lst, "", None, ORGS).startswith("REJECT")  # the null sender is nobody


def test_an_unknown_rule_defers_naming_the_list_and_the_values(policy):
    lst = a_list(policy, "thanhvien", members=[MEMBER])
    action = policy.decide(lst, "nguyenvana@cantho.gov.vn", MEMBER, ORGS)
    assert action.startswith("DEFER 4.7.1 the list's congvuListAccept is ")
    assert "'thanhvien'" in action and lst.dn in action
    assert "members, organisation, province, anyone" in action


def test_the_agency_of_an_entry(policy):
    assert policy.top_organisation(MEMBER, ORGS) == f"o=stttt,{ORGS}"
    assert policy.top_organisation(f"o=stttt,{ORGS}", ORGS) == f"o=stttt,{ORGS}"
    assert policy.top_organisation("cn=operator,ou=people,dc=cantho,dc=gov,dc=vn", ORGS) is None
    # a list of another agency does not make its members' agency the same
    lst = a_list(policy, "organisation", org=("snv",))
    assert policy.decide(lst, "x@cantho.gov.vn", COLLEAGUE, ORGS).startswith("REJECT")


def test_requests_are_read_one_by_one_until_the_end(policy):
    stream = io.StringIO("request=smtpd_access_policy\nprotocol_state=RCPT\nrecipient=a@b\n\n"
                         "request=smtpd_access_policy\r\nsender=\r\n\r\n")
    assert policy.read_request(stream) == {"request": "smtpd_access_policy", "protocol_state": "RCPT",
                                           "recipient": "a@b"}
    assert policy.read_request(stream) == {"request": "smtpd_access_policy", "sender": ""}
    assert policy.read_request(stream) is None


class FakeDirectory:
    """The two lookups of the real Directory, from dicts."""

    organisations = ORGS

    def __init__(self, lists, accounts, down=False):
        self.lists, self.accounts, self.down = lists, accounts, down
        self.ldap = SimpleNamespace(LDAPError=OSError)
        self.asked = []

    def mail_list(self, address):
        self.asked.append(address)
        if self.down:
            raise OSError("Can't contact LDAP server")
        return self.lists.get(address)

    def account(self, address):
        return self.accounts.get(address)


def test_answers_only_for_lists_at_rcpt(policy):
    lst = a_list(policy, members=[MEMBER])
    directory = FakeDirectory({"toanso@cantho.gov.vn": lst}, {"nguyenvana@cantho.gov.vn": MEMBER})
    rcpt = {"request": "smtpd_access_policy", "protocol_state": "RCPT"}
    other = {**rcpt, "recipient": "someone@cantho.gov.vn", "sender": "x@y"}
    assert policy.answer(directory, other) == "DUNNO"
    assert policy.answer(directory, {**rcpt, "recipient": "toanso@cantho.gov.vn",
                                     "sender": "nguyenvana@cantho.gov.vn"}) == "DUNNO"
    assert policy.answer(directory, {**rcpt, "recipient": "toanso@cantho.gov.vn",
                                     "sender": "spam@example.org"}).startswith("REJECT 5.7.1")
    asked = len(directory.asked)
    assert policy.answer(directory, {**rcpt, "protocol_state": "DATA", "recipient": "toanso@cantho.gov.vn"}) \
        == "DUNNO"
    assert len(directory.asked) == asked  # nothing is looked up outside RCPT


def test_a_directory_that_does_not_answer_defers(policy):
    directory = FakeDirectory({}, {}, down=True)
    action = policy.answer(directory, {"request": "smtpd_access_policy", "protocol_state": "RCPT",
                                       "recipient": "toanso@cantho.gov.vn", "sender": "x@y"})
    assert action.startswith("DEFER 4.3.0 the list's settings cannot be read now")


def test_a_config_without_its_connection_stops_naming_the_file(policy, tmp_path):
    config = tmp_path / "congvu-list-policy.cf"
    config.write_text("# comment\nserver_host = ldapi:///\nsearch_base = dc=x\nbind_dn = cn=postfix\n")
    with pytest.raises(SystemExit, match=f"{config}: bind_pw is not set"):
        policy.read_config(str(config))
    config.write_text("server_host ldapi:///\n")
    with pytest.raises(SystemExit, match=f"{config}:1: not a 'name = value' line"):
        policy.read_config(str(config))
