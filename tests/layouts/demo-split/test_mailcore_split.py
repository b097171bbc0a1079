"""The mail core verifier (tests/layouts/mailcore.py) on the split layout: Gia Lai on four hosts,
accounts at skhcn.gialai.gov.vn (Gia Lai Art 4), delivery over LMTP without SMTPUTF8 and
Cần Thơ Art 11.3's recoverable deletions switched on (inventories/demo-split/group_vars/congvu/main.yml)."""

# tests/layouts is on sys.path (its conftest.py sits in a directory without __init__.py).
from mailcore import *  # noqa: F403 (pytest collects the tests and fixtures imported here)
