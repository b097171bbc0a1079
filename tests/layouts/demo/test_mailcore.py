"""The mail core verifier (tests/layouts/mailcore.py) on the all-in-one layout: Hà Nam on one host,
delivery through dovecot-lda with SMTPUTF8, organisation deletions final (policies/hanam.yml)."""

# tests/layouts is a package (layouts); pytest puts tests/ on sys.path for it.
from layouts.mailcore import *  # noqa: F403 (pytest collects the tests and fixtures imported here)
