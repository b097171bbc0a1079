"""Every Ansible wrapper's DOCUMENTATION, EXAMPLES and RETURN parse as YAML, so ansible-doc can show them.

A colon followed by a space inside a plain description line ("returned: the ...") makes the whole
block unreadable to ansible-doc while the plugin itself still runs; nothing else would notice.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = sorted(p for d in ("filter_plugins", "action_plugins", "library") for p in (ROOT / d).glob("*.py"))


@pytest.mark.parametrize("path", PLUGINS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_plugin_documentation_is_yaml(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    blocks = {node.targets[0].id: node.value.value for node in tree.body
              if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)
              and node.targets[0].id in ("DOCUMENTATION", "EXAMPLES", "RETURN")}
    assert "DOCUMENTATION" in blocks, f"{path.name} has no DOCUMENTATION"
    for name, text in blocks.items():
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as exc:
            pytest.fail(f"{path.name}: {name} is not valid YAML: {exc}")
