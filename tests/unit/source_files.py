"""One way for the unit tests to load a project file that is not a package module: an Ansible
filter, module or connection plugin (filter_plugins/, roles/*/library/, connection_plugins/)."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load(relative: str, name: str) -> types.ModuleType:
    """The file ``relative`` (to the repository's root) executed as the module ``name``, which is
    registered in sys.modules (dataclasses and pickling look a module up there)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
