"""The published mail directory: per agency and for the whole province, as CSV, vCard and HTML.

Each agency publishes the list of its official addresses on its web portal (Hà Nam Art 11.5, Gia
Lai Art 10.5, Ninh Bình Art 13.4); Hà Giang publishes the whole directory on the provincial portal
(Art 6). The pages cite that article in Vietnamese, as the policy's ``province.directory_citation``
gives it. :func:`directory_files` turns the directory's active accounts into those files:

    <agency code>/danh-ba.csv     UTF-8 with BOM (opens correctly in Excel), Vietnamese headings
    <agency code>/danh-ba.vcf     vCard 3.0, one card per mailbox (address books, phones)
    <agency code>/index.html      a static page in Vietnamese with client-side search (no server code)
    toan-tinh/...                 the same for the whole province

Accounts leaving (``congvuLeavingSince``) or not ``active`` are left out. The agencies' mailing
lists (``congvuMailList`` entries, docs/lists.md; playbooks/publish.yml reads only those with a
``member``, as a list without one refuses mail) are published too, each in the files of the agency it
sits below and in the province's. Order: the organisation mailboxes, then the lists, then people;
names sort in Vietnamese alphabetical order (a ă â b c d đ e ê ..., tones second), people by given
name, as Vietnamese lists do.
"""

from __future__ import annotations

import csv
import html
import io
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from congvu.fold import split_name
from congvu.reconcile import top_code

__all__ = ["Listing", "directory_files", "listings", "vn_sort_key"]

PROVINCE_DIR = "toan-tinh"
ALPHABET = "aăâbcdđeêghiklmnoôơpqrstuưvxy"
_ORDER = {c: i for i, c in enumerate(ALPHABET)}
_TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}  # huyền hỏi ngã sắc nặng
HEADINGS = ("STT", "Họ và tên", "Chức vụ", "Đơn vị", "Cơ quan", "Địa chỉ thư", "Loại")
LIST_KIND = "list"
# the CSV's "Loại" column: lets a spreadsheet sorted by name be filtered or sorted back by kind
KIND_LABELS = {"personal": "Cá nhân", LIST_KIND: "Danh sách thư"}
KIND_LABEL_ORGANISATION = "Hộp thư cơ quan, đơn vị"
# who may post to a list (congvuListAccept, docs/lists.md "Who may post"), told to the reader
ACCEPT_LABELS = {
    "members": "Danh sách thư (chỉ thành viên gửi đến được)",
    "organisation": "Danh sách thư (chỉ cán bộ của cơ quan gửi đến được)",
    "province": "Danh sách thư (chỉ hộp thư công vụ của tỉnh gửi đến được)",
    "anyone": "Danh sách thư",
}


def vn_sort_key(text: str) -> tuple:
    """Vietnamese alphabetical order: letters by the alphabet (``đ`` after ``d``), tones second."""
    primary, secondary = [], []
    for char in unicodedata.normalize("NFC", text).casefold():
        parts = unicodedata.normalize("NFD", char)
        tone = next((_TONES[m] for m in parts if m in _TONES), 0)
        base = unicodedata.normalize("NFC", "".join(m for m in parts if m not in _TONES))
        primary.append(_ORDER.get(base, 100 + ord(base[0]) if base else 0))
        secondary.append(tone)
    return tuple(primary), tuple(secondary)


def _one(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    return "" if value is None else str(value)


class Listing:
    """One published mailbox."""

    __slots__ = ("agency", "agency_code", "kind", "mail", "name", "position", "sort", "unit")

    def __init__(self, name: str, mail: str, position: str, unit: str, agency: str, agency_code: str,
                 kind: str) -> None:
        self.name, self.mail, self.position = name, mail, position
        self.unit, self.agency, self.agency_code, self.kind = unit, agency, agency_code, kind
        if kind == "personal":
            try:
                parts = split_name(name)
                self.sort = (2, vn_sort_key(parts.given), vn_sort_key(name), mail)
            except Exception:
                self.sort = (2, vn_sort_key(name), (), mail)
        elif kind == LIST_KIND:
            self.sort = (1, (), vn_sort_key(name), mail)
        else:
            self.sort = (0, (), vn_sort_key(name), mail)


def _classes(value: Any) -> set[str]:
    values = value if isinstance(value, list | tuple) else [value]
    return {_one(v).lower() for v in values if v}


def _list_organisation_dn(dn: str) -> str:
    """The organisation a list sits below: its DN from the nearest ``o=`` above the list's RDN."""
    parts = [p.strip() for p in dn.split(",")][1:]
    for i, part in enumerate(parts):
        if part.lower().startswith("o="):
            return ",".join(parts[i:])
    return ""


def _list_listing(low: Mapping[str, Any], catalogue: Mapping[str, Any]) -> Listing | None:
    mail = _one(low.get("mail")).lower()
    org_dn = _list_organisation_dn(_one(low.get("dn")))
    code = org_dn.split(",", 1)[0].partition("=")[2] if org_dn else ""
    if not mail or code not in catalogue:
        return None
    org = catalogue[code]
    top = catalogue.get(top_code(org_dn), org)
    agency = catalogue.agency_of(code) if hasattr(catalogue, "agency_of") else org
    unit = org.name if org.kind == "unit" else ""
    name = _one(low.get("displayname")).strip() or _one(low.get("cn")) or mail
    accept = _one(low.get("congvulistaccept")).strip().lower() or "province"
    return Listing(unicodedata.normalize("NFC", name), mail,
                   ACCEPT_LABELS.get(accept, KIND_LABELS[LIST_KIND]), unit, agency.name, top.code,
                   LIST_KIND)


def listings(entries: Iterable[Mapping[str, Any]], catalogue: Mapping[str, Any]) -> list[Listing]:
    """Active, non-leaving accounts and the mailing lists of ``entries`` (search results: dicts of
    attribute → value(s)). An entry whose ``objectClass`` has ``congvuMailList`` is a list: named by
    its ``displayName`` (else its ``cn``), of the organisation it sits below; the position shown is
    who may post to it (``congvuListAccept``)."""
    out = []
    for entry in entries:
        low = {k.lower(): v for k, v in entry.items()}
        if "congvumaillist" in _classes(low.get("objectclass")):
            listing = _list_listing(low, catalogue)
            if listing is not None:
                out.append(listing)
            continue
        if _one(low.get("congvuleavingsince")) or _one(low.get("congvuaccountstate") or "active") != "active":
            continue
        mail = _one(low.get("mail")).lower()
        org_dn = _one(low.get("congvuorganisationdn"))
        code = org_dn.split(",", 1)[0].partition("=")[2] if org_dn else ""
        if not mail or code not in catalogue:
            continue
        org = catalogue[code]
        top = catalogue.get(top_code(org_dn), org)
        agency = catalogue.agency_of(code) if hasattr(catalogue, "agency_of") else org
        unit = org.name if org.kind == "unit" else ""
        out.append(Listing(unicodedata.normalize("NFC", _one(low.get("cn")) or mail), mail,
                           _one(low.get("congvuposition")), unit, agency.name, top.code,
                           _one(low.get("congvumailboxclass")) or "personal"))
    return out


def _csv(rows: list[Listing]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(HEADINGS)
    for i, r in enumerate(rows, 1):
        kind = KIND_LABELS.get(r.kind, KIND_LABEL_ORGANISATION)
        writer.writerow([i, r.name, r.position, r.unit, r.agency, r.mail, kind])
    return "\ufeff" + buf.getvalue()


def _vcard_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;").replace("\n", "\\n")


def _fold(line: str) -> str:
    """RFC 6350/2426 folding at 75 octets without splitting a UTF-8 sequence."""
    out, current, size = [], "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > 75:
            out.append(current)
            current, size = " ", 1
        current += char
        size += width
    out.append(current)
    return "\r\n".join(out)


def _vcf(rows: list[Listing]) -> str:
    cards = []
    for r in rows:
        lines = ["BEGIN:VCARD", "VERSION:3.0", f"FN:{_vcard_escape(r.name)}"]
        if r.kind == "personal":
            try:
                parts = split_name(r.name)
                lines.append(f"N:{_vcard_escape(parts.surname)};{_vcard_escape(parts.given)};"
                             f"{_vcard_escape(' '.join(parts.middles))};;")
            except Exception:
                lines.append(f"N:{_vcard_escape(r.name)};;;;")
        else:
            lines.append(f"N:{_vcard_escape(r.name)};;;;")
        lines.append("ORG:" + ";".join(_vcard_escape(p) for p in (r.agency, r.unit) if p))
        if r.kind == LIST_KIND:
            # vCard 3.0 has no KIND (vCard 4): the standard CATEGORIES marks the card as a list, and
            # NOTE tells who may post; the card stays an ordinary one that holds the address
            lines.append(f"CATEGORIES:{_vcard_escape(KIND_LABELS[LIST_KIND])}")
            lines.append(f"NOTE:{_vcard_escape(r.position)}")
        elif r.position:
            lines.append(f"TITLE:{_vcard_escape(r.position)}")
        lines += [f"EMAIL;TYPE=INTERNET,WORK:{r.mail}", "END:VCARD"]
        cards.append("\r\n".join(_fold(line) for line in lines))
    return "\r\n".join(cards) + ("\r\n" if cards else "")


_PAGE = """<!DOCTYPE html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font-family:system-ui,"Segoe UI",Roboto,Arial,sans-serif;margin:0;color:#1b1b1b;background:#fafafa}}
header{{background:#a50e0e;color:#fff;padding:1rem 1.5rem}}
header h1{{margin:0;font-size:1.35rem}} header p{{margin:.25rem 0 0;font-size:.95rem}}
main{{max-width:72rem;margin:0 auto;padding:1rem 1.5rem}}
label{{display:block;font-weight:600;margin-bottom:.25rem}}
input{{width:100%;max-width:32rem;padding:.5rem;font-size:1rem;border:1px solid #888;border-radius:4px}}
table{{width:100%;border-collapse:collapse;margin-top:1rem;background:#fff}}
th,td{{text-align:left;padding:.45rem .6rem;border-bottom:1px solid #ddd;vertical-align:top}}
th{{background:#eee}} tr.org td{{font-weight:600}} tr.list td{{background:#f3f6fb}} a{{color:#0b4f9c}}
footer{{max-width:72rem;margin:0 auto;padding:1rem 1.5rem;font-size:.85rem;color:#555}}
@media print{{input,label,#count{{display:none}}}}
</style>
</head>
<body>
<header><h1>{title}</h1><p>{subtitle}</p></header>
<main>
<label for="q">Tìm theo họ tên, tên danh sách thư, chức vụ, đơn vị hoặc địa chỉ thư
(gõ có dấu hoặc không dấu)</label>
<input id="q" type="search" autocomplete="off" placeholder="Ví dụ: nguyen van minh">
<p id="count" aria-live="polite">{count} địa chỉ thư</p>
<table>
<thead><tr><th>STT</th><th>Họ và tên</th><th>Chức vụ</th><th>Đơn vị</th><th>Địa chỉ thư</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<p>Tải về: <a href="danh-ba.csv">danh-ba.csv</a> (bảng tính) ·
<a href="danh-ba.vcf">danh-ba.vcf</a> (danh bạ)</p>
</main>
<footer>{footer}</footer>
<script>
(function () {{
  var fold = function (s) {{
    return s.normalize("NFD").replace(/[\\u0300-\\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "D")
      .toLowerCase();
  }};
  var rows = Array.prototype.slice.call(document.querySelectorAll("tbody tr"));
  rows.forEach(function (r) {{ r.dataset.k = fold(r.textContent); }});
  var q = document.getElementById("q"), count = document.getElementById("count");
  q.addEventListener("input", function () {{
    var words = fold(q.value).split(/\\s+/).filter(Boolean), shown = 0;
    rows.forEach(function (r) {{
      var ok = words.every(function (w) {{ return r.dataset.k.indexOf(w) !== -1; }});
      r.hidden = !ok; if (ok) {{ shown += 1; }}
    }});
    count.textContent = shown + " địa chỉ thư";
  }});
}})();
</script>
</body>
</html>
"""


def _html(rows: list[Listing], title: str, subtitle: str, footer: str) -> str:
    e = html.escape
    body = []
    for i, r in enumerate(rows, 1):
        unit = r.unit or r.agency
        css = {"personal": "", LIST_KIND: ' class="list"'}.get(r.kind, ' class="org"')
        body.append(f"<tr{css}><td>{i}</td><td>{e(r.name)}</td>"
                    f"<td>{e(r.position)}</td><td>{e(unit)}</td>"
                    f'<td><a href="mailto:{e(r.mail)}">{e(r.mail)}</a></td></tr>')
    return _PAGE.format(title=e(title), subtitle=e(subtitle), count=len(rows), rows="\n".join(body),
                        footer=e(footer))


def directory_files(entries: Iterable[Mapping[str, Any]], policy: Mapping[str, Any],
                    catalogue: Mapping[str, Any], generated: str = "") -> dict[str, str]:
    """Relative path → content of every published file (see the module docstring).

    ``generated``: the date shown on the pages (``DD/MM/YYYY``), empty to leave it out (keeps the
    output byte-identical between runs when nothing changed).
    """
    province = policy.get("province", {})
    province_name = province.get("name") or policy["domains"]["primary"]
    citation = province.get("directory_citation")
    rows = sorted(listings(entries, catalogue), key=lambda r: r.sort)
    footer = f"Danh bạ công khai theo {citation}." if citation else "Danh bạ địa chỉ thư điện tử công vụ."
    if generated:
        footer += f" Cập nhật ngày {generated}."
    files: dict[str, str] = {}
    groups: dict[str, list[Listing]] = {}
    for r in rows:
        groups.setdefault(r.agency_code, []).append(r)
    order = {c: i for i, c in enumerate(catalogue)}
    targets = [(PROVINCE_DIR, sorted(rows, key=lambda r: (order.get(r.agency_code, 0), r.sort)),
                f"Danh bạ thư điện tử công vụ {province_name}")]
    targets += [(c, groups[c], f"Danh bạ thư điện tử — {catalogue[c].name}")
                for c in sorted(groups, key=order.get)]
    for folder, items, title in targets:
        subtitle = f"{len(items)} địa chỉ thư · tên miền @{policy['domains']['primary']}"
        files[f"{folder}/danh-ba.csv"] = _csv(items)
        files[f"{folder}/danh-ba.vcf"] = _vcf(items)
        files[f"{folder}/index.html"] = _html(items, title, subtitle, footer)
    return files
