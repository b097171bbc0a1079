"""The use of the mail system per agency, for any province (issue 15, item 4): mailboxes active and
locked, messages sent and received in the period, storage used against the quotas, and what the roster
applies and the lifecycle did to the agency's accounts; as CSV and as an HTML page with charts.

The charts are inline SVG drawn here: the page needs no script, no other file and no network, opens in
any browser and prints as it shows. The figures come from the servers through ``playbooks/report.yml``
(the directory's entries, Dovecot's ``doveadm quota get -A`` and ``doveadm search -A``, the audit log);
:func:`parse_quota` and :func:`count_search` read Dovecot's tab-separated output. Messages are counted
where they are at the time of the report, by the day they arrived (IMAP's internal date, kept when a
message is moved): a message deleted since is not counted, and "sent" is what mail clients and the
webmail saved in the Sent folder.
"""

from __future__ import annotations

import csv
import html
import io
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from congvu.audit import Record
from congvu.lifecycle import fmt_date_vi
from congvu.report import ACTION_VI, Period, entry_agency, entry_value, top_agencies
from congvu.report import CSV_HEADER as REPORT_HEADER

__all__ = ["AgencyUsage", "build_usage", "count_search", "parse_quota", "usage_csv", "usage_html"]

KIB = 1024


@dataclass
class AgencyUsage:
    """The figures of one agency (its top-level organisation and everything below it)."""

    code: str
    name: str
    active: int = 0
    locked: int = 0
    used_bytes: int = 0
    quota_bytes: int = 0  # the sum of the limits of the mailboxes that have one
    unlimited: int = 0  # mailboxes without a limit (their use counts in used_bytes, not against a quota)
    sent: int = 0
    received: int = 0
    limited_used: int = 0  # storage used by the mailboxes that have a limit
    actions: Counter = field(default_factory=Counter)

    @property
    def used_share(self) -> float | None:
        """Storage used by the mailboxes with a quota, as a share of their quotas (None: no quota)."""
        return None if not self.quota_bytes else self.limited_used / self.quota_bytes


def parse_quota(text: str) -> dict[str, tuple[int, int | None]]:
    """``doveadm -f tab quota get -A``: address -> (bytes used, limit in bytes or None), from the STORAGE
    rows (Dovecot gives kibibytes; a limit of ``-`` is none)."""
    out: dict[str, tuple[int, int | None]] = {}
    for line in text.splitlines()[1:]:
        cells = line.split("\t")
        if len(cells) < 5 or cells[2] != "STORAGE":
            continue
        used = int(cells[3]) * KIB if cells[3].isdigit() else 0
        limit = int(cells[4]) * KIB if cells[4].isdigit() else None
        out[cells[0].lower()] = (used, limit)
    return out


def count_search(text: str) -> Counter:
    """``doveadm -f tab search -A ...``: address -> how many messages matched (one line per message)."""
    found: Counter = Counter()
    for line in text.splitlines()[1:]:
        user = line.split("\t", 1)[0].strip().lower()
        if user:
            found[user] += 1
    return found


def build_usage(
    catalogue: Any,
    accounts: Iterable[Mapping[str, Any]],
    period: Period,
    quotas: Mapping[str, tuple[int, int | None]] | None = None,
    sent: Mapping[str, int] | None = None,
    received: Mapping[str, int] | None = None,
    records: Iterable[Record] = (),
    agencies: Iterable[str] | None = None,
) -> list[AgencyUsage]:
    """One line per top-level organisation of the catalogue (or those of ``agencies``).

    ``accounts``: the directory's mailboxes as ``community.general.ldap_search`` returns them (``dn``,
    ``mail``, ``congvuOrganisationDN``, ``congvuAccountState``); reclaimed (retired) ones are left
    out. ``quotas``, ``sent``, ``received`` are keyed by address (:func:`parse_quota`,
    :func:`count_search`); ``records``: the audit log (those of ``period`` are counted)."""
    usage = {org.code: AgencyUsage(org.code, org.name) for org in top_agencies(catalogue, agencies)}
    quotas, sent, received = quotas or {}, sent or {}, received or {}
    for entry in accounts:
        state = entry_value(entry, "congvuAccountState")
        line = usage.get(entry_agency(entry))
        if line is None or state == "retired":
            continue
        if state == "locked":
            line.locked += 1
        else:
            line.active += 1
        mail = entry_value(entry, "mail").lower()
        used, limit = quotas.get(mail, (0, None))
        line.used_bytes += used
        if limit:
            line.quota_bytes += limit
            line.limited_used += used
        else:
            line.unlimited += 1
        line.sent += sent.get(mail, 0)
        line.received += received.get(mail, 0)
    for record in records:
        line = usage.get(record.organisation)
        if line is not None and period.start <= record.ts.date() <= period.end and record.action in ACTION_VI:
            line.actions[record.action] += 1
    return [usage[code] for code in sorted(usage)]


CSV_HEADER = (
    *REPORT_HEADER[:4],  # the agency and the period, as the Annex's roll-up names them
    "Hộp thư đang hoạt động",
    "Hộp thư bị khóa",
    "Thư gửi",
    "Thư nhận",
    "Dung lượng đã dùng (MB)",
    "Hạn mức (MB)",
    "Đã dùng so với hạn mức (%)",
    "Hộp thư không giới hạn dung lượng",
    "Thay đổi tài khoản trong kỳ",
)


def _mb(value: int) -> str:
    return f"{value / 1_000_000:.1f}"


def _share(line: AgencyUsage) -> str:
    return "" if line.used_share is None else f"{100 * line.used_share:.1f}"


def _vi(number: str) -> str:
    """A decimal as Vietnamese writes it on the page (a comma; the CSV keeps the point for spreadsheets)."""
    return number.replace(".", ",")


def _actions(line: AgencyUsage) -> str:
    return "; ".join(f"{ACTION_VI[action]}: {count}" for action, count in sorted(line.actions.items()))


def usage_csv(lines: Iterable[AgencyUsage], period: Period) -> str:
    """One row per agency, UTF-8 with a byte-order mark so that spreadsheets read the Vietnamese."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for line in lines:
        writer.writerow((line.code, line.name, fmt_date_vi(period.start), fmt_date_vi(period.end),
                         line.active, line.locked, line.sent, line.received, _mb(line.used_bytes),
                         _mb(line.quota_bytes), _share(line), line.unlimited, _actions(line)))
    return "\ufeff" + out.getvalue()


#: The charts' colours (each bar also carries its figure as text: colour is never the only cue).
COLOURS = {"active": "#2e7d32", "locked": "#c62828", "sent": "#1565c0", "received": "#6a1b9a",
           "used": "#ef6c00", "free": "#e0e0e0"}
LABEL_W, BAR_W, ROW_H = 280, 420, 22


def _chart(title: str, legend: list[tuple[str, str]], rows: list[tuple[str, list[tuple[float, str]], str]],
           scale: float) -> str:
    """A horizontal bar chart: per row a label, stacked segments (value, colour) out of ``scale``, and
    the row's figure written after the bar."""
    height = 34 + ROW_H * len(rows) + 24
    width = LABEL_W + BAR_W + 170
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             f"<title>{html.escape(title)}</title>"]
    x = LABEL_W
    for text, colour in legend:
        parts.append(f'<rect x="{x}" y="6" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="16">{html.escape(text)}</text>')
        x += 24 + 7 * len(text)
    for i, (label, segments, figure) in enumerate(rows):
        y = 34 + ROW_H * i
        short = label if len(label) <= 44 else label[:43] + "…"
        parts.append(f'<text x="{LABEL_W - 8}" y="{y + 14}" text-anchor="end">'
                     f"{html.escape(short)}</text>")
        x = float(LABEL_W)
        for value, colour in segments:
            w = BAR_W * min(value / scale, 1.0) if scale else 0.0
            if w > 0:
                parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{ROW_H - 6}" '
                             f'fill="{colour}"/>')
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 14}">{html.escape(figure)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def usage_html(lines: list[AgencyUsage], period: Period, province: str) -> str:
    """The page: three charts (mailboxes, messages, storage) and the table of every figure."""
    span = f"từ {fmt_date_vi(period.start)} đến {fmt_date_vi(period.end)}"
    boxes = _chart("Hộp thư đang hoạt động và bị khóa",
                   [("Đang hoạt động", COLOURS["active"]), ("Bị khóa", COLOURS["locked"])],
                   [(line.name, [(line.active, COLOURS["active"]), (line.locked, COLOURS["locked"])],
                     f"{line.active} / {line.locked}") for line in lines],
                   max((line.active + line.locked for line in lines), default=0))
    mail = _chart("Thư gửi và nhận trong kỳ",
                  [("Gửi", COLOURS["sent"]), ("Nhận", COLOURS["received"])],
                  [(line.name, [(line.sent, COLOURS["sent"]), (line.received, COLOURS["received"])],
                    f"{line.sent} / {line.received}") for line in lines],
                  max((line.sent + line.received for line in lines), default=0))
    storage = _chart("Dung lượng đã dùng so với hạn mức",
                     [("Đã dùng", COLOURS["used"]), ("Còn trống", COLOURS["free"])],
                     [(line.name, [(line.used_share or 0.0, COLOURS["used"]),
                                   (max(0.0, 1.0 - (line.used_share or 0.0)) if line.quota_bytes else 0.0,
                                    COLOURS["free"])],
                       f"{_vi(_share(line)) or '—'} % ({_vi(_mb(line.used_bytes))} MB)") for line in lines],
                     1.0)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in CSV_HEADER[:2] + CSV_HEADER[4:])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in (
            line.code, line.name, line.active, line.locked, line.sent, line.received,
            _vi(_mb(line.used_bytes)), _vi(_mb(line.quota_bytes)), _vi(_share(line)), line.unlimited,
            _actions(line))) + "</tr>"
        for line in lines)
    total = lambda attr: sum(getattr(line, attr) for line in lines)  # noqa: E731
    return (
        '<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8"/>'
        f"<title>Tình hình sử dụng thư điện tử công vụ {html.escape(province)}, {span}</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:3px 6px;font-size:13px}th{background:#eee}"
        "figure{margin:1.5em 0}figcaption{font-weight:bold;margin-bottom:.3em}</style></head><body>"
        f"<h1>Tình hình sử dụng hệ thống thư điện tử công vụ {html.escape(province)}</h1>"
        f"<p>Kỳ báo cáo {span}. Tổng cộng {len(lines)} cơ quan, {total('active')} hộp thư đang hoạt động, "
        f"{total('locked')} hộp thư bị khóa, {total('sent')} thư gửi, {total('received')} thư nhận trong kỳ, "
        f"{_vi(_mb(total('used_bytes')))} MB đã dùng.</p>"
        "<p>Số thư tính theo thư còn lưu trong hộp thư tại thời điểm lập báo cáo, theo ngày thư đến; thư gửi "
        "là thư được lưu trong thư mục Đã gửi (Sent).</p>"
        + "".join(f"<figure><figcaption>{html.escape(title)}</figcaption>{chart}</figure>"
                  for title, chart in (("Hộp thư đang hoạt động / bị khóa", boxes),
                                       ("Thư gửi / nhận trong kỳ", mail),
                                       ("Dung lượng đã dùng so với hạn mức", storage)))
        + f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>\n"
    )
