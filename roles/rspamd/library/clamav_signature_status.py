#!/usr/bin/python
# Copyright: congvu-mail contributors
# Apache License 2.0 (see LICENSE)
"""Report whether ClamAV has official signatures and how old they are (rspamd role)."""

from __future__ import annotations

import os
import time

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
---
module: clamav_signature_status
short_description: Inspect the ClamAV signature databases and warn when they are missing or stale
description:
  - Looks for the official databases (C(main), C(daily), C(bytecode) as C(.cvd) or C(.cld)) in
    O(directory), reads their build time from the CVD header (file time as a fallback) and returns
    their age.
  - Emits an Ansible warning when an official database is missing or older than O(max_age_days),
    and fails instead when O(required=true). Local databases (C(.ndb), C(.hdb), ...) are listed but
    never count as official signatures.
  - Read-only; never reports a change.
options:
  directory:
    description: ClamAV database directory.
    type: path
    default: /var/lib/clamav
  max_age_days:
    description: Age in days beyond which official signatures are stale.
    type: int
    default: 7
  required:
    description: Fail (instead of warning) when official signatures are missing or stale.
    type: bool
    default: false
  mirror:
    description: The private mirror configured for freshclam, quoted in the messages (empty if none).
    type: str
    default: ""
  unusable_action:
    description: What the filter does with mail meanwhile (C(refuse) or C(warn)), quoted in the warning.
    type: str
    default: warn
author:
  - congvu-mail contributors
"""

EXAMPLES = r"""
- name: Check ClamAV signatures
  clamav_signature_status:
    max_age_days: 7
    mirror: http://clamav-mirror.example.internal
  register: rspamd_clamav_signatures
"""

RETURN = r"""
official:
  description: Name -> {file, version, built (epoch), age_days} of each official database found.
  returned: always
  type: dict
local:
  description: Local (unofficial) signature files in the directory.
  returned: always
  type: list
  elements: str
missing:
  description: Official databases not found.
  returned: always
  type: list
  elements: str
stale:
  description: Official databases older than max_age_days.
  returned: always
  type: list
  elements: str
ok:
  description: True when every official database is present and fresh.
  returned: always
  type: bool
"""

OFFICIAL = ("main", "daily", "bytecode")
LOCAL_SUFFIXES = (".ndb", ".hdb", ".hsb", ".ldb", ".cdb", ".ign2", ".fp", ".sfp", ".yar", ".yara", ".pdb",
                  ".wdb")


def read_cvd_header(path):
    """Return (version, build epoch) from a CVD/CLD header, or (None, None)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(512).decode("ascii", "replace").rstrip(" \x00")
    except OSError:
        return None, None
    if not header.startswith("ClamAV-VDB:"):
        return None, None
    fields = header.split(":")
    version = fields[2] if len(fields) > 2 and fields[2].isdigit() else None
    built = int(fields[-1]) if fields[-1].isdigit() else None
    return version, built


def inspect(directory, max_age_days, now=None):
    """Plain inspection logic, testable without Ansible."""
    now = now if now is not None else time.time()
    names = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
    official, missing, stale = {}, [], []
    for base in OFFICIAL:
        found = [n for n in names if n in (base + ".cvd", base + ".cld")]
        if not found:
            missing.append(base)
            continue
        path = os.path.join(directory, found[0])
        version, built = read_cvd_header(path)
        if built is None:
            built = int(os.path.getmtime(path))
        age = round((now - built) / 86400.0, 1)
        official[base] = {"file": path, "version": version, "built": built, "age_days": age}
        if age > max_age_days:
            stale.append(base)
    local = [n for n in names if n.endswith(LOCAL_SUFFIXES)]
    return {"official": official, "local": local, "missing": missing, "stale": stale,
            "ok": not missing and not stale}


def main():
    module = AnsibleModule(
        argument_spec={
            "directory": {"type": "path", "default": "/var/lib/clamav"},
            "max_age_days": {"type": "int", "default": 7},
            "required": {"type": "bool", "default": False},
            "mirror": {"type": "str", "default": ""},
            "unusable_action": {"type": "str", "default": "warn", "choices": ["refuse", "warn"]},
        },
        supports_check_mode=True,
    )
    params = module.params
    result = inspect(params["directory"], params["max_age_days"])
    mirror = params["mirror"]
    directory = params["directory"]
    source = (f"the private mirror {mirror} (freshclam)" if mirror else
              "no private mirror (rspamd_clamav_private_mirror is empty): "
              "copy main/daily/bytecode.cvd in by hand")
    problems = []
    if result["missing"]:
        local = ", ".join(result["local"]) or "none"
        problems.append(f"ClamAV official signatures MISSING in {directory}: {', '.join(result['missing'])}; "
                        f"viruses are NOT detected (only local databases: {local}). Source: {source}.")
    if result["stale"]:
        ages = ", ".join(f"{n} {result['official'][n]['age_days']} days" for n in result["stale"])
        problems.append(f"ClamAV signatures STALE (older than {params['max_age_days']} days): {ages}. "
                        f"Source: {source}.")
    if problems and params["required"]:
        hint = (" Set the mirror, or choose rspamd_clamav_require_signatures: false with"
                " rspamd_clamav_unusable_action refuse|warn (docs/security.md).")
        module.fail_json(msg=" ".join(problems) + hint, **result)
    if problems:
        refused = params["unusable_action"] == "refuse"
        mode = "temporarily REFUSED (451)" if refused else "ACCEPTED WITHOUT OFFICIAL VIRUS SCANNING"
        problems.append(f"Meanwhile mail is {mode} (rspamd_clamav_unusable_action); "
                        "every message carries CONGVU_ANTIVIRUS_UNUSABLE.")
    for problem in problems:
        module.warn(problem)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
