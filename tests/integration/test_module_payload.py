"""What Ansible packs into the congvu_reconcile module (AnsiballZ) on the managed host.

AnsiballZ ships only the module_utils files it sees imported. The module imports the congvu
package's modules by name, and congvu/schemes/__init__.py imports each scheme module relatively,
which AnsiballZ follows: a scheme registered there reaches the LDAP host without touching the
module. Runs ``ansible`` against localhost (connection local), keeps the payload and unpacks it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE = Path(sys.executable).parent / "ansible"


@pytest.mark.skipif(not ANSIBLE.exists(), reason="ansible not in the virtualenv")
def test_reconcile_module_ships_every_naming_scheme(tmp_path):
    remote = tmp_path / "remote"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_KEEP_REMOTE_FILES="1",
               ANSIBLE_REMOTE_TMP=str(remote), ANSIBLE_LOCAL_TEMP=str(tmp_path / "local"),
               ANSIBLE_NOCOLOR="1", PYTHONWARNINGS="ignore")
    # The arguments are incomplete on purpose: the module fails fast, the payload stays behind.
    subprocess.run([str(ANSIBLE), "localhost", "-i", "localhost,", "-c", "local", "-m", "congvu_reconcile",
                    "-a", "policy={} catalogue={} rosters=[]",
                    "-e", f"ansible_python_interpreter={sys.executable}"],
                   cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300, check=False)
    payloads = list(remote.rglob("AnsiballZ_congvu_reconcile.py"))
    assert payloads, "no AnsiballZ payload kept"
    subprocess.run([sys.executable, str(payloads[0]), "explode"], cwd=payloads[0].parent,
                   capture_output=True, text=True, timeout=60, check=True)
    shipped_root = payloads[0].parent / "debug_dir" / "ansible" / "module_utils" / "congvu"
    shipped = {p.relative_to(shipped_root).as_posix() for p in shipped_root.rglob("*.py")}
    schemes = {p.relative_to(ROOT / "congvu").as_posix() for p in (ROOT / "congvu" / "schemes").glob("*.py")}
    assert schemes <= shipped, f"not shipped: {sorted(schemes - shipped)}"
    assert {"naming.py", "orgs.py", "policy.py", "reconcile.py"} <= shipped
    # every congvu module a shipped one imports is shipped too (an import missing on the LDAP host
    # shows only there, as "Failed to import the required Python library")
    import re
    wanted = set()
    for name in shipped:
        text = (shipped_root / name).read_text(encoding="utf-8")
        for module in re.findall(r"^\s*from congvu\.([a-z_]+)(?:\.[a-z_]+)* import", text, re.M):
            single = (ROOT / "congvu" / f"{module}.py").exists()
            wanted.add(f"{module}.py" if single else f"{module}/__init__.py")
    assert wanted <= shipped, f"imported but not shipped: {sorted(wanted - shipped)}"
    assert {"audit.py", "workdays.py", "ldapdir.py"} <= shipped
