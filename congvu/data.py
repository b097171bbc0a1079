"""Plain data: what the engine accepts from a caller that wraps its values (Ansible's lazy
containers and tagged strings, a YAML loader's subclasses)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["plain"]


def plain(value: Any) -> Any:
    """A deep copy of ``value`` made of dict, list, str and scalars only."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value
