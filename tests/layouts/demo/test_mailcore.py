"""The mail core verifier (tests/layouts/mailcore.py) on the all-in-one layout: Hà Nam on one host,
delivery through dovecot-lda with SMTPUTF8, organisation deletions final (policies/hanam.yml)."""

# tests/layouts is on sys.path (its conftest.py sits in a directory without __init__.py).
from mailcore import *  # noqa: F403 (pytest collects the tests and fixtures imported here)
