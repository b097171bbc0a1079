"""Waiting for what the servers do on their own (delivery, replication, a restart) in the layout tests:
poll until it is true, never a fixed sleep, and say why not when it never is."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(predicate: Callable, timeout: float = 60.0, step: float = 0.5):
    """Poll ``predicate`` until it returns something true or ``timeout`` seconds pass; its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(step)
        value = predicate()
    return value


def wait_until(what: str, check: Callable, seconds: float = 60.0, step: float = 0.5,
               explain: Callable[[], str] | None = None) -> float:
    """Seconds until ``check()`` is true. After ``seconds``, an AssertionError naming ``what``, followed
    by what ``explain()`` returns (the servers' own account of why: a status, a log excerpt)."""
    start = time.monotonic()
    if not wait_for(check, seconds, step):
        detail = f"\n{explain()}" if explain else ""
        raise AssertionError(f"{what}: not within {seconds} s{detail}")
    return time.monotonic() - start
