"""A browser's HTTPS conversation with Roundcube on the webmail host, without a browser: one cookie
jar, the login form's token, Roundcube's AJAX requests (X-Roundcube-Request). For checks that need a
logged-in session over the wire; the real browser runs in tests/layouts/demo/test_webmail_browser.py."""

from __future__ import annotations

import http.client
import re
import ssl
import time
import urllib.parse


class Webmail:
    """Roundcube on the layout's first webmail host, addressed by the policy's webmail name."""

    def __init__(self, stage):
        self.host = stage.first("webmail_servers")
        self.name = stage.policy["webmail"]["host"]
        self.ctx = ssl.create_default_context(cafile=stage.ca_file)
        self.ctx.check_hostname = False  # connected by address; the name goes in the Host header
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        conn = http.client.HTTPSConnection(self.host.address, 443, context=self.ctx, timeout=60)
        sent = {"Host": self.name, "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
                **(headers or {})}
        if body is not None:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        conn.request(method, path, body=body, headers=sent)
        resp = conn.getresponse()
        resp.body = resp.read()  # type: ignore[attr-defined]
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";")[0]
        conn.close()
        return resp

    def login(self, user: str, password: str) -> tuple[bool, float]:
        """(logged in, seconds the login POST took)."""
        page = self.request("GET", "/?_task=login")
        token = re.search(rb'name="_token" value="([^"]+)"', page.body)  # type: ignore[attr-defined]
        assert token, "no login form on the webmail"
        form = urllib.parse.urlencode({"_token": token.group(1).decode(), "_task": "login",
                                       "_action": "login", "_timezone": "Asia/Ho_Chi_Minh", "_url": "",
                                       "_user": user, "_pass": password})
        start = time.monotonic()
        resp = self.request("POST", "/?_task=login", form)
        took = time.monotonic() - start
        location = resp.headers.get("Location") or ""
        return resp.status in (301, 302) and "_task=mail" in location, took
