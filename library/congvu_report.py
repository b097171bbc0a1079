#!/usr/bin/python
"""Ansible module congvu_report: the regulations' periodic usage report, per agency (congvu.report)."""

from __future__ import annotations

# ruff: noqa: E402 - Ansible modules put their imports after DOCUMENTATION/EXAMPLES/RETURN

DOCUMENTATION = r"""
---
module: congvu_report
short_description: Write the periodic report on the use of the mail system, per agency
description:
  - Builds, for each top-level organisation of the catalogue, the report of Cần Thơ's Annex II
    (Cần Thơ Art 15.1; the yearly reports of Hà Nam Art 11.8 and Ninh Bình Art 13.6 take the same
    form) from the directory's mailboxes, the audit log's records and each agency's own file, and
    writes it as an OpenDocument text (C(<agency>.odt)) and a CSV of item 3 (C(<agency>-thay-doi.csv)),
    plus the province's roll-up C(tong-hop.csv), into C(<start>_<end>/) below O(dest).
  - Given Dovecot's figures (O(quota), O(sent), O(received)), also the use of the mail system per
    agency (C(congvu.usage)) as C(su-dung.csv) and a page with charts, C(su-dung.html).
  - Runs on the control node (C(delegate_to=localhost)). Pure logic in C(congvu.report).
options:
  policy:
    description: The effective policy (C(congvu_policy)).
    type: dict
    required: true
  catalogue:
    description: The organisation catalogue (parsed YAML).
    type: dict
    required: true
  accounts:
    description: The directory's mailboxes as C(community.general.ldap_search) returns them.
    type: list
    elements: dict
    required: true
  audit:
    description: Audit log files, each C({source, content}) with C(content) base64 (C(slurp)).
    type: list
    elements: dict
    default: []
  start:
    description: First day of the period (YYYY-MM-DD); with O(end), a report asked for.
    type: str
  end:
    description: Last day of the period (YYYY-MM-DD).
    type: str
  today:
    description: The day the report is made (YYYY-MM-DD, Vietnam); default today.
    type: str
  agencies:
    description: Codes of the agencies to report on; default every top-level organisation.
    type: list
    elements: str
    default: []
  extras_dir:
    description: Directory of the agencies' own files (C(<agency>.yml), items 1 and 4 to 8).
    type: path
  dest:
    description: Directory the files are written to (created).
    type: path
    required: true
  quota:
    description: The output of C(doveadm -f tab quota get -A) on the first mailbox server.
    type: str
  sent:
    description: The output of C(doveadm -f tab search -A) for the messages of the period in Sent folders.
    type: str
  received:
    description: The same for the messages of the period in every other folder but Drafts.
    type: str
"""

EXAMPLES = r"""
- name: Write the reports
  congvu_report:
    policy: "{{ congvu_policy }}"
    catalogue: "{{ lookup('ansible.builtin.file', congvu_catalogue_file) | from_yaml }}"
    accounts: "{{ search.results }}"
    audit: "{{ slurped.results | map(attribute='content') }}"
    dest: artifacts/reports/cantho
  delegate_to: localhost
"""

RETURN = r"""
period:
  description: C(start), C(end), C(due) of the period and C(before), the day after its end.
  type: dict
  returned: always
agencies:
  description: Per agency C(code), C(personal), C(unit_boxes), C(created), C(changed), C(cancelled).
  type: list
  elements: dict
  returned: always
files:
  description: The files written (or that would be, in check mode).
  type: list
  elements: str
  returned: always
"""

import base64
import datetime as dt
import os
import sys

import ansible.module_utils.congvu as _congvu_pkg
from ansible.module_utils.basic import AnsibleModule

sys.modules.setdefault("congvu", _congvu_pkg)
from ansible.module_utils.congvu import (  # noqa: F401 - imported so AnsiballZ ships them
    addresses,
    audit,
    errors,
    fold,
    lifecycle,
    naming,
    notices,
    orgs,
    policy,
    report,
    schemes,
    sizes,
    usage,
    workdays,
)

from congvu.audit import Record
from congvu.errors import CongvuError
from congvu.orgs import load_catalogue
from congvu.policy import place_vi, validate_policy
from congvu.report import build, period_for, period_span, rows_csv, to_csv, to_odt
from congvu.usage import build_usage, count_search, parse_quota, usage_csv, usage_html
from congvu.workdays import VN_TZ

try:
    import yaml
except ImportError:  # pragma: no cover
    yaml = None


def _day(module, value, key):
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        module.fail_json(msg=f"{key}: {value!r} is not a day as YYYY-MM-DD")


def main():
    module = AnsibleModule(
        argument_spec={
            "policy": {"type": "dict", "required": True},
            "catalogue": {"type": "dict", "required": True},
            "accounts": {"type": "list", "elements": "dict", "required": True},
            "audit": {"type": "list", "elements": "dict", "default": []},
            "start": {"type": "str"},
            "end": {"type": "str"},
            "today": {"type": "str"},
            "agencies": {"type": "list", "elements": "str", "default": []},
            "extras_dir": {"type": "path"},
            "dest": {"type": "path", "required": True},
            "quota": {"type": "str"},
            "sent": {"type": "str"},
            "received": {"type": "str"},
        },
        supports_check_mode=True,
    )
    p = module.params
    today = _day(module, p["today"], "today") or dt.datetime.now(VN_TZ).date()
    try:
        pol = validate_policy(p["policy"], str(p["policy"].get("source") or "policy"))
        catalogue = load_catalogue(p["catalogue"], source="catalogue")
        period = period_for(pol, today, _day(module, p["start"], "report_start"),
                            _day(module, p["end"], "report_end"))
        records = []
        for item in p["audit"]:
            text = base64.b64decode(item.get("content") or "").decode("utf-8")
            for number, line in enumerate(text.splitlines(), 1):
                if line.strip():
                    records.append(Record.from_json(line, f"{item.get('source', 'audit')}:{number}"))
        extras = {}
        if p["extras_dir"] and os.path.isdir(p["extras_dir"]):
            for name in sorted(os.listdir(p["extras_dir"])):
                if name.endswith((".yml", ".yaml")):
                    path = os.path.join(p["extras_dir"], name)
                    with open(path, encoding="utf-8") as handle:
                        data = yaml.safe_load(handle) if yaml else None
                    if data is not None and not isinstance(data, dict):
                        module.fail_json(msg=f"{path}: expected a mapping of the report's items")
                    extras[name.rsplit(".", 1)[0]] = data or {}
        reports = build(pol, catalogue, p["accounts"], records, period, extras, p["agencies"] or None)
        usage = None
        if p["quota"] is not None:
            usage = build_usage(catalogue, p["accounts"], period, parse_quota(p["quota"]),
                                count_search(p["sent"] or ""), count_search(p["received"] or ""), records,
                                p["agencies"] or None)
    except CongvuError as exc:
        module.fail_json(msg=str(exc))
    files = {"tong-hop.csv": to_csv(reports).encode("utf-8")}
    if usage is not None:
        files["su-dung.csv"] = usage_csv(usage, period).encode("utf-8")
        files["su-dung.html"] = usage_html(usage, period, place_vi(pol)).encode("utf-8")
    for r in reports:
        files[f"{r.code}.odt"] = to_odt(r, pol)
        files[f"{r.code}-thay-doi.csv"] = rows_csv(r).encode("utf-8")
    folder = os.path.join(p["dest"], f"{period.start.isoformat()}_{period.end.isoformat()}")
    written = []
    for name, data in sorted(files.items()):
        path = os.path.join(folder, name)
        written.append(path)
        if not module.check_mode:
            os.makedirs(folder, exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(data)
    summary = []
    for r in reports:
        counts = r.counts()
        summary.append({"code": r.code, "personal": r.personal, "unit_boxes": r.unit_boxes,
                        "created": counts["Cấp mới"], "changed": counts["Thay đổi"],
                        "cancelled": counts["Hủy bỏ"]})
    module.exit_json(changed=not module.check_mode, files=written, agencies=summary,
                     period=period_span(period))


if __name__ == "__main__":
    main()
