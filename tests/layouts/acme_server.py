"""An ACME server for the layout tests: Debian's pebble (RFC 8555 test server) on the machine that runs
the tests, with pebble-challtestsrv as its DNS, answering every name with the host under test, so
pebble checks HTTP-01 on that host's port 80 as a public CA checks a province's public names.

Pebble's HTTPS endpoint gets a throwaway CA made here; its issuing root is new at every start and read
from its management port. ``ca_file`` holds both, what ``common_tls_acme_ca_file`` gives the hosts.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import ssl
import subprocess
import time
import urllib.request
from dataclasses import dataclass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_listening(host: str, port: int, proc: subprocess.Popen, log: pathlib.Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited ({proc.returncode}): {log.read_text()[-2000:]}")
        try:
            with socket.create_connection((host, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{proc.args[0]} does not listen on {host}:{port}: {log.read_text()[-2000:]}")


@dataclass
class AcmeServer:
    directory: str
    ca_file: pathlib.Path
    log: pathlib.Path


class Pebble:
    """``with Pebble(workdir, listen, target) as acme:`` pebble listening on ``listen`` (an address the
    hosts reach), every name resolving to ``target`` (the host's address)."""

    def __init__(self, workdir: pathlib.Path, listen: str, target: str):
        self.dir = workdir
        self.listen = listen
        self.target = target
        self.procs: list[subprocess.Popen] = []

    def _tls_pair(self) -> pathlib.Path:
        """A CA and the certificate of pebble's HTTPS endpoint (the address the hosts use)."""
        d = self.dir
        openssl = ["openssl", "req", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
        subprocess.run([*openssl, "-x509", "-days", "2", "-subj", "/CN=congvu test ACME endpoint CA",
                        "-keyout", d / "tls-ca.key", "-out", d / "tls-ca.crt"],
                       check=True, capture_output=True)
        subprocess.run([*openssl, "-subj", f"/CN={self.listen}", "-keyout", d / "tls.key",
                        "-out", d / "tls.csr"], check=True, capture_output=True)
        (d / "tls.ext").write_text(f"subjectAltName=IP:{self.listen},IP:127.0.0.1\n")
        subprocess.run(["openssl", "x509", "-req", "-days", "2", "-in", d / "tls.csr",
                        "-CA", d / "tls-ca.crt", "-CAkey", d / "tls-ca.key", "-CAcreateserial",
                        "-extfile", d / "tls.ext", "-out", d / "tls.crt"], check=True, capture_output=True)
        return d / "tls-ca.crt"

    def __enter__(self) -> AcmeServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        tls_ca = self._tls_pair()
        dns, api, mgmt = _free_port(), _free_port(), _free_port()
        config = self.dir / "pebble.json"
        config.write_text(json.dumps({"pebble": {
            "listenAddress": f"{self.listen}:{api}",
            "managementListenAddress": f"127.0.0.1:{mgmt}",
            "certificate": str(self.dir / "tls.crt"),
            "privateKey": str(self.dir / "tls.key"),
            "httpPort": 80,  # HTTP-01 where a public CA checks it
            "tlsPort": 443,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": False,
        }}))
        log = self.dir / "pebble.log"
        out = log.open("ab")
        # challtestsrv only as DNS: its challenge listeners on free loopback ports, unused
        self.procs.append(subprocess.Popen(
            ["pebble-challtestsrv", "-defaultIPv4", self.target, "-defaultIPv6", "",
             "-dns01", f"127.0.0.1:{dns}", "-http01", f"127.0.0.1:{_free_port()}",
             "-https01", f"127.0.0.1:{_free_port()}", "-tlsalpn01", f"127.0.0.1:{_free_port()}",
             "-management", f"127.0.0.1:{_free_port()}"],
            stdout=out, stderr=subprocess.STDOUT))
        self.procs.append(subprocess.Popen(
            ["pebble", "-config", str(config), "-dnsserver", f"127.0.0.1:{dns}"],
            stdout=out, stderr=subprocess.STDOUT,
            # no deliberate pauses and no refused nonces: pebble's tests of client robustness, not ours
            env={**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}))
        try:
            _wait_listening(self.listen, api, self.procs[-1], log)
            _wait_listening("127.0.0.1", mgmt, self.procs[-1], log)
            context = ssl.create_default_context(cafile=str(tls_ca))
            with urllib.request.urlopen(f"https://127.0.0.1:{mgmt}/roots/0", context=context,
                                        timeout=10) as answer:
                root = answer.read().decode()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        ca_file = self.dir / "acme-ca.pem"
        ca_file.write_text(tls_ca.read_text() + root)
        return AcmeServer(f"https://{self.listen}:{api}/dir", ca_file, log)

    def __exit__(self, *exc) -> None:
        for proc in reversed(self.procs):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()
