"""Monitoring and alerts on a converged layout (docs/monitoring.md, issue 15): Prometheus scrapes every
host's exporters and probes every TLS service, the rules pass their tests on the host, nothing of it is
reachable from the network but the exporters from the monitoring host, every directory server's own
figures (slapd's cn=Monitor) reach Prometheus while cn=Monitor is refused to anyone but local root,
Rspamd's own figures reach Prometheus and the status page's charts, and a stopped Dovecot raises its
alert, which reaches the postmaster mailbox in Vietnamese."""

from __future__ import annotations

import contextlib
import datetime as dt
import email
import email.message
import email.policy
import imaplib
import json
import re
import shlex
import socket
import ssl
import subprocess
import urllib.parse
import uuid
from pathlib import Path

import jinja2
import pytest
import yaml

from congvu.monitoring import incident_report, regulation_switch_reminder, summary_report_reminders
from congvu.policy import load_policy

try:  # tests/layouts is a plain directory, or a package named layouts
    from polling import wait_for, wait_until
except ImportError:  # pragma: no cover
    from layouts.polling import wait_for, wait_until

#: What every layout with a monitoring host checks (``from monitoring_checks import *``); the stopped
#: Dovecot is imported by name where it applies (the all-in-one layout).
__all__ = [
    "monitor",
    "test_a_dated_switch_of_regulation_is_reminded_until_a_run_applies_it",
    "test_an_alert_reaches_the_postmaster_mailbox_through_the_first_mailbox_server",
    "test_an_incident_is_reminded_where_the_regulation_sets_a_deadline",
    "test_cn_monitor_is_read_by_local_root_alone",
    "test_every_directory_server_reports_slapds_own_figures",
    "test_every_exporter_and_probe_is_up",
    "test_every_filter_host_reports_rspamds_own_figures",
    "test_every_webmail_host_reports_nginx_and_php_fpm",
    "test_failed_logins_are_counted_by_dovecot",
    "test_nothing_of_the_monitoring_is_open_to_the_network",
    "test_staging_without_antivirus_signatures_is_reported",
    "test_the_alert_rules_pass_their_tests_on_the_host",
    "test_the_status_page_shows_every_host",
]

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "roles" / "prometheus" / "templates" / "etc" / "prometheus" / "rules"

#: slapd 2.5's kinds of operation, each counted in cn=Monitor (congvu_ldap_operations_*_total{op}).
LDAP_OPS = {"abandon", "add", "bind", "compare", "delete", "extended", "modify", "modrdn", "search", "unbind"}
TLS_ENV = "LDAPTLS_CACERT=/etc/ssl/congvu/ca.crt LDAPTLS_REQCERT=demand"


@pytest.fixture(scope="module")
def monitor(stage):
    if not stage.groups.get("monitoring_servers"):
        pytest.fail(f"{stage.layout} has no monitoring host (group monitoring_servers)")
    return stage.first("monitoring_servers")


def _fetch(host, url: str) -> tuple[str, str]:
    """HTTP status and body of ``url`` read on ``host`` (Prometheus and Alertmanager listen on the
    monitoring host's loopback only; the exporters answer the monitoring host alone)."""
    script = ("import sys, urllib.request; r = urllib.request.urlopen(sys.argv[1], timeout=30); "
              "sys.stdout.write(str(r.status) + '\\n' + r.read().decode())")
    status, _, body = host.out(f"python3 -c {_quote(script)} {_quote(url)}").partition("\n")
    return status, body


def _get(host, url: str):
    """A JSON answer of Prometheus's or Alertmanager's API."""
    return json.loads(_fetch(host, url)[1])


def _quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def silences(host) -> list[dict]:
    """Alertmanager's silences (the monitoring host's loopback)."""
    return _get(host, "http://127.0.0.1:9093/api/v2/silences")


def _query(host, expr: str) -> list[dict]:
    url = "http://127.0.0.1:9090/api/v1/query?query=" + urllib.parse.quote(expr)
    return _get(host, url)["data"]["result"]


def _targets(host) -> list[dict]:
    return _get(host, "http://127.0.0.1:9090/api/v1/targets?state=active")["data"]["activeTargets"]


def test_the_alert_rules_pass_their_tests_on_the_host(stage, monitor):
    """Every alert fires on a series that breaks it, with the deployed thresholds (promtool)."""
    out = monitor.out("cd /etc/prometheus/rules && "
                      "promtool test rules congvu_test.yml congvu_reminders_test.yml")
    assert out.count("SUCCESS") == 2, out
    # the reminder of each periodic report the policy sets (Hà Nam Art 11.8 on the demo), loaded
    groups = _get(monitor, "http://127.0.0.1:9090/api/v1/rules")["data"]["groups"]
    due = sorted(r["labels"]["due"] for g in groups for r in g["rules"] if r["name"] == "SapDenHanBaoCao")
    assert due == sorted(stage.policy["operations"]["report_due"]), due
    # the reminder has its own receiver: once a day, and no "resolved" mail after the due day
    routes = {name: monitor.out("amtool config routes test --config.file=/etc/prometheus/alertmanager.yml "
                                f"alertname={name}").split()
              for name in ("SapDenHanBaoCao", "SapDenHanBaoCaoTongHop", "SapChuyenQuyChe", "DichVuNgung")}
    assert routes == {"SapDenHanBaoCao": ["reminders"], "SapDenHanBaoCaoTongHop": ["reminders"],
                      "SapChuyenQuyChe": ["reminders"], "DichVuNgung": ["operators"]}, routes


def test_an_incident_is_reminded_where_the_regulation_sets_a_deadline(stage, monitor):
    """Gia Lai Art 8.3.d: the operating centre reports an incident to Sở Khoa học và Công nghệ within
    24 hours. Where the policy sets operations.incident_report_hours, the deployed rules have
    BaoCaoSuCo, and its tests run at deploy; where it sets none (Hà Nam's), the rule is absent. Either
    way the rule and its tests are also rendered here as the prometheus role renders them, with Gia
    Lai's deadline and article (congvu.monitoring.incident_report), and run by promtool on the
    monitoring host: it fires after a critical alert with the start and the deadline in Vietnam's time,
    not for a warning or an alert only pending, and stops 24 hours after the incident ended."""
    own = incident_report(stage.policy)
    assert ("alert: BaoCaoSuCo" in monitor.out("cat /etc/prometheus/rules/congvu.yml")) == bool(own)
    gialai = incident_report(load_policy(ROOT / "policies" / "gialai.yml"))
    assert gialai["hours"] == 24 and gialai["article"] == "Gia Lai Art 8.3.d"
    values = {**yaml.safe_load((ROOT / "roles" / "prometheus" / "defaults" / "main.yml").read_text()),
              **{k: v for k, v in stage.wiring[monitor.name].items() if k.startswith("prometheus_")},
              "ansible_managed": "test", "prometheus_incident_report": gialai}
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, keep_trailing_newline=True)
    work = "/tmp/congvu-incident-test"
    monitor.out(f"rm -rf {work} && mkdir -p {work}")
    for name in ("congvu.yml", "congvu_test.yml"):
        text = env.from_string((RULES / f"{name}.j2").read_text(encoding="utf-8")).render(**values)
        assert name != "congvu.yml" or "alert: BaoCaoSuCo" in text
        monitor.out(f"cat > {work}/{name}", stdin=text)
    run = monitor.run(f"cd {work} && promtool check rules congvu.yml && promtool test rules congvu_test.yml")
    assert run.returncode == 0, run.stdout_text[-3000:] + run.stderr_text[-3000:]
    assert "SUCCESS" in run.stdout_text + run.stderr_text


def test_a_dated_switch_of_regulation_is_reminded_until_a_run_applies_it(stage, monitor, tmp_path):
    """A policy that switches regulation on a day (here: Hà Nam's file switching to the merged Ninh
    Bình's rules ten days from now, policies/ninhbinh2025.yml) gets the reminder SapChuyenQuyChe,
    rendered here as the prometheus role renders it (congvu.monitoring.regulation_switch_reminder)
    and run by promtool on the monitoring host: it fires from 14 days before the day, in Vietnam's time,
    not the day before that window; a run on or after the day (the switch applied) renders no reminder.
    The shipped policies switch nothing: the deployed rules have none."""
    assert "alert: SapChuyenQuyChe" not in monitor.out("cat /etc/prometheus/rules/congvu.yml")
    for name in ("hanam", "ninhbinh2025"):
        (tmp_path / f"{name}.yml").write_text((ROOT / "policies" / f"{name}.yml").read_text(encoding="utf-8"),
                                              encoding="utf-8")
    day = dt.date.today() + dt.timedelta(days=10)
    with (tmp_path / "hanam.yml").open("a", encoding="utf-8") as out:
        out.write(f"\nregulation_switch:\n  from: {day.isoformat()}\n  to: ninhbinh2025\n")
    reminder = regulation_switch_reminder(load_policy(tmp_path / "hanam.yml"))
    assert reminder["from"] == day.isoformat() and reminder["issued_by"] == "Ninh Bình"
    assert regulation_switch_reminder(load_policy(tmp_path / "hanam.yml", today=day)) == {}
    # with Cần Thơ's roll-up reminders (Art 9.11, 15.2), which no demo deploys, run by promtool too
    cantho = summary_report_reminders(load_policy(ROOT / "policies" / "cantho.yml"))
    values = {**yaml.safe_load((ROOT / "roles" / "prometheus" / "defaults" / "main.yml").read_text()),
              **{k: v for k, v in stage.wiring[monitor.name].items() if k.startswith("prometheus_")},
              "ansible_managed": "test", "prometheus_regulation_switch": reminder,
              "prometheus_summary_report_reminders": cantho}
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, keep_trailing_newline=True)
    work = "/tmp/congvu-switch-test"
    monitor.out(f"rm -rf {work} && mkdir -p {work}")
    for name in ("congvu.yml", "congvu_reminders_test.yml"):
        text = env.from_string((RULES / f"{name}.j2").read_text(encoding="utf-8")).render(**values)
        assert "SapChuyenQuyChe" in text, name
        monitor.out(f"cat > {work}/{name}", stdin=text)
    run = monitor.run(f"cd {work} && promtool check rules congvu.yml && "
                      "promtool test rules congvu_reminders_test.yml", timeout=300)
    assert run.returncode == 0, run.stdout_text[-3000:] + run.stderr_text[-3000:]
    assert "SUCCESS" in run.stdout_text + run.stderr_text
    # and the live Prometheus evaluates the expression as true today (inside the 14-day window)
    now = _get(monitor, "http://127.0.0.1:9090/api/v1/query?query=" + urllib.parse.quote(reminder["expr"]))
    assert len(now["data"]["result"]) == 1, now


def test_every_exporter_and_probe_is_up(stage, monitor):
    """Every exporter the wiring lists is scraped and up, and every TLS service of every host answers
    its probe with a certificate the province's CA signed (docs/monitoring.md, "What is watched")."""
    wired = stage.wiring[monitor.name]
    expected = {(job, t.split(":")[0]) for job, ts in wired["prometheus_scrape_targets"].items() for t in ts}
    expected |= {(f"probe_{p['service']}_{p['host']}", p["host"]) for p in wired["prometheus_probes"]}
    assert any(job.startswith("probe_smtp") for job, _ in expected) and ("node", monitor.name) in expected

    def state():
        return {(t["labels"]["job"], t["labels"]["instance"]): (t["health"], t.get("lastError"))
                for t in _targets(monitor)}

    def all_up():
        seen = state()
        # a probe that ran while a service restarted (an earlier test) fails until its next run
        return (expected <= set(seen) and all(seen[k][0] == "up" for k in expected)
                and not _query(monitor, "probe_success == 0"))

    def explain():
        down = {f"{j} {i}": v for (j, i), v in state().items() if v[0] != "up"}
        return json.dumps([down, _query(monitor, "probe_success == 0")], ensure_ascii=False)

    wait_until("every exporter up and every probe succeeding in Prometheus", all_up, 180, 5, explain=explain)
    # the probes read the certificates: every one is months from its expiry (the alert is at 21 days)
    expiry = _query(monitor, "(probe_ssl_earliest_cert_expiry - time()) / 86400")
    assert len(expiry) == len(wired["prometheus_probes"]), expiry
    assert all(float(r["value"][1]) > 21 for r in expiry), expiry


def _by_instance(host, expr: str) -> dict[str, float]:
    return {r["metric"]["instance"]: float(r["value"][1]) for r in _query(host, expr)}


def test_every_directory_server_reports_slapds_own_figures(stage, monitor):
    """congvu-facts reads slapd's monitor database on every directory server and Prometheus has the
    figures: connections, every kind of operation, the waiters; refreshed every minute (each reading
    is a search, so the search counter grows); no "unreadable" alert (docs/monitoring.md)."""
    servers = stage.groups["ldap_servers"]

    def all_read():
        ok = _by_instance(monitor, "congvu_ldap_monitor_ok")
        return all(ok.get(s) == 1 for s in servers)

    wait_until("congvu_ldap_monitor_ok 1 for every directory server", all_read, 150, 5,
               explain=lambda: json.dumps(_query(monitor, "congvu_ldap_monitor_ok")))
    current = _by_instance(monitor, "congvu_ldap_connections_current")
    total = _by_instance(monitor, "congvu_ldap_connections_total")
    assert all(1 <= current.get(s, 0) <= total.get(s, 0) for s in servers), (current, total)
    ops = {(r["metric"]["instance"], r["metric"]["op"])
           for r in _query(monitor, "congvu_ldap_operations_completed_total")}
    assert ops == {(s, op) for s in servers for op in LDAP_OPS}, sorted(ops)
    binds = _by_instance(monitor, 'congvu_ldap_operations_completed_total{op="bind"}')
    assert all(binds.get(s, 0) > 0 for s in servers), binds  # the readings' own SASL binds at least
    waiters = {(r["metric"]["instance"], r["metric"]["kind"]) for r in _query(monitor, "congvu_ldap_waiters")}
    assert waiters == {(s, k) for s in servers for k in ("read", "write")}, sorted(waiters)
    searches = 'congvu_ldap_operations_completed_total{op="search"}'
    before = _by_instance(monitor, searches)
    wait_until("the directory figures refreshed", lambda: all(
        _by_instance(monitor, searches).get(s, 0) > before[s] for s in servers), 150, 5)
    assert not _query(monitor, 'ALERTS{alertname="KhongDocDuocSoLieuThuMuc"}')


#: A message ClamAV finds infected: staging's test signature (Congvu.Test.EICAR), so Rspamd rejects it.
EICAR = ("From: a@example.net\nTo: b@example.net\nSubject: kiem tra\n\n"
         "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*\n")


def _chart_bar(page: str, chart: str) -> tuple[float, float, str] | None:
    """(the chart's height, the bar's height, its title) of the last hour's bar of one of the status
    page's charts (its div's id)."""
    start = page.index(f'<div class="bieu-do" id="{chart}">')
    svg = page[start:page.index("</svg>", start)]
    top = float(re.search(r'viewBox="0 0 240 ([0-9.]+)"', svg).group(1))
    found = re.search(r'<rect [^>]*height="([0-9.]+)" data-gio="0"><title>([^<]*)</title>', svg)
    return (top, float(found.group(1)), found.group(2)) if found else None


def test_every_filter_host_reports_rspamds_own_figures(stage, monitor):
    """congvu-facts reads Rspamd's /metrics on every filter host with the controller's read-only
    password, and Prometheus has Rspamd's figures under Rspamd's names: three messages scanned (one
    infected, rejected) move its scanned and reject counters, and the status page's charts draw the
    last hour's bar of each with the figure in its title (docs/monitoring.md)."""
    servers = stage.groups["filter_servers"]
    wait_until("congvu_rspamd_up 1 for every filter host", lambda: all(
        _by_instance(monitor, "congvu_rspamd_up").get(s) == 1 for s in servers), 150, 5,
        explain=lambda: json.dumps(_query(monitor, "congvu_rspamd_up")))
    assert all(_by_instance(monitor, "rspamd_build_info").get(s) == 1 for s in servers)
    assert all(_by_instance(monitor, "rspamd_start_time_seconds").get(s, 0) > 0 for s in servers)
    assert not _query(monitor, "rspamd_config")  # a new series at each reload: left out
    scanned, rejected = "rspamd_scanned_total", 'rspamd_actions_total{type="reject"}'
    before = (_by_instance(monitor, scanned), _by_instance(monitor, rejected))
    for name in servers:
        plain = "From: a@example.net\nTo: b@example.net\nSubject: xin chao\n\nKinh gui.\n"
        for body in (plain, plain, EICAR):
            verdict = stage.hosts[name].out("rspamc -h 127.0.0.1:11333", stdin=body)
            assert "Action:" in verdict, verdict
    wait_until("three scans and one reject counted on every filter host", lambda: all(
        _by_instance(monitor, scanned).get(s, 0) >= before[0].get(s, 0) + 3
        and _by_instance(monitor, rejected).get(s, 0) >= before[1].get(s, 0) + 1 for s in servers), 150, 5,
        explain=lambda: json.dumps(_query(monitor, f"{scanned} or {rejected}")))
    assert not _query(monitor, 'ALERTS{alertname="KhongDocDuocSoLieuLocThu"}')
    status, page = _fetch(monitor, "http://127.0.0.1:9090/consoles/congvu.html")
    assert status == "200" and "<h2>Hai mươi bốn giờ qua</h2>" in page, page[:2000]
    for chart, least in (("thu-loc", 3), ("thu-tu-choi", 1)):
        bar = _chart_bar(page, chart)
        assert bar, f"no bar for the last hour in the chart {chart}"
        top, height, title = bar
        shown = int(re.fullmatch(r"giờ vừa qua: (\d+) thư", title).group(1))
        assert shown >= least and 0 < height <= top, (chart, bar)  # drawn, and inside the chart


def test_every_webmail_host_reports_nginx_and_php_fpm(stage, monitor):
    """The nginx exporter and congvu-facts read each webmail host's status server (roundcube role,
    roundcube_status_listen): Prometheus has nginx up, its requests counted (a request to the webmail
    moves the counter) and the PHP-FPM pool's processes. The status server listens on loopback alone,
    and the webmail's public name serves neither status page (docs/monitoring.md)."""
    servers = stage.groups["webmail_servers"]

    def read():
        nginx, fpm = _by_instance(monitor, "nginx_up"), _by_instance(monitor, "congvu_phpfpm_up")
        return all(nginx.get(s) == 1 and fpm.get(s) == 1 for s in servers)

    wait_until("nginx_up and congvu_phpfpm_up 1 for every webmail host", read, 150, 5,
               explain=lambda: json.dumps(_query(monitor, "nginx_up or congvu_phpfpm_up")))
    processes = _by_instance(monitor, "congvu_phpfpm_processes_active + congvu_phpfpm_processes_idle")
    assert all(processes.get(s, 0) >= 1 for s in servers), processes
    requests = "nginx_http_requests_total"
    before = _by_instance(monitor, requests)
    for name in servers:
        web = stage.hosts[name]
        site = stage.wiring[name]["roundcube_server_name"]
        listening = web.out("ss -Hltn 'sport = :8081'").split()
        assert [a for a in listening if a.endswith(":8081")] == ["127.0.0.1:8081"], listening
        for path in ("/nginx_status", "/fpm-status", "/fpm-status?json"):
            code = subprocess.run(
                ["curl", "-sS", "--max-time", "20", "--cacert", stage.ca_file, "--resolve",
                 f"{site}:443:{web.address}", "-o", "/dev/null", "-w", "%{http_code}", f"https://{site}{path}"],
                capture_output=True, text=True, timeout=60, check=False).stdout
            assert code == "404", f"https://{site}{path} answered {code}"
    wait_until("the webmail's requests counted", lambda: all(
        _by_instance(monitor, requests).get(s, 0) > before.get(s, 0) for s in servers), 150, 5)


def test_cn_monitor_is_read_by_local_root_alone(stage, testpeople):
    """cn=Monitor (every connection's peer address and bound DN) is read by local root over ldapi and
    refused over LDAPS to an anonymous client, to a user and to a province operator, who writes the
    whole tree (docs/openldap.md, "Monitor"): on each directory server, from its own ldapsearch to its
    own name."""
    org = testpeople.top_level()[0]
    user = testpeople.ensure("kiemthu.giamsat", "Phạm Giám Sát", org, "Giam#Sat2026x")
    operator = testpeople.operator(
        testpeople.ensure("kiemthu.giamsatvh", "Đỗ Vận Hành", org, "Van#Hanh2026x"))
    everything = "-b cn=Monitor -s sub '(objectClass=*)' '*' '+'"
    for name in stage.groups["ldap_servers"]:
        host = stage.hosts[name]
        root = host.run(f"ldapsearch -Q -LLL -Y EXTERNAL -H ldapi:/// {everything}")
        assert root.returncode == 0 and "dn: cn=Current,cn=Connections,cn=Monitor" in root.stdout_text, (
            name, root.stderr_text)

        def ldaps(login=None, search=everything, host=host, name=name):
            bind = f"-D {shlex.quote(login[0])} -w {shlex.quote(login[1])}" if login else ""
            return host.run(f"{TLS_ENV} ldapsearch -x -LLL -H ldaps://{name} {bind} {search}")

        # the two sessions are real (their own entry; replicated to every provider within seconds)
        for who in (user, operator):
            def own(who=who, ldaps=ldaps):
                found = ldaps(who.login, f"-b {shlex.quote(who.dn)} -s base mail").stdout_text
                return f"mail: {who.mail}" in found

            wait_until(f"{who.dn} reads its own entry on {name}", own, 30, 1)
        for who, login in (("anonymous", None), ("a user", user.login), ("an operator", operator.login)):
            res = ldaps(login)
            # noSuchObject, slapd's answer for an entry the client may not see
            assert res.returncode == 32 and "dn:" not in res.stdout_text, (
                name, who, res.returncode, res.stdout_text[:500], res.stderr_text)


def test_nothing_of_the_monitoring_is_open_to_the_network(stage, monitor):
    """From the machine that runs the containers (the staging admin network): Prometheus, Alertmanager
    (its cluster port too) and the blackbox exporter listen on loopback, and the exporters' ports are
    open to the monitoring host alone, the webmail's status server (8081) to nobody (docs/monitoring.md,
    "Who can reach what")."""
    closed = {host.address: [9100] + ([9154, 9900] if "mail_servers" in host.groups else [])
              + ([9113, 8081] if "webmail_servers" in host.groups else []) for host in stage.hosts.values()}
    closed[monitor.address] += [9090, 9093, 9094, 9115]
    reached = []
    for address, ports in closed.items():
        for port in ports:
            with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=3):
                reached.append(f"{address}:{port}")
    assert reached == [], f"reachable from {stage.gateway}: {reached}"
    # and the monitoring host itself reads them
    listening = monitor.out("ss -Hltn '( sport = :9090 or sport = :9093 or sport = :9115 )'")
    assert listening.count("127.0.0.1:") == 3, listening


def test_staging_without_antivirus_signatures_is_reported(stage, monitor):
    """Staging has no official ClamAV databases (docs/security.md): the antivirus facts say so, and
    the alert "ThieuMauVirus" is pending or firing for the filter host, not silently absent."""
    filter_host = stage.first("filter_servers").name

    def facts():
        return _query(monitor, f'congvu_clamav_official_databases{{instance="{filter_host}"}}')

    found = wait_for(facts, 120, 5)
    assert found and float(found[0]["value"][1]) == 0, found
    expr = f'ALERTS{{alertname="ThieuMauVirus",instance="{filter_host}"}}'
    alerts = wait_for(lambda: _query(monitor, expr), 60, 5)
    assert alerts and alerts[0]["metric"]["alertstate"] in ("pending", "firing"), alerts


def test_failed_logins_are_counted_by_dovecot(stage, monitor):
    """Dovecot's metrics listener counts a failed IMAP login (the password-guessing alert reads it)."""
    mail = stage.first("mail_servers")
    url = f"http://{mail.name}:9900/metrics"

    def failures() -> float:
        text = _fetch(monitor, url)[1]
        line = next(x for x in text.splitlines() if x.startswith("dovecot_auth_failures_total"))
        return float(line.split()[-1])

    before = failures()
    ctx = ssl.create_default_context(cafile=stage.ca_file)
    ctx.check_hostname = False
    with imaplib.IMAP4_SSL(mail.address, 993, ssl_context=ctx, timeout=60) as imap, \
            contextlib.suppress(imaplib.IMAP4.error):
        imap.login(f"khongco.{uuid.uuid4().hex[:8]}@{stage.policy['domains']['primary']}", "sai-mat-khau")
    wait_until("the failed login counted", lambda: failures() > before, 30, 1)


def _postmaster_mail(host, box: str, text: str) -> list[email.message.EmailMessage]:
    """The messages of the postmaster mailbox whose subject has ``text``."""
    uids = host.run(f"doveadm search -u {box} mailbox INBOX subject {_quote(text)}").stdout_text.split()
    found = []
    for uid in uids[1::2]:
        raw = host.out(f"doveadm fetch -u {box} text mailbox INBOX uid {uid}")
        text = raw.split("text:", 1)[-1].lstrip()
        found.append(email.message_from_string(text, policy=email.policy.default))
    return found


def test_a_stopped_dovecot_raises_its_alert_and_mails_it_in_vietnamese(stage, monitor):
    """Dovecot stopped on the first mailbox server: within its `for` (1 minute) the alert DichVuNgung
    fires in Alertmanager; once Dovecot is back, the mail that was waiting in Postfix's queue reaches
    the postmaster mailbox, in Vietnamese, naming the service and the host; the alert ends."""
    mail = stage.first("mail_servers")
    box = f"postmaster@{stage.policy['domains']['primary']}"
    summary = f"Dịch vụ dovecot.service trên {mail.name} không chạy"

    def firing():
        alerts = _get(monitor, "http://127.0.0.1:9093/api/v2/alerts?active=true&silenced=false")
        return [a for a in alerts if a["labels"].get("alertname") == "DichVuNgung"
                and a["labels"].get("name") == "dovecot.service" and a["labels"].get("instance") == mail.name]

    # (an earlier stop, a test run before this one: its alert ends within minutes of Dovecot's return)
    wait_until("no DichVuNgung for Dovecot before the stop", lambda: not firing(), 240, 5)

    def attempts() -> int:  # Postfix's delivery attempts to the postmaster mailbox so far
        return int(mail.run(f"grep -c 'to=<{box}>' /var/log/mail.log").stdout_text.strip() or 0)

    before = attempts()
    mail.out("systemctl stop dovecot")
    try:
        wait_until("DichVuNgung firing in Alertmanager", firing, 240, 5,
                   explain=lambda: json.dumps(_query(monitor, 'ALERTS{alertname="DichVuNgung"}')))
        alert = firing()[0]
        assert alert["annotations"]["summary"] == summary, alert
        # Alertmanager hands the mail to Postfix, which keeps it (deferred) until Dovecot is back
        wait_until("the alert mail handed to Postfix", lambda: attempts() > before, 120, 2,
                   explain=lambda: monitor.journal(("prometheus-alertmanager",), 20))
    finally:
        mail.out("systemctl start dovecot")
    mail.run("postqueue -f")
    wait_until("the alert mail in the postmaster mailbox",
               lambda: _postmaster_mail(mail, box, "dovecot.service"), 120, 2,
               explain=lambda: mail.run("postqueue -p | tail -n 20").stdout_text)
    msg = next((m for m in reversed(_postmaster_mail(mail, box, "dovecot.service"))  # the newest
                if str(m["Subject"]) == f"[Cảnh báo] {summary}"), None)
    assert msg is not None, [str(m["Subject"]) for m in _postmaster_mail(mail, box, "dovecot.service")]
    sender = msg["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (
        stage.wiring[monitor.name]["alertmanager_system_name"], box), msg["From"]
    body = msg.get_body(("plain",)).get_content()
    assert "Đang có 1 cảnh báo cần người vận hành xử lý" in body and "mức nghiêm trọng" in body, body
    wait_until("the alert ends once Dovecot is back", lambda: not firing(), 180, 5)


def test_an_alert_reaches_the_postmaster_mailbox_through_the_first_mailbox_server(stage, monitor):
    """An alert on the monitoring host (one posted with amtool) is mailed through port 25 of the first
    mailbox server: over STARTTLS with its certificate verified where that is another host, accepted
    there from the province's postmaster address because the monitoring host is a trusted relay, and
    delivered to the postmaster mailbox in Vietnamese."""
    mail = stage.first("mail_servers")
    box = f"postmaster@{stage.policy['domains']['primary']}"
    tag = uuid.uuid4().hex[:8]
    summary = f"Kiểm thử đường gửi cảnh báo {tag}"
    monitor.out(f"amtool alert add alertname=KiemThuCanhBao severity=warning instance={monitor.name} "
                f"--annotation=summary={_quote(summary)} "
                f"--annotation=description={_quote('Cảnh báo thử của bộ kiểm thử, không cần xử lý.')}")
    wait_until("the test alert in the postmaster mailbox", lambda: _postmaster_mail(mail, box, tag), 180, 2,
               explain=lambda: monitor.journal(("prometheus-alertmanager",), 20))
    msg = _postmaster_mail(mail, box, tag)[-1]
    assert str(msg["Subject"]) == f"[Cảnh báo] {summary}", msg["Subject"]
    assert "Đang có 1 cảnh báo cần người vận hành xử lý" in msg.get_body(("plain",)).get_content()
    if monitor.name != mail.name:
        # it came from the monitoring host's address, over TLS, to the first mailbox server's port 25
        received = " ".join(str(h) for h in msg.get_all("Received", []))
        assert f"[{monitor.address}]" in received and "TLS" in received, received


def test_the_status_page_shows_every_host(stage, monitor):
    """The ops team's status page (a Prometheus console template, /consoles/congvu.html): Vietnamese,
    the province's name, every host's exporters and every probe, rendered without a template error."""
    status, page = _fetch(monitor, "http://127.0.0.1:9090/consoles/congvu.html")
    assert status == "200", page[:2000]
    assert stage.wiring[monitor.name]["prometheus_system_name"] in page
    for heading in ("Cảnh báo hiện tại", "Máy chủ và bộ xuất số liệu", "Kết nối thử các dịch vụ TLS",
                    "Hàng đợi thư", "Sao lưu"):
        assert f"<h2>{heading}</h2>" in page, heading
    for host in stage.hosts.values():
        assert f"<td>{host.name}</td><td>node</td><td>đọc được</td>" in page, (host.name, page[:3000])
    assert page.count("<td>đạt</td>") == len(stage.wiring[monitor.name]["prometheus_probes"]), page
