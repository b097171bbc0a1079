"""The lifecycle's mail in Vietnamese: the notice to an agency, the warnings to a user.

Templates are data in this module (not files beside it) because the Ansible module that will send them
receives the ``congvu`` package through AnsiballZ, which ships Python modules only. Every message is
in formal Vietnamese ("Kính gửi", the article cited the way a Vietnamese document cites it: "khoản 1
Điều 7 Quy chế ... ban hành kèm theo Quyết định số 28/2020/QĐ-UBND"), with dates written dd/mm/yyyy;
``summary_en`` is a one-line English summary for operators (plan output, logs), never mailed.

:func:`agency_notices` writes one notice per agency from a plan's ``notify_agency`` actions: to the
agency's own mailbox and its delegated admins, listing each mailbox, the article and the last day to
answer (Cần Thơ Art 5.4, Ninh Bình Art 7.1), and saying that a locked mailbox still receives mail
(Hà Nam Art 7.1, Gia Lai Art 6.1: ``lifecycle.articles.locked_mailbox_receives``, cited where the seed
says it). :func:`user_warnings` writes one message per ``warn_password_expiry`` / ``warn_inactivity``
action, to the mailbox concerned.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from congvu.lifecycle import ADMIN_RULE, MEASURES_SAID, Account, Action, Plan, fmt_date_vi, period_vi
from congvu.policy import place_vi

__all__ = ["REQUEST_KINDS_VI", "Message", "agency_notices", "cite_vi", "messages", "place_vi",
           "request_refusal", "request_replies", "signature_vi", "system_sender", "user_warnings"]

_ARTICLE = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.([a-zđ](?:-[a-zđ])?))?$")


@dataclass(frozen=True, slots=True)
class Message:
    """One mail to send. ``body`` is plain text (UTF-8), Vietnamese only."""

    kind: str  # agency_notice, warn_password_expiry, warn_inactivity
    sender: str
    to: tuple[str, ...]
    subject: str
    body: str
    summary_en: str
    agency: str = ""
    mails: tuple[str, ...] = ()  # the accounts the message is about


def _issuer(policy: Mapping[str, Any]) -> str:
    """The province whose decision the articles belong to (``province.issued_by`` where a policy applies
    another province's regulation, else the province itself)."""
    province = policy["province"]
    return province.get("issued_by") or province["name"]


def _regulation_vi(policy: Mapping[str, Any]) -> str:
    """``Quy chế ban hành kèm theo Quyết định số 28/2020/QĐ-UBND của Ủy ban nhân dân tỉnh Ninh Bình``, or
    the title and year where the decision's number is blank in the seed (Hà Nam, Gia Lai)."""
    province = policy["province"]
    issuer = _issuer(policy)
    place = place_vi(policy) if issuer == province["name"] else f"tỉnh {issuer}"
    decision = str(province["decision"]).split(" ")[0]
    if decision[:1].isdigit():
        return f"Quy chế ban hành kèm theo Quyết định số {decision} của Ủy ban nhân dân {place}"
    return (f"Quy chế quản lý, sử dụng Hệ thống thư điện tử công vụ {place} ban hành năm "
            f"{str(province['in_force'])[:4]}")


def cite_vi(article: str, policy: Mapping[str, Any], *, regulation: bool = True) -> str | None:
    """``Ninh Bình Art 7.1`` → ``khoản 1 Điều 7 Quy chế ... (Quyết định số 28/2020/QĐ-UBND)``;
    ``Hà Nam Art 7.2.a`` → ``điểm a khoản 2 Điều 7 ...``; several: ``khoản 3 Điều 10, khoản 4 Điều 11 ...``.
    ``regulation=False``: the clauses alone (``khoản 1 Điều 7``), where the text has named the
    regulation already. ``None`` for a default the seed does not set (nothing to cite)."""
    if not article:
        return None
    prefix = f"{_issuer(policy)} Art "
    if not article.startswith(prefix):
        return None
    parts = []
    for ref in article[len(prefix):].split(","):
        match = _ARTICLE.match(ref.strip())
        if not match:
            return None
        art, clause, point = match.groups()
        words = [f"điểm {point.replace('-', ', ')}"] if point else []
        words += [f"khoản {clause}"] if clause else []
        words.append(f"Điều {art}")
        parts.append(" ".join(words))
    clauses = ", ".join(parts)
    return f"{clauses} {_regulation_vi(policy)}" if regulation else clauses


def system_sender(policy: Mapping[str, Any]) -> str:
    """The address the system's own mail comes from: the postmaster of the primary domain."""
    return f"postmaster@{policy['domains']['primary']}"


def signature_vi(policy: Mapping[str, Any]) -> str:
    """The closing of the system's own mail: who runs the system, and that it is not to be answered."""
    return (f"Đơn vị quản lý, vận hành Hệ thống thư điện tử công vụ {place_vi(policy)}\n"
            "(Thư được gửi tự động từ hệ thống; đề nghị không trả lời thư này.)")


def agency_notices(plan: Plan, accounts: Iterable[Account], policy: Mapping[str, Any]) -> list[Message]:
    """One notice per agency with ``notify_agency`` actions in ``plan``."""
    by_mail = {a.mail: a for a in accounts}
    # one notice per agency and cause: inactivity, or a violation (Ninh Bình Art 7.1,
    # lifecycle.violation_reclaim), each with its own wording
    groups: dict[tuple[str, str], list[Action]] = {}
    for action in plan.of("notify_agency"):
        groups.setdefault((action.agency, action.details.get("cause") or "inactivity"), []).append(action)
    life = policy["lifecycle"]
    measure_vi = MEASURES_SAID[life["inactivity_measure"]][0]
    reclaim_vi = MEASURES_SAID[life["reclaim_measure"]][0]
    out = []
    for (agency, cause), actions in sorted(groups.items()):
        violation = cause == "violation"
        cause_vi = "vi phạm quy chế" if violation else measure_vi
        members = [a for a in by_mail.values() if a.agency == agency and a.state != "retired"]
        recipients = sorted({a.mail for a in members if a.mailbox_class == "agency"}
                            | {a.mail for a in members if a.admin}) or [system_sender(policy)]
        agency_name = next((a.agency_name for a in members if a.agency_name), agency)
        rows = []
        formal = any(action.details.get("reply_by") for action in actions)
        for i, action in enumerate(actions, 1):
            account = by_mail.get(action.mail)
            who = (account.name if account and account.name else "") or action.mail
            article = action.details.get("reclaim_article") or action.article
            short_cite = cite_vi(article, policy, regulation=False) or article  # named once, above
            if action.details.get("reply_by"):
                until = f"thu hồi sau ngày {fmt_date_vi(action.deadline)}"
            elif action.details.get("reclaim_on"):
                # no notice period (Hà Nam Art 6.2.c, Gia Lai Art 5.4): the date the rule reclaims it
                until = (f"thu hồi ngày {fmt_date_vi(action.details['reclaim_on'])} nếu đến ngày đó vẫn "
                         f"{reclaim_vi}")
            elif "reclaim_on" in action.details:
                until = "không tự động thu hồi"
            else:
                kept = cite_vi(policy["lifecycle"]["articles"].get("organisation_mailboxes") or "", policy,
                               regulation=False)
                until = "không thu hồi" + (f" ({kept})" if kept else "")
            rows.append(f"{i}. {who} <{action.mail}>: tạm khóa do {cause_vi} từ ngày "
                        f"{fmt_date_vi(action.details['since'])}; căn cứ {short_cite}; {until}.")
        first_cite = cite_vi(actions[0].article, policy) or actions[0].article
        kept_for = f" trong {period_vi(life['archive_keep'])}" if life["archive_keep"] else ""
        # a locked mailbox still receives mail (Hà Nam Art 7.1, Gia Lai Art 6.1); a default cites nothing
        receives = cite_vi(life["articles"].get("locked_mailbox_receives") or "", policy, regulation=False)
        still = "hộp thư bị tạm khóa không đăng nhập được nhưng vẫn nhận thư đến."
        still = (f"Theo quy định tại {receives} Quy chế, {still}" if receives
                 else still[:1].upper() + still[1:])
        if formal:
            closing = ("Nếu cần tiếp tục sử dụng hộp thư, đề nghị cơ quan gửi văn bản xác nhận hoặc đề nghị "
                       "mở lại hộp thư chậm nhất trong ngày nêu trên. Quá thời hạn này mà cơ quan không có "
                       "văn bản, hộp thư sẽ được thu hồi; nội dung hộp thư được lưu trữ"
                       f"{kept_for} để có thể khôi phục khi có yêu cầu. Địa chỉ thư đã thu hồi không được "
                       "cấp cho người khác.")
        else:
            reopen = cite_vi(life["articles"].get("reopen") or "", policy, regulation=False)
            closing = ("Nếu hộp thư cần tiếp tục sử dụng, đề nghị cơ quan thông báo lý do hoặc gửi văn bản "
                       "đề nghị khôi phục hộp thư"
                       + (f" theo {reopen}" if reopen else "")
                       + f". Hộp thư bị thu hồi được lưu trữ{kept_for} để có thể khôi phục khi có yêu cầu. "
                       "Địa chỉ thư đã thu hồi không được cấp cho người khác.")
        body = "\n".join([
            f"Kính gửi: {agency_name}",
            "",
            f"Căn cứ {first_cite}, các hộp thư điện tử công vụ dưới đây của cơ quan đã bị tạm khóa do "
            + ("vi phạm quy chế (bị chiếm quyền sử dụng, lộ mật khẩu hoặc sử dụng trái quy định)" if violation
               else f"{measure_vi} trong thời gian {period_vi(life['inactivity_lock'])}") + f". {still}",
            "",
            *rows,
            "",
            closing,
            "",
            "Trân trọng.",
            signature_vi(policy),
        ])
        out.append(Message(
            kind="agency_notice", sender=system_sender(policy), to=tuple(recipients),
            subject=(f"Thông báo tạm khóa hộp thư điện tử công vụ "
                     f"{'do vi phạm quy chế' if violation else 'không sử dụng'} - {agency_name}"),
            body=body + "\n",
            summary_en=_notice_summary(agency, recipients, actions),
            agency=agency, mails=tuple(a.mail for a in actions)))
    return out


def _notice_summary(agency: str, recipients: list[str], actions: list[Action]) -> str:
    dates = ", ".join(sorted({a.deadline.isoformat() for a in actions if a.details.get("reply_by")}))
    if not dates and any(a.details.get("reclaim_on") for a in actions):
        dates = ", ".join(sorted({a.details["reclaim_on"].isoformat() for a in actions
                                  if a.details.get("reclaim_on")}))
        return (f"Notice to {agency} ({', '.join(recipients)}): {len(actions)} mailbox(es) locked for "
                f"inactivity, reclaimed on {dates} if still unused ({actions[0].article})")
    cause = "a violation" if actions[0].details.get("cause") == "violation" else "inactivity"
    return (f"Notice to {agency} ({', '.join(recipients)}): {len(actions)} mailbox(es) locked for "
            f"{cause}, reclaimed after {dates or 'no date (organisation mailboxes)'} unless confirmed "
            f"({actions[0].article})")


def user_warnings(plan: Plan, accounts: Iterable[Account], policy: Mapping[str, Any]) -> list[Message]:
    """One message per warning in ``plan``, to the mailbox concerned."""
    by_mail = {a.mail: a for a in accounts}
    webmail = f"https://{policy['webmail']['host']}/"
    life = policy["lifecycle"]
    out = []
    for action in plan.of("warn_password_expiry", "warn_inactivity"):
        account = by_mail.get(action.mail)
        personal = account is None or account.mailbox_class == "personal"
        you = "Ông/Bà " if personal else ""  # an organisation mailbox is addressed by its name
        name = account.name if account and account.name else ""
        greeting = f"Kính gửi: {you}{name}".rstrip()
        cite = cite_vi(action.article, policy)
        basis = f"Căn cứ {cite}, " if cite else ""
        if action.action == "warn_password_expiry":
            age = policy["passwords"][_role(account)]["max_age"]
            subject = f"Mật khẩu hộp thư điện tử công vụ sẽ hết hạn ngày {fmt_date_vi(action.deadline)}"
            text = (f"{basis}mật khẩu hộp thư điện tử công vụ phải được thay đổi {period_vi(age)} một lần. "
                    f"Mật khẩu của hộp thư {action.mail} sẽ hết hạn vào ngày "
                    f"{fmt_date_vi(action.deadline)}.\n\n"
                    f"Đề nghị {you}đăng nhập {webmail} và đổi mật khẩu trước ngày trên. Sau thời hạn này, "
                    "mật khẩu hết hiệu lực và hộp thư có thể không đăng nhập được.")
            summary = f"{action.mail}: password expires on {action.deadline.isoformat()} ({action.article})"
        else:
            measure_vi = MEASURES_SAID[life["inactivity_measure"]][0]
            subject = f"Hộp thư điện tử công vụ sẽ bị tạm khóa ngày {fmt_date_vi(action.deadline)}"
            text = (f"{basis}hộp thư điện tử công vụ {measure_vi} trong thời gian "
                    f"{period_vi(life['inactivity_lock'])} sẽ bị tạm khóa. Hộp thư {action.mail} "
                    f"{measure_vi} kể từ ngày {fmt_date_vi(action.details['since'])} và sẽ bị tạm khóa vào "
                    f"ngày {fmt_date_vi(action.deadline)}.\n\n"
                    f"Để tiếp tục sử dụng, đề nghị {you}đăng nhập {webmail} trước ngày trên. Trường hợp có "
                    "lý do chính đáng (nghỉ chế độ, đi học, công tác dài ngày...), đề nghị cơ quan thông báo "
                    "cho đơn vị quản lý hệ thống.")
            summary = f"{action.mail}: inactivity lock on {action.deadline.isoformat()} ({action.article})"
        body = f"{greeting}\n\n{text}\n\nTrân trọng.\n{signature_vi(policy)}\n"
        out.append(Message(kind=action.action, sender=system_sender(policy), to=(action.mail,),
                           subject=subject, body=body, summary_en=summary, agency=action.agency,
                           mails=(action.mail,)))
    return out


def _role(account: Account | None) -> str:
    if account is None:
        return "user"
    return account.role


#: The requests an agency's admin files (docs/lifecycle.md, "Agency requests"), as the reply names them.
REQUEST_KINDS_VI = {"reopen": "mở lại", "hold": "giữ", "reclaim": "thu hồi", "lock": "tạm khóa"}
#: The action that carries out each kind of request.
_REQUEST_OF_ACTION = {"reopen": "reopen", "hold": "hold", "reclaim": "reclaim", "lock_violation": "lock"}


def request_replies(plan: Plan, accounts: Iterable[Account], policy: Mapping[str, Any]) -> list[Message]:
    """The answer to each agency request ``plan`` carried out (its reopen, hold, reclaim and lock actions),
    to the delegated admin who filed it through the directory (``source: console``): what was done,
    on which day, under which article (Hà Nam Art 6.2.b, Ninh Bình Art 6.2, Cần Thơ Art 6.2 and Hà
    Giang Art 5.3 ask that the requesting agency get an answer). A request the operator recorded from
    a letter (``source: operator``) is answered by the operator's own letter."""
    by_mail = {a.mail: a for a in accounts}
    out = []
    for action in plan.of(*_REQUEST_OF_ACTION):
        kind = _REQUEST_OF_ACTION[action.action]
        if action.source != "console" or "@" not in action.actor or "received" not in action.details:
            continue
        account = by_mail.get(action.mail)
        who = f"{account.name} ({action.mail})" if account and account.name else action.mail
        received = action.details["received"]
        cite = cite_vi(action.article, policy)
        if action.action == "reopen":
            done = (f"hộp thư {who} đã được mở lại. Mật khẩu cũ đã được xóa: đề nghị quản trị viên của cơ "
                    "quan đặt mật khẩu ban đầu mới và chuyển cho người dùng; người dùng phải đổi mật khẩu ở "
                    "lần đăng nhập đầu tiên.")
        elif action.action == "lock_violation":
            done = (f"hộp thư {who} đã bị tạm khóa ({action.details.get('reason') or 'theo đề nghị'}); hộp "
                    "thư vẫn nhận thư. Sau khi khắc phục, cơ quan gửi đề nghị mở lại hộp thư.")
        elif action.action == "hold":
            until = action.details.get("until")
            done = (f"hộp thư {who} được giữ: không tạm khóa, không thu hồi vì không hoạt động"
                    + (f" đến hết ngày {fmt_date_vi(until)}." if until else "."))
        else:
            done = (f"hộp thư {who} đã được thu hồi; thư trong hộp thư được lưu trữ theo quy định trước khi "
                    "thu hồi.")
        body = _to_admin(action.actor, f"Đề nghị {REQUEST_KINDS_VI[kind]} hộp thư {action.mail}, nhận ngày "
                         f"{fmt_date_vi(received)}, đã được thực hiện ngày {fmt_date_vi(plan.today)}: {done}"
                         + (f"\n\nViệc xử lý đề nghị thực hiện theo {cite}." if cite else ""), policy)
        out.append(Message(kind="request_reply", sender=system_sender(policy), to=(action.actor,),
                           subject=f"Kết quả xử lý đề nghị {REQUEST_KINDS_VI[kind]} "
                                   f"hộp thư {action.mail}",
                           body=body, agency=action.agency, mails=(action.mail,),
                           summary_en=f"{action.mail}: the {action.action} request of {action.actor} "
                                      f"(received {received.isoformat()}) carried out"))
    return out


def _to_admin(admin: str, text: str, policy: Mapping[str, Any]) -> str:
    """The body of an answer to an agency's delegated admin: greeting, ``text``, closing."""
    return (f"Kính gửi: Quản trị viên hộp thư của cơ quan ({admin})\n\n{text}\n\n"
            f"Trân trọng.\n{signature_vi(policy)}\n")


#: Why a request was not carried out, in Vietnamese, by the rule congvu.lifecycle.check_requests names.
REFUSAL_REASONS_VI = {
    "the account must exist in the directory": "không có hộp thư này trong danh bạ của hệ thống",
    "one request of a kind per account": "cùng một đề nghị cho hộp thư này đã được gửi trước đó",
    ADMIN_RULE: "người gửi đề nghị không phải quản trị viên đang hoạt động của cơ quan quản lý hộp thư này",
    "a request is dated the day it arrived": "ngày nhận đề nghị không hợp lệ",
    "retired accounts are not reopened": ("hộp thư đã bị thu hồi; việc khôi phục từ bản lưu trữ do đơn vị "
                                          "vận hành thực hiện theo văn bản đề nghị"),
    "a hold ends in the future": "thời hạn giữ hộp thư phải là một ngày trong tương lai",
    "only a locked mailbox is reopened": "hộp thư không ở trạng thái tạm khóa nên không cần mở lại",
    "only an active mailbox is locked": "hộp thư không ở trạng thái hoạt động (đã bị tạm khóa hoặc thu hồi)",
    "a lock is dated after the agency's last word on the mailbox": (
        "đề nghị tạm khóa có ngày nhận trước đề nghị mở lại, giữ hộp thư hoặc xác nhận gần nhất của cơ "
        "quan; nếu vẫn cần tạm khóa, đề nghị gửi đề nghị mới"),
    "required": "đề nghị thiếu thông tin bắt buộc (lý do tạm khóa, thời hạn giữ hộp thư hoặc ngày nhận)",
    "a leaver comes back through the roster, not a reopen request": (
        "người dùng đang được ghi là nghỉ việc trong danh sách cán bộ; việc trở lại làm việc được cập "
        "nhật qua danh sách cán bộ của cơ quan"),
}


def request_refusal(request: Mapping[str, Any], problem: str, policy: Mapping[str, Any],
                    today: Any) -> Message | None:
    """The answer to a request an agency's admin filed that the run could not carry out (Hà Giang Art
    5.3, Cần Thơ Art 6.2: "nếu không thực hiện nêu rõ lý do"), to the admin who filed it, with the
    reason in Vietnamese (the rule named in ``problem``, a message of check_requests); None when the
    request names no address to answer."""
    by = str(request.get("by") or "")
    if "@" not in by:
        return None
    mail = str(request.get("mail") or "")
    kind = REQUEST_KINDS_VI.get(str(request.get("kind") or ""), "")
    rule = problem.rsplit("[", 1)[-1].rstrip("]").strip() if problem.endswith("]") else ""
    reason = REFUSAL_REASONS_VI.get(rule, "đề nghị chưa đủ thông tin hoặc không đúng mẫu")
    what = f"Đề nghị {kind} hộp thư {mail}" if kind else f"Đề nghị về hộp thư {mail}"
    body = _to_admin(by, f"{what} không được thực hiện ngày {fmt_date_vi(today)}. Lý do: {reason}.\n\n"
                         "Đề nghị quý cơ quan kiểm tra lại và gửi đề nghị mới nếu cần.", policy)
    return Message(kind="request_refused", sender=system_sender(policy), to=(by,),
                   subject=f"Kết quả xử lý đề nghị về hộp thư {mail}: không thực hiện", body=body,
                   mails=(mail,) if mail else (),
                   summary_en=f"{mail}: the request of {by} refused ({problem})")


def messages(plan: Plan, accounts: Iterable[Account], policy: Mapping[str, Any]) -> list[Message]:
    """Every mail a plan sends: the agency notices, then the user warnings."""
    accounts = list(accounts)
    return agency_notices(plan, accounts, policy) + user_warnings(plan, accounts, policy)
