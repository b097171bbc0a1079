"""The regulations' periodic report on the use of the mail system, per agency, from the directory and
the audit log.

Cần Thơ Art 15.1 has each agency report every six months (5 June, 5 December) in the form of its Annex
II; Hà Nam Art 11.8 yearly before 15 November; Ninh Bình Art 13.6 yearly before 15 December
(``operations.report_due``, ``operations.report_article`` of the policy). Every report here follows
Annex II, the only form a seed gives:

1. the agency's staff and units: the units from the organisation catalogue, the staff counts from the
   agency's own file (``reports/<agency>.yml`` beside the rosters);
2. the mailboxes issued at the time of the report: personal, and unit/agency mailboxes (the directory);
3. the accounts created, changed and cancelled in the period (the audit log: roster applies and the
   lifecycle's actions);
4. to 8. the manager of the agency's mailbox, the focal person for its list of mailboxes, documents
   issued by mail, difficulties, notes: from the agency's file, left blank for the agency to fill in.

:func:`period_for` finds the period a report covers, :func:`build` the reports, :func:`to_csv` and
:func:`to_odt` write them (CSV for the province's roll-up, Cần Thơ Art 9.11; an OpenDocument text the
agency completes, signs and stamps). Nothing here reads the servers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from congvu.audit import Record, agency_of_dn
from congvu.errors import PolicyError
from congvu.lifecycle import fmt_date_vi
from congvu.notices import cite_vi, place_vi

__all__ = ["AgencyReport", "Period", "build", "period_for", "period_span", "to_csv", "to_odt"]

#: What each audit action is in item 3 of Annex II ("cấp mới, thay đổi, hủy bỏ"); actions that change
#: no account (notices, warnings, holds, archives) are left out.
CATEGORY = {
    "create": "Cấp mới",
    "delete": "Hủy bỏ",
    "reclaim": "Hủy bỏ",
    "retire_leaver": "Hủy bỏ",
    **dict.fromkeys(
        (
            "change",
            "readdress",
            "move",
            "transfer",
            "mark_leaving",
            "return",
            "lock_leaver",
            "lock_inactive",
            "lock_default_password",
            "lock_violation",
            "unlock_returned",
            "reopen",
            "apply_quota",
            "drop_alias",
            "reserve_address",
        ),
        "Thay đổi",
    ),
}
#: The action as the report says it.
ACTION_VI = {
    "create": "cấp hộp thư",
    "delete": "xóa",
    "reclaim": "thu hồi hộp thư",
    "retire_leaver": "thu hồi (nghỉ việc)",
    "change": "cập nhật thông tin",
    "readdress": "đổi địa chỉ",
    "move": "chuyển đơn vị",
    "transfer": "chuyển cơ quan",
    "mark_leaving": "ghi nhận nghỉ việc, chuyển công tác",
    "return": "trở lại làm việc",
    "lock_leaver": "tạm khóa (nghỉ việc)",
    "lock_inactive": "tạm khóa (không sử dụng)",
    "lock_default_password": "tạm khóa (chưa đổi mật khẩu ban đầu)",
    "lock_violation": "tạm khóa (bị chiếm quyền, lộ mật khẩu hoặc vi phạm)",
    "unlock_returned": "mở khóa",
    "reopen": "mở lại hộp thư",
    "apply_quota": "điều chỉnh dung lượng",
    "drop_alias": "bỏ địa chỉ cũ",
    "reserve_address": "giữ lại địa chỉ của danh sách đã xóa",
}
KIND_VI = {
    "person": "Cá nhân",
    "personal": "Cá nhân",
    "mailbox": "Đơn vị",
    "unit": "Đơn vị",
    "agency": "Đơn vị",
    "list": "Danh sách thư",
}
_CENTRE_WORDS = ("trung tâm", "đơn vị sự nghiệp", "ban quản lý", "viện", "trường", "bệnh viện")
DUE_RULE = "operations.report_due: the days (MM-DD) an agency's periodic report is due"


@dataclass(frozen=True, slots=True)
class Period:
    """The days a report covers, both ends included; ``due`` the day it is due (None when asked for)."""

    start: dt.date
    end: dt.date
    due: dt.date | None = None


@dataclass
class AgencyReport:
    """Annex II of one agency for one period."""

    code: str
    name: str
    period: Period
    units: int = 0
    departments: int = 0
    centres: int = 0
    personal: int = 0
    unit_boxes: int = 0
    rows: list[dict[str, str]] = field(default_factory=list)
    extra: Mapping[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        out = {k: 0 for k in ("Cấp mới", "Thay đổi", "Hủy bỏ")}
        for row in self.rows:
            out[row["category"]] += 1
        return out


def due_days(policy: Mapping[str, Any], key: str = "report_due") -> list[tuple[int, int]]:
    """The (month, day) of each day of ``operations.<key>`` (``report_due``: the agencies' reports;
    ``summary_report_due``: the managing department's roll-up), sorted."""
    days = []
    for index, text in enumerate(policy["operations"].get(key) or ()):
        month, _, day = str(text).partition("-")
        try:
            days.append((int(month), int(day)))
            dt.date(2024, int(month), int(day))
        except ValueError:
            raise PolicyError(
                f"{text!r} is not a day as MM-DD",
                source=str(policy.get("source") or "<policy>"),
                key=f"operations.{key}[{index}]",
                rule=DUE_RULE,
            ) from None
    return sorted(days)


def period_for(
    policy: Mapping[str, Any], today: dt.date, start: dt.date | None = None, end: dt.date | None = None
) -> Period:
    """The period of the report due next (on or after ``today``): from the day after the previous due
    day to the due day. ``start`` and ``end`` given: that period (a report asked for)."""
    if start or end:
        if not (start and end) or end < start:
            raise PolicyError(
                "give both report_start and report_end (YYYY-MM-DD), the end not before the start",
                source="report.yml",
                key="report_start",
                rule="a period has two ends",
            )
        return Period(start, end, None)
    days = due_days(policy)
    if not days:
        raise PolicyError(
            "the regulation sets no periodic report (reports on request): give report_start and report_end",
            source=str(policy.get("source") or "<policy>"),
            key="operations.report_due",
            rule=DUE_RULE,
        )
    dues = sorted(
        dt.date(year, m, d) for year in (today.year - 1, today.year, today.year + 1) for m, d in days
    )
    due = next(d for d in dues if d >= today)
    previous = max(d for d in dues if d < due)
    return Period(previous + dt.timedelta(days=1), due, due)


IMAP_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def imap_date(day: dt.date) -> str:
    """A day as IMAP writes it (RFC 3501 date: ``8-Dec-2026``), whatever the locale. doveadm search
    reads SINCE/BEFORE given so as whole days of the server's time zone; given as ``2026-12-08`` it
    takes an instant instead, and the mail of the period's last evening fell out of the report
    (found by CI at 18:47 in Vietnam)."""
    return f"{day.day}-{IMAP_MONTHS[day.month - 1]}-{day.year}"


def period_span(period: Period) -> dict[str, str | None]:
    """The period as the playbook reads it: ``start``, ``end``, ``due`` (None when asked for) and
    ``before``, the day after the end; ``search_since`` and ``search_before``, the first day and the
    day after the end as ``doveadm search ... SINCE ... BEFORE`` needs them (:func:`imap_date`)."""
    before = period.end + dt.timedelta(days=1)
    return {
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
        "due": period.due.isoformat() if period.due else None,
        "before": before.isoformat(),
        "search_since": imap_date(period.start),
        "search_before": imap_date(before),
    }


def entry_value(entry: Mapping[str, Any], name: str) -> str:
    """One attribute of an entry as ``community.general.ldap_search`` returns it ('' when absent)."""
    value = entry.get(name)
    if isinstance(value, list):
        return str(value[0]) if value else ""
    return "" if value is None else str(value)


def entry_agency(entry: Mapping[str, Any]) -> str:
    """The agency (top-level organisation code) a mailbox entry belongs to."""
    return agency_of_dn(entry_value(entry, "congvuOrganisationDN") or entry_value(entry, "dn"))


def top_agencies(catalogue: Any, agencies: Iterable[str] | None = None) -> list[Any]:
    """The catalogue's top-level organisations (the agencies a report is per), or those of
    ``agencies``; a code that is not one is refused."""
    tops = [
        org
        for code, org in catalogue.items()
        if org.kind != "province" and catalogue.top_of(code).code == code
    ]
    wanted = set(agencies) if agencies else None
    chosen = [org for org in tops if wanted is None or org.code in wanted]
    if wanted and wanted - {org.code for org in chosen}:
        raise PolicyError(
            "not a top-level organisation of the catalogue: "
            + ", ".join(sorted(wanted - {org.code for org in chosen})),
            source="report.yml",
            key="report_agencies",
            rule="agencies of the catalogue",
        )
    return chosen


def build(
    policy: Mapping[str, Any],
    catalogue: Any,
    accounts: Iterable[Mapping[str, Any]],
    records: Iterable[Record],
    period: Period,
    extras: Mapping[str, Mapping[str, Any]] | None = None,
    agencies: Iterable[str] | None = None,
) -> list[AgencyReport]:
    """One report per top-level organisation of the catalogue (or those of ``agencies``).

    ``accounts``: the directory's mailboxes as ``community.general.ldap_search`` returns them (``dn``,
    ``congvuMailboxClass``, ``congvuOrganisationDN``, ``congvuAccountState``); ``records``: the audit
    records (any period: those of ``period`` are kept); ``extras``: agency code -> its own file."""
    reports = {
        org.code: AgencyReport(org.code, org.name, period) for org in top_agencies(catalogue, agencies)
    }
    for code, org in catalogue.items():
        report = reports.get(catalogue.top_of(code).code)
        if org.kind != "unit" or report is None:
            continue
        report.units += 1
        if org.name.lower().startswith(_CENTRE_WORDS):
            report.centres += 1
        else:
            report.departments += 1
    for entry in accounts:
        if entry_value(entry, "congvuAccountState") == "retired":
            continue  # reclaimed: no longer issued
        report = reports.get(entry_agency(entry))
        if report is None:
            continue
        kind = entry_value(entry, "congvuMailboxClass")
        if kind == "personal":
            report.personal += 1
        elif kind in ("unit", "agency"):
            report.unit_boxes += 1
    for record in sorted(records, key=lambda r: r.ts):
        day = record.ts.date()
        category = CATEGORY.get(record.action)
        report = reports.get(record.organisation)
        if category is None or report is None or not period.start <= day <= period.end:
            continue
        kind = str(record.details.get("kind") or "")
        report.rows.append(
            {
                "date": fmt_date_vi(day),
                "mail": record.mail,
                "kind": KIND_VI.get(kind, "Cá nhân"),
                "category": category,
                "what": ACTION_VI.get(record.action, record.action),
                "article": record.article,
                "by": record.actor,
            }
        )
    for code, data in (extras or {}).items():
        if code in reports:
            reports[code].extra = data or {}
    return [reports[code] for code in sorted(reports)]


CSV_HEADER = (
    "Mã cơ quan",
    "Cơ quan",
    "Từ ngày",
    "Đến ngày",
    "Hộp thư cá nhân",
    "Hộp thư đơn vị",
    "Cấp mới",
    "Thay đổi",
    "Hủy bỏ",
    "Số đơn vị trực thuộc",
)


def to_csv(reports: Iterable[AgencyReport]) -> str:
    """One row per agency (the province's roll-up, Cần Thơ Art 9.11), UTF-8 with a BOM for spreadsheets."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for r in reports:
        counts = r.counts()
        writer.writerow(
            (
                r.code,
                r.name,
                fmt_date_vi(r.period.start),
                fmt_date_vi(r.period.end),
                r.personal,
                r.unit_boxes,
                counts["Cấp mới"],
                counts["Thay đổi"],
                counts["Hủy bỏ"],
                r.units,
            )
        )
    return "\ufeff" + out.getvalue()


def rows_csv(report: AgencyReport) -> str:
    """Item 3 of one agency: every account created, changed or cancelled in the period."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        ("STT", "Ngày", "Địa chỉ thư", "Loại hộp thư", "Đề nghị", "Nội dung", "Căn cứ", "Người thực hiện")
    )
    for index, row in enumerate(report.rows, 1):
        writer.writerow(
            (
                index,
                row["date"],
                row["mail"],
                row["kind"],
                row["category"],
                row["what"],
                row["article"],
                row["by"],
            )
        )
    return "\ufeff" + out.getvalue()


# --- OpenDocument text ---------------------------------------------------------------------------

_MIMETYPE = "application/vnd.oasis.opendocument.text"
_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:fo="urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" office:version="1.3"'
)
_STYLES = f"""<?xml version="1.0" encoding="UTF-8"?>
<office:document-styles {_NS}>
<office:font-face-decls><style:font-face style:name="Times New Roman" svg:font-family="'Times New Roman'"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0"/></office:font-face-decls>
<office:styles>
<style:default-style style:family="paragraph">
<style:paragraph-properties fo:margin-bottom="0.12cm"/>
<style:text-properties style:font-name="Times New Roman" fo:font-size="13pt" fo:language="vi"
 fo:country="VN"/>
</style:default-style>
<style:style style:name="Title" style:family="paragraph">
<style:paragraph-properties fo:text-align="center"/>
<style:text-properties fo:font-size="14pt" fo:font-weight="bold"/></style:style>
<style:style style:name="Centre" style:family="paragraph">
<style:paragraph-properties fo:text-align="center"/>
<style:text-properties fo:font-style="italic"/></style:style>
<style:style style:name="Cell" style:family="paragraph">
<style:text-properties fo:font-size="11pt"/></style:style>
<style:style style:name="Head" style:family="paragraph">
<style:paragraph-properties fo:text-align="center"/>
<style:text-properties fo:font-size="11pt" fo:font-weight="bold"/>
</style:style>
</office:styles>
<office:automatic-styles><style:page-layout style:name="A4"><style:page-layout-properties fo:page-width="21cm"
 fo:page-height="29.7cm" fo:margin-top="2cm" fo:margin-bottom="2cm" fo:margin-left="3cm"
 fo:margin-right="2cm"/>
</style:page-layout></office:automatic-styles>
<office:master-styles>
<style:master-page style:name="Standard" style:page-layout-name="A4"/></office:master-styles>
</office:document-styles>
"""
_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">
<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.text"/>
<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
<manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>
</manifest:manifest>
"""
BLANK = "…………"


def _or_blank(value: Any) -> str:
    return BLANK if value is None or value == "" else str(value)


def _p(text: str, style: str = "") -> str:
    attr = f' text:style-name="{style}"' if style else ""
    return f"<text:p{attr}>{escape(text)}</text:p>"


def _person(value: Any) -> str:
    if not isinstance(value, Mapping):
        return BLANK
    parts = [str(value.get(k) or BLANK) for k in ("Họ và tên", "Chức vụ", "Điện thoại", "Thư")]
    return f"{parts[0]}, chức vụ: {parts[1]}, điện thoại: {parts[2]}, địa chỉ hộp thư cá nhân: {parts[3]}"


#: The tables' automatic styles (content.xml): the changes table ruled, with column widths that keep an
#: address on one line; the signature block unruled.
_TABLE_STYLES = (
    '<style:style style:name="Ruled" style:family="table-cell"><style:table-cell-properties '
    'fo:border="0.5pt solid #000000" fo:padding="0.05cm"/></style:style>'
    '<style:style style:name="Plain" style:family="table-cell"><style:table-cell-properties '
    'fo:border="none" fo:padding="0.05cm"/></style:style>'
)


def _table(
    name: str,
    rows: list[tuple[str, ...]],
    head: tuple[str, ...],
    widths: tuple[float, ...],
    *,
    ruled: bool = True,
    cell: str = "Cell",
) -> tuple[str, str]:
    """(automatic styles, table) of a table of ``widths`` centimetres per column, its head in bold."""
    styles = (
        f'<style:style style:name="{name}" style:family="table"><style:table-properties '
        f'style:width="{sum(widths):.2f}cm" table:align="left"/></style:style>'
    )
    styles += "".join(
        f'<style:style style:name="{name}.{i}" style:family="table-column"><style:table-column-properties '
        f'style:column-width="{w:.2f}cm"/></style:style>'
        for i, w in enumerate(widths)
    )
    cols = "".join(f'<table:table-column table:style-name="{name}.{i}"/>' for i in range(len(widths)))
    border = "Ruled" if ruled else "Plain"

    def row(cells, style):
        return (
            "<table:table-row>"
            + "".join(
                f'<table:table-cell table:style-name="{border}" office:value-type="string">'
                f"{_p(str(c), style)}</table:table-cell>"
                for c in cells
            )
            + "</table:table-row>"
        )

    body = "".join(row(r, cell) for r in rows)
    head_row = row(head, "Head")
    return (
        styles,
        f'<table:table table:name="{name}" table:style-name="{name}">{cols}{head_row}{body}</table:table>',
    )


def to_odt(report: AgencyReport, policy: Mapping[str, Any]) -> bytes:
    """Annex II of one agency as an OpenDocument text: the directory's and the audit log's figures filled
    in, the agency's own items from its file or left as dots, the signature block at the end."""
    x = report.extra or {}
    article = policy["operations"].get("report_article")
    cite = cite_vi(article, policy) if article else None
    staff = x.get("Số công chức"), x.get("Số viên chức")
    total_staff = (
        sum(v for v in staff if isinstance(v, int)) if any(isinstance(v, int) for v in staff) else None
    )
    departments = x.get("Số phòng, ban", report.departments)
    centres = x.get("Số trung tâm, đơn vị sự nghiệp", report.centres)
    issued = x.get("Văn bản phát hành qua thư"), x.get("Tổng văn bản phát hành")
    rows = [
        (str(i), r["date"], r["mail"], r["kind"], r["category"], r["what"])
        for i, r in enumerate(report.rows, 1)
    ]
    # the changes (A4 less the margins: 16 cm) and the signature block
    changes_styles, changes = _table(
        "Bang1",
        rows,
        ("STT", "Ngày", "Địa chỉ thư", "Loại", "Đề nghị", "Nội dung"),
        (1.0, 2.4, 4.6, 2.0, 2.4, 3.6),
    )
    signature_styles, signatures = _table(
        "Bang2",
        [("(Ký, ghi rõ họ tên)", "(Ký, ghi rõ họ tên, đóng dấu)")],
        ("Người lập", "Thủ trưởng Cơ quan/Đơn vị"),
        (8.0, 8.0),
        ruled=False,
        cell="Centre",
    )
    body = [
        _p(report.name.upper(), "Centre"),
        _p("BÁO CÁO TÌNH HÌNH SỬ DỤNG THƯ ĐIỆN TỬ", "Title"),
        _p(
            f"(thời gian từ {fmt_date_vi(report.period.start)} đến {fmt_date_vi(report.period.end)})",
            "Centre",
        ),
        _p(f"Hệ thống thư điện tử công vụ {place_vi(policy)}" + (f", theo {cite}" if cite else ""), "Centre"),
        _p(
            "1. Tổng số cán bộ công chức, viên chức (không kể tạp vụ, lái xe) của cơ quan: "
            f"{total_staff if total_staff is not None else BLANK}"
        ),
        _p(
            f"- Trong đó, số lượng công chức: {staff[0] if staff[0] is not None else BLANK}; "
            f"viên chức: {staff[1] if staff[1] is not None else BLANK}"
        ),
        _p(
            f"- Tổng số đơn vị thuộc cơ quan: {report.units}; trong đó: Phòng, ban: {departments}; "
            f"Trung tâm, đơn vị sự nghiệp trực thuộc: {centres}"
        ),
        _p("2. Tổng số hộp thư điện tử đã được cấp đến thời điểm báo cáo:"),
        _p(f"- Số lượng hộp thư điện tử người dùng: {report.personal}"),
        _p(f"- Số lượng hộp thư điện tử đơn vị (phòng ban/tổ chức/trung tâm): {report.unit_boxes}"),
        _p(
            "3. Danh sách đơn vị, người dùng đề nghị cấp mới, thay đổi, hủy bỏ tài khoản hộp thư điện tử "
            f"trong kỳ báo cáo ({', '.join(f'{k.lower()}: {v}' for k, v in report.counts().items())}):"
        ),
        changes if rows else _p("(không có thay đổi trong kỳ)"),
        _p(
            "4. Họ tên người quản lý hộp thư điện tử chung của cơ quan nhà nước: "
            + _person(x.get("Người quản lý hộp thư chung"))
        ),
        _p(
            "5. Họ tên người được phân công đầu mối phối hợp, quản lý danh sách hộp thư điện tử của cơ "
            "quan nhà nước: " + _person(x.get("Đầu mối quản lý danh sách hộp thư"))
        ),
        _p(
            "6. Số lượng văn bản phát hành qua hộp thư điện tử của cơ quan nhà nước/tổng số văn bản phát "
            f"hành thực tế: {_or_blank(issued[0])}/{_or_blank(issued[1])}"
        ),
        _p(
            "7. Thuận lợi, khó khăn, đề xuất, kiến nghị (nếu có): "
            + str(x.get("Thuận lợi, khó khăn, đề xuất") or BLANK)
        ),
        _p(f"8. Ghi chú khác (nếu có): {x.get('Ghi chú') or BLANK}"),
        _p(""),
        signatures,
    ]
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<office:document-content {_NS}>'
        f"<office:automatic-styles>{_TABLE_STYLES}{changes_styles}{signature_styles}</office:automatic-styles>"
        f"<office:body><office:text>{''.join(body)}</office:text></office:body></office:document-content>\n"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as odt:
        odt.writestr(zipfile.ZipInfo("mimetype"), _MIMETYPE, compress_type=zipfile.ZIP_STORED)
        odt.writestr("META-INF/manifest.xml", _MANIFEST, compress_type=zipfile.ZIP_DEFLATED)
        odt.writestr("styles.xml", _STYLES, compress_type=zipfile.ZIP_DEFLATED)
        odt.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
