"""The roundcube role's preflight refuses the PostgreSQL backend without its server, password or
shared session key, naming what is missing and printing no secret. Runs the role's preflight tasks
with ansible-playbook on the test runner itself (asserts only: nothing is installed)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

PROJECT = pathlib.Path(__file__).resolve().parents[3]
SECRET = "Pgsql-secret-4711"
KEY = "k" * 24
COMPLETE = {
    "roundcube_server_name": "mail.hanam.gov.vn",
    "roundcube_ldap_base_dn": "dc=hanam,dc=gov,dc=vn",
    "roundcube_ldap_bind_password": "x",
    "roundcube_forward_allowed_domains": ["hanam.gov.vn"],
    "roundcube_db_type": "pgsql",
    "roundcube_db_host": "db.hanam.gov.vn",
    "roundcube_db_password": SECRET,
    "roundcube_des_key": KEY,
}
PLAY = """---
- name: Roundcube preflight only
  hosts: localhost
  gather_facts: false
  connection: local
  tasks:
    - name: Run the role's preflight
      ansible.builtin.include_role:
        name: roundcube
        tasks_from: preflight
"""


def preflight(tmp_path, variables):
    playbook = tmp_path / "preflight.yml"
    playbook.write_text(PLAY)
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps(variables))
    env = {**os.environ, "ANSIBLE_CONFIG": str(PROJECT / "ansible.cfg"),
           "ANSIBLE_ROLES_PATH": str(PROJECT / "roles"), "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        [pathlib.Path(sys.executable).with_name("ansible-playbook"), "-i", "localhost,", str(playbook),
         "-e", f"@{extra}", "-e", f"ansible_python_interpreter={sys.executable}"],
        capture_output=True, text=True, env=env, timeout=300, check=False)


def test_complete_pgsql_settings_pass(tmp_path):
    run = preflight(tmp_path, COMPLETE)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("missing", ["roundcube_db_host", "roundcube_db_password", "roundcube_des_key"])
def test_pgsql_without_its_settings_is_refused_clearly(tmp_path, missing):
    run = preflight(tmp_path, {**COMPLETE, missing: ""})
    out = run.stdout + run.stderr
    assert run.returncode != 0, out
    assert "the PostgreSQL backend is complete" in out
    assert "roundcube_db_type=pgsql needs roundcube_db_host" in out
    assert missing in out
    assert SECRET not in out and KEY not in out
