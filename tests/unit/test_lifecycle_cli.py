"""congvu-lifecycle's command line (congvu.lifecycle_cli): the role's configuration to the run's settings,
the operator's request file, and the exit status of refused input. The run itself is tested in
test_lifecycle_run.py and over the wire by tests/layouts/lifecycle_checks.py."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path

from congvu.lifecycle_cli import main, settings
from congvu.policy import load_policy
from congvu.workdays import VN_TZ, public_calendar

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path, **extra):
    policy = load_policy(ROOT / "policies/ninhbinh.yml", {"calendar": {"confirmed_years": [2026, 2027]}})
    config = {"policy": json.loads(json.dumps(policy, default=str)),
              "calendar_public": public_calendar([2026, 2027]),
              "ldap": {"uri": "ldapi:///", "base": "dc=ninhbinh,dc=gov,dc=vn"},
              "audit_dir": str(tmp_path / "audit"), **extra}
    path = tmp_path / "lifecycle.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return config, path


def test_settings_take_the_injected_day_and_the_hosts_calendar(tmp_path):
    # Ninh Bình Art 7.1: 15 working days from the notice; the host counts them from the public calendar
    # the wiring computed (no holidays package there), across Tết 2027.
    config, _ = _config(tmp_path, organisations=["snv"])
    now = dt.datetime(2027, 1, 20, 6, 30, tzinfo=VN_TZ)
    s = settings(config, today=dt.date(2027, 2, 1), now=now)
    assert s.today == dt.date(2027, 2, 1) and s.now.date() == dt.date(2027, 2, 1)
    assert s.scope == ["snv"] and s.calendar.public is not None
    assert s.calendar.add(dt.date(2027, 2, 1), 15) == dt.date(2027, 3, 1)


def test_a_bad_request_file_is_refused_before_anything_runs(tmp_path, capsys):
    _, path = _config(tmp_path)
    requests = tmp_path / "letters.json"
    requests.write_text(json.dumps({"requests": "not a list"}), encoding="utf-8")
    assert main(["--config", str(path), "--requests", str(requests)], out=io.StringIO()) == 2
    err = capsys.readouterr().err
    assert str(requests) in err and "requests file" in err


def test_a_replica_refuses_requests_naming_where_they_go(tmp_path, capsys):
    # Requests (Ninh Bình Art 7.1: the agency asks to reopen) are planned by the first mail server's run
    # only; the second's (docs/lifecycle.md, "Two mailbox servers") must not take them and drop them.
    _, path = _config(tmp_path, replica=True)
    requests = tmp_path / "letters.json"
    requests.write_text("[]", encoding="utf-8")
    assert main(["--config", str(path), "--requests", str(requests)], out=io.StringIO()) == 2
    err = capsys.readouterr().err
    assert "first mail server" in err and str(path) in err


def test_an_unreadable_configuration_names_the_file(tmp_path, capsys):
    missing = tmp_path / "nowhere.json"
    assert main(["--config", str(missing)], out=io.StringIO()) == 2
    assert str(missing) in capsys.readouterr().err


def test_the_hosts_get_every_module_the_run_imports():
    # The split layout's mail host has no slapd tooling: every module the run imports at load time
    # beyond the standard library must come from the role's Debian packages (python3-<module>).
    # (Found on demo-split: passlib, imported through congvu.reconcile, was missing there.)
    import ast
    import sys

    import yaml

    role_vars = yaml.safe_load((ROOT / "roles/lifecycle/vars/main.yml").read_text(encoding="utf-8"))
    packages = set(role_vars["__lifecycle_packages"])
    # the command and what its main() loads (congvu.lifecycle_cli._collaborators, main)
    todo = ["congvu.lifecycle_cli", "congvu.lifecycle_run", "congvu.activity", "congvu.ldapdir",
            "congvu.mailbox"]
    seen, external = set(), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = ROOT / (name.replace(".", "/") + ".py")
        path = path if path.exists() else ROOT / name.replace(".", "/") / "__init__.py"
        for node in ast.parse(path.read_text(encoding="utf-8")).body:  # module level: loaded at import
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module and not node.level
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for module in names:
                if module.startswith("congvu"):
                    todo.append(module)
                elif module.split(".")[0] not in sys.stdlib_module_names | {"__future__"}:
                    external.add(module.split(".")[0])
    assert external, "the closure must find the run's own imports (python-ldap at least)"
    assert {f"python3-{m}" for m in external} <= packages, external
