"""Account lifecycle: who is warned, locked, notified, reclaimed, retired or moved today, and why.

Pure planning, no LDAP or Ansible import. :func:`plan` takes the effective policy, a snapshot of the
accounts (:class:`Account`, one per mailbox, as one directory search returns them), the agencies'
requests (:class:`Request`) and ``today``, and returns a :class:`Plan`: a sorted list of
:class:`Action`, each naming the account, what to do, the date the rule made it due, the deadline,
the article (``lifecycle.articles.<rule>`` of the policy, e.g. "Ninh Bình Art 7.1") and a reason in
Vietnamese and English. :func:`apply_plan` gives the snapshot as it is once a plan has been applied:
it is the contract the directory writer follows, and planning again the same day on its result
yields nothing (tested). docs/lifecycle.md describes every rule.

The rules, in the order they are evaluated for one account:

* **agency requests** (validated first; a bad one stops the plan before anything changes), answered
  within ``request_deadline_working_days`` working days (Hà Nam Art 6.2.b, Gia Lai Art 6.3.b,
  Ninh Bình Art 6.2; Cần Thơ Art 6 and Hà Giang Art 5.2 set no time limit): ``reopen`` unlocks a
  locked mailbox, resets its password and forces a change (Hà Nam Art 7.3, Gia Lai Art 6.3,
  Ninh Bình Art 7.1 "đề nghị mở lại", Cần Thơ Art 5.4 "xác nhận", Hà Giang Art 5.1.a); ``hold``
  records the reason the agency gives for an inactivity (Hà Nam Art 7.2.a, Gia Lai Art 6.2.a "mà
  không thông báo lý do"): no inactivity lock or reclaim until its date, the clock restarting then;
  ``reclaim`` on request; ``lock`` locks an active mailbox taken over or misused, with its reason
  (Hà Nam Art 7.2.b-c, Gia Lai Art 6.2.b-c, Ninh Bình Art 7.1, Cần Thơ Art 14.2); where
  ``violation_reclaim`` is set (Ninh Bình Art 7.1) the agency is notified and the mailbox reclaimed
  after the notice period, as for an inactivity lock.
* **leavers** (``congvuLeavingSince``, set by the roster apply): locked at once, mail still delivered,
  retired ``lifecycle.leaver_deadline_working_days`` working days after the request
  (Ninh Bình Art 7.2; Hà Nam Art 6.2.a-b, Gia Lai Art 5.3, Cần Thơ Art 5.3, Hà Giang Art 5.1.a);
  unlocked if they come back on the roster before that.
* **transfers** where the address carries the agency (``lifecycle.transfer_readdress``; the action
  cites ``articles.transfer``: Gia Lai Art 4.2.a, 5.3; Hà Giang Art 4.2, 5.1.a; Ninh Bình Art 5.2.a, 7.2):
  a new address in the new organisation, the old one an alias (for ``transfer_alias_keep``, then
  dropped on its day: ``drop_alias``; or for good).
* **reclaim**: ``reclaim_after`` days without activity (Hà Nam Art 6.2.c, Gia Lai Art 5.4), or
  ``reclaim_notice_working_days`` working days after the suspension notice to the agency
  (Cần Thơ Art 5.4, Ninh Bình Art 7.1). The mailbox is archived (kept ``archive_keep``), the account
  retired and its address reserved. Agency and unit mailboxes are not reclaimed for inactivity unless
  ``reclaim_organisation_mailboxes`` (Cần Thơ Art 11.3: never).
* **locks**: ``default_password_lock`` days with the initial password (Hà Nam Art 7.2.d,
  Gia Lai Art 6.2.d); ``inactivity_lock`` days without activity as the province measures it
  (``login``, ``mail`` sent or received, or ``any``: Gia Lai Art 6.2.a); a locked mailbox keeps
  receiving mail (``locked_mailbox_receives``: Hà Nam Art 7.1, Gia Lai Art 6.1; its article is in
  each lock's details and in the agency's notice); the agency is notified of an inactivity lock the
  same day: where removal follows a notice, that notice starts the countdown and the mailbox is
  reclaimed the day after its last working day if the agency has not answered; elsewhere it says when
  the mailbox will be reclaimed if it stays unused.
* **warnings** to the user, ``password_warning_days`` before the password's ``max_age`` runs out
  (Hà Nam Art 8.2.a, Gia Lai Art 9.1, Ninh Bình Art 11.2; Cần Thơ Art 10.3, 11.4: users by
  Cần Thơ Art 10.3, agency and unit mailboxes by Cần Thơ Art 11.4) and ``inactivity_warning_days``
  before the inactivity lock, once per event.
* **quota**: the policy's quota of the mailbox class reaches every existing mailbox (Hà Nam Art 8.1.b,
  Gia Lai Art 7.3.a-b, Cần Thơ Art 4.1).

Inactivity is counted from the latest of: the measured activity, the day the account was issued, the
agency's last confirmation or reopen, the end of a hold. Working days come from
:class:`congvu.workdays.Calendar`; a plan that would count them in a year the operator has not
confirmed (``calendar.confirmed_years``) is refused with the policy file, the key and the rule.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from congvu.errors import CongvuError, LifecycleError
from congvu.workdays import VN_TZ, Calendar, add_working_days

__all__ = ["ACTIONS", "Account", "Action", "Plan", "Request", "apply_plan", "archive_keep_days",
           "check_requests", "plan", "role_of"]

STATES = ("active", "locked", "retired")
MAILBOX_CLASSES = ("personal", "unit", "agency")
#: Why a locked account is locked (``congvuLockReason``); ``violation`` by a ``lock`` request of the
#: agency's admin or the operator (compromise, prohibited use: Hà Nam Art 7.2.b-c, Gia Lai Art
#: 6.2.b-c, Ninh Bình Art 7.1, Cần Thơ Art 14.2).
LOCK_REASONS = ("inactivity", "default_password", "leaver", "violation")
MEASURES = ("login", "mail", "any")
REQUEST_KINDS = ("reopen", "hold", "reclaim", "lock")
REQUEST_SOURCES = ("console", "operator")
#: Every action, in the order a plan lists them (and applies them).
ACTIONS = ("reopen", "hold", "lock_violation", "unlock_returned", "transfer", "drop_alias", "lock_leaver",
           "apply_quota",
           "warn_password_expiry", "warn_inactivity", "lock_default_password", "lock_inactive",
           "notify_agency", "reclaim", "retire_leaver")
_ORDER = {name: i for i, name in enumerate(ACTIONS)}
#: The ``lifecycle.articles`` rule each action cites.
ACTION_RULE = {
    "reopen": "reopen", "hold": "request", "unlock_returned": "leaver", "transfer": "transfer",
    "drop_alias": "transfer", "apply_quota": "quota", "warn_password_expiry": "password_expiry",
    "warn_inactivity": "inactivity_lock", "lock_default_password": "default_password_lock",
    "lock_inactive": "inactivity_lock", "lock_leaver": "leaver", "notify_agency": "reclaim",
    "reclaim": "reclaim", "retire_leaver": "leaver", "lock_violation": "violation_lock",
}
#: Rule of a delegated administrator's reach (the openldap role's ACLs, docs/directory.md).
ADMIN_RULE = "a delegated admin acts on its own agency only (docs/directory.md; Gia Lai Art 5.2, 10.8)"

DAY = dt.timedelta(days=1)
_DATE_FIELDS = ("created", "password_changed", "last_login", "last_mail", "leaving_since", "notice_sent",
                "confirmed", "hold_until", "warned_password", "warned_inactivity", "transfer_since")


# --- inputs -----------------------------------------------------------------------------------------

def to_date(value: object, where: str, key: str) -> dt.date | None:
    """A day in Vietnam from a date, an aware or naive datetime, ``YYYY-MM-DD``, ISO 8601 with a time,
    or LDAP GeneralizedTime (``20260315083000Z``, UTC). ``None``/empty stays ``None``."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(VN_TZ).date() if value.tzinfo else value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) >= 15 and text[:14].isdigit() and text.endswith("Z"):  # GeneralizedTime
                stamp = dt.datetime.strptime(text[:14], "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
                return stamp.astimezone(VN_TZ).date()
            if len(text) == 10:
                return dt.date.fromisoformat(text)
            return to_date(dt.datetime.fromisoformat(text.replace("Z", "+00:00")), where, key)
        except ValueError:
            pass
    raise LifecycleError(f"{key}: expected a date (YYYY-MM-DD, ISO 8601 or LDAP time), got {value!r}",
                         source=where, rule="date")


@dataclass(frozen=True, slots=True, kw_only=True)
class Account:
    """One mailbox as the directory holds it (docs/lifecycle.md lists the attribute behind each field).

    Dates are days in Vietnam (``None``: never / not set). ``quota`` is in bytes, ``None`` unlimited.
    """

    mail: str
    dn: str
    organisation: str  # code of the organisation (agency or unit) the mailbox belongs to
    agency: str = ""  # code of its top-level organisation (defaults to ``organisation``)
    agency_name: str = ""  # the agency's name, for notices
    name: str = ""  # full name (display name), for notices and warnings
    mailbox_class: str = "personal"
    admin: bool = False  # a delegated admin of its agency (cn=admins)
    state: str = "active"
    lock_reason: str | None = None
    created: dt.date  # issued
    must_change_password: bool = False  # the initial (or reset) password is still unchanged
    password_changed: dt.date | None = None  # when the current password was set (pwdChangedTime)
    last_login: dt.date | None = None
    last_mail: dt.date | None = None  # last mail sent or received
    leaving_since: dt.date | None = None  # the roster's leaving request
    notice_sent: dt.date | None = None  # suspension notice sent to the agency
    confirmed: dt.date | None = None  # the agency's last confirmation or reopen request
    hold_until: dt.date | None = None  # no inactivity lock or reclaim before this day
    warned_password: dt.date | None = None
    warned_inactivity: dt.date | None = None
    transfer_to: str | None = None  # organisation code a move is pending to
    transfer_agency: str | None = None  # its top-level organisation (defaults to ``transfer_to``)
    transfer_since: dt.date | None = None
    expiring_aliases: tuple[tuple[str, dt.date], ...] = ()  # old addresses kept until a day
    quota: int | None = None

    def __post_init__(self) -> None:
        if not self.agency:
            object.__setattr__(self, "agency", self.organisation)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "accounts") -> Account:
        """An account from a mapping (what a directory search gives), checked; errors name ``where``."""
        if isinstance(data, Account):
            return data
        values = _fields(cls, data, where, ("mail", "dn", "organisation"))
        for key in _DATE_FIELDS:
            if key in values:
                values[key] = to_date(values[key], where, key)
        for key in ("admin", "must_change_password"):
            if isinstance(values.get(key), str):
                values[key] = values[key].strip().upper() == "TRUE"  # LDAP Boolean syntax
            elif key in values and not isinstance(values[key], bool):
                raise LifecycleError(f"{key}: expected true or false, got {values[key]!r}", source=where,
                                     rule="boolean")
        if values.get("created") is None:
            raise LifecycleError("created: required (the day the mailbox was issued)", source=where,
                                 rule="required")
        _one_of(values, "state", STATES, "active", where)
        _one_of(values, "mailbox_class", MAILBOX_CLASSES, "personal", where)
        _one_of(values, "lock_reason", (None, *LOCK_REASONS), None, where)
        quota = values.get("quota")
        if quota is not None and (isinstance(quota, bool) or not isinstance(quota, int) or quota < 0):
            raise LifecycleError(f"quota: expected bytes (an integer >= 0), got {quota!r}", source=where,
                                 rule="quota")
        values["quota"] = quota or None  # the directory writes 0 for unlimited
        values["expiring_aliases"] = tuple(
            (str(alias).lower(), to_date(until, where, "expiring_aliases"))
            for alias, until in (values.get("expiring_aliases") or ()))
        return cls(**values)

    @property
    def role(self) -> str:
        return role_of(self)


def _fields(cls: type, data: object, where: str, required: tuple[str, ...]) -> dict[str, Any]:
    """``data`` as keyword arguments of ``cls``: a mapping of its fields, the ``required`` ones non-empty
    strings, ``mail`` lower case."""
    if not isinstance(data, Mapping):
        raise LifecycleError(f"expected a mapping, got {type(data).__name__}", source=where, rule="type")
    unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
    if unknown:
        raise LifecycleError(f"unknown field(s) {', '.join(unknown)}", source=where, rule="known fields")
    values = dict(data)
    for key in required:
        if not isinstance(values.get(key), str) or not values[key].strip():
            raise LifecycleError(f"{key}: required, a non-empty string", source=where, rule="required")
    values["mail"] = values["mail"].strip().lower()
    return values


def _one_of(values: Mapping[str, Any], key: str, choices: tuple, default: object, where: str) -> None:
    if values.get(key, default) not in choices:
        shown = ", ".join(str(c) for c in choices if c is not None)
        raise LifecycleError(f"{key}: {values[key]!r} is not one of {shown}", source=where,
                             rule=key.replace("_", " "))


def role_of(account: Account) -> str:
    """The password role (``passwords.<role>`` of the policy): admin, organisation or user."""
    if account.admin:
        return "admin"
    return "user" if account.mailbox_class == "personal" else "organisation"


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """What an agency asks (through its delegated admin, ``source: console``) or the operator records
    from an official letter (``source: operator``)."""

    kind: str  # reopen, hold, reclaim, lock
    mail: str
    received: dt.date
    by: str  # the delegated admin's address, or the operator's name
    source: str = "console"
    until: dt.date | None = None  # hold: no inactivity lock or reclaim before this day
    reason: str = ""
    ref: str = ""  # the letter's number ("Công văn số ...")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "requests") -> Request:
        if isinstance(data, Request):
            return data
        values = _fields(cls, data, where, ("kind", "mail", "by"))
        _one_of(values, "kind", REQUEST_KINDS, None, where)
        _one_of(values, "source", REQUEST_SOURCES, "console", where)
        values["by"] = values["by"].strip()
        values["received"] = to_date(values.get("received"), where, "received")
        if values["received"] is None:
            raise LifecycleError("received: required (the day the request arrived)", source=where,
                                 rule="required")
        values["until"] = to_date(values.get("until"), where, "until")
        if values["kind"] == "hold" and values["until"] is None:
            raise LifecycleError("until: a hold needs the day it ends", source=where, rule="required")
        if values["kind"] == "lock" and not str(values.get("reason") or "").strip():
            raise LifecycleError("reason: a lock says what the account did or what happened to it",
                                 source=where, rule="required")
        return cls(**values)


# --- outputs ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    """One change to one account. ``effective``: the day the rule made it due; ``deadline``: the latest
    day the regulation allows (for a notice: the last working day the agency has to answer; for a warning:
    the day of the event warned about)."""

    action: str
    mail: str
    dn: str
    organisation: str
    agency: str
    effective: dt.date
    deadline: dt.date
    article: str
    reason_vi: str
    reason_en: str
    source: str = "lifecycle"  # lifecycle, console or operator (the audit log's source)
    actor: str = "lifecycle"
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ISO strings."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["effective"] = self.effective.isoformat()
        out["deadline"] = self.deadline.isoformat()
        out["details"] = {k: (v.isoformat() if isinstance(v, dt.date) else v)
                          for k, v in self.details.items()}
        return out


@dataclass(frozen=True, slots=True)
class Plan:
    """The actions of one day, sorted by action (in :data:`ACTIONS` order), agency, address."""

    province: str
    today: dt.date
    actions: tuple[Action, ...]

    def __len__(self) -> int:
        return len(self.actions)

    def __iter__(self):
        return iter(self.actions)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for action in self.actions:
            out[action.action] = out.get(action.action, 0) + 1
        return out

    def of(self, *names: str) -> list[Action]:
        return [a for a in self.actions if a.action in names]

    def to_dicts(self) -> list[dict[str, Any]]:
        return [a.to_dict() for a in self.actions]


# --- wording ----------------------------------------------------------------------------------------

def fmt_date_vi(day: dt.date) -> str:
    """``dd/mm/yyyy``, the way Vietnamese administrative documents write dates."""
    return day.strftime("%d/%m/%Y")


def period_vi(days: int) -> str:
    """``180`` → ``06 tháng``, ``365`` → ``01 năm``, ``45`` → ``45 ngày`` (the seeds write "03 tháng")."""
    if days and days % 365 == 0:
        return f"{days // 365:02d} năm"
    return f"{days // 30:02d} tháng" if days and days % 30 == 0 else f"{days:02d} ngày"


def period_en(days: int) -> str:
    for unit, size in (("year", 365), ("month", 30)):
        if days and days % size == 0:
            count = days // size
            return f"{count} {unit}" + ("s" if count != 1 else "")
    return f"{days} day" + ("s" if days != 1 else "")


#: What counts as activity, per ``lifecycle.inactivity_measure`` / ``reclaim_measure``: (vi, en).
MEASURES_SAID = {"login": ("không đăng nhập", "no login"),
                 "mail": ("không gửi, nhận thư", "no mail sent or received"),
                 "any": ("không đăng nhập, gửi hay nhận thư", "no login, mail sent or received")}
_LEFT_VI = "Nghỉ hưu, thôi việc hoặc chuyển công tác từ ngày {since}"
_ARCHIVED_VI = "nội dung hộp thư được lưu trữ"
#: The reason each action gives, (Vietnamese, English): formal Vietnamese for the agencies and the audit
#: log, English for operators. ``_say`` writes dates dd/mm/yyyy in the first, ISO in the second.
REASONS = {
    "reclaim_request": ("Thu hồi theo đề nghị của cơ quan{ref}; " + _ARCHIVED_VI,
                        "Reclaimed on the agency's request{ref}; the mailbox is archived"),
    "reopen": ("Mở lại hộp thư theo đề nghị của cơ quan{ref}; cấp lại mật khẩu, người dùng đổi mật khẩu ở "
               "lần đăng nhập đầu tiên",
               "Reopened on the agency's request{ref}; password reset, to be changed at first login"),
    "hold": ("Cơ quan đã thông báo lý do{ref}{why}: không tạm khóa, không thu hồi vì không hoạt động đến "
             "hết ngày {until}",
             "The agency gave a reason{ref}{why}: no inactivity lock or reclaim until {until}"),
    "lock_violation": ("Tạm khóa theo đề nghị{ref}: {why}; hộp thư vẫn nhận thư, mở lại khi cơ quan đề nghị",
                       "Locked on request{ref}: {why}; mail still delivered, reopened on the agency's "
                       "request"),
    "unlock_returned": ("Trở lại danh sách cán bộ của cơ quan: mở lại hộp thư",
                        "Back on the agency's roster: unlocked"),
    "transfer": ("Chuyển công tác sang {to}: cấp địa chỉ theo cơ quan mới, địa chỉ cũ vẫn nhận thư {keep}",
                 "Moved to {to}: an address in the new organisation, the old one an alias {keep}"),
    "drop_alias": ("Hết thời hạn giữ địa chỉ cũ {alias}: địa chỉ không nhận thư nữa và không cấp cho "
                   "người khác",
                   "The old address {alias} is no longer delivered; it stays reserved"),
    "lock_leaver": (_LEFT_VI + ": tạm khóa, hộp thư vẫn nhận thư{closing}",
                    "Left on {since}: locked, mail still delivered{closing}"),
    "apply_quota": ("Dung lượng hộp thư theo quy định: {old} → {new}", "Quota of the policy: {old} → {new}"),
    "warn_password_expiry": ("Mật khẩu hết hạn ngày {expires} (thay đổi {period} một lần): nhắc người dùng "
                             "đổi mật khẩu",
                             "Password expires on {expires} (changed every {period}): user warned"),
    "warn_inactivity": ("{measure} kể từ ngày {since}: hộp thư sẽ bị tạm khóa ngày {due}, nhắc người dùng",
                        "{measure} since {since}: lock on {due}, user warned"),
    "lock_default_password": ("Không thay đổi mật khẩu mặc định sau {period} kể từ ngày {since}: tạm khóa, "
                              "hộp thư vẫn nhận thư",
                              "Initial password unchanged {period} after {since}: locked, mail still "
                              "delivered"),
    "lock_inactive": ("{measure} kể từ ngày {since} (quá {period}): tạm khóa, hộp thư vẫn nhận thư",
                      "{measure} since {since} ({period}): locked, mail still delivered"),
    "notify_agency": ("Thông báo cơ quan: hộp thư bị tạm khóa do {measure} từ ngày {since}; thu hồi sau ngày "
                      "{reply_by} nếu cơ quan không xác nhận hoặc đề nghị mở lại",
                      "Agency notified: locked for {measure} since {since}; reclaimed after {reply_by} "
                      "unless the agency confirms or asks to reopen by then"),
    "notify_agency_violation": ("Thông báo cơ quan: hộp thư bị tạm khóa do vi phạm quy chế; thu hồi sau ngày "
                                "{reply_by} nếu cơ quan không đề nghị mở lại",
                                "Agency notified: locked for a violation; reclaimed after {reply_by} unless "
                                "the agency asks to reopen it by then"),
    "notify_agency_info": ("Thông báo cơ quan: hộp thư bị tạm khóa do {measure} từ ngày {since}; {on}",
                           "Agency notified: locked for {measure} since {since}; {on}"),
    "notify_agency_kept": ("Thông báo cơ quan: hộp thư của cơ quan, đơn vị bị tạm khóa do {measure} từ ngày "
                           "{since}; không thu hồi ({article})",
                           "Agency notified: organisation mailbox locked for {measure} since {since}; not "
                           "reclaimed ({article})"),
    "reclaim_notice": ("Quá {days} ngày làm việc kể từ thông báo ngày {notice} mà cơ quan không xác nhận "
                       "hoặc đề nghị mở lại: thu hồi hộp thư; " + _ARCHIVED_VI,
                       "{days} working days since the notice of {notice} without a confirmation or reopen "
                       "request: reclaimed; archived"),
    "reclaim_inactivity": ("{measure} kể từ ngày {since} (quá {period}): thu hồi hộp thư; " + _ARCHIVED_VI,
                           "{measure} since {since} ({period}): reclaimed; archived"),
    "retire_leaver": (_LEFT_VI + ": chấm dứt hoạt động hộp thư sau {days} ngày làm việc; " + _ARCHIVED_VI,
                      "Left on {since}: mailbox closed {days} working days later; archived"),
}


def _say(reason: str, **fields: Any) -> tuple[str, str]:
    """``REASONS[reason]`` filled in: a field is a date, a (vi, en) pair, or the same text in both."""
    vi_fields, en_fields = {}, {}
    for key, value in fields.items():
        if isinstance(value, dt.date):
            vi_fields[key], en_fields[key] = fmt_date_vi(value), value.isoformat()
        elif isinstance(value, tuple):
            vi_fields[key], en_fields[key] = value
        else:
            vi_fields[key] = en_fields[key] = "" if value is None else str(value)
    vi, en = REASONS[reason]
    vi, en = vi.format(**vi_fields), en.format(**en_fields)
    return vi[:1].upper() + vi[1:], en[:1].upper() + en[1:]


def _measure(measure: str) -> tuple[str, str]:
    return MEASURES_SAID[measure]


def _period(days: int) -> tuple[str, str]:
    return period_vi(days), period_en(days)


def _size(quota: int | None) -> tuple[str, str]:
    return ("không giới hạn", "unlimited") if quota is None else (f"{quota / 1e9:g} GB",) * 2


# --- the rules --------------------------------------------------------------------------------------

class _Context:
    """Everything a rule needs, computed once per plan."""

    def __init__(self, policy: Mapping[str, Any], today: dt.date, calendar: Calendar, indexed: bool,
                 requests: Mapping[str, list[Request]]) -> None:
        life = policy["lifecycle"]
        self.province = policy["province"].get("issued_by") or policy["province"]["name"]
        self.today = today
        self.calendar = calendar
        self.indexed = indexed
        self.requests = requests
        self.articles = life["articles"]
        # a lock keeps delivering mail (Hà Nam Art 7.1, Gia Lai Art 6.1): each lock says so, and why
        self.receives = {"receives_mail": True,
                         "receives_mail_article": self.article("locked_mailbox_receives")}
        self.lock = life["inactivity_lock"]
        self.measure = life["inactivity_measure"]
        self.default_lock = life["default_password_lock"]
        self.reclaim_after = life["reclaim_after"]
        self.reclaim_measure = life["reclaim_measure"]
        self.notice_days = life["reclaim_notice_working_days"]
        self.leaver_days = life["leaver_deadline_working_days"]
        self.request_days = life["request_deadline_working_days"]
        self.warn_password = life["password_warning_days"]
        self.warn_inactivity = life["inactivity_warning_days"]
        self.policy = policy
        self.reclaim_org = life["reclaim_organisation_mailboxes"]
        # the locks whose notice to the agency starts the reclaim countdown (Ninh Bình Art 7.1 names the
        # violation lock beside the inactivity one)
        self.noticed_locks = ("inactivity", "violation") if life["violation_reclaim"] else ("inactivity",)
        self.readdress = life["transfer_readdress"]
        self.alias_keep = life["transfer_alias_keep"]
        self.quota = {c: policy["quota"][c] for c in MAILBOX_CLASSES}
        self.max_age = {r: policy["passwords"][r]["max_age"] for r in ("user", "admin", "organisation")}
        self._memo: dict[tuple[dt.date, int], dt.date] = {}
        # The fast path: an account whose dates are all after these days has nothing due or to warn about.
        self.quiet_activity = (today - dt.timedelta(days=self.lock - self.warn_inactivity)
                               if self.lock is not None else None)
        self.quiet_reclaim = (today - dt.timedelta(days=self.reclaim_after)
                              if self.reclaim_after is not None else None)
        # a password warning is due when password_changed is in (today - max_age, today - max_age + warn]
        self.quiet_password = {r: (today - dt.timedelta(days=age),
                                   today - dt.timedelta(days=age - self.warn_password))
                               if age is not None else None for r, age in self.max_age.items()}

    def article(self, rule: str) -> str:
        """The article of a ``lifecycle.articles`` rule (an action's rule: :data:`ACTION_RULE`)."""
        return self.articles.get(rule) or f"{self.province}: lifecycle.{rule}"

    def add_working_days(self, start: dt.date, days: int, why: str) -> dt.date:
        """``days`` working days after ``start``, in confirmed years only."""
        if self.indexed:
            key = (start, days)
            if key not in self._memo:
                self._memo[key] = self.calendar.add(start, days, why=why)
            return self._memo[key]
        result = add_working_days(start, days, extra_holidays=self.calendar.extra_days_off,
                                  extra_workdays=self.calendar.extra_workdays)
        self.calendar.require_years((start + dt.timedelta(days=1)).year, result.year, why)
        return result

    def deadline(self, start: dt.date, days: int | None, why: str) -> dt.date:
        return start if days is None else self.add_working_days(start, days, why)


def _anchor(a: Account, measure: str, today: dt.date) -> dt.date:
    """The day inactivity is counted from (see the module docstring)."""
    best = a.created
    for day in (a.confirmed,
                a.hold_until if a.hold_until is not None and a.hold_until <= today else None,
                a.last_login if measure in ("login", "any") else None,
                a.last_mail if measure in ("mail", "any") else None):
        if day is not None and day > best:
            best = day
    return best


def _held(a: Account, today: dt.date) -> bool:
    return a.hold_until is not None and a.hold_until > today


def _quiet(a: Account, c: _Context) -> bool:
    """True when no rule can fire for ``a`` today, so the indexed planner skips it (tested to agree with
    the full evaluation on random snapshots)."""
    if (a.state != "active" or a.leaving_since or a.transfer_to or a.expiring_aliases
            or a.must_change_password or a.mail in c.requests or a.quota != c.quota[a.mailbox_class]):
        return False
    held = _held(a, c.today)
    if not held and c.quiet_activity is not None and _anchor(a, c.measure, c.today) <= c.quiet_activity:
        return False
    if not held and c.quiet_reclaim is not None and _anchor(a, c.reclaim_measure, c.today) <= c.quiet_reclaim:
        return False
    window = c.quiet_password[role_of(a)]
    return window is None or a.password_changed is None or not window[0] < a.password_changed <= window[1]


def _action(c: _Context, a: Account, name: str, effective: dt.date, deadline: dt.date,
            said: tuple[str, str], *, source: str = "lifecycle", actor: str = "lifecycle",
            rule: str | None = None, **details: Any) -> Action:
    return Action(action=name, mail=a.mail, dn=a.dn, organisation=a.organisation, agency=a.agency,
                  effective=effective, deadline=deadline, article=c.article(rule or ACTION_RULE[name]),
                  reason_vi=said[0], reason_en=said[1], source=source, actor=actor, details=details)


def archive_keep_days(policy: Mapping[str, Any], mailbox_class: str) -> int | None:
    """How many days the archive of a reclaimed mailbox of ``mailbox_class`` is kept (``None``: for
    good): ``lifecycle.archive_keep``, but for good for organisation mailboxes where their mail must not
    be deleted (Cần Thơ Art 11.3: ``retention.organisation_delete`` keep_copy or deny)."""
    if mailbox_class != "personal" and policy["retention"]["organisation_delete"] != "allow":
        return None
    return policy["lifecycle"]["archive_keep"]


def _archive_days(c: _Context, a: Account) -> int | None:
    return archive_keep_days(c.policy, a.mailbox_class)


def _request_actions(a: Account, c: _Context) -> list[Action]:
    out = []
    for r in c.requests.get(a.mail, ()):
        why = f"the answer to the {r.kind} request for {a.mail} ({c.article('request')})"
        deadline = c.deadline(r.received, c.request_days, why)
        ref = f" ({r.ref})" if r.ref else ""
        common = {"source": r.source, "actor": r.by, "received": r.received}
        if r.kind == "reclaim":
            out.append(_action(c, a, "reclaim", r.received, deadline, _say("reclaim_request", ref=ref),
                               rule="request", trigger="request", archive_keep_days=_archive_days(c, a),
                               **common))
        elif r.kind == "reopen":
            out.append(_action(c, a, "reopen", r.received, deadline, _say("reopen", ref=ref), **common))
        elif r.kind == "lock":
            out.append(_action(c, a, "lock_violation", r.received, deadline,
                               _say("lock_violation", ref=ref, why=r.reason), reason=r.reason, **common,
                               **c.receives))
        else:
            said = _say("hold", ref=ref, why=f", {r.reason}" if r.reason else "", until=r.until)
            out.append(_action(c, a, "hold", r.received, deadline, said, until=r.until, reason=r.reason,
                               **common))
    return out


def _notice_valid(a: Account, today: dt.date) -> bool:
    """A notice counts until the agency confirms, reopens or holds the mailbox after it."""
    if a.notice_sent is None:
        return False
    hold_end = a.hold_until if a.hold_until is not None and a.hold_until <= today else None
    return all(day is None or a.notice_sent > day for day in (a.confirmed, hold_end))


def _terminal(a: Account, c: _Context) -> Action | None:
    """Retire a leaver or reclaim an inactive mailbox, when due."""
    today = c.today
    if a.leaving_since is not None and c.leaver_days is not None:
        due = c.add_working_days(a.leaving_since, c.leaver_days,
                                 f"the leaver deadline of {a.mail} ({c.article('leaver')})")
        if today >= due:
            said = _say("retire_leaver", since=a.leaving_since, days=f"{c.leaver_days:02d}")
            return _action(c, a, "retire_leaver", due, due, said, leaving_since=a.leaving_since,
                           archive_keep_days=_archive_days(c, a))
    reclaimable = a.mailbox_class == "personal" or c.reclaim_org
    if not reclaimable or _held(a, today) or a.leaving_since is not None:
        return None
    if (c.notice_days is not None and a.state == "locked" and a.lock_reason in c.noticed_locks
            and _notice_valid(a, today)):
        # "Sau 15 ngày làm việc" (Cần Thơ Art 5.4, Ninh Bình Art 7.1): the agency may answer until the end
        # of the last working day; the mailbox goes the day after.
        due = c.add_working_days(a.notice_sent, c.notice_days,
                                 f"the reclaim deadline of {a.mail} ({c.article('reclaim')})") + DAY
        if today >= due:
            said = _say("reclaim_notice", days=f"{c.notice_days:02d}", notice=a.notice_sent)
            return _action(c, a, "reclaim", due, due, said, trigger="notice", notice_sent=a.notice_sent,
                           archive_keep_days=_archive_days(c, a))
    if c.reclaim_after is not None:
        since = _anchor(a, c.reclaim_measure, today)
        due = since + dt.timedelta(days=c.reclaim_after)
        if today >= due:
            said = _say("reclaim_inactivity", measure=_measure(c.reclaim_measure), since=since,
                        period=_period(c.reclaim_after))
            return _action(c, a, "reclaim", due, due, said, trigger="inactivity", since=since,
                           archive_keep_days=_archive_days(c, a))
    return None


def _rule_unlock_returned(a: Account, c: _Context) -> Action | None:
    if a.state != "locked" or a.lock_reason != "leaver" or a.leaving_since is not None:
        return None
    return _action(c, a, "unlock_returned", c.today, c.today, _say("unlock_returned"))


def _rule_transfer(a: Account, c: _Context) -> Action | None:
    if not a.transfer_to or a.transfer_to == a.organisation or not c.readdress or a.leaving_since:
        return None
    since = a.transfer_since or c.today
    deadline = c.deadline(since, c.request_days, f"the transfer of {a.mail} ({c.article('transfer')})")
    until = since + dt.timedelta(days=c.alias_keep) if c.alias_keep is not None else None
    keep = (f"đến hết ngày {fmt_date_vi(until)}", f"until {until}") if until else ("lâu dài", "for good")
    return _action(c, a, "transfer", since, deadline, _say("transfer", to=a.transfer_to, keep=keep),
                   to=a.transfer_to, to_agency=a.transfer_agency or a.transfer_to, alias_until=until)


def _rule_leaver_lock(a: Account, c: _Context) -> Action | None:
    if a.leaving_since is None or a.state != "active":
        return None
    deadline = c.deadline(a.leaving_since, c.leaver_days,
                          f"the leaver deadline of {a.mail} ({c.article('leaver')})")
    closing = ((f"; chấm dứt hoạt động ngày {fmt_date_vi(deadline)}", f"; closed on {deadline}")
               if c.leaver_days is not None else "")
    return _action(c, a, "lock_leaver", a.leaving_since, deadline,
                   _say("lock_leaver", since=a.leaving_since, closing=closing), **c.receives)


def _rule_quota(a: Account, c: _Context) -> Action | None:
    want = c.quota[a.mailbox_class]
    if a.quota == want:
        return None
    said = _say("apply_quota", old=_size(a.quota), new=_size(want))
    return _action(c, a, "apply_quota", c.today, c.today, said,
                   quota_from=a.quota, quota_to=want,
                   shrink=want is not None and (a.quota is None or want < a.quota))


def _rule_warn_password(a: Account, c: _Context) -> Action | None:
    age = c.max_age[role_of(a)]
    if (a.state != "active" or a.must_change_password or age is None or not c.warn_password
            or a.password_changed is None):
        return None
    expires = a.password_changed + dt.timedelta(days=age)
    window = expires - dt.timedelta(days=c.warn_password)
    if not window <= c.today < expires or (a.warned_password is not None and a.warned_password >= window):
        return None
    return _action(c, a, "warn_password_expiry", c.today, expires,
                   _say("warn_password_expiry", expires=expires, period=_period(age)), expires=expires)


def _rule_warn_inactivity(a: Account, c: _Context) -> Action | None:
    if (a.state != "active" or c.lock is None or not c.warn_inactivity or a.must_change_password
            or _held(a, c.today)):
        return None
    since = _anchor(a, c.measure, c.today)
    due = since + dt.timedelta(days=c.lock)
    window = due - dt.timedelta(days=c.warn_inactivity)
    if not window <= c.today < due or (a.warned_inactivity is not None and a.warned_inactivity >= window):
        return None
    return _action(c, a, "warn_inactivity", c.today, due,
                   _say("warn_inactivity", measure=_measure(c.measure), since=since, due=due),
                   since=since, lock_on=due)


def _rule_default_password(a: Account, c: _Context) -> Action | None:
    if a.state != "active" or not a.must_change_password or c.default_lock is None:
        return None
    since = a.password_changed or a.created
    due = since + dt.timedelta(days=c.default_lock)
    if c.today < due:
        return None
    return _action(c, a, "lock_default_password", due, due,
                   _say("lock_default_password", period=_period(c.default_lock), since=since),
                   since=since, **c.receives)


def _rule_inactive(a: Account, c: _Context) -> Action | None:
    if a.state != "active" or c.lock is None or _held(a, c.today):
        return None
    since = _anchor(a, c.measure, c.today)
    due = since + dt.timedelta(days=c.lock)
    if c.today < due:
        return None
    return _action(c, a, "lock_inactive", due, due,
                   _say("lock_inactive", measure=_measure(c.measure), since=since, period=_period(c.lock)),
                   since=since, **c.receives)


def _rule_notify(a: Account, c: _Context) -> Action | None:
    """The agency hears of every inactivity lock once. Where removal follows a notice (Cần Thơ Art 5.4,
    Ninh Bình Art 7.1) it is the formal notice that starts the working-day countdown; elsewhere it says
    when the mailbox will be reclaimed if it stays unused (Hà Nam Art 6.2.c, Gia Lai Art 5.4), so the agency
    can give the reason the lock waits for or ask to reopen it (Hà Nam Art 7.3, Gia Lai Art 6.3)."""
    if a.state == "locked" and a.lock_reason == "violation" and "violation" in c.noticed_locks:
        return _notify_violation(a, c)
    if (c.lock is None or a.state != "locked" or a.lock_reason != "inactivity"
            or _held(a, c.today) or a.leaving_since is not None or _notice_valid(a, c.today)):
        return None
    since = _anchor(a, c.measure, c.today)
    if c.today < since + dt.timedelta(days=c.lock):
        return None
    reclaimable = a.mailbox_class == "personal" or c.reclaim_org
    if reclaimable and c.notice_days is not None:
        reply_by = c.add_working_days(c.today, c.notice_days,
                                      f"the reclaim deadline of {a.mail} ({c.article('reclaim')})")
        said = _say("notify_agency", measure=_measure(c.measure), since=since, reply_by=reply_by)
        return _action(c, a, "notify_agency", c.today, reply_by, said, since=since, reply_by=reply_by)
    if reclaimable:
        reclaim_on = (_anchor(a, c.reclaim_measure, c.today) + dt.timedelta(days=c.reclaim_after)
                      if c.reclaim_after is not None else None)
        on = (("thu hồi ngày " + fmt_date_vi(reclaim_on) + " nếu đến ngày đó vẫn "
               + _measure(c.reclaim_measure)[0], f"reclaimed on {reclaim_on} if still "
               + _measure(c.reclaim_measure)[1] + " by then") if reclaim_on is not None
              else ("không tự động thu hồi", "not reclaimed automatically"))
        said = _say("notify_agency_info", measure=_measure(c.measure), since=since, on=on)
        return _action(c, a, "notify_agency", c.today, reclaim_on or c.today, said, since=since,
                       reply_by=None, reclaim_on=reclaim_on, rule="inactivity_lock",
                       reclaim_article=c.article("reclaim"))
    said = _say("notify_agency_kept", measure=_measure(c.measure), since=since,
                article=c.article("organisation_mailboxes"))
    return _action(c, a, "notify_agency", c.today, c.today, said, since=since, reply_by=None)


def _notify_violation(a: Account, c: _Context) -> Action | None:
    """Ninh Bình Art 7.1: a mailbox suspended for a violation (request kind ``lock``) is notified to its
    agency, and removed ``reclaim_notice_working_days`` working days after that notice unless the agency
    asks to reopen it (``lifecycle.violation_reclaim``). The notice goes the day of the lock (the rules
    run after the requests) or, if it could not be sent, with the next run; an organisation mailbox
    is told about but kept (``reclaim_organisation_mailboxes``)."""
    if _held(a, c.today) or a.leaving_since is not None or _notice_valid(a, c.today):
        return None
    if a.mailbox_class == "personal" or c.reclaim_org:
        reply_by = c.add_working_days(c.today, c.notice_days,
                                      f"the reclaim deadline of {a.mail} ({c.article('reclaim')})")
        said = _say("notify_agency_violation", reply_by=reply_by)
        return _action(c, a, "notify_agency", c.today, reply_by, said, since=c.today, reply_by=reply_by,
                       cause="violation", rule="violation_lock")
    said = _say("notify_agency_kept", measure=("vi phạm quy chế", "a violation"), since=c.today,
                article=c.article("organisation_mailboxes"))
    return _action(c, a, "notify_agency", c.today, c.today, said, since=c.today, reply_by=None,
                   cause="violation", rule="violation_lock")


#: The rules after the requests, transfers, aliases and the reclaim/retire check, in ACTIONS order.
_SEQUENCE: tuple[Callable[[Account, _Context], Action | None], ...] = (
    _rule_leaver_lock, _rule_quota, _rule_warn_password, _rule_warn_inactivity, _rule_default_password,
    _rule_inactive, _rule_notify,
)


def _account_actions(a: Account, c: _Context) -> list[Action]:
    if a.state == "retired":
        return []
    out = _request_actions(a, c)
    if any(x.action == "reclaim" for x in out):
        return [x for x in out if x.action == "reclaim"]
    for action in out:
        a = _effect(a, action, c.today)
    for rule in (_rule_unlock_returned, _rule_transfer):
        action = rule(a, c)
        if action is not None:
            out.append(action)
            a = _effect(a, action, c.today)
    for alias, until in a.expiring_aliases:
        if c.today >= until:
            said = _say("drop_alias", alias=alias)
            out.append(_action(c, a, "drop_alias", until, until, said, alias=alias))
            a = _effect(a, out[-1], c.today)
    terminal = _terminal(a, c)
    if terminal is not None:
        return [*out, terminal]
    for rule in _SEQUENCE:
        action = rule(a, c)
        if action is not None:
            out.append(action)
            if action.action not in _NOTHING_LATER_READS:
                a = _effect(a, action, c.today)
    if a.state != "active":
        # locked by this pass (a password due to expire, then the inactivity lock the same day): a
        # warning would tell the user to change a password they can no longer use; the unlock
        # (reopen) clears the warning dates, so the warnings come again once it is open
        out = [x for x in out if x.action not in _WARNINGS]
    return out


_WARNINGS = frozenset({"warn_password_expiry", "warn_inactivity"})


#: Actions whose effect no later rule of the sequence reads (their effect is left to apply_plan).
_NOTHING_LATER_READS = frozenset({"apply_quota", "warn_password_expiry", "warn_inactivity", "notify_agency"})


# --- effects (what applying an action does to the snapshot) ------------------------------------------

def _effect(a: Account, action: Action, today: dt.date, new_mail: str | None = None) -> Account:
    d = action.details
    kind = action.action
    if kind == "reopen":
        return dataclasses.replace(a, state="active", lock_reason=None, must_change_password=True,
                                   password_changed=today, confirmed=_later(a.confirmed, d["received"]),
                                   notice_sent=None, warned_password=None, warned_inactivity=None)
    if kind == "hold":
        return dataclasses.replace(a, hold_until=d["until"], confirmed=_later(a.confirmed, d["received"]))
    if kind == "lock_violation":
        return dataclasses.replace(a, state="locked", lock_reason="violation")
    if kind == "unlock_returned":
        return dataclasses.replace(a, state="active", lock_reason=None)
    if kind == "transfer":
        aliases = a.expiring_aliases
        mail = new_mail or a.mail
        if d["alias_until"] is not None and d["alias_until"] > today and mail != a.mail:
            aliases = (*aliases, (a.mail, d["alias_until"]))
        return dataclasses.replace(a, mail=mail, organisation=d["to"], agency=d["to_agency"],
                                   transfer_to=None, transfer_agency=None, transfer_since=None,
                                   expiring_aliases=aliases)
    if kind == "drop_alias":
        kept = tuple(x for x in a.expiring_aliases if x[0] != d["alias"])
        return dataclasses.replace(a, expiring_aliases=kept)
    if kind == "apply_quota":
        return dataclasses.replace(a, quota=d["quota_to"])
    if kind == "warn_password_expiry":
        return dataclasses.replace(a, warned_password=today)
    if kind == "warn_inactivity":
        return dataclasses.replace(a, warned_inactivity=today)
    if kind in ("lock_default_password", "lock_inactive", "lock_leaver"):
        reason = {"lock_default_password": "default_password", "lock_inactive": "inactivity",
                  "lock_leaver": "leaver"}[kind]
        return dataclasses.replace(a, state="locked", lock_reason=reason)
    if kind == "notify_agency":
        return dataclasses.replace(a, notice_sent=today)
    if kind in ("reclaim", "retire_leaver"):
        return dataclasses.replace(a, state="retired", lock_reason=None)
    raise LifecycleError(f"unknown action {kind!r}", source="plan", rule="known actions")


def _later(a: dt.date | None, b: dt.date) -> dt.date:
    return b if a is None or b > a else a


def apply_plan(accounts: Iterable[Account], applied: Plan,
               new_addresses: Mapping[str, str] | None = None) -> list[Account]:
    """The snapshot once ``applied`` has been carried out: the directory writer's contract.

    ``new_addresses`` maps an address to the one its ``transfer`` issued (the naming scheme's, which the
    writer computes); without it the address stays as it was.
    """
    by_mail: dict[str, list[Action]] = {}
    for action in applied.actions:
        by_mail.setdefault(action.mail, []).append(action)
    out = []
    for account in accounts:
        for action in by_mail.get(account.mail, ()):
            account = _effect(account, action, applied.today, (new_addresses or {}).get(action.mail))
        out.append(account)
    return out


# --- planning ---------------------------------------------------------------------------------------

def check_requests(requests: Iterable[Request | Mapping[str, Any]], accounts: Mapping[str, Account],
                   today: dt.date, names: Sequence[str] | None = None,
                   ) -> tuple[dict[str, list[Request]], list[tuple[int, str]]]:
    """Validate every request against the snapshot (``accounts``: address -> :class:`Account`).

    Returns the valid requests still to carry out, by address, and the problems as ``(index, message)``
    (the message names ``requests[index]``, or ``names[index]`` when given, e.g. the request's entry, and
    the rule). Requests already carried out (the account shows
    them) are in neither. :func:`plan` refuses everything when there is any problem; the lifecycle run
    sets aside the requests an agency admin filed badly and carries out the others (docs/lifecycle.md).
    """
    problems: list[tuple[int, str]] = []
    seen: dict[tuple[str, str], int] = {}
    out: dict[str, list[Request]] = {}
    for i, raw in enumerate(requests):
        label = names[i] if names is not None else f"requests[{i}]"
        try:
            r = Request.from_mapping(raw, label)
        except CongvuError as exc:
            problems.append((i, str(exc)))
            continue
        where = f"{label} ({r.kind} {r.mail})"
        target = accounts.get(r.mail)
        if target is None:
            problems.append((i, f"{where}: no such account [the account must exist in the directory]"))
            continue
        if (r.kind, r.mail) in seen:
            first = seen[(r.kind, r.mail)]
            problems.append((i, f"{where}: the same request as "
                             f"{names[first] if names is not None else f'requests[{first}]'} "
                            "[one request of a kind per account]"))
            continue
        if _applied(r, target):
            seen[(r.kind, r.mail)] = i
            continue  # already carried out (the account may have moved since): nothing to check or do
        if r.source == "console":
            admin = accounts.get(r.by.lower())
            if admin is None or not admin.admin or admin.state != "active":
                problems.append((i, f"{where}: {r.by} is not an active delegated admin [{ADMIN_RULE}]"))
                continue
            if admin.agency != target.agency:
                problems.append((i, f"{where}: {r.by} administers {admin.agency}, the account belongs to "
                                f"{target.agency} [{ADMIN_RULE}]"))
                continue
        if r.received > today:
            problems.append((i, f"{where}: received {r.received} is after today ({today}) "
                             "[a request is dated the day it arrived]"))
            continue
        if r.received < target.created:
            problems.append((i, f"{where}: received {r.received} is before the mailbox was issued "
                            f"({target.created}) [a request is dated the day it arrived]"))
            continue
        if target.state == "retired":
            problems.append((i, f"{where}: the account is retired; a retired mailbox is restored from its "
                            "archive by the operator [retired accounts are not reopened]"))
            continue
        if r.kind == "hold" and r.until is not None and r.until <= today:
            problems.append((i, f"{where}: until {r.until} is not after today ({today}), a date in the past "
                            "[a hold ends in the future]"))
            continue
        if r.kind == "lock" and target.state != "active":
            problems.append((i, f"{where}: the account is {target.state}, not active "
                             "[only an active mailbox is locked]"))
            continue
        if r.kind == "lock" and target.confirmed is not None and target.confirmed > r.received:
            problems.append((i, f"{where}: received {r.received}, before the agency's later confirmation, "
                             f"hold or reopen of {target.confirmed} [a lock is dated after the agency's last "
                             "word on the mailbox]"))
            continue
        if r.kind == "reopen" and target.state != "locked":
            problems.append((i, f"{where}: the account is {target.state}, not locked "
                             "[only a locked mailbox is reopened]"))
            continue
        if r.kind == "reopen" and target.leaving_since is not None:
            problems.append((i, f"{where}: the roster marks this person as leaving since "
                             f"{target.leaving_since} [a leaver comes back through the roster, not a reopen "
                             "request]"))
            continue
        seen[(r.kind, r.mail)] = i  # a refused request does not stand in the way of a good one
        out.setdefault(r.mail, []).append(r)
    return out, problems


def _check_requests(requests: Iterable[Request | Mapping[str, Any]], accounts: Mapping[str, Account],
                    today: dt.date) -> dict[str, list[Request]]:
    """Validate every request against the snapshot; one error lists every problem, nothing is applied."""
    out, problems = check_requests(requests, accounts, today)
    _raise_all([message for _, message in problems], "request(s), nothing changed", "requests",
               "valid requests")
    return out


def _raise_all(problems: list[str], what: str, source: str, rule: str) -> None:
    """One :class:`LifecycleError` listing every problem (``err.problems``), if there is any."""
    if problems:
        err = LifecycleError(f"{len(problems)} bad {what}:\n" + "\n".join(problems), source=source, rule=rule)
        err.problems = problems
        raise err


def _applied(r: Request, a: Account) -> bool:
    if r.kind == "reclaim":
        return a.state == "retired"
    if r.kind == "reopen":
        return a.confirmed is not None and a.confirmed >= r.received and a.state != "locked"
    if r.kind == "lock":  # a lock older than the agency's last word is refused (check_requests)
        return a.state == "locked" and a.lock_reason == "violation"
    return a.hold_until == r.until and a.confirmed is not None and a.confirmed >= r.received


#: The snapshot's dates, none of which may be after today (a hold ends in the future).
_SNAPSHOT_DATES = tuple(k for k in _DATE_FIELDS if k != "hold_until")
_snapshot_dates = operator.attrgetter(*_SNAPSHOT_DATES)


def _check_accounts(accounts: Iterable[Account | Mapping[str, Any]], today: dt.date) -> dict[str, Account]:
    out: dict[str, Account] = {}
    problems: list[str] = []
    for i, raw in enumerate(accounts):
        where = f"accounts[{i}]" + (f" ({raw.get('mail')})" if isinstance(raw, Mapping) else "")
        try:
            account = Account.from_mapping(raw, where)
        except CongvuError as exc:
            problems.append(str(exc))
            continue
        if account.mail in out:
            problems.append(f"accounts[{i}] ({account.mail}): listed twice [one entry per address]")
            continue
        if any(day is not None and day > today for day in _snapshot_dates(account)):
            future = [k for k in _SNAPSHOT_DATES if (getattr(account, k) or dt.date.min) > today]
            problems.append(f"accounts[{i}] ({account.mail}): {', '.join(future)} after today ({today}) "
                            "[a snapshot is not dated in the future]")
            continue
        out[account.mail] = account
    _raise_all(problems, "account(s), nothing planned", "accounts", "valid snapshot")
    return out


def plan(policy: Mapping[str, Any], accounts: Iterable[Account | Mapping[str, Any]], today: dt.date, *,
         requests: Iterable[Request | Mapping[str, Any]] = (), calendar: Calendar | None = None,
         indexed: bool = True) -> Plan:
    """The lifecycle actions due on ``today`` (see the module docstring).

    ``policy`` is the effective policy (:func:`congvu.policy.load_policy`); ``accounts`` and ``requests``
    are :class:`Account`/:class:`Request` or mappings of their fields. ``calendar`` defaults to the
    policy's. ``indexed=False`` is the naive per-account loop (day-by-day working-day walks, every rule
    evaluated for every account), kept for the benchmark and as the tests' reference.
    Raises :class:`LifecycleError` for bad input and :class:`~congvu.errors.PolicyError` for an
    unconfirmed calendar year, before anything is planned.
    """
    if isinstance(today, dt.datetime) or not isinstance(today, dt.date):
        raise LifecycleError(f"today must be a date, got {today!r}", source="plan", rule="date")
    life = policy["lifecycle"]
    if not life["locked_mailbox_receives"]:
        raise LifecycleError("a locked mailbox that stops receiving mail is not supported: the directory "
                             "contract delivers to locked mailboxes (docs/directory.md)",
                             source=str(policy.get("source")), key="lifecycle.locked_mailbox_receives",
                             rule="locked_mailbox_receives: true")
    calendar = calendar or Calendar.from_policy(policy)
    calendar.require_years(today.year, today.year, f"a lifecycle plan on {today}")
    snapshot = _check_accounts(accounts, today)
    checked = _check_requests(requests, snapshot, today)
    context = _Context(policy, today, calendar, indexed, checked)
    actions: list[Action] = []
    for account in snapshot.values():
        if indexed and _quiet(account, context):
            continue
        actions.extend(_account_actions(account, context))
    actions.sort(key=lambda a: (_ORDER[a.action], a.agency, a.mail, str(a.details.get("alias", ""))))
    return Plan(province=policy["province"]["code"], today=today, actions=tuple(actions))
