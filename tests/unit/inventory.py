"""ansible-inventory --list of a project inventory, as the playbooks see it (playbooks/ as the playbook
directory, so the project-wide group_vars load as they do for playbooks/site.yml); cached per run."""

from __future__ import annotations

import json
import os
import subprocess
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@cache
def ansible_inventory(inventory: Path) -> dict:
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    cmd = subprocess.run(
        ["ansible-inventory", "-i", str(inventory / "hosts.yml"), "--playbook-dir", str(ROOT / "playbooks"),
         "--list"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert cmd.returncode == 0, f"{inventory.name}: ansible-inventory failed:\n{cmd.stderr}"
    assert "[WARNING]" not in cmd.stderr, f"{inventory.name}: {cmd.stderr}"
    return json.loads(cmd.stdout)
