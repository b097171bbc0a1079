"""congvu.ldapdir.Directory.apply when a transaction's commit fails (docs/accounts.md, "slapd 2.5 and
LDAP transactions"): the batch is replayed one operation at a time; a replay that writes every
operation counts as written (slapd went away under the commit, CI of 2026-12-06), one that cannot
write an operation fails the run naming it. A fake connection stands in for slapd: the logic only."""

from __future__ import annotations

import importlib
import sys
import types

import pytest

from congvu.reconcile import Change


def _stub_python_ldap() -> types.ModuleType:
    """The names congvu.ldapdir takes from python-ldap, which runs on the LDAP hosts and is not in the
    control node's virtualenv: its errors, two constants and the request classes as plain holders."""
    ldap = types.ModuleType("ldap")

    class LDAPError(Exception):
        pass

    for name in ("SERVER_DOWN", "CONNECT_ERROR", "CONSTRAINT_VIOLATION", "NO_SUCH_OBJECT"):
        setattr(ldap, name, type(name, (LDAPError,), {}))
    ldap.LDAPError, ldap.MOD_ADD, ldap.MOD_REPLACE, ldap.SCOPE_SUBTREE = LDAPError, 0, 2, 2
    modlist = types.ModuleType("ldap.modlist")
    modlist.addModlist = lambda entry: list(entry.items())
    controls = types.ModuleType("ldap.controls")

    class RequestControl:
        def __init__(self, control_type=None, criticality=False, value=None):
            self.controlType, self.criticality, self.value = control_type, criticality, value

    controls.RequestControl = controls.SimplePagedResultsControl = RequestControl
    extop = types.ModuleType("ldap.extop")

    class ExtendedRequest:
        def __init__(self, name, value):
            self.requestName, self.requestValue = name, value

    extop.ExtendedRequest = ExtendedRequest
    ldap.modlist, ldap.controls, ldap.extop = modlist, controls, extop
    return ldap


@pytest.fixture(scope="module")
def ldapdir():
    """congvu.ldapdir on python-ldap, or on the stub where the control node lacks it (the LDAP hosts
    have Debian's python3-ldap); the stub leaves sys.modules as it found it."""
    try:
        import ldap  # noqa: F401
    except ImportError:
        stub = _stub_python_ldap()
        with pytest.MonkeyPatch.context() as patch:
            for name, module in (("ldap", stub), ("ldap.modlist", stub.modlist),
                                 ("ldap.controls", stub.controls), ("ldap.extop", stub.extop)):
                patch.setitem(sys.modules, name, module)
            patch.delitem(sys.modules, "congvu.ldapdir", raising=False)
            yield importlib.import_module("congvu.ldapdir")
            sys.modules.pop("congvu.ldapdir", None)  # built on the stub: not for later tests
        return
    yield importlib.import_module("congvu.ldapdir")


class FakeConnection:
    """Records what is sent; the commit raises ``commit_error``; ``refuse`` maps a DN to the error its
    operation gets outside a transaction."""

    def __init__(self, txn_end, commit_error, refuse=None):
        self.txn_end, self.commit_error, self.refuse = txn_end, commit_error, refuse or {}
        self.sent, self.results = [], {}

    def extop_s(self, request):
        if request.requestName == self.txn_end and request.requestValue[2:3] != b"\x01":  # a commit
            raise self.commit_error
        return None, b"txn-1"

    def _op(self, dn, ctrls):
        msgid = len(self.sent) + 1
        self.sent.append((dn, bool(ctrls)))
        self.results[msgid] = None if ctrls else self.refuse.get(dn)
        return msgid

    def modify_ext(self, dn, mods, serverctrls=None):
        return self._op(dn, serverctrls)

    def add_ext(self, dn, modlist, serverctrls=None):
        return self._op(dn, serverctrls)

    def result3(self, msgid):
        error = self.results[msgid]
        if error is not None:
            raise error
        return (None, [], msgid, [])


def directory(ldapdir, conn):
    made = ldapdir.Directory.__new__(ldapdir.Directory)  # no server: the connection is the fake
    made.conn, made.written, made.replayed, made.reconnects, made.reconnect_wait = conn, [], [], 0, 0
    return made


CHANGES = [Change("modify", f"cn=ds{i},o=skhcn,dc=gialai,dc=gov,dc=vn", "list", f"ds{i}",
                  {"mail": [f"ds{i}@skhcn.gialai.gov.vn"]}) for i in range(3)]


def test_a_replay_that_writes_every_operation_counts_as_written(ldapdir):
    conn = FakeConnection(ldapdir.TXN_END, ldapdir.ldap.SERVER_DOWN({"desc": "Can't contact LDAP server"}))
    d = directory(ldapdir, conn)
    d.apply(CHANGES, "txn")
    assert d.written == CHANGES
    assert d.replayed == ["Can't contact LDAP server"]
    # sent in the transaction, then each alone
    assert [inside for _, inside in conn.sent] == [True] * 3 + [False] * 3


def test_an_operation_the_replay_cannot_write_fails_the_run_naming_it(ldapdir):
    dn, refused = CHANGES[1].dn, ldapdir.ldap.CONSTRAINT_VIOLATION
    conn = FakeConnection(ldapdir.TXN_END, refused({"desc": "Constraint violation"}),
                          refuse={dn: refused({"desc": "Constraint violation",
                                               "info": "some attributes not unique"})})
    d = directory(ldapdir, conn)
    with pytest.raises(ldapdir.BatchError) as caught:
        d.apply(CHANGES, "txn")
    assert caught.value.failures == [f"modify {dn}: Constraint violation some attributes not unique"]
    assert d.written == [CHANGES[0], CHANGES[2]]  # the good ones are written; a re-run converges
    assert d.replayed == []
