"""Every congvu module a module of library/ uses reaches the managed host.

AnsiballZ ships a module's ``ansible.module_utils`` imports (and what they import relatively), but the
congvu package imports itself absolutely (``from congvu.orgs import ...``), which it does not follow:
each module of library/ lists every congvu module it needs, directly or through another, in its
``from ansible.module_utils.congvu import (...)``. A module missing from that list works on the
control node and fails on the host with ModuleNotFoundError; this test finds it here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "congvu"


def _congvu_imports(path: Path) -> set[str]:
    """The top-level congvu modules ``path`` imports absolutely (``congvu.x`` -> ``x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] == "congvu" and len(parts) > 1:
                found.add(parts[1])
            elif parts[0] == "congvu":
                found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names
                         if a.name.startswith("congvu.") and "." in a.name)
    return found


def _files(name: str) -> list[Path]:
    module = PACKAGE / f"{name}.py"
    return [module] if module.exists() else sorted((PACKAGE / name).glob("*.py"))


def _closure(names: set[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for path in _files(name):
            todo.extend(_congvu_imports(path) - seen)
    return seen


def _shipped(path: Path) -> set[str]:
    shipped = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "ansible.module_utils.congvu":
            shipped.update(alias.name for alias in node.names)
    return shipped


@pytest.mark.parametrize("module", sorted(p.name for p in (ROOT / "library").glob("congvu_*.py")))
def test_every_congvu_module_a_library_module_uses_is_shipped(module):
    path = ROOT / "library" / module
    needed = _closure(_congvu_imports(path) | _shipped(path))
    missing = sorted(needed - _shipped(path))
    assert not missing, f"{module}: add {', '.join(missing)} to its 'from ansible.module_utils.congvu import'"
