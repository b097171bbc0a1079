"""Agency mailing lists on the split layout (Gia Lai, four hosts: the mail host asks the LDAP host over
StartTLS): the checks of tests/layouts/list_checks.py."""

from list_checks import *  # noqa: F403  (pytest collects the imported tests and fixtures)
