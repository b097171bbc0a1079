"""DKIM of every sending domain of the split layout on its filter host: gialai.gov.vn and each agency
and commune subdomain (Gia Lai Art 2.2, 4.1), the checks of tests/layouts/dkim_checks.py."""

from dkim_checks import *  # noqa: F403  (pytest collects the imported tests and fixtures)
