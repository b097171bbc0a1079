"""A network namespace of its own for the test browser.

Chromium watches the host's interfaces and aborts every request in flight with
net::ERR_NETWORK_CHANGED when an address appears or goes (crbug 41465264). While the demo layout's
browser tests run, the other CI lane creates and removes podman networks (each a bridge with
addresses of its own): CI lost a login POST of the brute-force test that way (the run of c2a2c91).
Reproduced on staging: with a podman network created, used and removed in a loop beside it,
test_webmail_browser.py lost page loads and form posts to ERR_NETWORK_CHANGED in the host's
namespace (containers coming and going on an existing network did not do it), and passed in a
namespace of its own. There the browser sees only its loopback and one veth, which never change
while it runs; the host routes between that veth and the podman networks (podman keeps ip_forward
on), and the containers answer through their default gateway, the host.

Needs root (`ip netns`), as the layouts' tests already do for podman. The address pair is in
198.18.0.0/15, the range RFC 2544 sets aside for tests, so it cannot clash with a podman network.
"""

from __future__ import annotations

import contextlib
import pathlib
import subprocess
import tempfile

NAMESPACE = "congvu-browser"
HOST_SIDE, BROWSER_SIDE = "cvbrowser0", "cvbrowser1"
HOST_ADDRESS, BROWSER_ADDRESS = "198.18.99.1", "198.18.99.2"
PREFIX = 30


def _ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def _remove() -> None:
    """Remove the namespace (its veth pair goes with it); also what a killed run left behind."""
    _ip("netns", "delete", NAMESPACE, check=False)
    _ip("link", "delete", HOST_SIDE, check=False)


def _create() -> None:
    _remove()
    _ip("netns", "add", NAMESPACE)
    _ip("link", "add", HOST_SIDE, "type", "veth", "peer", "name", BROWSER_SIDE, "netns", NAMESPACE)
    _ip("address", "add", f"{HOST_ADDRESS}/{PREFIX}", "dev", HOST_SIDE)
    _ip("link", "set", HOST_SIDE, "up")
    inside = ("netns", "exec", NAMESPACE, "ip")
    _ip(*inside, "link", "set", "lo", "up")
    _ip(*inside, "address", "add", f"{BROWSER_ADDRESS}/{PREFIX}", "dev", BROWSER_SIDE)
    _ip(*inside, "link", "set", BROWSER_SIDE, "up")
    _ip(*inside, "route", "add", "default", "via", HOST_ADDRESS)


@contextlib.contextmanager
def isolated_chromium(chromium: str):
    """Yield a wrapper that starts `chromium` inside the namespace, for Playwright's
    executable_path; the servers see the browser connect from BROWSER_ADDRESS."""
    if not pathlib.Path(chromium).exists():
        raise FileNotFoundError(f"{chromium} is missing (scripts/bootstrap --host installs it)")
    try:
        _create()
    except subprocess.CalledProcessError as err:
        _remove()
        raise RuntimeError(f"setting up the browser's namespace: {' '.join(err.cmd)}: "
                           f"{err.stderr.strip()}") from err
    try:
        with tempfile.TemporaryDirectory(prefix="congvu-browser-") as tmp:
            wrapper = pathlib.Path(tmp) / "chromium"
            # Playwright talks to the browser over inherited pipes (fds 3 and 4): exec keeps them
            wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {NAMESPACE} {chromium} "$@"\n')
            wrapper.chmod(0o755)
            yield str(wrapper)
    finally:
        _remove()
