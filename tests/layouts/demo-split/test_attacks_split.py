"""The attack suite of issue 11 (tests/layouts/attacks.py, docs/security.md) on the split layout: Gia Lai
on four hosts, every agency and commune with its own mail subdomain (Gia Lai Art 4), plus the cases
only a split layout has."""

from __future__ import annotations

import secrets

try:  # tests/layouts is a plain directory, or a package named layouts
    from attacks import *  # noqa: F403 (pytest collects the tests and fixtures imported here)
    from attacks import base_dn, ldap_modify, ldaps_bind
except ImportError:  # pragma: no cover
    from layouts.attacks import *  # noqa: F403
    from layouts.attacks import base_dn, ldap_modify, ldaps_bind


def test_agency_admin_gives_addresses_in_its_own_subdomain_only(stage, accounts):
    """Finding 7 (Gia Lai Art 4, 5.2): an agency's admin may add an address in the agency's own
    subdomain to one of its accounts, never one in another agency's subdomain."""
    domains = stage.wiring[stage.groups["ldap_servers"][0]]["openldap_organisation_domains"]
    own = domains[accounts.top_org]
    other = next(d for code, d in domains.items() if code != accounts.top_org)
    admin = accounts.ensure("quantri2")
    user = accounts.ensure("diachi")
    group = f"cn=admins,o={accounts.top_org},ou=organisations,{base_dn(stage)}"
    ldap_modify(stage, f"dn: {group}\nchangetype: modify\nadd: member\nmember: {admin.dn}\n-\n")
    try:
        import ldap3

        conn = ldaps_bind(stage, admin.dn, admin.password)
        assert conn is not None
        tag = secrets.token_hex(3)
        conn.modify(user.dn, {"congvuMailAlias": [(ldap3.MODIFY_ADD, [f"sec.bidanh{tag}@{other}"])]})
        assert conn.result["result"] == 50, f"an address in {other} was given: {conn.result}"
        conn.modify(user.dn, {"mail": [(ldap3.MODIFY_REPLACE, [f"sec.chuyen{tag}@{other}"])]})
        assert conn.result["result"] == 50, f"the primary address moved to {other}: {conn.result}"
        conn.modify(user.dn, {"congvuMailAlias": [(ldap3.MODIFY_ADD, [f"sec.bidanh{tag}@{own}"])]})
        assert conn.result["result"] == 0, f"control: an address in {own} was refused: {conn.result}"
        conn.unbind()
    finally:
        ldap_modify(stage, f"dn: {group}\nchangetype: modify\ndelete: member\nmember: {admin.dn}\n-\n",
                    check=False)
