"""Filters of the accounts playbooks: thin wrappers over congvu.reconcile and congvu.publish."""

from __future__ import annotations

# ruff: noqa: E402 - imports follow DOCUMENTATION/EXAMPLES/RETURN as in every Ansible plugin

DOCUMENTATION = r"""
---
name: congvu_accounts
short_description: Controller-side helpers of playbooks/accounts.yml and playbooks/publish.yml
description:
  - C(congvu_roster_item(path, root)) a roster file (or the lists file) read on the controller as the module's
    C(rosters) item C({source, content}), UTF-8 checked (with the line of a bad byte), BOM removed.
  - C(congvu_overrides_merge(current, pending)) the operator overrides file text, new cases added
    with C(approved) set to false and the scheme's suggestion.
  - C(congvu_initial_credentials(credentials, secret, policy)) per agency, the accounts the run
    created with their initial passwords (derived from the run's secret; never logged, use no_log).
  - C(congvu_directory_files(entries, policy, catalogue)) the published directory (CSV, vCard, HTML)
    as a mapping of relative path to content (Hà Nam Art 11.5, Gia Lai Art 10.5, Ninh Bình Art 13.4,
    Hà Giang Art 6), citing the policy's C(province.directory_citation) at the foot of each page.
    The catalogue must be the policy province's (its C(province) key, when set, is the policy's
    C(province.code)).
"""

EXAMPLES = r"""
- name: Write the overrides file
  ansible.builtin.copy:
    content: "{{ current | congvu_overrides_merge(result.pending) }}"
    dest: data/demo/hanam/overrides.yml
    mode: "0644"
"""

RETURN = r"""
_value:
  description: See each filter above.
  type: raw
"""

from ansible.errors import AnsibleFilterError

try:
    from congvu.errors import CongvuError
    from congvu.orgs import load_catalogue
    from congvu.publish import directory_files
    from congvu.reconcile import initial_credentials, merge_overrides
    from congvu.roster import RosterError, decode
except ImportError as exc:  # pragma: no cover - the venv installs congvu editable
    raise AnsibleFilterError(f"the congvu package is not importable: {exc}") from exc


def congvu_roster_item(path, root=""):
    import os

    source = os.path.relpath(path, root) if root else str(path)
    try:
        with open(path, "rb") as handle:
            raw = handle.read()
        return {"source": source, "content": decode(raw, source)}
    except OSError as exc:
        raise AnsibleFilterError(f"{source}: cannot read roster: {exc.strerror}") from exc
    except RosterError as exc:
        raise AnsibleFilterError(str(exc)) from exc


def congvu_overrides_merge(current, pending):
    if current is not None and not isinstance(current, dict):
        raise AnsibleFilterError("congvu_overrides_merge: the current overrides must be a mapping")
    try:
        return merge_overrides(current, pending or [])
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError(f"congvu_overrides_merge: bad pending case: {exc}") from exc


def congvu_initial_credentials(credentials, secret, policy):
    try:
        return initial_credentials(credentials or [], secret, policy)
    except (CongvuError, KeyError) as exc:
        raise AnsibleFilterError(f"congvu_initial_credentials: {exc}") from exc


def congvu_directory_files(entries, policy, catalogue, generated=""):
    try:
        cat = load_catalogue(catalogue, source="catalogue",
                             province=(policy.get("province") or {}).get("code"))
        return directory_files(entries, policy, cat, generated=generated)
    except CongvuError as exc:
        raise AnsibleFilterError(f"congvu_directory_files: {exc}") from exc


class FilterModule:
    def filters(self):
        return {
            "congvu_roster_item": congvu_roster_item,
            "congvu_overrides_merge": congvu_overrides_merge,
            "congvu_initial_credentials": congvu_initial_credentials,
            "congvu_directory_files": congvu_directory_files,
        }
