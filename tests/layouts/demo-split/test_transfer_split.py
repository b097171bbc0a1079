"""A transfer through the roster on the split layout (Gia Lai re-addresses a move: Art 4.2.a, 5.3):
the checks of tests/layouts/transfer_checks.py."""

from transfer_checks import *  # noqa: F403  (pytest collects the imported tests and fixtures)
