"""playbooks/report.yml on the all-in-one host: each agency's periodic report (Cần Thơ Art 15.1
Annex II; Hà Nam Art 11.8, Ninh Bình Art 13.6) counts what the directory and the audit log hold, and
comes out as an OpenDocument text the agency completes and signs, plus CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess
import uuid
import zipfile
from xml.etree import ElementTree

from backup_checks import playbook

from congvu.report import imap_date


def report(stage, out, start: dt.date, end: dt.date, *extra: str):
    """playbooks/report.yml for the period, its files in ``out``; the period's folder."""
    run = playbook(stage, "report.yml", "-e", f"report_start={start}", "-e", f"report_end={end}",
                   "-e", f"report_dir={out}", *extra)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    return out / f"{start}_{end}"


def rows_of(path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"))))


def rendered(odt, work) -> tuple[str, float]:
    """What an agency sees when it opens ``odt``: LibreOffice (Debian's, headless) makes a PDF of it;
    (the PDF's text, the share of dark pixels on its first page drawn at 30 dpi)."""
    convert = subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{work}/profile",
                              "--convert-to", "pdf", "--outdir", str(work), str(odt)],
                             capture_output=True, text=True, timeout=180, check=False)
    pdf = work / f"{odt.stem}.pdf"
    assert convert.returncode == 0 and pdf.is_file(), convert.stdout + convert.stderr
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          timeout=60, check=True).stdout
    page = subprocess.run(["pdftoppm", "-gray", "-r", "30", "-f", "1", "-l", "1", str(pdf)],
                          capture_output=True, timeout=60, check=True).stdout
    header = re.match(rb"P5\s+(\d+)\s+(\d+)\s+255\s", page)  # a binary greyscale map, 8 bits
    assert header, page[:40]
    pixels = page[header.end():]
    assert len(pixels) == int(header.group(1)) * int(header.group(2))
    return text, sum(1 for b in pixels if b < 128) / len(pixels)


def test_the_report_counts_what_the_directory_and_the_audit_log_hold(stage, tmp_path):
    mx = stage.first("mail_servers")
    today = dt.date.fromisoformat(mx.out("TZ=Asia/Ho_Chi_Minh date +%F").strip())
    start = today.replace(month=1, day=1)
    extras = tmp_path / "extras"
    extras.mkdir()
    checked = tmp_path / "check"
    dry = playbook(stage, "report.yml", "--check", "-e", f"report_start={start}", "-e", f"report_end={today}",
                   "-e", f"report_dir={checked}")
    assert dry.returncode == 0, dry.stdout[-3000:]
    assert not checked.exists()  # check mode writes nothing
    folder = report(stage, tmp_path / "reports", start, today, "-e", f"report_extras_dir={extras}")
    rows = rows_of(folder / "tong-hop.csv")
    row = max(rows, key=lambda r: int(r["Hộp thư cá nhân"]))  # the agency with the most people
    code = row["Mã cơ quan"]
    # item 2: the directory's personal and organisation mailboxes of the agency, reclaimed ones left out
    base = ",".join(f"dc={part}" for part in stage.policy["domains"]["primary"].split("."))
    ldap = stage.first("ldap_servers")

    def count(flt: str) -> int:
        found = ldap.out(f"ldapsearch -LLL -Q -Y EXTERNAL -H ldapi:/// -b o={code},ou=organisations,{base} "
                         f"'(&{flt}(!(congvuAccountState=retired)))' 1.1")
        return sum(1 for line in found.splitlines() if line.startswith("dn:"))

    assert int(row["Hộp thư cá nhân"]) == count("(congvuMailboxClass=personal)") > 0
    assert int(row["Hộp thư đơn vị"]) == count("(|(congvuMailboxClass=unit)(congvuMailboxClass=agency))")
    # item 3: the accounts the audit log says were created in the period (the roster apply's records)
    lines = ldap.out("cat /var/lib/congvu/audit/audit-*.jsonl 2>/dev/null || true").splitlines()
    records = [json.loads(line) for line in lines if line.strip()]
    created = [r for r in records if r["action"] == "create" and r["organisation"] == code
               and start.isoformat() <= r["ts"][:10] <= today.isoformat()]
    assert created, "the roster apply of staging wrote no audit record"
    assert int(row["Cấp mới"]) == len(created)
    changes = rows_of(folder / f"{code}-thay-doi.csv")
    assert {c["Địa chỉ thư"] for c in changes if c["Đề nghị"] == "Cấp mới"} == {r["mail"] for r in created}
    # the Annex: an OpenDocument text in Vietnamese, its figures filled in, the agency's items to fill
    with zipfile.ZipFile(folder / f"{code}.odt") as odt:
        assert odt.infolist()[0].filename == "mimetype"
        text = " ".join(ElementTree.fromstring(odt.read("content.xml")).itertext())
    assert "BÁO CÁO TÌNH HÌNH SỬ DỤNG THƯ ĐIỆN TỬ" in text and row["Cơ quan"].upper() in text
    assert f"Số lượng hộp thư điện tử người dùng: {row['Hộp thư cá nhân']}" in text
    assert f"(thời gian từ {start:%d/%m/%Y} đến {today:%d/%m/%Y})" in text
    # ... and it opens as a page the agency can sign (issue 15): the office suite lays out the same text,
    # Vietnamese letters intact, and draws a page that is neither blank nor solid
    shown, dark = rendered(folder / f"{code}.odt", tmp_path)
    flat = " ".join(shown.split())
    assert "BÁO CÁO TÌNH HÌNH SỬ DỤNG THƯ ĐIỆN TỬ" in flat and row["Cơ quan"].upper() in flat
    assert f"Số lượng hộp thư điện tử người dùng: {row['Hộp thư cá nhân']}" in flat
    assert "Thủ trưởng Cơ quan/Đơn vị" in flat and "(Ký, ghi rõ họ tên, đóng dấu)" in flat
    assert 0.005 < dark < 0.3, f"first page {dark:.1%} dark"


def test_the_use_of_the_mail_system_per_agency(stage, tmp_path):
    """Issue 15, item 4, for any province: beside the Annex, su-dung.csv and su-dung.html give each
    agency's mailboxes active and locked as the directory holds them, the messages of the period sent
    (in Sent folders) and received as Dovecot holds them, and the storage used against the quotas;
    the page draws three charts. A message put in one person's Sent folder and two in the INBOX of
    another the same day make the counts something to get right."""
    mx, ldap = stage.first("mail_servers"), stage.first("ldap_servers")
    today = dt.date.fromisoformat(mx.out("TZ=Asia/Ho_Chi_Minh date +%F").strip())
    start = today.replace(month=1, day=1)
    code = "stttt"  # Sở Thông tin và Truyền thông, Hà Nam Art 5's example agency
    base = ",".join(f"dc={part}" for part in stage.policy["domains"]["primary"].split("."))
    found = ldap.out(f"ldapsearch -LLL -Q -Y EXTERNAL -H ldapi:/// -o ldif-wrap=no "
                     f"-b o={code},ou=organisations,{base} '(objectClass=congvuMailAccount)' "
                     "mail congvuAccountState")
    entries = [dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
               for block in found.strip().split("\n\n")]
    kept = [e for e in entries if e.get("congvuAccountState") != "retired"]  # reclaimed: not counted
    mails = [e["mail"].lower() for e in kept]
    active = [e["mail"].lower() for e in kept if e.get("congvuAccountState") != "locked"]
    assert len(active) >= 2
    note = (f"From: {active[0]}\nTo: {active[1]}\nSubject: Báo cáo sử dụng\nMessage-ID: "
            f"<{uuid.uuid4()}@{stage.policy['domains']['primary']}>\n\nKính gửi: Văn phòng.\n")
    mx.out(f"doveadm save -u {active[0]} -m Sent", stdin=note)
    for _ in range(2):  # twice as many received as sent, whatever ran before, so the two cannot be swapped
        mx.out(f"doveadm save -u {active[1]}", stdin=note)
    folder = report(stage, tmp_path / "reports", start, today, "-e", f'{{"report_agencies": ["{code}"]}}')
    rows = rows_of(folder / "su-dung.csv")
    assert [r["Mã cơ quan"] for r in rows] == [code]
    row = rows[0]
    assert int(row["Hộp thư đang hoạt động"]) == len(active)
    assert int(row["Hộp thư bị khóa"]) == len(mails) - len(active)

    def held(query: str) -> int:
        # IMAP dates: whole days of the server's time zone (an ISO date is an instant to doveadm)
        before = imap_date(today + dt.timedelta(days=1))
        listed = mx.out(f"doveadm -f tab search -A {query} SINCE {imap_date(start)} BEFORE {before}")
        return sum(1 for line in listed.splitlines()[1:] if line.split("\t")[0].lower() in mails)

    assert int(row["Thư gửi"]) == held("mailbox Sent") >= 1
    assert int(row["Thư nhận"]) == held("NOT mailbox Sent NOT mailbox Drafts") >= 1
    quota = [line.split("\t") for line in mx.out("doveadm -f tab quota get -A").splitlines()[1:]]
    used = sum(int(c[3]) * 1024 for c in quota if c[2] == "STORAGE" and c[0].lower() in mails)
    assert row["Dung lượng đã dùng (MB)"] == f"{used / 1_000_000:.1f}" and used > 0
    page = (folder / "su-dung.html").read_text(encoding="utf-8")
    assert page.count("<svg ") == 3 and row["Cơ quan"] in page and 'lang="vi"' in page
