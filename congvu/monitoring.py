"""What the monitoring host watches (docs/monitoring.md): the scrape targets of Prometheus, the
probes of its blackbox exporter, and the thresholds of the alert rules, from the layout and the policy.

The monitoring host (the optional group ``monitoring_servers``) runs Prometheus, Alertmanager and the
blackbox exporter; every host of the layout runs the node exporter (its systemd collector says which
service is down; its textfile collector carries the project's own facts: backups, antivirus
signatures), the mailbox servers also the Postfix exporter and Dovecot's own OpenMetrics listener.
The firewall opens each exporter's port to the monitoring host alone (``congvu.wiring.SERVICES``).

    targets(lay)["node"]          # ['mail.hanam.gov.vn:9100']
    probes(lay)[0]       # {'module': 'smtp_starttls', 'target': 'mail.hanam.gov.vn:25', ...}

No Ansible import: the wiring calls this and the prometheus role's templates only reference the
result.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from congvu.notices import cite_vi
from congvu.policy import bound_article
from congvu.report import due_days
from congvu.workdays import VN_TZ

if TYPE_CHECKING:  # pragma: no cover
    from congvu.wiring import Layout

__all__ = ["EXPORTERS", "PROBES", "REPORT_REMINDER_DAYS", "SWITCH_REMINDER_DAYS", "backup_max_age_hours",
           "incident_report", "probes", "regulation_switch_reminder", "report_reminders",
           "summary_report_reminders", "targets"]

#: How many days before a periodic report is due the operators are reminded (a working fortnight to
#: collect the agencies' figures and have the report signed).
REPORT_REMINDER_DAYS = 14

#: PromQL's clock functions read UTC; the regulations' days are Vietnam's (UTC+7, no summer time).
_VN_NOW = "vector(time() + 25200)"

#: Scrape job -> (port, the group whose hosts run it; "congvu": every host). The ports are the Debian
#: packages' defaults (Dovecot's is the one its documentation uses).
EXPORTERS: dict[str, tuple[int, str]] = {
    "node": (9100, "congvu"),
    "postfix": (9154, "mail_servers"),
    "dovecot": (9900, "mail_servers"),
    "nginx": (9113, "webmail_servers"),
}

#: What the blackbox exporter checks from the monitoring host, per group: (service, port, module).
#: The modules are defined in the prometheus role's blackbox.yml: TLS from the first byte or after
#: STARTTLS, the certificate checked against the province's CA and its expiry read
#: (``probe_ssl_earliest_cert_expiry``: the certificate alert, 21 days ahead).
PROBES: dict[str, tuple[tuple[str, int, str], ...]] = {
    "mail_servers": (("smtp", 25, "smtp_starttls"), ("submission", 587, "smtp_starttls"),
                     ("submissions", 465, "smtps"), ("imaps", 993, "imaps"), ("pop3s", 995, "pop3s")),
    "front_servers": (("front_imaps", 993, "imaps"), ("front_pop3s", 995, "pop3s"),
                      ("front_submissions", 465, "smtps"), ("front_submission", 587, "smtp_starttls")),
    "ldap_servers": (("ldaps", 636, "tls"),),
    "webmail_servers": (("https", 443, "https"),),
}

def targets(lay: Layout) -> dict[str, list[str]]:
    """Scrape job -> ``host:port`` of every exporter in the layout (empty without a monitoring host)."""
    if not lay.groups.get("monitoring_servers"):
        return {}
    out: dict[str, list[str]] = {}
    for job, (port, group) in EXPORTERS.items():
        hosts = lay.hosts if group == "congvu" else lay.groups[group]
        out[job] = [f"{h}:{port}" for h in hosts]
    return out


def probes(lay: Layout) -> list[dict[str, str]]:
    """The blackbox probes: one per TLS service of every host, named by host and service (the
    webmail by its host's name, which its certificate and its web server carry too). A front that is
    the monitoring host itself is not probed: the probe would reach the mailbox servers through it as
    a client with the front's own address, which their logs must never show (the PROXY protocol hands
    them the real client's); the mailbox servers' own ports are probed directly."""
    monitors = lay.groups.get("monitoring_servers") or ()
    if not monitors:
        return []
    out = []
    for group, services in PROBES.items():
        for host in lay.groups[group]:
            if group == "front_servers" and host in monitors:
                continue
            for service, port, module in services:
                target = f"https://{host}/" if module == "https" else f"{host}:{port}"
                out.append({"module": module, "target": target, "host": host, "service": service})
    return out


def backup_max_age_hours(policy: Mapping[str, Any]) -> int:
    """How old the last successful backup may get before the alert: one schedule period (a day, or a
    week where the policy backs up weekly, Hà Giang Art 10.2.d) and six hours of slack."""
    weekday = (policy.get("backup") or {}).get("weekday", "daily")
    return (24 if weekday == "daily" else 7 * 24) + 6


def report_reminders(policy: Mapping[str, Any],
                     days_ahead: int = REPORT_REMINDER_DAYS) -> list[dict[str, Any]]:
    """One reminder per day of ``operations.report_due`` (Cần Thơ Art 15.1, Hà Nam Art 11.8,
    Ninh Bình Art 13.6, Hà Giang Art 14): ``expr``, a PromQL expression with a sample from
    ``days_ahead`` days before the due day through the due day, in Vietnam's time; ``due``
    (``MM-DD``), ``due_vi`` (``dd/mm``), ``article`` and ``article_vi`` (the Vietnamese citation, or
    the article as written); ``test_due_day`` and ``test_quiet_day``, days on promtool's clock for the
    rule's tests. Empty where the regulation sets no periodic report (Gia Lai: on request).

    The window is written as month and day-of-month ranges, so it holds in any year: a range that runs
    on into the next month ends at day 31 (29 February included)."""
    return _reminders(policy, "report_due", policy["operations"].get("report_article") or "", days_ahead)


def summary_report_reminders(policy: Mapping[str, Any],
                             days_ahead: int = REPORT_REMINDER_DAYS) -> list[dict[str, Any]]:
    """The same reminders for the managing department's own roll-up of the agencies' reports to the
    province (``operations.summary_report_due``: Cần Thơ Art 9.11, 15.2, 15 June and 15 December),
    for the alert SapDenHanBaoCaoTongHop. Empty where the regulation sets none."""
    ops = policy["operations"]
    return _reminders(policy, "summary_report_due", ops.get("summary_report_article") or "", days_ahead)


def _reminders(policy: Mapping[str, Any], key: str, article: str, days_ahead: int) -> list[dict[str, Any]]:
    out = []
    for month, day in due_days(policy, key):
        due = dt.date(2027, month, min(day, 28) if month == 2 else day)  # 2027: no 29 February
        spans: dict[tuple[int, int], list[int]] = {}
        for n in range(days_ahead, -1, -1):
            d = due - dt.timedelta(days=n)
            spans.setdefault((d.year, d.month), []).append(d.day)
        terms = []
        for (year, m), days in spans.items():
            last = day if (year, m) == (due.year, due.month) else 31
            terms.append(f"(month({_VN_NOW}) == {m} and day_of_month({_VN_NOW}) >= {min(days)} "
                         f"and day_of_month({_VN_NOW}) <= {last})")
        # promtool's clock starts at 1970-01-01 00:00 UTC (07:00 in Vietnam): the due day and the day
        # before the window, as days since then, for the role's rule tests
        at = (dt.date(1970, due.month, due.day) - dt.date(1970, 1, 1)).days
        at += 365 if at - days_ahead - 1 < 0 else 0
        out.append({"due": f"{month:02d}-{day:02d}", "due_vi": f"{day:02d}/{month:02d}", "article": article,
                    "article_vi": cite_vi(article, policy) or article, "expr": " or ".join(terms),
                    "test_due_day": at, "test_quiet_day": at - days_ahead - 1})
    return out


#: How many days before a dated switch of regulation the operators are reminded to run site.yml.
SWITCH_REMINDER_DAYS = 14


def regulation_switch_reminder(policy: Mapping[str, Any],
                               days_ahead: int = SWITCH_REMINDER_DAYS) -> dict[str, Any]:
    """The reminder of a dated switch of regulation (``regulation_switch`` of an effective policy,
    congvu.policy.switch_policy) that this run has not applied yet, for the alert SapChuyenQuyChe:
    ``expr`` (a sample from midnight in Vietnam ``days_ahead`` days before the day, and on until a run on or
    after the day applies the switch, which renders the rules without it), ``from``, ``from_vi``
    (dd/mm/yyyy), ``to``, ``issued_by``; ``test_first_day`` and ``test_quiet_day``, days on promtool's
    clock for the rule's tests. Empty without a switch, or once it applies."""
    switch = policy.get("regulation_switch")
    if not switch or switch.get("applied"):
        return {}
    day = dt.date.fromisoformat(switch["from"])
    first = day - dt.timedelta(days=days_ahead)
    start = int(dt.datetime(first.year, first.month, first.day, tzinfo=VN_TZ).timestamp())
    # promtool's day N starts at N days after 1970-01-01 00:00 UTC, 07:00 in Vietnam: the window's
    # first day already fires, the day before it does not
    epoch_day = (first - dt.date(1970, 1, 1)).days
    return {"from": day.isoformat(), "from_vi": day.strftime("%d/%m/%Y"), "to": switch["to"],
            "issued_by": switch["issued_by"], "expr": f"vector(time()) >= {start}",
            "test_first_day": epoch_day, "test_quiet_day": epoch_day - 1}


def incident_report(policy: Mapping[str, Any]) -> dict[str, Any]:
    """The deadline for reporting an incident to the province (Gia Lai Art 8.3.d: the operating centre
    reports to Sở Khoa học và Công nghệ at the latest 24 hours after the system's incident):
    ``hours``, ``article`` and ``article_vi`` (the Vietnamese citation, or the article as written),
    for the alert BaoCaoSuCo. Empty where the regulation sets none (``incident_report_hours`` null)."""
    hours = policy["operations"].get("incident_report_hours")
    if not hours:
        return {}
    article = bound_article(policy, "operations.incident_report_hours") or ""
    return {"hours": int(hours), "article": article, "article_vi": cite_vi(article, policy) or article}
