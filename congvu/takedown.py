"""A message taken down from every mailbox and queue that holds it (Ninh Bình Art 14.3).

Ninh Bình Art 14.3: when a mailbox is found to hold a document that falls under state secrets, the
agency's head reports it to the Department of Information and Communications and to the agency that
sent it, "để kịp thời gỡ bỏ" (to have it removed without delay). The other seeds forbid such mail
(Hà Giang Art 3.4, Hà Nam Art 4.1, Gia Lai and Cần Thơ on "bí mật nhà nước") but say nothing of its
removal; the tool serves them too and cites no article there (``classified.takedown_article``).

``playbooks/takedown.yml`` runs ``python3 -m congvu.takedown run`` on each mailbox server in turn,
the job on standard input (``{"message_id": "<...>", "check": false}``). On that server:

1. **Postfix's queues first** (``postqueue -j``, then ``postcat -h -q`` per message): every queued
   message with that Message-ID (the hold queue keeps the classification rule's stamped mail) is
   deleted with ``postsuper -d``, so no retry delivers it again;
2. **every mailbox Dovecot knows** (``doveadm fetch -A``, every folder: Sent, Trash, the
   organisation mailboxes' lazy-expunge folder). Dovecot's header search matches substrings, so each
   hit's Message-ID is compared whole before ``doveadm expunge`` removes it (by mailbox GUID and UID);
   the search runs again until nothing is left, since an expunge in an organisation mailbox first moves
   the message to its lazy-expunge folder (Cần Thơ Art 11.3; docs/mailcore.md);
3. the result: what was removed (address, folder, subject, sender, date) and what is left.

Pure functions (:func:`normalise_id`, :func:`matches`, :func:`queued_ids`, :func:`audit_records`,
:func:`report_vi`) are unit tested; :func:`run` talks to the local Postfix and Dovecot.
"""

from __future__ import annotations

import datetime as dt
import email.header
import json
import re
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from congvu.audit import DEFAULT_DIRECTORY, Record, append
from congvu.errors import CongvuError
from congvu.notices import cite_vi, signature_vi
from congvu.policy import place_vi
from congvu.workdays import VN_TZ

__all__ = ["FETCH_FIELDS", "audit_records", "matches", "normalise_id", "queued_ids", "record", "report_vi",
           "run"]

#: What ``doveadm fetch`` reads of each hit (the report shows all but the GUID and UID).
FETCH_FIELDS = "mailbox-guid uid mailbox hdr.message-id hdr.subject hdr.from date.received"
#: Rounds of search and expunge on one server: the second takes the lazy-expunge copies.
ROUNDS = 3
_ID_RE = re.compile(r"^<[^<>\s]+@[^<>\s]+>$")
RULE = "one Message-ID, as <left@right>"


class TakedownError(CongvuError):
    """The takedown's input is invalid; nothing was read or removed."""


def normalise_id(value: Any) -> str:
    """The Message-ID as headers carry it, ``<left@right>``; the angle brackets may be left out."""
    text = str(value or "").strip()
    if text and not text.startswith("<"):
        text = f"<{text}>"
    if not _ID_RE.match(text):
        raise TakedownError(f"{value!r} is not a Message-ID (the header's value, e.g. "
                            "<20261208.abc@ninhbinh.gov.vn>: Postfix logs it as message-id=<...>)",
                            source="takedown.yml", key="takedown_message_id", rule=RULE)
    return text


def _same(header: Any, message_id: str) -> bool:
    """The header's value (unfolded, blanks trimmed) is the Message-ID."""
    return " ".join(str(header or "").split()) == message_id


def _decoded(value: Any) -> str:
    """A header's MIME-encoded words decoded (the report shows them as read)."""
    text = " ".join(str(value or "").split())
    try:
        return str(email.header.make_header(email.header.decode_header(text)))
    except (ValueError, LookupError, UnicodeDecodeError):
        return text


def matches(fetched: Iterable[Mapping[str, Any]], message_id: str) -> list[dict[str, Any]]:
    """The messages of ``doveadm -f json fetch -A FETCH_FIELDS`` whose Message-ID is ``message_id``
    exactly (the search behind it matched substrings), sorted by address, folder and UID."""
    found = []
    for row in fetched:
        if not _same(row.get("hdr.message-id"), message_id):
            continue
        found.append({"mail": str(row.get("username") or "").lower(), "folder": str(row.get("mailbox") or ""),
                      "mailbox_guid": str(row.get("mailbox-guid") or ""), "uid": int(row.get("uid") or 0),
                      "subject": _decoded(row.get("hdr.subject")), "from": _decoded(row.get("hdr.from")),
                      "received": str(row.get("date.received") or "")})
    return sorted(found, key=lambda m: (m["mail"], m["folder"], m["uid"]))


def queued_ids(headers: Mapping[str, str], message_id: str) -> list[str]:
    """Queue IDs whose message carries the Message-ID, from ``{queue id: postcat -h output}``."""
    out = []
    for queue_id, text in headers.items():
        unfolded = re.sub(r"\n[ \t]+", " ", text)
        for line in unfolded.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip().lower() == "message-id" and _same(value, message_id):
                out.append(queue_id)
                break
    return sorted(out)


def _doveadm_fetch(message_id: str) -> list[dict[str, Any]]:
    proc = subprocess.run(["doveadm", "-f", "json", "fetch", "-A", FETCH_FIELDS, "mailbox", "*",
                           "header", "message-id", message_id],
                          capture_output=True, text=True, timeout=3600, check=True)
    return matches(json.loads(proc.stdout or "[]"), message_id)


def _queued(message_id: str) -> list[str]:
    proc = subprocess.run(["postqueue", "-j"], capture_output=True, text=True, timeout=600, check=True)
    headers = {}
    for line in proc.stdout.splitlines():
        queue_id = json.loads(line).get("queue_id") if line.strip() else None
        if not queue_id:
            continue
        cat = subprocess.run(["postcat", "-h", "-q", queue_id], capture_output=True, text=True, timeout=60,
                             check=False)
        if cat.returncode == 0:  # a message delivered meanwhile is gone: nothing to take
            headers[queue_id] = cat.stdout
    return queued_ids(headers, message_id)


def run(job: Mapping[str, Any]) -> dict[str, Any]:
    """The job of playbooks/takedown.yml on this server. ``found``/``queued``: what held the message
    when the run began; ``removed``: what was expunged; ``left``/``queue_left``: what holds it after.
    With ``check`` nothing is removed (``removed`` and ``left`` stay empty)."""
    message_id = normalise_id(job.get("message_id"))
    check = bool(job.get("check"))
    queued = _queued(message_id)
    queue_left: list[str] = []
    if queued and not check:
        for queue_id in queued:
            subprocess.run(["postsuper", "-d", queue_id], capture_output=True, text=True, timeout=60,
                           check=True)
        queue_left = _queued(message_id)
    found = _doveadm_fetch(message_id)
    removed: list[dict[str, Any]] = []
    left = [] if check else found
    rounds = 0
    while left and rounds < ROUNDS:
        rounds += 1
        for hit in left:
            subprocess.run(["doveadm", "expunge", "-u", hit["mail"], "mailbox-guid", hit["mailbox_guid"],
                            "uid", str(hit["uid"])], capture_output=True, text=True, timeout=600, check=True)
        removed.extend(left)
        left = _doveadm_fetch(message_id)
    return {"message_id": message_id, "check": check, "queued": queued, "queue_left": queue_left,
            "found": found, "removed": removed, "left": left}


def _distinct(results: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str, int], dict[str, Any]]:
    """Every message the servers removed, once: a replica's copy is the same message (same mailbox,
    folder and UID; Dovecot's replication keeps UIDs). Each carries the servers it was removed on."""
    out: dict[tuple[str, str, int], dict[str, Any]] = {}
    for result in results:
        for hit in result.get("removed") or ():
            entry = out.setdefault((hit["mail"], hit["folder"], hit["uid"]), {**hit, "hosts": set()})
            entry["hosts"].add(str(result.get("host") or ""))
    return out


def audit_records(results: Sequence[Mapping[str, Any]], *, actor: str, reason: str, article: str,
                  ts: dt.datetime) -> list[Record]:
    """One audit record per mailbox a message was taken from (``results``: each server's
    :func:`run` with its ``host``), naming the folders, the servers, the reason and the article;
    ``messages`` counts a message two replicating servers held once (:func:`_distinct`)."""
    per_mail: dict[str, list[dict[str, Any]]] = {}
    for hit in _distinct(results).values():
        per_mail.setdefault(hit["mail"], []).append(hit)
    return [Record(ts=ts, actor=actor, source="operator", action="takedown", mail=mail, article=article,
                   details={"message_id": results[0]["message_id"],
                            "folders": sorted({h["folder"] for h in hits}),
                            "hosts": sorted(set().union(*(h["hosts"] for h in hits)) - {""}),
                            "messages": len(hits), "reason": reason})
            for mail, hits in sorted(per_mail.items())]


def report_vi(results: Sequence[Mapping[str, Any]], policy: Mapping[str, Any], *, reason: str,
              ts: dt.datetime) -> str:
    """The record of the takedown for the agency that found the message and the one that sent it
    (Ninh Bình Art 14.3 has both told), in Vietnamese: what was removed, where, what still holds it on
    the servers (nothing, or the run failed) and what holds it still (the backups, until their
    retention ends). ``policy``: the effective policy (its ``classified.takedown_article`` is cited)."""
    local = ts.astimezone(VN_TZ)
    message_id = results[0]["message_id"] if results else ""
    hits = list(_distinct(results).values())
    queued = sorted({q for r in results for q in (r.get("queued") or ())})
    left = [h for r in results for h in [*(r.get("left") or ()), *(r.get("queue_left") or ())]]
    cite = cite_vi(str(policy["classified"].get("takedown_article") or ""), policy)
    lines = [f"BIÊN BẢN GỠ BỎ THƯ KHỎI HỆ THỐNG THƯ ĐIỆN TỬ CÔNG VỤ {place_vi(policy).upper()}", "",
             f"Thời điểm gỡ bỏ: {local:%H:%M} ngày {local:%d/%m/%Y}.",
             f"Căn cứ: {cite}." if cite else "Căn cứ: đề nghị của cơ quan, đơn vị phát hiện thư.",
             f"Lý do: {reason.strip().rstrip('.')}.", "", f"Thư (Message-ID): {message_id}"]
    if hits:
        lines += [f"Tiêu đề: {hits[0]['subject']}", f"Người gửi: {hits[0]['from']}"]
    boxes = sorted({h["mail"] for h in hits})
    lines += ["", f"Đã gỡ bỏ {len(hits)} bản khỏi {len(boxes)} hộp thư:"]
    lines += [f"- {h['mail']}, thư mục \"{h['folder']}\" (vào hộp thư lúc {h['received']})"
              for h in sorted(hits, key=lambda h: (h["mail"], h["folder"], h["uid"]))] or [
                  "- (không hộp thư nào giữ thư)"]
    lines += [f"Thư đang chờ chuyển trong hàng đợi đã xoá: {len(queued)}"
              + (f" ({', '.join(queued)})." if queued else "."),
              "Còn lại trên các máy chủ thư: "
              + (f"{len(left)} bản, cần kiểm tra lại." if left else "không còn bản nào.")]
    keep = (policy.get("backup") or {}).get("keep")
    if keep:
        until = (local + dt.timedelta(days=int(keep))).date()
        lines += ["", "Lưu ý: các bản sao lưu dự phòng tạo trước thời điểm gỡ bỏ còn giữ thư này đến khi hết "
                      f"thời hạn lưu giữ ({keep} ngày, tức đến hết ngày {until:%d/%m/%Y}); khi khôi phục "
                      "một hộp thư từ các bản sao lưu đó, thư phải được gỡ bỏ lại."]
    return "\n".join([*lines, "", signature_vi(policy).splitlines()[0]]) + "\n"


def record(job: Mapping[str, Any]) -> int:
    """The audit records of a takedown (``job``: ``results``, ``actor``, ``reason``, ``article``,
    ``audit_dir``), appended to this host's audit log; how many were written."""
    ts = dt.datetime.now(VN_TZ)
    records = audit_records(job.get("results") or [], actor=str(job.get("actor") or "operator"),
                            reason=str(job.get("reason") or ""), article=str(job.get("article") or ""), ts=ts)
    return append(str(job.get("audit_dir") or DEFAULT_DIRECTORY), records)


def main(argv: Iterable[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args not in (["run"], ["record"]):
        print("usage: python3 -m congvu.takedown run|record < job.json", file=sys.stderr)
        return 2
    try:
        job = json.load(sys.stdin)
        print(json.dumps(run(job) if args == ["run"] else {"written": record(job)}, ensure_ascii=False))
    except CongvuError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
