"""Action plugin: load and validate a province policy on the controller, set the ``congvu_policy`` fact.

Runs entirely on the controller (nothing is sent to the managed host). It reads
``policies/<province>.yml`` (or ``path``), deep-merges ``overrides`` (the inventory's
``congvu_policy_overrides``) over it, validates the result with :func:`congvu.policy.load_policy`
and sets the effective, normalised policy as a fact. A bad file or override fails the task with the
validator's message, which names the file, the dotted key and the rule.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from ansible.plugins.action import ActionBase

from congvu.data import plain as _plain
from congvu.errors import CongvuError
from congvu.policy import load_policy, policy_path, province_codes

DOCUMENTATION = r"""
module: congvu_policy
short_description: Load, merge and validate a congvu province policy (controller side)
description:
  - Reads C(policies/<province>.yml), deep-merges C(overrides) over it, validates it against the
    regulation bounds it declares and sets the effective policy as the fact C(fact_name).
  - Sizes are returned in bytes, durations in days; see docs/policy.md for the structure.
  - Runs on the controller only; the managed host is not contacted.
options:
  province:
    description:
      - Province code, the name of a policy file C(<policies_dir>/<code>.yml), for example C(hanam).
      - The loaded file's C(province.code) must be this code.
    type: str
  path:
    description: Explicit policy file; overrides C(province) and C(policies_dir).
    type: path
  policies_dir:
    description:
      - Directory holding the policy files. Default C(../policies) next to the playbook directory,
        else C(policies) in the playbook directory.
    type: path
  overrides:
    description: Operator overrides deep-merged over the file (C(congvu_policy_overrides)).
    type: dict
    default: {}
  fact_name:
    description: Name of the fact to set.
    type: str
    default: congvu_policy
  today:
    description:
      - The day a C(regulation_switch) of the file is judged against (YYYY-MM-DD), default today
        in Vietnam (UTC+7). The inventory's C(congvu_policy_date) previews a switch before its day.
    type: str
"""

EXAMPLES = r"""
- name: Load the province policy
  congvu_policy:
    province: "{{ congvu_province }}"
    overrides: "{{ congvu_policy_overrides | default({}) }}"
"""

RETURN = r"""
ansible_facts:
  description: C({fact_name}) the effective, normalised policy.
  type: dict
  returned: success
policy_file:
  description: The file that was loaded.
  type: str
  returned: always
regulation_switch:
  description:
    - The file's dated switch of regulation (from, to, file, applied, today, issued_by, decision), or
      null; the same as C(regulation_switch) in the fact.
  type: dict
  returned: success
"""

_ARGS = frozenset({"province", "path", "policies_dir", "overrides", "fact_name", "today"})


class ActionModule(ActionBase):
    """Load a congvu policy on the controller."""

    TRANSFERS_FILES = False
    _requires_connection = False

    def _default_dir(self) -> str:
        base = self._loader.get_basedir()
        for candidate in (os.path.join(base, "..", "policies"), os.path.join(base, "policies")):
            if os.path.isdir(candidate):
                return os.path.normpath(candidate)
        return os.path.normpath(os.path.join(base, "..", "policies"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        unknown = sorted(set(args) - _ARGS)
        if unknown:
            return {**result, "failed": True,
                    "msg": f"congvu_policy: unknown option(s) {', '.join(unknown)}; "
                           f"expected {', '.join(sorted(_ARGS))}"}
        overrides = args.get("overrides") or {}
        if not isinstance(overrides, Mapping):
            return {**result, "failed": True,
                    "msg": "congvu_policy: overrides (congvu_policy_overrides) must be a mapping, "
                           f"got {type(overrides).__name__}"}
        fact_name = args.get("fact_name") or "congvu_policy"
        try:
            province = args.get("province")
            if args.get("path"):
                path = os.path.normpath(str(args["path"]))
            else:
                directory = os.path.normpath(str(args.get("policies_dir") or self._default_dir()))
                if not province:
                    known = ", ".join(province_codes(directory)) or "none found"
                    return {**result, "failed": True,
                            "msg": "congvu_policy: set congvu_province in the inventory (the code of a "
                                   f"policy file in {directory}: {known}) or pass path"}
                path = str(policy_path(str(province), directory))
            result["policy_file"] = path
            expected = str(province) if province else None
            policy = load_policy(path, overrides=_plain(overrides), province=expected,
                                 today=str(args["today"]) if args.get("today") else None)
        except CongvuError as exc:
            problems = getattr(exc, "problems", None)
            out = {**result, "failed": True, "msg": f"congvu_policy: {exc}"}
            if problems:
                out["problems"] = problems
            return out
        result["changed"] = False
        result["regulation_switch"] = policy.get("regulation_switch")
        result["ansible_facts"] = {fact_name: policy}
        return result
