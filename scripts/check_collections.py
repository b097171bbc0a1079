"""Check that the collections pinned in requirements.yml are installed at exactly those versions.

Exit 0 when every pin holds, 1 (listing each mismatch) otherwise. Used by scripts/bootstrap and CI.
"""

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def installed() -> dict[str, str]:
    out = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-galaxy"), "collection", "list", "--format", "json"],
        check=True, capture_output=True, text=True, cwd=ROOT,
    ).stdout
    found: dict[str, str] = {}
    for path_entries in json.loads(out).values():
        for name, meta in path_entries.items():
            found.setdefault(name, meta.get("version", ""))
    return found


def main() -> int:
    pins = yaml.safe_load((ROOT / "requirements.yml").read_text(encoding="utf-8"))["collections"]
    have = installed()
    problems = [
        f"requirements.yml: {pin['name']} is pinned to {pin['version']} but "
        f"{have.get(pin['name'], 'nothing')} is installed"
        for pin in pins
        if have.get(pin["name"]) != str(pin["version"])
    ]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
