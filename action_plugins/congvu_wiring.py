"""Action plugin: wire the roles of this host from the policy, the catalogue and the inventory.

Runs on the controller only. It reads the inventory's groups and each congvu host's address
(``congvu_address``, else ``ansible_facts.default_ipv4.address``), loads the organisation catalogue
and calls :func:`congvu.wiring.wire`; the variables of this host are set as the fact
``congvu_wiring``, which ``group_vars/all/wiring.yml`` references one role variable at a time.
A bad layout fails the task with the engine's message, which names the host and the rule.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ansible.plugins.action import ActionBase

from congvu.data import plain as _plain
from congvu.errors import CongvuError
from congvu.orgs import load_catalogue
from congvu.wiring import ALL_GROUPS, wire

DOCUMENTATION = r"""
module: congvu_wiring
short_description: Role variables of a congvu host from the policy, catalogue and inventory (controller side)
description:
  - Turns the effective policy (C(congvu_policy)), the organisation catalogue and the inventory's
    groups into the variables of every role for the current host, and sets them as the fact
    C(fact_name). The logic is C(congvu.wiring); docs/topology.md describes the layouts.
  - Fails, naming the host and the rule, on a group without a host, a host in no group, an address
    that is needed but unknown, or more hosts in a group than the layouts support.
  - Runs on the controller only; the managed host is not contacted.
options:
  policy:
    description: The effective policy (the C(congvu_policy) fact).
    type: dict
    required: true
  catalogue:
    description:
      - Path of the organisation catalogue (C(data/catalogues/<province>.yml)). Empty or missing file
        with a scheme that gives organisations subdomains is an error; otherwise it may be omitted.
    type: path
  settings:
    description: Inventory choices the wiring reads (C(congvu.wiring.SETTINGS)).
    type: dict
    default: {}
  fact_name:
    description: Name of the fact to set.
    type: str
    default: congvu_wiring
"""

EXAMPLES = r"""
- name: Wire the roles of this host
  congvu_wiring:
    policy: "{{ congvu_policy }}"
    catalogue: "{{ congvu_catalogue_file }}"
    settings:
      admin_networks: "{{ common_firewall_admin_networks | default([]) }}"
"""

RETURN = r"""
ansible_facts:
  description: C({fact_name}) the role variables of this host (variable name -> value).
  type: dict
  returned: success
"""

_ARGS = frozenset({"policy", "catalogue", "settings", "fact_name"})


class ActionModule(ActionBase):
    """Wire a congvu host on the controller."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        args = dict(self._task.args)
        unknown = sorted(set(args) - _ARGS)
        if unknown:
            return {**result, "failed": True,
                    "msg": f"congvu_wiring: unknown option(s) {', '.join(unknown)}; "
                           f"expected {', '.join(sorted(_ARGS))}"}
        policy = args.get("policy")
        if not isinstance(policy, Mapping) or "domains" not in policy:
            return {**result, "failed": True,
                    "msg": "congvu_wiring: policy must be the effective policy "
                           "(run playbooks/policy.yml first)"}
        settings = _plain(args.get("settings") or {})
        host = task_vars.get("inventory_hostname")
        groups = {g: list(task_vars.get("groups", {}).get(g, [])) for g in (*ALL_GROUPS, "congvu")}
        hostvars = task_vars.get("hostvars", {})
        everyone = set().union(*groups.values())
        addresses = {h: _address_of(hostvars.get(h, {})) for h in everyone}
        settings.setdefault("public_addresses", {
            h: str(hostvars[h]["congvu_public_address"]) for h in everyone
            if h in hostvars and hostvars[h].get("congvu_public_address")})
        try:
            catalogue = None
            path = args.get("catalogue")
            if path and os.path.isfile(str(path)):
                catalogue = load_catalogue(str(path))
            elif path and policy["domains"].get("organisation_subdomains"):
                raise CongvuError(f"catalogue {path} not found: the province gives organisations their own "
                                  "subdomains, which are mail domains (Gia Lai Art 4.1)",
                                  key="congvu_catalogue_file", rule="catalogue file")
            wiring = wire(_plain(policy), catalogue, groups, addresses, settings)
        except CongvuError as exc:
            return {**result, "failed": True, "msg": f"congvu_wiring: {exc}"}
        if host not in wiring:
            return {**result, "failed": True,
                    "msg": f"congvu_wiring: {host} is in none of the groups {', '.join(ALL_GROUPS)}"}
        fact_name = args.get("fact_name") or "congvu_wiring"
        return {**result, "changed": False, "ansible_facts": {fact_name: wiring[host]}}


def _address_of(hostvars: Mapping) -> str | None:
    """The address peers reach a host on: congvu_address, else its default IPv4 from the facts."""
    explicit = hostvars.get("congvu_address")
    if explicit:
        return str(explicit)
    facts = hostvars.get("ansible_facts") or {}
    return (facts.get("default_ipv4") or {}).get("address")

