"""The people of the web and filter verifiers of the demo layout (Hà Nam): four test accounts in the
catalogue's first agency, in the states the tests start from, made by the ``testpeople`` fixture
(tests/layouts/testpeople.py) over ldapi as root. Their addresses (``kiemthu.*@hanam.gov.vn``) are
no demo roster person's."""

from __future__ import annotations

#: Initial password of every test account: Hà Nam Art 8.2.b (upper, lower, digit, special).
INITIAL_PASSWORD = "Cv#7Kiemthu2026"

#: role -> (local part, full name, state options)
WEB_ACCOUNTS = {
    # first login still to come: must change the default password (Hà Nam Art 8.2.a)
    "newcomer": ("kiemthu.nguoimoi", "Nguyễn Văn An", {"must_change": True}),
    "reader": ("kiemthu.nguoidoc", "Trần Thị Bích", {}),
    "target": ("kiemthu.nguoinhan", "Lê Văn Cường", {}),
    # locked: login refused, mail still delivered (Hà Nam Art 7.1)
    "locked": ("kiemthu.bikhoa", "Phạm Thị Dung", {"state": "locked"}),
}


def agency(stage) -> str:
    """The catalogue's first agency (Sở ...): Hà Nam's Sở Thông tin và Truyền thông."""
    return next(code for code, org in stage.catalogue.items() if org.kind == "agency")


def web_accounts(stage, testpeople) -> dict:
    """The four accounts, (re)set to their starting state: role -> testpeople.Account."""
    org = agency(stage)
    return {role: testpeople.ensure(local, name, org, INITIAL_PASSWORD, **opts)
            for role, (local, name, opts) in WEB_ACCOUNTS.items()}
