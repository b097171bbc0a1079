"""Jinja2 filters of the layout wiring: thin wrappers around :mod:`congvu.wiring` and :mod:`congvu.dns`.

The wiring itself is computed by the ``congvu_wiring`` action plugin (playbooks/policy.yml); these
filters serve the roles' preflight checks and the DNS record artifacts. docs/topology.md.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from congvu import dns, wiring
from congvu.data import plain
from congvu.errors import CongvuError

DOCUMENTATION = r"""
name: wiring
short_description: Checks of the congvu layout wiring
description:
  - C(congvu_firewall_gaps) lists, as sentences, every peer path of C(required) (the wiring's
    C(common_firewall_required)) that the firewall rules do not admit (service, port, client host).
  - C(congvu_dns_zone) renders the zone snippet of one sending domain (MX, SPF, DKIM, DMARC, SRV) from
    the wiring's C(congvu_dns) and the domain's DKIM record as C(rspamadm dkim_keygen) wrote it.
  - C(congvu_dns_hosts) renders the address records of the layout's public names.
options:
  _input:
    description: The firewall rules (C(congvu_firewall_gaps)), the domain (C(congvu_dns_zone)) or the
      wiring's C(congvu_dns) (C(congvu_dns_hosts)).
    type: raw
    required: true
  required:
    description: The peer paths the rules must admit (C(congvu_firewall_gaps)).
    type: list
    elements: dict
  dns:
    description: The wiring's C(congvu_dns) (C(congvu_dns_zone)).
    type: dict
  dkim_record:
    description: The DKIM record text of the domain (C(congvu_dns_zone)).
    type: str
  selector:
    description: The DKIM selector (C(congvu_dns_zone)).
    type: str
  province:
    description: The province's name, for the comment line.
    type: str
"""

EXAMPLES = r"""
- name: Every peer reaches what it needs
  ansible.builtin.assert:
    that: (common_firewall_rules | congvu_firewall_gaps(common_firewall_required)) | length == 0

- name: Zone snippet of skhcn.gialai.gov.vn
  ansible.builtin.copy:
    content: "{{ 'skhcn.gialai.gov.vn' | congvu_dns_zone(congvu_wiring.congvu_dns, record, 'congvu') }}"
    dest: artifacts/dns/gialai/skhcn.gialai.gov.vn.zone
    mode: "0644"
"""

RETURN = r"""
_value:
  description:
    - C(congvu_firewall_gaps) a list of strings, empty when every path is admitted.
    - C(congvu_dns_zone), C(congvu_dns_hosts) zone-file text.
  type: raw
"""


def congvu_firewall_gaps(rules: Any, required: Any) -> list[str]:
    """The required peer paths ``rules`` shut out."""
    if not isinstance(rules, list) or not isinstance(required, list):
        raise AnsibleFilterError("congvu_firewall_gaps: rules and required must be lists of mappings")
    try:
        return wiring.firewall_gaps(plain(rules), plain(required))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"congvu_firewall_gaps: malformed rule or path: {exc}") from None


def congvu_dns_zone(domain: Any, dns_plan: Any, dkim_record: Any, selector: Any, province: Any = "") -> str:
    """The zone snippet of one sending domain."""
    if not isinstance(dns_plan, dict) or "mail_hosts" not in dns_plan:
        raise AnsibleFilterError("congvu_dns_zone: the second argument must be the wiring's congvu_dns")
    try:
        return dns.domain_zone(str(domain), mail_hosts=plain(dns_plan["mail_hosts"]),
                               dkim_record=str(dkim_record), selector=str(selector),
                               report_address=str(dns_plan["report_address"]), province=str(province),
                               client_host=str(dns_plan.get("client_host") or ""))
    except CongvuError as exc:
        raise AnsibleFilterError(f"congvu: {exc}") from None


def congvu_dns_hosts(dns_plan: Any, province: Any = "") -> str:
    """The address records of the layout's public names."""
    if not isinstance(dns_plan, dict) or "names" not in dns_plan:
        raise AnsibleFilterError("congvu_dns_hosts: the input must be the wiring's congvu_dns")
    return dns.hosts_zone(plain(dns_plan["names"]), province=str(province))


class FilterModule:
    """congvu wiring filters."""

    def filters(self) -> dict[str, Any]:
        return {"congvu_firewall_gaps": congvu_firewall_gaps, "congvu_dns_zone": congvu_dns_zone,
                "congvu_dns_hosts": congvu_dns_hosts}
