"""Every inventory parses and names a province that has a policy file.

Runs `ansible-inventory --list` on each inventories/<name>/hosts.yml (with playbooks/ as the playbook
directory, so the project-wide group_vars load as they do for playbooks/site.yml).
"""

import os
import subprocess
from pathlib import Path

import pytest
from inventory import ansible_inventory

from congvu.policy import province_codes

ROOT = Path(__file__).resolve().parents[2]
INVENTORIES = sorted(p.parent for p in (ROOT / "inventories").glob("*/hosts.yml"))
GROUPS = ("ldap_servers", "mail_servers", "filter_servers", "webmail_servers")
PROVINCES = province_codes(ROOT / "policies")  # every configured province


@pytest.fixture(scope="module", params=INVENTORIES, ids=lambda p: p.name)
def inventory(request):
    return request.param, ansible_inventory(request.param)


def test_every_province_and_the_demo_have_an_inventory():
    names = {p.name for p in INVENTORIES}
    assert {"demo", *PROVINCES} <= names, f"missing inventories: {sorted({'demo', *PROVINCES} - names)}"


def test_the_redundant_layout_is_the_split_one():
    """docs/topology.md, "The shipped layouts": `inventories/demo-ha` (the redundant layout's name in
    issue 14) is the split layout's inventory, not a copy that could drift from what CI converges; and
    that inventory has two of each server that holds state, and a front."""
    ha = ROOT / "inventories" / "demo-ha"
    assert ha.is_symlink() and ha.resolve() == (ROOT / "inventories" / "demo-split").resolve()
    data = ansible_inventory(ha)
    for group in ("ldap_servers", "mail_servers"):
        assert len(data[group]["hosts"]) >= 2, f"demo-ha: one {group} host"
    assert data["front_servers"]["hosts"], "demo-ha: no front"


def test_groups_exist_under_congvu(inventory):
    path, data = inventory
    assert set(GROUPS) <= set(data["congvu"]["children"]), f"{path.name}: groups {GROUPS} under congvu"
    for group in GROUPS:
        assert data[group].get("hosts"), f"{path.name}: group {group} has no host"


def test_every_host_sets_a_province_with_a_policy(inventory):
    path, data = inventory
    hostvars = data["_meta"]["hostvars"]
    assert hostvars, f"{path.name}: no host"
    for host, hv in hostvars.items():
        province = hv.get("congvu_province")
        assert province, f"{path.name}: {host} sets no congvu_province"
        assert (ROOT / "policies" / f"{province}.yml").is_file(), (
            f"{path.name}: {host} has congvu_province={province!r} but policies/{province}.yml does not exist"
        )


def test_project_group_vars_are_loaded(inventory):
    path, data = inventory
    for host, hv in data["_meta"]["hostvars"].items():
        assert hv.get("ansible_managed", "").startswith("Managed by congvu-mail"), f"{path.name}: {host}"


def test_production_inventories_are_named_for_their_province(inventory):
    path, data = inventory
    if path.name.startswith("demo"):
        pytest.skip("the demo inventories may run any province")
    provinces = {hv["congvu_province"] for hv in data["_meta"]["hostvars"].values()}
    assert provinces == {path.name}


def test_bad_inventory_is_reported(tmp_path):
    bad = tmp_path / "hosts.yml"
    bad.write_text("congvu:\n  children: [not, a, mapping\n", encoding="utf-8")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    cmd = subprocess.run(["ansible-inventory", "-i", str(bad), "--list"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=120, check=False)
    assert cmd.returncode != 0
