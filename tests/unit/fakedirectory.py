"""A stand-in for slapd in the roster apply's unit tests (test_reconcile.py, test_lists.py): entries by
DN, a search that hands back only what the roster apply asks for, changes applied in order, and the
refint overlay's part (``member`` and ``owner`` follow a moved or deleted entry)."""

from __future__ import annotations

from congvu.reconcile import SEARCH_ATTRS


class Directory:
    def __init__(self) -> None:
        self.entries: dict[str, dict[str, list[str]]] = {}

    def current(self):
        wanted = {a.lower() for a in SEARCH_ATTRS}
        return [(dn, {k: list(v) for k, v in attrs.items() if k.lower() in wanted})
                for dn, attrs in self.entries.items()]

    def apply(self, changes) -> None:
        for change in changes:
            if change.op == "add":
                assert change.dn not in self.entries, change.dn
                parent = change.dn.split(",", 1)[1]
                assert parent in self.entries or parent.startswith("ou=organisations"), change.dn
                self.entries[change.dn] = {k: list(v) for k, v in change.attrs.items()}
            elif change.op == "modify":
                entry = self.entries[change.dn]
                for name, values in change.attrs.items():
                    if name.startswith("+"):  # values added (an auxiliary class)
                        entry.setdefault(name[1:], []).extend(values)
                    elif values:
                        entry[name] = list(values)
                    else:
                        entry.pop(name, None)
            elif change.op == "delete":
                del self.entries[change.dn]
                self._refint(change.dn, None)
            else:
                assert change.new_dn not in self.entries, change.new_dn
                entry = self.entries[change.new_dn] = self.entries.pop(change.dn)
                name, _, value = change.new_dn.split(",", 1)[0].partition("=")
                entry[name] = [value]  # the old RDN value goes (deleteoldrdn)
                self._refint(change.dn, change.new_dn)

    def _refint(self, old: str, new: str | None) -> None:
        for entry in self.entries.values():
            for name in ("member", "owner"):
                if old in entry.get(name, []):
                    values = [v for v in entry[name] if v != old] + ([new] if new else [])
                    if values:
                        entry[name] = values
                    else:
                        del entry[name]
