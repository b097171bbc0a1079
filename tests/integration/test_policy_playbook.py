"""Run real ansible-playbook: the congvu_policy action plugin, playbooks/policy.yml and the policy filters.

Each test starts ``ansible-playbook`` from the project virtualenv with ``ANSIBLE_CONFIG`` pointing at the
project's ansible.cfg, from a temporary working directory (so nothing depends on the caller's cwd).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from congvu.policy import province_codes

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "policy.yml"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


def run_playbook(tmp_path: Path, playbook: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.update({
        "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_CACHE_PLUGIN": "memory",
        "PYTHONWARNINGS": "ignore",
    })
    cmd = [str(ANSIBLE_PLAYBOOK), str(playbook), "-i", "localhost,", "-c", "local", *extra]
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
                          check=False)


def output(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module", autouse=True)
def _needs_ansible():
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook not in the virtualenv")


def test_policy_play_prints_the_effective_policy(tmp_path):
    proc = run_playbook(tmp_path, PLAYBOOK, "-e", "congvu_province=hanam")
    assert proc.returncode == 0, output(proc)
    text = output(proc)
    assert "message_size_limit: 28368424" in text  # derived from Hà Nam Art 8.1.b's 20MB
    assert "personal: 2000000000" in text  # Hà Nam Art 8.1.b, in bytes


@pytest.mark.parametrize("province", province_codes(ROOT / "policies"))
def test_every_province_loads_in_the_policy_play(tmp_path, province):
    # docs/adding-a-province.md: the operator's check of a new province's policy file.
    proc = run_playbook(tmp_path, PLAYBOOK, "-e", f"congvu_province={province}")
    assert proc.returncode == 0, output(proc)
    assert f"code: {province}" in output(proc)


def test_override_within_bounds_reaches_the_fact(tmp_path):
    play = tmp_path / "site.yml"
    play.write_text(f"""---
- name: Policy
  import_playbook: {PLAYBOOK}

- name: Use it
  hosts: all
  gather_facts: false
  tasks:
    - name: The override is merged and normalised
      ansible.builtin.assert:
        that:
          - congvu_policy.quota.personal == 3221225472
          - congvu_policy.passwords.user.min_length == 8
""", encoding="utf-8")
    proc = run_playbook(tmp_path, play, "-e", "congvu_province=hanam", "-e", "congvu_policy_quiet=true",
                        "-e", '{"congvu_policy_overrides": {"quota": {"personal": "3GiB"}}}')
    assert proc.returncode == 0, output(proc)


def test_override_below_the_regulation_fails_the_play(tmp_path):
    proc = run_playbook(tmp_path, PLAYBOOK, "-e", "congvu_province=hanam",
                        "-e", '{"congvu_policy_overrides": {"quota": {"personal": "1GB"}}}')
    assert proc.returncode != 0
    text = output(proc)
    assert "congvu_policy_overrides (over" in text and "hanam.yml" in text
    assert "quota.personal" in text and "Hà Nam Art 8.1.b: >= 2GB" in text


def test_bad_policy_file_fails_the_play(tmp_path):
    policies = tmp_path / "policies"
    policies.mkdir()
    text = (ROOT / "policies" / "cantho.yml").read_text(encoding="utf-8")
    (policies / "cantho.yml").write_text(text.replace("  personal: 5GB", "  personal: 6GB", 1),
                                         encoding="utf-8")
    proc = run_playbook(tmp_path, PLAYBOOK, "-e", "congvu_province=cantho",
                        "-e", f"congvu_policies_dir={policies}")
    assert proc.returncode != 0
    out = output(proc)
    assert str(policies / "cantho.yml") in out
    assert "quota.personal" in out and "Cần Thơ Art 4.1.c: <= 5GB" in out


def test_missing_province_fails_with_a_hint(tmp_path):
    proc = run_playbook(tmp_path, PLAYBOOK)
    assert proc.returncode != 0
    assert "set congvu_province in the inventory" in output(proc)


def test_unknown_province_names_the_file(tmp_path):
    proc = run_playbook(tmp_path, PLAYBOOK, "-e", "congvu_province=hanoi")
    assert proc.returncode != 0
    assert "hanoi.yml" in output(proc) and "readable file" in output(proc)


def test_filters_work_in_a_play(tmp_path):
    play = tmp_path / "filters.yml"
    play.write_text(f"""---
- name: Policy
  import_playbook: {PLAYBOOK}

- name: Filters
  hosts: all
  gather_facts: false
  vars:
    pw: "Nguyendung@135"
  tasks:
    - name: Sizes, passwords and working days
      ansible.builtin.assert:
        that:
          - ('2GB' | size_bytes) == 2000000000
          - (congvu_policy.attachments.max_size | message_size_limit) == 28368424
          - ('nguyendung@135' | password_violations(congvu_policy) | map(attribute='code') | list)
            == ['missing_upper']
          - (pw | password_violations(congvu_policy)) == []
          - (pw | password_hash_congvu(5000)) is match('[{{]CRYPT[}}][$]6[$]rounds=5000[$]')
          - pw | password_verify_congvu(pw | password_hash_congvu(5000))
          - ('2026-02-10' | add_working_days(15)) == '2026-03-10'
          - (congvu_policy | password_max_age_days('admin')) == 90
          - (congvu_policy | initial_password('admin') | password_violations(congvu_policy, 'admin')) == []
""", encoding="utf-8")
    proc = run_playbook(tmp_path, play, "-e", "congvu_province=hanam", "-e", "congvu_policy_quiet=true")
    assert proc.returncode == 0, output(proc)


def test_filter_error_fails_the_play_with_the_message(tmp_path):
    play = tmp_path / "bad_filter.yml"
    play.write_text("""---
- name: Bad size
  hosts: all
  gather_facts: false
  tasks:
    - name: An unreadable size
      ansible.builtin.debug:
        msg: "{{ 'two gigs' | size_bytes }}"
""", encoding="utf-8")
    proc = run_playbook(tmp_path, play)
    assert proc.returncode != 0
    out = output(proc)
    assert "cannot read size 'two gigs'" in out and "[size syntax]" in out


def test_action_plugin_explicit_path_and_unknown_option(tmp_path):
    shutil.copy(ROOT / "policies" / "ninhbinh.yml", tmp_path / "nb.yml")
    play = tmp_path / "direct.yml"
    play.write_text(f"""---
- name: Direct use of the action plugin
  hosts: all
  gather_facts: false
  tasks:
    - name: Load from an explicit path into another fact
      congvu_policy:
        path: {tmp_path / 'nb.yml'}
        fact_name: nb_policy
    - name: Ninh Bình Art 11.1 administrators need 10 characters
      ansible.builtin.assert:
        that: nb_policy.passwords.admin.min_length == 10
    - name: Unknown options are refused
      congvu_policy:
        province: ninhbinh
        colour: blue
      register: congvu_policy_bad
      ignore_errors: true
    - name: The refusal names the option
      ansible.builtin.assert:
        that:
          - congvu_policy_bad is failed
          - "'colour' in congvu_policy_bad.msg"
""", encoding="utf-8")
    proc = run_playbook(tmp_path, play)
    assert proc.returncode == 0, output(proc)


def test_file_of_another_province_fails_the_play(tmp_path):
    policies = tmp_path / "policies"
    policies.mkdir()
    shutil.copy(ROOT / "policies" / "hanam.yml", policies / "cantho.yml")
    proc = run_playbook(tmp_path, PLAYBOOK, "-e", "congvu_province=cantho",
                        "-e", f"congvu_policies_dir={policies}")
    assert proc.returncode != 0
    assert "province.code == congvu_province" in output(proc)
