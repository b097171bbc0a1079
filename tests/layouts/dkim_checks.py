"""DKIM of every sending domain of a layout, on its filter host: the primary domain and, where the
province gives organisations their own subdomain, each of those (Gia Lai Art 2.2, 4.1). A message
from each domain, signed by the real Rspamd (rspamc, as for an authenticated user), verifies against
the DKIM record written for the operator to publish (artifacts/dns/<province>/<domain>.zone,
docs/dns.md); a changed body does not. Imported by a thin test file per layout
(tests/layouts/<layout>/test_*dkim*.py); the end-to-end path (SMTP submission, signature checked on
the delivered or relayed copy) is in the layouts' mail tests.
"""

from __future__ import annotations

import re

import pytest
from filtermail import build_message, dkim_record, dkim_verifies, published_records

SCANNER = "127.0.0.1:11333"


@pytest.fixture(scope="module")
def sending_domains(stage, flt):
    domains = stage.wiring[flt.name]["rspamd_domains"]
    assert stage.policy["domains"]["primary"] in domains
    return domains


def sign(flt, domain: str) -> bytes:
    raw = build_message(sender=f"ttcds@{domain}", body="Noi dung ky so.\n")
    signed = flt.run(f"rspamc -h {SCANNER} --mime -i 10.1.2.3 -u ttcds@{domain} -F ttcds@{domain} "
                     "-r x@example.org", stdin=raw)
    assert signed.returncode == 0, signed.stderr_text
    return signed.stdout


def test_dkim_signed_and_verifies_for_every_sending_domain(stage, flt, sending_domains):
    failures = []
    for domain in sending_domains:
        record = dkim_record(stage, domain)
        assert record.startswith("v=DKIM1; k=rsa; p="), (domain, record)
        signed = sign(flt, domain)
        if b"DKIM-Signature:" not in signed or f"d={domain}".encode() not in signed:
            failures.append(f"{domain}: not signed")
            continue
        if not dkim_verifies(signed, record):
            failures.append(f"{domain}: the signature does not verify against the published record")
        # a changed body must fail: the verifier really checks
        tampered = signed.replace(b"Noi dung ky so.", b"Noi dung da sua.")
        assert tampered != signed
        if dkim_verifies(tampered, record):
            failures.append(f"{domain}: a tampered copy verifies")
    assert not failures, failures


def test_foreign_domain_not_signed(flt):
    raw = build_message(sender="someone@example.org")
    out = flt.run(f"rspamc -h {SCANNER} --mime -u someone@example.org -F someone@example.org", stdin=raw)
    assert out.returncode == 0, out.stderr_text
    assert b"DKIM-Signature:" not in out.stdout


def test_dns_records_written(stage, flt, sending_domains):
    """Each domain's key stays on the filter host, readable by Rspamd only; the record the
    operator publishes (the zone snippet on the control node, with DMARC) is that key's."""
    for domain in sending_domains:
        key = flt.out(f"stat -c '%a %G' /var/lib/rspamd/dkim/{domain}.congvu.key").split()
        assert key == ["640", "_rspamd"], (domain, key)
        on_host = flt.out(f"cat /var/lib/rspamd/dkim/{domain}.congvu.txt")
        published = published_records(stage, domain)
        assert f"_dmarc.{domain}" in published, (domain, sorted(published))
        key_b64 = "".join(re.findall(r'"([^"]*)"', on_host)).split("p=")[1]
        assert published[f"congvu._domainkey.{domain}"].split("p=")[1] == key_b64, domain
