"""Test accounts of the layout verifiers, made in the directory of the layout under test.

Everything is written over ldapi as local root on the LDAP host (SASL EXTERNAL: the directory's
rootDN, docs/openldap.md), in organisations of the province's catalogue, and idempotently: an account
that exists is brought back to the state the tests start from (password, state, forced change,
ppolicy lockout cleared). Test addresses start with ``kiemthu`` ("kiểm thử", testing) followed by a
dot or a dash, which no naming scheme produces (Hà Nam's clash suffixes are two-letter agency codes,
Gia Lai's addresses have no separator), so they never take a demo roster person's address; an address
that is taken by someone else stops the test with the entry's DN.

What the verifiers change in real data is put back at the end of the session (``cleanup``): throwaway
people are deleted, an operator added to ``cn=mailadmins`` is removed, a roster admin's password and
ppolicy state are restored. Used through the ``testpeople`` fixture (tests/layouts/conftest.py).
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field

from congvu.naming import make_scheme
from congvu.reconcile import base_dn

ROOT_LDAP = "-Q -Y EXTERNAL -H ldapi:///"
PREFIX = "kiemthu"
#: ppolicy state a fresh test account must not carry over from an earlier run.
PPOLICY_STATE = ("pwdReset", "pwdAccountLockedTime", "pwdFailureTime", "pwdGraceUseTime")


@dataclass
class Account:
    dn: str
    mail: str
    name: str
    password: str
    org: str
    extra: dict = field(default_factory=dict)

    @property
    def login(self) -> tuple[str, str]:
        return self.dn, self.password


def parse_ldif(text: str) -> list[tuple[str, dict[str, list[str]]]]:
    """Entries of ``ldapsearch -LLL -o ldif-wrap=no`` output (base64 values decoded)."""
    entries = []
    for block in re.split(r"\n\s*\n", text.strip()):
        dn, attrs = None, {}
        for line in block.splitlines():
            if not line or line.startswith("#") or ":" not in line:
                continue
            name, _, value = line.partition(":")
            if value.startswith(":"):
                value = base64.b64decode(value[1:].strip()).decode("utf-8", errors="replace")
            else:
                value = value.strip()
            if name == "dn":
                dn = value
            else:
                attrs.setdefault(name, []).append(value)
        if dn is not None:
            entries.append((dn, attrs))
    return entries


class Directory:
    """The layout's directory as local root, plus the test accounts made in it."""

    def __init__(self, stage) -> None:
        self.stage = stage
        self.host = stage.first("ldap_servers")
        self.domain = stage.policy["domains"]["primary"]
        self.base = base_dn(self.domain)
        self.orgs = f"ou=organisations,{self.base}"
        self._scheme = None
        self._orgs: dict[str, str] | None = None
        self._throwaway: list[str] = []
        self._restore: list[str] = []
        self._operators: list[str] = []
        self._restore_cleared: list[tuple[str, list[str]]] = []

    # -- plain LDAP as root ------------------------------------------------------------------------

    def root(self, tool: str, args: str = "", stdin: str | None = None, check: bool = False):
        """ldapsearch/ldapadd/ldapmodify/ldapdelete/ldappasswd as root over ldapi on the LDAP host."""
        return self.host.run(f"{tool} {ROOT_LDAP} {args}", stdin=stdin, check=check)

    def search(self, base: str, flt: str = "(objectClass=*)", *attrs: str, scope: str = "sub"):
        proc = self.root("ldapsearch",
                         f"-LLL -o ldif-wrap=no -s {scope} -b '{base}' '{flt}' {' '.join(attrs)}")
        assert proc.returncode in (0, 32), proc.stderr_text  # 32: no such object
        return parse_ldif(proc.stdout_text)

    def attr(self, dn: str, name: str) -> list[str]:
        """Values of one attribute (operational ones included) read as root."""
        found = self.search(dn, "(objectClass=*)", name, scope="base")
        return found[0][1].get(name, []) if found else []

    def exists(self, dn: str) -> bool:
        return bool(self.search(dn, "(objectClass=*)", "1.1", scope="base"))

    def modify(self, ldif: str) -> None:
        self.root("ldapmodify", stdin=ldif, check=True)

    # -- organisations -----------------------------------------------------------------------------

    def org_dns(self) -> dict[str, str]:
        """Code -> DN of every organisation in the directory (read once)."""
        if self._orgs is None:
            found = self.search(self.orgs, "(objectClass=congvuOrganisation)", "1.1")
            self._orgs = {dn.split(",")[0].partition("=")[2]: dn for dn, _ in found}
        return self._orgs

    def org_dn(self, code: str) -> str:
        dns = self.org_dns()
        assert code in dns, f"organisation {code} of the catalogue is not in the directory: {sorted(dns)}"
        return dns[code]

    def mail_domain(self, code: str) -> str:
        """The mail domain of an organisation (Gia Lai Art 4: its own subdomain; else the province's)."""
        if self._scheme is None:
            self._scheme = make_scheme(self.stage.policy["naming"], self.stage.catalogue)
        return self._scheme.org_domain(code)

    def top_level(self) -> list[str]:
        """Codes of the catalogue's top-level organisations (their cn=admins grant rights)."""
        return [code for code in self.stage.catalogue
                if self.org_dn(code).split(",", 1)[1].lower() == self.orgs.lower()]

    def children(self, code: str) -> list[str]:
        parent = self.org_dn(code).lower()
        return [c for c, dn in self.org_dns().items() if dn.split(",", 1)[1].lower() == parent]

    # -- accounts ----------------------------------------------------------------------------------

    def taken_by(self, mail: str) -> list[str]:
        return [dn for dn, _ in self.search(self.base, f"(|(mail={mail})(congvuMailAlias={mail}))", "1.1")]

    def ensure(self, local: str, name: str, org: str, password: str, *, state: str = "active",
               must_change: bool = False, mailbox_class: str = "personal", policy: str | None = None,
               aliases: tuple[str, ...] = (), quota: int | None = None, delegates: tuple[str, ...] = (),
               ) -> Account:
        """The test account ``<local>@<organisation's domain>`` in organisation ``org``, created or
        brought back to this state (password set by root, ppolicy state cleared)."""
        assert local.startswith((f"{PREFIX}.", f"{PREFIX}-")), local
        domain = self.mail_domain(org)
        mail = f"{local}@{domain}"
        org_dn = self.org_dn(org)
        dn = f"uid={local},{org_dn}"
        for address in (mail, *aliases):
            others = [d for d in self.taken_by(address) if d.lower() != dn.lower()]
            assert not others, f"test address {address} is taken by {others}: pick another"
        words = name.split()
        attrs = {
            "cn": [name], "sn": [words[0]], "givenName": [words[-1]], "displayName": [name],
            "o": [self.stage.catalogue[org].name], "mail": [mail], "congvuMailboxClass": [mailbox_class],
            "congvuAccountState": [state], "congvuMustChangePassword": ["TRUE" if must_change else "FALSE"],
            "congvuOrganisationDN": [org_dn], "userPassword": [password],
        }
        if aliases:
            attrs["congvuMailAlias"] = list(aliases)
        if quota is not None:
            attrs["congvuMailQuota"] = [str(quota)]
        if delegates:
            attrs["congvuMailDelegate"] = list(delegates)
        if policy:
            attrs["pwdPolicySubentry"] = [f"cn={policy},ou=policies,{self.base}"]
        if not self.exists(dn):
            body = "".join(f"{k}: {v}\n" for k, values in attrs.items() for v in values)
            self.root("ldapadd", check=True,
                      stdin=f"dn: {dn}\nobjectClass: inetOrgPerson\nobjectClass: congvuMailAccount\n"
                            f"uid: {local}\n{body}")
        else:
            optional = ("congvuMailAlias", "congvuMailQuota", "congvuMailDelegate", "pwdPolicySubentry")
            current = self.search(dn, "(objectClass=*)", *optional, scope="base")[0][1]
            changes = [f"replace: {k}\n" + "".join(f"{k}: {v}\n" for v in values)
                       for k, values in attrs.items()]
            changes += [f"delete: {k}\n" for k in optional if k not in attrs and k in current]
            self.modify(f"dn: {dn}\nchangetype: modify\n" + "-\n".join(changes))
        self.clear_ppolicy(dn)
        return Account(dn, mail, name, password, org)

    def clear_ppolicy(self, dn: str) -> None:
        """Drop the lockout, the failure count and the reset flag ppolicy keeps on an entry (a root
        password change sets pwdReset when the policy has pwdMustChange)."""
        current = self.search(dn, "(objectClass=*)", *PPOLICY_STATE, scope="base")[0][1]
        present = [a for a in PPOLICY_STATE if a in current]
        if present:
            # relax: pwdFailureTime is NO-USER-MODIFICATION, even for root, without the control
            self.root("ldapmodify", "-e relax", check=True,
                      stdin=f"dn: {dn}\nchangetype: modify\n" + "-\n".join(f"delete: {a}\n" for a in present))

    def throwaway(self, org: str, password: str = "Initial#Pass2026", policy: str | None = None,
                  ) -> Account:
        """A new person with a random uid in ``org`` (password stored in clear, hashed by slapd);
        deleted at the end of the session."""
        uid = f"{PREFIX}-{secrets.token_hex(4)}"
        dn = f"uid={uid},{self.org_dn(org)}"
        mail = f"{uid}@{self.mail_domain(org)}"
        ldif = (f"dn: {dn}\nobjectClass: inetOrgPerson\nobjectClass: congvuMailAccount\nuid: {uid}\n"
                f"cn: Kiểm thử {uid}\nsn: {uid}\nmail: {mail}\ncongvuAccountState: active\n"
                f"userPassword: {password}\n")
        if policy:
            ldif += f"pwdPolicySubentry: cn={policy},ou=policies,{self.base}\n"
        self.root("ldapadd", stdin=ldif, check=True)
        self._throwaway.append(dn)
        return Account(dn, mail, f"Kiểm thử {uid}", password, org)

    def forget(self, dn: str) -> None:
        """Delete ``dn`` at the end of the session (an entry a test made through another identity)."""
        self._throwaway.append(dn)

    def roster_admin(self, org: str, password: str) -> Account:
        """The demo roster's own delegated admin of top-level organisation ``org`` (column "Quản trị"),
        with a known password and no forced change for the session; its password, forced-change flag
        and ppolicy state are restored at the end."""
        members = [m for m in self.attr(f"cn=admins,{self.org_dn(org)}", "member")
                   if not m.lower().startswith("cn=nobody,")]
        assert members, f"the demo roster names no admin of {org} (column Quản trị)"
        dn = members[0]
        keep = ("userPassword", "congvuMustChangePassword", *PPOLICY_STATE)
        saved = self.search(dn, "(objectClass=*)", "mail", "cn", *keep, scope="base")[0][1]
        restore = [f"replace: {a}\n" + "".join(f"{a}: {v}\n" for v in saved[a]) for a in keep if a in saved]
        self._restore.append(f"dn: {dn}\nchangetype: modify\n" + "-\n".join(restore))
        self._restore_cleared.append((dn, [a for a in PPOLICY_STATE if a not in saved]))
        self.modify(f"dn: {dn}\nchangetype: modify\nreplace: userPassword\nuserPassword: {password}\n-\n"
                    "replace: congvuMustChangePassword\ncongvuMustChangePassword: FALSE\n-\n")
        self.clear_ppolicy(dn)
        return Account(dn, saved["mail"][0], saved["cn"][0], password, org)

    def operator(self, account: Account) -> Account:
        """``account`` made a province operator (member of cn=mailadmins) until the end."""
        group = f"cn=mailadmins,ou=groups,{self.base}"
        if account.dn.lower() not in (m.lower() for m in self.attr(group, "member")):
            self.modify(f"dn: {group}\nchangetype: modify\nadd: member\nmember: {account.dn}\n-\n")
            self._operators.append(account.dn)
        return account

    def cleanup(self) -> None:
        problems = []
        group = f"cn=mailadmins,ou=groups,{self.base}"
        for dn in self._operators:
            proc = self.root("ldapmodify", stdin=f"dn: {group}\nchangetype: modify\ndelete: member\n"
                                                 f"member: {dn}\n-\n")
            if proc.returncode != 0:
                problems.append(proc.stderr_text)
        for dn in reversed(self._throwaway):
            proc = self.root("ldapdelete", f"'{dn}'")
            if proc.returncode not in (0, 32):
                problems.append(proc.stderr_text)
        for ldif in self._restore:
            proc = self.root("ldapmodify", stdin=ldif)
            if proc.returncode != 0:
                problems.append(proc.stderr_text)
        for dn, absent in self._restore_cleared:
            current = self.search(dn, "(objectClass=*)", *absent, scope="base")[0][1] if absent else {}
            extra = [a for a in absent if a in current]
            if extra:
                self.root("ldapmodify", stdin=f"dn: {dn}\nchangetype: modify\n"
                                              + "-\n".join(f"delete: {a}\n" for a in extra))
        self._operators, self._throwaway, self._restore, self._restore_cleared = [], [], [], []
        assert not problems, "test accounts not cleaned up:\n" + "\n".join(problems)
