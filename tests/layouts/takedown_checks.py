"""Taking a message down from every mailbox and queue (Ninh Bình Art 14.3; docs/operations.md, "Taking a
message down"), over the wire on a converged layout: ``playbooks/takedown.yml`` as an operator runs it.
Imported by the demo and demo-split test files (on demo-split the mailboxes are on two replicating
servers: no copy may be left on either)."""

from __future__ import annotations

import datetime as dt
import email.utils
import imaplib
import json
import pathlib
import shlex
import uuid
from email.message import EmailMessage

from attacks import accounts, imap_session  # noqa: F401  (accounts: the fixture)
from backup_checks import playbook
from mailcore import MailCore, brief, imap_quote
from polling import wait_for

FOLDER = "Hồ sơ mật"
REASON = "Công văn số 12/SNV ngày 08/12/2026 của Sở Nội vụ báo cáo thư chứa tài liệu mật"


def _message(message_id: str, sender: str, to: list[str], subject: str, body: str) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, ", ".join(to), subject
    msg["Message-ID"], msg["Date"] = message_id, email.utils.formatdate(localtime=True)
    msg.set_content(body)
    return msg.as_bytes()


def _ids(conn: imaplib.IMAP4_SSL, folder: str) -> list[str]:
    """The Message-IDs of a folder, read over IMAP."""
    assert conn.select(imap_quote(folder), readonly=True)[0] == "OK", folder
    _typ, data = conn.search(None, "ALL")
    out = []
    for num in data[0].split():
        _typ, fetched = conn.fetch(num, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        out.append(fetched[0][1].decode().partition(":")[2].strip())
    return out


def _held_anywhere(stage, message_id: str) -> dict[str, str]:
    """Each mail server: what doveadm still finds with that Message-ID in any mailbox."""
    out = {}
    for host in (stage.hosts[name] for name in stage.groups["mail_servers"]):
        said = host.run(f"doveadm -f tab search -A mailbox '*' header message-id {shlex.quote(message_id)}",
                        check=True).stdout_text.splitlines()[1:]
        out[host.name] = "\n".join(said)
    return out


def test_a_message_is_taken_down_from_every_mailbox_and_queue_and_recorded(stage, accounts):  # noqa: F811
    # Ninh Bình Art 14.3: the agency that finds a classified document in a mailbox has it removed
    finder, sender = accounts.ensure("gobo.nhan"), accounts.ensure("gobo.gui")
    mc = MailCore(stage)
    domain = finder.mail.split("@")[1]
    message_id = f"<{uuid.uuid4().hex}.takedown@{domain}>"
    subject = f"Báo cáo tình hình {uuid.uuid4().hex[:8]}"
    raw = _message(message_id, sender.mail, [finder.mail], subject, "Nội dung báo cáo (tài liệu mật).\n")
    sent = mc.smtp(raw=raw, user=sender.mail, password=sender.password, mail_from=sender.mail,
                   rcpts=[finder.mail])
    assert sent["ok"], brief(sent)
    # the sender's own copy in Sent (as a client saves it); the finder files a copy in a folder
    with imap_session(stage, sender) as conn:
        assert conn.append("Sent", r"(\Seen)", None, raw)[0] == "OK"
    assert wait_for(lambda: _ids_of(stage, finder, "INBOX").count(message_id) == 1)
    with imap_session(stage, finder) as conn:
        conn.create(imap_quote(FOLDER))
        conn.select("INBOX")
        _typ, data = conn.search(None, "HEADER", "Message-ID", message_id)
        assert conn.copy(data[0].split()[0], imap_quote(FOLDER))[0] == "OK"
        # a reply names it in In-Reply-To and References: it is another message and stays
        reply_id = f"<{uuid.uuid4().hex}.reply@{domain}>"
        reply = EmailMessage()
        reply["From"], reply["To"], reply["Subject"] = finder.mail, sender.mail, "Re: " + subject
        reply["Message-ID"], reply["In-Reply-To"], reply["References"] = reply_id, message_id, message_id
        reply.set_content("Đã nhận.\n")
        assert conn.append("INBOX", None, None, reply.as_bytes())[0] == "OK"
    # the same message stamped TUYỆT MẬT to a third address: the classification rule holds it
    # in Postfix's hold queue (docs/filtering.md), where the takedown must find it too
    third = accounts.ensure("gobo.ba")
    stamped = _message(message_id, sender.mail, [third.mail], subject, "TUYỆT MẬT\n\nNội dung báo cáo.\n")
    held = mc.smtp(raw=stamped, user=sender.mail, password=sender.password, mail_from=sender.mail,
                   rcpts=[third.mail])
    assert held["ok"], brief(held)
    held_id = held["message"].rsplit(" ", 1)[-1]  # "2.0.0 Ok: queued as <id>"
    assert wait_for(lambda: any(q["queue_name"] == "hold" for q in mc.queue() if q["queue_id"] == held_id))

    # Bad input stops it before anything is read, naming the variable and the rule
    bad = playbook(stage, "takedown.yml", "-e", _vars("not-a-message-id"))
    assert bad.returncode != 0, bad.stdout[-2000:]
    assert "takedown_message_id" in bad.flat and "<left@right>" in bad.flat, bad.stdout[-2000:]

    # --check lists where it is and removes nothing
    plan = playbook(stage, "takedown.yml", "--check", "-e", _vars(message_id))
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-2000:]
    first = stage.first("mail_servers").name
    boxes = ", ".join(sorted([finder.mail, sender.mail]))
    said = f"{first}: 3 copies in mailboxes ({boxes}), 1 in the Postfix queues"
    assert said in plan.flat, plan.stdout[-3000:]
    assert _ids_of(stage, finder, FOLDER).count(message_id) == 1

    # The takedown: given without its angle brackets, as an operator may copy it
    run = playbook(stage, "takedown.yml", "-e", _vars(message_id.strip("<>"), takedown_actor="kiemthu"))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "no copy left on the servers" in run.flat, run.stdout[-3000:]
    assert message_id not in _ids_of(stage, finder, "INBOX")
    assert message_id not in _ids_of(stage, finder, FOLDER)
    assert message_id not in _ids_of(stage, sender, "Sent")
    assert reply_id in _ids_of(stage, finder, "INBOX")  # the reply stays
    assert not [q for q in mc.queue() if q["queue_id"] == held_id]
    # on every mail server (demo-split: the replica too, once replication has passed it on)
    assert wait_for(lambda: not any(_held_anywhere(stage, message_id).values())), \
        _held_anywhere(stage, message_id)

    # One audit record per mailbox, on the first mail server (the periodic report reads it)
    month = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).strftime("%Y-%m")
    lines = stage.first("mail_servers").run(f"cat /var/lib/congvu/audit/audit-{month}.jsonl",
                                            check=True).stdout_text.splitlines()
    records = [json.loads(line) for line in lines if message_id in line]
    assert sorted(r["mail"] for r in records) == sorted([finder.mail, sender.mail]), records
    for record in records:
        assert (record["action"], record["source"], record["actor"]) == ("takedown", "operator", "kiemthu")
        assert record["article"] == (stage.policy["classified"]["takedown_article"] or "")
        assert record["details"]["reason"] == REASON
    assert {tuple(r["details"]["folders"]) for r in records} == {tuple(sorted(["INBOX", FOLDER])), ("Sent",)}

    # The Vietnamese record for the agencies, naming the mailboxes and what the backups still hold
    record_file = run.flat.split("no copy left on the servers (record: ")[1].split(")")[0]
    text = pathlib.Path(record_file).read_text(encoding="utf-8")
    assert text.startswith("BIÊN BẢN GỠ BỎ THƯ KHỎI HỆ THỐNG THƯ ĐIỆN TỬ CÔNG VỤ"), text
    assert f"Thư (Message-ID): {message_id}" in text and f"Tiêu đề: {subject}" in text, text
    assert "Đã gỡ bỏ 3 bản khỏi 2 hộp thư:" in text and f'- {finder.mail}, thư mục "{FOLDER}"' in text, text
    assert "Thư đang chờ chuyển trong hàng đợi đã xoá: 1" in text, text
    assert "Còn lại trên các máy chủ thư: không còn bản nào." in text, text
    assert "các bản sao lưu dự phòng tạo trước thời điểm gỡ bỏ còn giữ thư này" in text, text

    # A second run finds nothing and changes nothing
    again = playbook(stage, "takedown.yml", "-e", _vars(message_id))
    assert again.returncode == 0 and "changed=0" in again.flat, again.stdout[-3000:]


def _vars(message_id: str, **more: str) -> str:
    """The extra variables as JSON (the reason has blanks: key=value would cut it at the first)."""
    return json.dumps({"takedown_message_id": message_id, "takedown_reason": REASON, **more},
                      ensure_ascii=False)


def _ids_of(stage, account, folder: str) -> list[str]:
    with imap_session(stage, account) as conn:
        return _ids(conn, folder)
