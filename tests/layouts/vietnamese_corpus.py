"""Ordinary Vietnamese official mail, as agencies of another province send it: short and long,
subjects with diacritics, a one-line reply, an invitation to a meeting, a report with a table, a
circular with a PDF whose name has diacritics, in the transfer encodings mail clients use (8bit,
base64, quoted-printable; HTML alternatives). Issue 10: Rspamd must not score Vietnamese as spam for
being Vietnamese (the chartable module's R_MIXED_CHARSET once gave "Công văn liên tỉnh" 5 points).

Each entry: (id, subject, plain text body, options for filtermail.build_message). A reply carries
In-Reply-To and References, as a mail client writes them.
"""

from __future__ import annotations

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

SHORT = """Kính gửi: Sở Thông tin và Truyền thông tỉnh Hà Nam

Sở Nội vụ tỉnh Ninh Bình gửi Quý Sở Công văn số 1234/SNV-VP ngày 20/11/2026 về việc phối hợp
triển khai hệ thống thư điện tử công vụ liên tỉnh.

Trân trọng./.
"""

REPLY = "Đã nhận, xin cảm ơn anh."

INVITATION = """Kính gửi: Lãnh đạo các sở, ban, ngành và Ủy ban nhân dân các huyện, thị xã, thành phố

Ủy ban nhân dân tỉnh trân trọng kính mời đồng chí dự cuộc họp giao ban công tác chuyển đổi số
tháng 11 năm 2026.

- Thời gian: 08 giờ 00 phút, thứ Năm, ngày 26 tháng 11 năm 2026.
- Địa điểm: Phòng họp số 2, trụ sở Ủy ban nhân dân tỉnh, số 90 đường Trần Phú.
- Thành phần: Giám đốc sở, Chủ tịch Ủy ban nhân dân cấp huyện hoặc Phó Chủ tịch được ủy quyền.

Đề nghị các đồng chí chuẩn bị ý kiến tham luận (nếu có) và gửi về Văn phòng Ủy ban nhân dân tỉnh
trước ngày 24/11/2026 để tổng hợp.

Trân trọng kính mời./.

Nơi nhận:
- Như trên;
- Lưu: VT, KGVX.
"""

TABLE = """Kính gửi: Sở Thông tin và Truyền thông

Phòng Tư pháp báo cáo số liệu sử dụng thư điện tử công vụ quý III năm 2026 như sau:

| STT | Đơn vị                    | Số hộp thư | Đang dùng | Tỷ lệ (%) |
|-----|---------------------------|-----------:|----------:|----------:|
| 1   | Văn phòng HĐND và UBND    |         42 |        40 |      95,2 |
| 2   | Phòng Nội vụ              |         15 |        15 |     100,0 |
| 3   | Phòng Tài chính - Kế hoạch |         18 |        16 |      88,9 |
| 4   | Phòng Tư pháp             |          9 |         9 |     100,0 |
|     | Tổng cộng                 |         84 |        80 |      95,2 |

Đề nghị Sở tổng hợp, báo cáo Ủy ban nhân dân tỉnh theo quy định.
"""

TABLE_HTML = """<p>Kính gửi: Sở Thông tin và Truyền thông</p>
<p>Phòng Tư pháp báo cáo số liệu sử dụng thư điện tử công vụ quý III năm 2026 như sau:</p>
<table border="1" cellpadding="4">
<tr><th>STT</th><th>Đơn vị</th><th>Số hộp thư</th><th>Đang dùng</th><th>Tỷ lệ (%)</th></tr>
<tr><td>1</td><td>Văn phòng HĐND và UBND</td><td>42</td><td>40</td><td>95,2</td></tr>
<tr><td>2</td><td>Phòng Nội vụ</td><td>15</td><td>15</td><td>100,0</td></tr>
<tr><td>3</td><td>Phòng Tài chính - Kế hoạch</td><td>18</td><td>16</td><td>88,9</td></tr>
<tr><td>4</td><td>Phòng Tư pháp</td><td>9</td><td>9</td><td>100,0</td></tr>
<tr><td></td><td>Tổng cộng</td><td>84</td><td>80</td><td>95,2</td></tr>
</table>
<p>Đề nghị Sở tổng hợp, báo cáo Ủy ban nhân dân tỉnh theo quy định.</p>
"""

LONG_PARAGRAPHS = [
    "I. KẾT QUẢ THỰC HIỆN",
    "1. Về hạ tầng số: Toàn tỉnh đã hoàn thành kết nối mạng truyền số liệu chuyên dùng đến 100% cơ "
    "quan nhà nước cấp tỉnh, cấp huyện và cấp xã; trung tâm dữ liệu của tỉnh được nâng cấp, bảo đảm "
    "an toàn thông tin theo cấp độ 3.",
    "2. Về thư điện tử công vụ: Đã cấp 4.215 hộp thư cho cán bộ, công chức, viên chức; tỷ lệ sử dụng "
    "thư điện tử trong trao đổi văn bản giữa các cơ quan đạt 96,8%. Các hộp thư không hoạt động quá "
    "03 tháng đã được rà soát, tạm khóa theo đúng Quy chế.",
    "3. Về dịch vụ công trực tuyến: 1.873 thủ tục hành chính được cung cấp trực tuyến toàn trình; số "
    "hồ sơ tiếp nhận trực tuyến tăng 23% so với cùng kỳ năm trước.",
    "II. TỒN TẠI, HẠN CHẾ",
    "Một số đơn vị cấp xã còn thiếu cán bộ chuyên trách công nghệ thông tin; việc sử dụng chữ ký số "
    "trên văn bản điện tử ở một số nơi chưa thường xuyên; nhận thức về bảo đảm an toàn thông tin của "
    "một bộ phận cán bộ, công chức còn hạn chế.",
    "III. NHIỆM VỤ, GIẢI PHÁP TRONG THỜI GIAN TỚI",
    "1. Tiếp tục đẩy mạnh ứng dụng công nghệ thông tin trong hoạt động của cơ quan nhà nước, gắn với "
    "cải cách hành chính.",
    "2. Tổ chức tập huấn kỹ năng sử dụng thư điện tử công vụ, chữ ký số cho cán bộ cấp xã; hướng dẫn "
    "đổi mật khẩu định kỳ và nhận diện thư giả mạo.",
    "3. Rà soát, chuẩn hóa danh bạ thư điện tử của các cơ quan, đơn vị và công khai trên Cổng thông "
    "tin điện tử của tỉnh.",
    "Trên đây là báo cáo kết quả thực hiện nhiệm vụ chuyển đổi số năm 2026 của Sở Thông tin và Truyền "
    "thông tỉnh Ninh Bình, kính báo cáo Ủy ban nhân dân tỉnh xem xét, chỉ đạo./.",
]
LONG = "Kính gửi: Ủy ban nhân dân tỉnh\n\n" + "\n\n".join(LONG_PARAGRAPHS * 2) + "\n"

CORPUS = [
    ("short-8bit", "Công văn liên tỉnh", SHORT, {"cte": "8bit"}),
    ("short-base64", "Công văn liên tỉnh", SHORT, {"cte": "base64"}),
    ("note-one-line", "Công văn liên tỉnh", "Đề nghị anh xem công văn liên tỉnh gửi kèm.\n", {}),
    ("acknowledgement", "Đã nhận công văn", "Đã nhận, cảm ơn chị.\n", {"cte": "quoted-printable"}),
    ("reply-one-line", "Re: Công văn liên tỉnh", REPLY + "\n",
     {"headers": {"In-Reply-To": "<cv-1234-snv@ninhbinh.gov.vn>",
                  "References": "<cv-1234-snv@ninhbinh.gov.vn>"}}),
    ("invitation-qp", "Giấy mời họp giao ban công tác chuyển đổi số tháng 11/2026", INVITATION,
     {"cte": "quoted-printable"}),
    ("report-table-html", "Báo cáo số liệu sử dụng thư điện tử công vụ quý III/2026", TABLE,
     {"html": TABLE_HTML}),
    ("long-report", "Báo cáo kết quả thực hiện nhiệm vụ chuyển đổi số năm 2026", LONG, {}),
    ("uppercase-subject", "THÔNG BÁO LỊCH NGHỈ TẾT NGUYÊN ĐÁN BÍNH NGỌ 2026",
     "Kính gửi các phòng, ban, đơn vị trực thuộc,\n\nVăn phòng Sở thông báo lịch nghỉ Tết Nguyên đán "
     "Bính Ngọ từ ngày 14/02/2026 đến hết ngày 22/02/2026.\n\nTrân trọng./.\n", {}),
    ("circular-pdf", "Quyết định phê duyệt danh mục dịch vụ công trực tuyến",
     "Kính gửi các sở, ngành,\n\nVăn phòng UBND tỉnh gửi kèm Quyết định số 45/QĐ-UBND. Đề nghị các "
     "đơn vị triển khai thực hiện.\n\nTrân trọng./.\n",
     {"attachments": [("Quyết định số 45-QĐ-UBND.pdf", PDF, "application/pdf")]}),
]
