"""The shapes of mail addresses, in one place (docs/naming.md, docs/migration.md).

A local part this system issues (:data:`LOCAL_RE`), a domain name (:data:`DOMAIN_RE`), and any address
an old system may have given (:data:`ADDRESS_RE`: also ``+`` between words), which the intake and the
migration check and carry but the naming never issues. Everything is lower case: callers lower-case
first where the input may not be.
"""

from __future__ import annotations

import re

__all__ = ["ADDRESS_RE", "DOMAIN_RE", "LOCAL_RE"]

_DOMAIN = r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
#: A local part this system issues: lower-case ASCII letters and digits, words joined by '.', '-', '_'.
LOCAL_RE = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*$")
#: A domain name: labels of letters, digits and inner '-' (at most 63), at most 253 in all, a letter TLD.
DOMAIN_RE = re.compile(rf"^{_DOMAIN}$")
#: Any address an old system may have given: words of letters and digits joined by '.', '_', '+', '-'.
ADDRESS_RE = re.compile(rf"^[a-z0-9]+([._+-][a-z0-9]+)*@{_DOMAIN}$")
