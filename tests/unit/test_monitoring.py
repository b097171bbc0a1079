"""What the monitoring host watches (congvu.monitoring, docs/monitoring.md) and how the wiring opens
the exporters to it alone and lets it mail its alerts (congvu.wiring)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_wiring import open_to, wired

from congvu import monitoring, wiring
from congvu.orgs import load_catalogue
from congvu.wiring import WiringError, layout

ROOT = Path(__file__).resolve().parents[2]
HOSTS = ("ldap.x.gov.vn", "mx.x.gov.vn", "filter.x.gov.vn", "webmail.x.gov.vn", "mon.x.gov.vn")
ADDRESSES = {h: f"10.0.0.{i + 1}" for i, h in enumerate(HOSTS)}


def split(**extra):
    groups = {"ldap_servers": [HOSTS[0]], "mail_servers": [HOSTS[1]], "filter_servers": [HOSTS[2]],
              "webmail_servers": [HOSTS[3]], "monitoring_servers": [HOSTS[4]]}
    groups.update(extra)
    return groups


def test_nothing_is_watched_without_a_monitoring_host():
    lay = layout({**split(), "monitoring_servers": []}, ADDRESSES)
    assert monitoring.targets(lay) == {} and monitoring.probes(lay) == []


def test_every_host_is_scraped_and_every_tls_service_probed():
    lay = layout(split(), ADDRESSES)
    targets = monitoring.targets(lay)
    assert targets["node"] == [f"{h}:9100" for h in lay.hosts]
    assert targets["postfix"] == ["mx.x.gov.vn:9154"] and targets["dovecot"] == ["mx.x.gov.vn:9900"]
    assert targets["nginx"] == ["webmail.x.gov.vn:9113"]
    probes = {(p["host"], p["service"]): p for p in monitoring.probes(lay)}
    assert probes["mx.x.gov.vn", "smtp"]["module"] == "smtp_starttls"
    assert probes["ldap.x.gov.vn", "ldaps"]["target"] == "ldap.x.gov.vn:636"
    assert probes["webmail.x.gov.vn", "https"]["target"] == "https://webmail.x.gov.vn/"
    assert not any(h == "mon.x.gov.vn" for h, _ in probes)
    # a front elsewhere is probed; a front that is the monitoring host is not (its probes would reach
    # the mailbox servers with the front's own address)
    elsewhere = monitoring.probes(layout(split(front_servers=[HOSTS[3]]), ADDRESSES))
    assert {p["service"] for p in elsewhere if p["host"] == HOSTS[3]} >= {"front_imaps", "front_submission"}
    itself = monitoring.probes(layout(split(front_servers=[HOSTS[4]]), ADDRESSES))
    assert not any(p["service"].startswith("front_") for p in itself)


def test_the_exporter_ports_are_the_firewalls():
    """congvu.monitoring.EXPORTERS and the firewall's services name the same ports."""
    assert monitoring.EXPORTERS["node"][0] == wiring.SERVICES["node_exporter"].port
    assert monitoring.EXPORTERS["postfix"][0] == wiring.SERVICES["postfix_exporter"].port
    assert monitoring.EXPORTERS["dovecot"][0] == wiring.SERVICES["dovecot_metrics"].port
    assert monitoring.EXPORTERS["nginx"][0] == wiring.SERVICES["nginx_exporter"].port


def test_exporters_open_to_the_monitoring_host_alone(shipped_split):
    hosts, groups, addresses = shipped_split
    monitor = groups["monitoring_servers"][0]
    for host, v in hosts.items():
        if host == monitor:
            assert open_to(v["common_firewall_rules"], 9100) == []  # its own: loopback
            continue
        assert open_to(v["common_firewall_rules"], 9100) == [addresses[monitor]], host
        mail = host in groups["mail_servers"]
        assert open_to(v["common_firewall_rules"], 9154) == ([addresses[monitor]] if mail else []), host
        webmail = host in groups["webmail_servers"]
        assert open_to(v["common_firewall_rules"], 9113) == ([addresses[monitor]] if webmail else []), host
        assert v["exporters_enabled"] and v["exporters_postfix"] == mail, host
        assert v["exporters_webmail"] == webmail, host
        assert v["dovecot_metrics_port"] == 9900


def test_the_monitoring_host_mails_through_the_first_mailbox_server(shipped_split):
    """Its alerts go to the postmaster mailbox through port 25 of the first mailbox server, which takes
    them as from a relay of the province (its address joins the trusted relays)."""
    hosts, groups, addresses = shipped_split
    monitor, mx = groups["monitoring_servers"][0], groups["mail_servers"][0]
    v = hosts[monitor]
    assert v["alertmanager_smarthost"] == f"{mx}:25"
    assert v["alertmanager_email_to"] == [f"postmaster@{v['openldap_domain']}"]
    assert f"{addresses[monitor]}/32" in hosts[mx]["postfix_trusted_relays"]
    assert f"{addresses[monitor]}/32" in hosts[groups["filter_servers"][0]]["rspamd_trusted_relays"]


def test_all_in_one_watches_itself_and_mails_over_loopback():
    inventory = ROOT / "inventories" / "demo"
    hosts, groups, _, _ = wired(inventory)
    (host,) = groups["monitoring_servers"]
    v = hosts[host]
    assert v["alertmanager_smarthost"] == "localhost:25"
    assert v["prometheus_backup_max_age_hours"] == 30
    # Hà Nam Art 11.8: the yearly report before 15 November, reminded on the monitoring host
    reminders = v["prometheus_report_reminders"]
    assert [(r["due"], r["article"]) for r in reminders] == [("11-14", "Hà Nam Art 11.8")]
    assert v["postfix_trusted_relays"] == []  # nothing added: the alerts never leave the host
    assert all(v[f"exporters_{kind}"] for kind in ("clamav", "rspamd", "postfix", "webmail"))


def test_one_monitoring_host_at_most():
    with pytest.raises(WiringError, match=r"monitoring_servers lists .*one host at most"):
        layout(split(monitoring_servers=[HOSTS[4], HOSTS[3]]), ADDRESSES)


def test_a_weekly_backup_waits_a_week_before_its_alert():
    """Hà Giang Art 10.2.d backs up weekly: the overdue-backup alert waits a week, not a day."""
    assert monitoring.backup_max_age_hours({"backup": {"weekday": "friday"}}) == 7 * 24 + 6
    assert monitoring.backup_max_age_hours({}) == 30


def _policy(name):
    from congvu.policy import load_policy

    return load_policy(ROOT / "policies" / f"{name}.yml")


def _window(expr):
    """The (month, first day, last day) spans of a reminder's PromQL expression."""
    import re

    now = r"vector\(time\(\) \+ 25200\)"
    span = rf"month\({now}\) == (\d+) and day_of_month\({now}\) >= (\d+) and day_of_month\({now}\) <= (\d+)"
    return [tuple(map(int, m)) for m in re.findall(span, expr)]


def test_operators_are_reminded_of_each_periodic_report_in_the_fortnight_before_it():
    # Hà Nam Art 11.8 (before 15 November), in Vietnam's time (UTC+7), cited in Vietnamese
    (hanam,) = monitoring.report_reminders(_policy("hanam"))
    assert _window(hanam["expr"]) == [(10, 31, 31), (11, 1, 14)]
    assert hanam["due_vi"] == "14/11" and hanam["article_vi"].startswith("khoản 8 Điều 11 Quy chế")
    # Cần Thơ Art 15.1: the agencies' half-yearly reports, 05 June and 05 December
    cantho = monitoring.report_reminders(_policy("cantho"))
    assert [(r["due"], r["article"], _window(r["expr"])) for r in cantho] == [
        ("06-05", "Cần Thơ Art 15.1", [(5, 22, 31), (6, 1, 5)]),
        ("12-05", "Cần Thơ Art 15.1", [(11, 21, 31), (12, 1, 5)])]
    # Ninh Bình Art 13.6 (before 15 December); Gia Lai sets no periodic report: no reminder
    assert [r["due"] for r in monitoring.report_reminders(_policy("ninhbinh"))] == ["12-14"]
    # Hà Giang Art 14: yearly, the seed gives no day (31 December)
    (hagiang,) = monitoring.report_reminders(_policy("hagiang"))
    assert (hagiang["article"], _window(hagiang["expr"])) == ("Hà Giang Art 14", [(12, 17, 31)])
    assert monitoring.report_reminders(_policy("gialai")) == []
    # Cần Thơ Art 9.11, 15.2: the department's roll-up to the city, 15 June and 15 December, on an
    # alert of its own (its window overlaps the agencies' 05 December one)
    summary = monitoring.summary_report_reminders(_policy("cantho"))
    assert [(r["due"], r["article"], _window(r["expr"])) for r in summary] == [
        ("06-15", "Cần Thơ Art 9.11, 15.2", [(6, 1, 15)]),
        ("12-15", "Cần Thơ Art 9.11, 15.2", [(12, 1, 15)])]
    assert summary[0]["article_vi"].startswith("khoản 11 Điều 9, khoản 2 Điều 15 Quy chế")
    for name in ("hanam", "gialai", "ninhbinh", "hagiang"):
        assert monitoring.summary_report_reminders(_policy(name)) == [], name


def test_a_reminder_across_new_year_and_its_promtool_days():
    policy = {"operations": {"report_due": ["01-05", "03-01"], "report_article": None}}
    jan, mar = monitoring.report_reminders(policy)
    assert _window(jan["expr"]) == [(12, 22, 31), (1, 1, 5)] and jan["article_vi"] == ""
    # promtool's clock starts on 1 January 1970: the due day a year on, so the quiet day before exists
    assert (jan["test_due_day"], jan["test_quiet_day"]) == (369, 354)
    # February ends on the 31st in the expression: 29 February of a leap year is in the window
    assert _window(mar["expr"]) == [(2, 15, 31), (3, 1, 1)]
    assert (mar["test_due_day"], mar["test_quiet_day"]) == (59, 44)


@pytest.fixture(scope="module")
def shipped_split():
    """The split staging layout with a monitoring host on its webmail host (also its backup server and
    its front), as docs/monitoring.md ran it on staging: demo-split ships without one (CI time)."""
    _, groups, addresses, policy = wired(ROOT / "inventories" / "demo-split")
    assert not groups["monitoring_servers"]
    groups = {**groups, "monitoring_servers": ["webmail.gialai.gov.vn"]}
    catalogue = load_catalogue(ROOT / "data" / "catalogues" / "gialai.yml")
    return wiring.wire(policy, catalogue, groups, addresses), groups, addresses


def test_replication_facts_where_there_is_replication(shipped_split):
    """Standby capacity that holds the data (Hà Nam Art 10.7, Gia Lai Art 8.3.a): each of several
    directory servers exports its contextCSN, each of two mailbox servers its replicator's queues;
    nothing of the kind on the other hosts or on a layout that does not replicate."""
    hosts, groups, _ = shipped_split
    for host, v in hosts.items():
        ldap = host in groups["ldap_servers"]
        assert v["exporters_ldap_base_dn"] == ("dc=gialai,dc=gov,dc=vn" if ldap else ""), host
        assert v["exporters_dovecot_replication"] == (host in groups["mail_servers"]), host
    demo, _, _, _ = wired(ROOT / "inventories" / "demo")
    for v in demo.values():
        assert not v["exporters_ldap_base_dn"] and not v["exporters_dovecot_replication"]


def test_slapds_own_figures_on_every_directory_server(shipped_split):
    """congvu-facts reads cn=Monitor on every directory server once there is a monitoring host, one
    provider or several (docs/monitoring.md); on no other host, and nowhere without a monitoring host."""
    hosts, groups, _ = shipped_split
    for host, v in hosts.items():
        assert v["exporters_ldap_monitor"] == (host in groups["ldap_servers"]), host
    demo, _, _, _ = wired(ROOT / "inventories" / "demo")
    assert [v["exporters_ldap_monitor"] for v in demo.values()] == [True]  # one host, also the monitoring's
    unmonitored, _, _, _ = wired(ROOT / "inventories" / "demo-split")
    assert not any(v["exporters_ldap_monitor"] for v in unmonitored.values())


def test_the_first_directory_server_looks_for_doubled_addresses(shipped_split):
    """docs/directory.md: one directory server (the first; the data is replicated) looks every 15
    minutes for an address two entries hold (alert DiaChiTrung); none without a monitoring host."""
    hosts, groups, _ = shipped_split
    first = groups["ldap_servers"][0]
    assert {h for h, v in hosts.items() if v["exporters_address_base_dn"]} == {first}
    assert hosts[first]["exporters_address_base_dn"] == "dc=gialai,dc=gov,dc=vn"
    unmonitored, _, _, _ = wired(ROOT / "inventories" / "demo-split")
    assert not any(v["exporters_address_base_dn"] for v in unmonitored.values())


def test_slapds_figures_follow_the_openldap_role_switch():
    """group_vars/all/wiring.yml: an inventory that turns the monitor database off
    (openldap_monitor_enabled: false) turns its reading off too, so no "unreadable" alert follows; the
    exporters' play does not see the openldap role's default (true) and takes it as true."""
    import jinja2
    import yaml

    value = yaml.safe_load((ROOT / "group_vars" / "all" / "wiring.yml").read_text(encoding="utf-8"))[
        "exporters_ldap_monitor"]
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    env.filters["bool"] = lambda v: v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes", "on")

    def render(wired: bool, **inventory) -> str:
        return env.from_string(value).render(congvu_wiring={"exporters_ldap_monitor": wired}, **inventory)

    assert render(True) == "True" and render(True, openldap_monitor_enabled=True) == "True"
    assert render(True, openldap_monitor_enabled=False) == "False"
    assert render(False) == "False" and render(False, openldap_monitor_enabled=True) == "False"


def test_the_incident_deadline_comes_from_the_policy():
    """Gia Lai Art 8.3.d: an incident reported within 24 hours; the alert BaoCaoSuCo cites the article
    in Vietnamese. The other provinces' regulations set no deadline: no reminder."""
    gialai = monitoring.incident_report(_policy("gialai"))
    assert gialai["hours"] == 24 and gialai["article"] == "Gia Lai Art 8.3.d"
    assert gialai["article_vi"].startswith("điểm d khoản 3 Điều 8 Quy chế")
    for name in ("hanam", "cantho", "ninhbinh", "hagiang", "tuyenquang", "ninhbinh2025"):
        assert monitoring.incident_report(_policy(name)) == {}, name


def test_a_dated_switch_of_regulation_is_reminded_until_applied(tmp_path):
    """A policy switching regulation on 2026-07-01 (Hà Nam's file to the merged Ninh Bình's rules,
    docs/policy.md): the reminder SapChuyenQuyChe starts at midnight in Vietnam 14 days before, which
    is promtool's day test_first_day (07:00 in Vietnam), not its day before; once a run on or after the
    day applies the switch, no reminder. Policies without a switch have none."""
    import datetime as dt

    from congvu.policy import load_policy

    for name in ("hanam", "ninhbinh2025"):
        (tmp_path / f"{name}.yml").write_text((ROOT / "policies" / f"{name}.yml").read_text(encoding="utf-8"),
                                              encoding="utf-8")
    with (tmp_path / "hanam.yml").open("a", encoding="utf-8") as out:
        out.write("\nregulation_switch:\n  from: 2026-07-01\n  to: ninhbinh2025\n")
    reminder = monitoring.regulation_switch_reminder(load_policy(tmp_path / "hanam.yml", today="2026-05-01"))
    start = int(dt.datetime(2026, 6, 17, tzinfo=dt.timezone(dt.timedelta(hours=7))).timestamp())
    assert reminder == {"from": "2026-07-01", "from_vi": "01/07/2026", "to": "ninhbinh2025",
                        "issued_by": "Ninh Bình", "expr": f"vector(time()) >= {start}",
                        "test_first_day": (dt.date(2026, 6, 17) - dt.date(1970, 1, 1)).days,
                        "test_quiet_day": (dt.date(2026, 6, 16) - dt.date(1970, 1, 1)).days}
    assert reminder["test_first_day"] * 86400 >= start > reminder["test_quiet_day"] * 86400
    applied = load_policy(tmp_path / "hanam.yml", today="2026-07-01")
    assert monitoring.regulation_switch_reminder(applied) == {}
    for name in ("hanam", "gialai", "ninhbinh2025"):
        assert monitoring.regulation_switch_reminder(_policy(name)) == {}, name
