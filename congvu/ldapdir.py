"""The LDAP operations of the account tooling (python-ldap): one paged search, batched writes.

The only module of the package that talks to a server. ``library/congvu_reconcile.py`` (the roster apply)
and the lifecycle run (``congvu.lifecycle_run``, through ``library/congvu_lifecycle.py`` and the daily
``congvu-lifecycle`` command) share it; the planning modules stay pure. It needs python3-ldap on the host
(the openldap and lifecycle roles install it) and is imported only by those entry points.

Writes are :class:`Change` objects of ``congvu.reconcile`` (``op`` add, modify, move or delete; ``attrs``
the whole entry or attribute -> new values, ``[]`` deleting the attribute, ``+name`` adding values).
``apply`` writes them in RFC 5805 transactions of ``batch_size`` operations (one durable MDB commit each),
plain pipelined operations, or one at a time; docs/accounts.md ("Writing: paths and their guarantees",
"slapd 2.5 and LDAP transactions") explains the choices and the attribute-numbering guard
(:meth:`Directory.prime`, :meth:`Directory.prime_in_place`).
"""

from __future__ import annotations

import contextlib
import time

import ldap
import ldap.modlist
from ldap.controls import RequestControl, SimplePagedResultsControl
from ldap.extop import ExtendedRequest

from congvu.reconcile import transaction_order

__all__ = ["BatchError", "Directory", "ldap_text"]

TXN_START, TXN_SPEC, TXN_END = "1.3.6.1.1.21.1", "1.3.6.1.1.21.2", "1.3.6.1.1.21.3"
#: RDN of the short-lived entry that registers attribute types before any transaction (see prime()).
PROBE_RDN = "cn=congvu-reconcile-probe"
#: Values the probe carries instead of the run's: no real address (the unique overlay), no real hash.
PROBE_SYNTHETIC = {"mail": "congvu-reconcile-probe@invalid",
                   "congvumailalias": "congvu-reconcile-probe@invalid", "userpassword": "{CRYPT}!"}
WINDOW = 64  # requests in flight in async mode
LDAPError = ldap.LDAPError
NO_SUCH_OBJECT = ldap.NO_SUCH_OBJECT


class BatchError(Exception):
    """Writes that failed, each ``op dn: reason``."""

    def __init__(self, failures):
        self.failures = failures
        super().__init__("; ".join(failures[:20]))


def ldap_text(exc):
    """The server's words for an LDAP error."""
    info = exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}
    return " ".join(str(info.get(k, "")) for k in ("desc", "info")).strip() or str(exc)


class Directory:
    """One connection: SASL EXTERNAL over ldapi:/// (root on the LDAP host) or a simple bind, with
    StartTLS when asked (the certificate checked against ``ca_file``)."""

    def __init__(self, uri="ldapi:///", bind_dn=None, bind_pw=None, start_tls=False, ca_file=None,
                 reconnect_wait=60.0):
        self._params = (uri, bind_dn, bind_pw, start_tls, ca_file)
        self.reconnect_wait = reconnect_wait
        self.reconnects = 0
        #: every change :meth:`apply` has seen the server accept, in order (the audit log's source)
        self.written: list = []
        #: why each transaction that had to be replayed one operation at a time failed at its commit
        self.replayed: list[str] = []
        self.conn = self._connect_within(reconnect_wait)

    def _connect(self):
        uri, bind_dn, bind_pw, start_tls, ca_file = self._params
        conn = ldap.initialize(uri, bytes_mode=False)
        conn.set_option(ldap.OPT_PROTOCOL_VERSION, 3)
        if ca_file:
            # on the connection, then a new TLS context from them: set globally, libldap's StartTLS
            # fails with "Connect error" (-11) on Debian 12 (found by the split layout's daily run)
            conn.set_option(ldap.OPT_X_TLS_CACERTFILE, ca_file)
            conn.set_option(ldap.OPT_X_TLS_REQUIRE_CERT, ldap.OPT_X_TLS_HARD)
            conn.set_option(ldap.OPT_X_TLS_NEWCTX, 0)
        if start_tls:
            conn.start_tls_s()
        if bind_dn:
            conn.simple_bind_s(bind_dn, bind_pw or "")
        else:
            conn.sasl_external_bind_s()
        return conn

    def reconnect(self):
        """A new connection after the server dropped this one, polling until it answers (slapd restarted
        by systemd) for at most ``reconnect_wait`` seconds; the last error is raised after that."""
        with contextlib.suppress(ldap.LDAPError):
            self.conn.unbind_s()
        self.conn = self._connect_within(self.reconnect_wait)
        self.reconnects += 1

    def _connect_within(self, wait):
        """A connection, polling every half second for at most ``wait`` seconds while the server does
        not answer: a run that starts while systemd restarts a crashed slapd (``Restart=on-failure``)
        waits for it instead of failing (CI of 2026-12-06: the lifecycle run met such a restart)."""
        deadline = time.monotonic() + wait
        while True:
            try:
                return self._connect()
            except (ldap.SERVER_DOWN, ldap.CONNECT_ERROR):
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.5)

    def _write_alone(self, change):
        """One change outside any transaction; a dropped connection is opened again once and the
        change sent again (an add the server made before dropping comes back "Already exists": the
        run fails and the next run converges)."""
        try:
            answer = self.conn.result3(self._send(change, None))
        except ldap.SERVER_DOWN:
            self.reconnect()
            answer = self.conn.result3(self._send(change, None))
        self.written.append(change)
        return answer

    def search(self, base, filterstr, attrs, page_size=5000):
        """Every entry below ``base`` matching ``filterstr``, in one paged subtree search:
        ``[(dn, {attribute: [bytes]})]``."""
        page = SimplePagedResultsControl(True, size=page_size, cookie="")
        out = []
        while True:
            msgid = self.conn.search_ext(base, ldap.SCOPE_SUBTREE, filterstr, attrs, serverctrls=[page])
            _, data, _, ctrls = self.conn.result3(msgid)
            out.extend((dn, entry) for dn, entry in data if dn)
            cookies = [c.cookie for c in ctrls if c.controlType == SimplePagedResultsControl.controlType]
            if not cookies or not cookies[0]:
                return out
            page.cookie = cookies[0]

    @staticmethod
    def _encode(attrs):
        return {k: [v.encode("utf-8") for v in vals] for k, vals in attrs.items()}

    def _send(self, change, ctrls):
        if change.op == "add":
            return self.conn.add_ext(change.dn, ldap.modlist.addModlist(self._encode(change.attrs)),
                                     serverctrls=ctrls)
        if change.op == "modify":
            # "+name": values added to the attribute (an auxiliary class); else the values replace it,
            # [] deleting it
            mods = [(ldap.MOD_ADD, name[1:], [v.encode("utf-8") for v in values]) if name.startswith("+")
                    else (ldap.MOD_REPLACE, name, [v.encode("utf-8") for v in values] or None)
                    for name, values in change.attrs.items()]
            return self.conn.modify_ext(change.dn, mods, serverctrls=ctrls)
        if change.op == "delete":
            return self.conn.delete_ext(change.dn, serverctrls=ctrls)
        rdn, _, superior = change.new_dn.partition(",")
        return self.conn.rename(change.dn, rdn, superior, 1, serverctrls=ctrls)

    def prime(self, parent, changes):
        """Make slapd register every attribute type ``changes`` write, outside any transaction.

        slapd 2.5's back-mdb (2.5.13 in Debian 12, unchanged up to 2.6) numbers each attribute type
        the first time an entry stores it, in the same MDB transaction as the entry. When an LDAP
        transaction (RFC 5805) is aborted - any of its operations failing at commit - the
        numbering is rolled back on disk but stays in slapd's memory (``mdb_txn`` SLAP_TXN_ABORT only
        resets ``mi_numads``; the per-operation path unwinds it, ITS#9091). Every later write of that
        attribute then stores a number the database does not know: reads fail with
        "mdb_entry_decode: attribute index N not recognized" (LDAP "internal error"), and once
        another new attribute takes number N the stored values come back under the wrong attribute.
        Writing one throw-away entry that carries every attribute of the run first, in its own
        committed operation, leaves a transaction nothing to number, so an aborted one is harmless.
        Needs the right to add and delete below ``parent`` (root: the roster apply).
        """
        attrs = {}
        for change in changes:
            for name, values in change.attrs.items():
                name = name.lstrip("+")  # values added to an attribute (an auxiliary class)
                key = name.lower()
                if values and key not in ("objectclass", "cn") and key not in {a.lower() for a in attrs}:
                    attrs[name] = [PROBE_SYNTHETIC.get(key, values[0])]
        if not attrs:
            return 0
        dn = f"{PROBE_RDN},{parent}"
        entry = {"objectClass": ["applicationProcess", "extensibleObject"],
                 "cn": [PROBE_RDN.partition("=")[2]], **attrs}
        self._delete_probe(dn)  # left over by a run that died between the two writes
        self.conn.add_ext_s(dn, ldap.modlist.addModlist(self._encode(entry)))
        self._delete_probe(dn)
        return len(attrs)

    def prime_in_place(self, changes):
        """The same guard as :meth:`prime` for a client that may not add entries (the lifecycle's
        service account): for each attribute type the modifications store, the first modification
        storing it is written alone, outside any transaction, before the batch. Returns those changes
        (already written); the caller leaves them out of the transactions."""
        seen, first = set(), []
        for change in changes:
            if change.op != "modify":
                continue
            new = {name.lstrip("+").lower() for name, values in change.attrs.items() if values} - seen
            if new:
                seen |= new
                first.append(change)
        for change in first:
            self.conn.result3(self._send(change, None))
        return first

    def _delete_probe(self, dn):
        with contextlib.suppress(ldap.NO_SUCH_OBJECT):
            self.conn.delete_ext_s(dn)

    def apply(self, changes, mode="txn", batch_size=2000):
        """Write ``changes`` in order (in ``txn`` mode, deletions one at a time after the transactions:
        :func:`congvu.reconcile.transaction_order`). Raise :class:`BatchError` on the first failed
        batch, naming the entries."""
        if mode == "sync":
            for change in changes:
                self._write_alone(change)
            return
        if mode == "async":
            self._pipeline(changes, None)
            return
        changes, after = transaction_order(changes)
        for start in range(0, len(changes), batch_size):
            batch = changes[start:start + batch_size]
            _, txn_id = self.conn.extop_s(ExtendedRequest(TXN_START, None))
            txn_id = txn_id or b""
            ctrl = RequestControl(TXN_SPEC, True, txn_id)
            try:
                # One request at a time inside a transaction: slapd only queues them (cheap), and a
                # client that pipelines thousands of them deadlocks on the socket and is dropped in the
                # middle of the transaction (seen with slapd 2.5.13, docs/accounts.md).
                self._pipeline(batch, [ctrl], window=1)
            except ldap.LDAPError:
                self._end(txn_id, commit=False)
                raise
            try:
                self._end(txn_id, commit=True)
                self.written.extend(batch)
            except ldap.LDAPError as exc:
                # The whole transaction is rolled back: replay it one operation at a time to name the
                # entries at fault (the good ones are written, the run fails; a re-run converges).
                # Safe only because a prime ran first (slapd keeps the aborted attribute numbering).
                # slapd 2.5.13 has once dropped the connection right after a failed commit
                # ("Connection reset by peer" on every replayed write, CI of 2026-12-05): the replay
                # opens a new connection when that happens.
                # When every replayed operation is accepted the batch is written: the commit failed
                # for none of them, typically slapd going away under the commit (CI of 2026-12-06:
                # "Can't contact LDAP server" on a list's rename, and the replay on the restarted
                # slapd wrote it). An operation the commit did make comes back refused ("Already
                # exists", "No such object") and the run fails naming it, as any refused one.
                failures = []
                for change in batch:
                    try:
                        self._write_alone(change)
                    except ldap.LDAPError as one:
                        failures.append(f"{change.op} {change.dn}: {ldap_text(one)}")
                if failures:
                    raise BatchError(failures) from None
                self.replayed.append(ldap_text(exc))
        for change in after:
            self._write_alone(change)

    def _pipeline(self, changes, ctrls, window=WINDOW):
        """Send ``changes`` keeping at most ``window`` requests in flight (responses are read as we go,
        so neither side blocks on a full socket)."""
        failures = []
        flight = []

        def collect(msgid, change):
            try:
                self.conn.result3(msgid)
            except ldap.LDAPError as exc:
                failures.append(f"{change.op} {change.dn}: {ldap_text(exc)}")
            else:
                if not ctrls:  # inside a transaction nothing is written before the commit
                    self.written.append(change)

        for change in changes:
            flight.append((self._send(change, ctrls), change))
            if len(flight) >= window:
                collect(*flight.pop(0))
        for item in flight:
            collect(*item)
        if failures:
            raise BatchError(failures)

    def _end(self, txn_id, commit):
        # TxnEndReq ::= SEQUENCE { commit BOOLEAN DEFAULT TRUE, identifier OCTET STRING }
        ident = b"\x04" + bytes([len(txn_id)]) + txn_id
        body = (b"" if commit else b"\x01\x01\x00") + ident
        self.conn.extop_s(ExtendedRequest(TXN_END, b"\x30" + bytes([len(body)]) + body))
