"""What Ansible packs into the congvu_reconcile module (AnsiballZ) on the managed host.

AnsiballZ ships only the module_utils files it sees imported. The module imports the congvu
package's modules by name, and congvu/schemes/__init__.py imports each scheme module relatively,
which AnsiballZ follows: a scheme registered there reaches the LDAP host without touching the
module. Runs ``ansible`` against localhost (connection local), keeps the payload and unpacks it.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = Path(sys.executable).parent / "ansible"


def shipped(tmp_path: Path, module: str, args: str) -> tuple[Path, set[str]]:
    """The congvu files AnsiballZ packs for ``module`` (run with incomplete ``args``: it fails fast and
    its payload stays behind)."""
    remote = tmp_path / "remote"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_KEEP_REMOTE_FILES="1",
               ANSIBLE_REMOTE_TMP=str(remote), ANSIBLE_LOCAL_TEMP=str(tmp_path / "local"),
               ANSIBLE_NOCOLOR="1", PYTHONWARNINGS="ignore")
    subprocess.run([str(ANSIBLE), "localhost", "-i", "localhost,", "-c", "local", "-m", module, "-a", args,
                    "-e", f"ansible_python_interpreter={sys.executable}"],
                   cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    payloads = list(remote.rglob(f"AnsiballZ_{module}.py"))
    assert payloads, "no AnsiballZ payload kept"
    subprocess.run([sys.executable, str(payloads[0]), "explode"], cwd=payloads[0].parent,
                   capture_output=True, text=True, timeout=60, check=True)
    root = payloads[0].parent / "debug_dir" / "ansible" / "module_utils" / "congvu"
    return root, {p.relative_to(root).as_posix() for p in root.rglob("*.py")}


@pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible not in the virtualenv")
def test_reconcile_module_ships_every_naming_scheme(tmp_path):
    _, files = shipped(tmp_path, "congvu_reconcile", "policy={} catalogue={} rosters=[]")
    schemes = {p.relative_to(ROOT / "congvu").as_posix() for p in (ROOT / "congvu" / "schemes").glob("*.py")}
    assert schemes <= files, f"not shipped: {sorted(schemes - files)}"
    assert {"naming.py", "orgs.py", "policy.py", "reconcile.py", "audit.py", "ldapdir.py"} <= files


@pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible not in the virtualenv")
@pytest.mark.parametrize(("module", "args"), [
    ("congvu_reconcile", "policy={} catalogue={} rosters=[]"),
    ("congvu_report", "policy={} catalogue={} accounts=[] dest=/nowhere")])
def test_every_congvu_module_a_shipped_one_imports_is_shipped(tmp_path, module, args):
    # an import missing on the managed host shows only there, as "Failed to import the required library"
    root, files = shipped(tmp_path, module, args)
    wanted = set()
    for name in files:
        text = (root / name).read_text(encoding="utf-8")
        imported = re.findall(r"^\s*from congvu\.([a-z_]+)(?:\.[a-z_]+)* import", text, re.M)
        imported += [m for line in re.findall(r"^\s*from congvu import ([a-z_, ]+)$", text, re.M)
                     for m in line.replace(" ", "").split(",")]
        for imported_module in imported:
            single = (ROOT / "congvu" / f"{imported_module}.py").exists()
            wanted.add(f"{imported_module}.py" if single else f"{imported_module}/__init__.py")
    assert wanted <= files, f"imported but not shipped: {sorted(wanted - files)}"
