"""congvu-facts (roles/exporters/templates/usr/local/lib/congvu/congvu-facts.j2, docs/monitoring.md):
slapd's own figures from its monitor database, cn=Monitor, the webmail's PHP-FPM pool from its
status page and Rspamd's own figures from its controller's /metrics, as node-exporter textfile metrics.

The template is rendered the way the exporters role renders it (its settings at the top, the code in a
raw block) and loaded as a module; the samples in fixtures/monitor/ are real: the script's own ldapsearch on
Debian 12's slapd 2.5.13, the pool's ?json page of Debian 12's PHP-FPM 8.2 and Debian 12's Rspamd
3.4's /metrics after one message was scanned (the all-in-one staging layout)."""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import threading
import time
import types
from pathlib import Path

import jinja2
import pytest

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "roles" / "exporters" / "templates" / "usr" / "local" / "lib" / "congvu" / "congvu-facts.j2"
SAMPLES = Path(__file__).resolve().parent / "fixtures" / "monitor"
#: The ten kinds of operation slapd 2.5 counts (servers/slapd/back-monitor/operation.c).
OPS = ("abandon", "add", "bind", "compare", "delete", "extended", "modify", "modrdn", "search", "unbind")


def load(tmp_path: Path, **settings) -> types.ModuleType:
    """congvu-facts rendered with the exporters role's settings (defaults: a directory server with the
    monitor database and nothing else) and loaded as a module."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["to_json"] = json.dumps
    values = {"ansible_managed": "test", "exporters_textfile_dir": str(tmp_path),
              "exporters_clamav": False, "exporters_clamav_db_dir": "/var/lib/clamav",
              "exporters_ldap_base_dn": "", "exporters_address_base_dn": "",
              "exporters_dovecot_replication": False,
              "exporters_ldap_monitor": True, "exporters_webmail": False,
              "exporters_phpfpm_status_uri": "http://127.0.0.1:8081/fpm-status",
              "exporters_rspamd": False, "exporters_rspamd_metrics_uri": "http://127.0.0.1:11334/metrics",
              "exporters_rspamd_password_file": "/etc/rspamd/controller-readonly.password", **settings}
    source = env.from_string(TEMPLATE.read_text(encoding="utf-8")).render(**values)
    module = types.ModuleType("congvu_facts")
    exec(compile(source, str(TEMPLATE), "exec"), module.__dict__)
    return module


@pytest.fixture
def facts(tmp_path):
    return load(tmp_path)


def sample(name: str) -> str:
    return (SAMPLES / name).read_text(encoding="utf-8")


def metrics(lines: list[str]) -> dict[str, float]:
    """``name{labels}`` -> value of text-format lines, checking the format on the way: every sample
    is announced by a HELP and a TYPE of its metric, and no series is written twice."""
    typed: dict[str, str] = {}
    found: dict[str, float] = {}
    for line in lines:
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("gauge", "counter"), line
            typed[name] = kind
            continue
        match = re.fullmatch(r'([a-z_]+)(\{[a-z]+="[a-z_]+"\})? (-?[0-9.]+)', line)
        assert match, f"not a text-format sample: {line!r}"
        assert match.group(1) in typed, f"{line!r} has no TYPE before it"
        if typed[match.group(1)] == "counter":
            assert match.group(1).endswith("_total"), line
        key = match.group(1) + (match.group(2) or "")
        assert key not in found, f"{key} twice"
        found[key] = float(match.group(3))
    return found


def test_the_figures_of_a_real_cn_monitor(facts):
    """Every figure the docs name, from slapd 2.5.13's own answer (docs/monitoring.md): the all-in-one
    staging host half an hour after slapd started, its accounts loaded."""
    found = metrics(facts.ldap_monitor_figures(sample("slapd-2.5.13.ldif")))
    # the five open connections (the reading's own among them; cn=Connection <n> entries, one each)
    assert found["congvu_ldap_connections_current"] == 5
    assert found["congvu_ldap_connections_total"] == 284
    for op in OPS:
        started = found[f'congvu_ldap_operations_initiated_total{{op="{op}"}}']
        done = found[f'congvu_ldap_operations_completed_total{{op="{op}"}}']
        assert 0 <= done <= started, op
    assert found['congvu_ldap_operations_completed_total{op="bind"}'] == 1159
    assert found['congvu_ldap_operations_completed_total{op="add"}'] == 389
    # the reading itself: a search started, not yet completed
    assert found['congvu_ldap_operations_initiated_total{op="search"}'] == 16412
    assert found['congvu_ldap_operations_completed_total{op="search"}'] == 16411
    assert found['congvu_ldap_waiters{kind="read"}'] == 5 and found['congvu_ldap_waiters{kind="write"}'] == 0
    assert found['congvu_ldap_threads{kind="max"}'] == 16 and found['congvu_ldap_threads{kind="open"}'] == 11
    assert found['congvu_ldap_threads{kind="active"}'] == 1  # the one answering
    assert found["congvu_ldap_sent_entries_total"] == 13071
    assert found["congvu_ldap_sent_bytes_total"] == 2016979
    assert found["congvu_ldap_start_time_seconds"] == 1_796_613_657  # 2026-12-07 03:20:57 UTC
    assert len([k for k in found if k.startswith("congvu_ldap_operations_")]) == 2 * len(OPS)


def test_names_are_matched_without_case(facts):
    """slapd writes cn=Monitor's DNs and attribute names in its own case; neither is a contract."""
    text = sample("slapd-2.5.13.ldif")
    lowered = []
    for line in text.splitlines():
        name, sep, value = line.partition(": ")
        lowered.append(name.lower() + sep + (value.lower() if name == "dn" else value))
    assert facts.ldap_monitor_figures("\n".join(lowered)) == facts.ldap_monitor_figures(text)


@pytest.mark.parametrize("text", [
    "",
    # what anyone but local root gets: nothing (the access rules), or the bare root entry
    "dn: cn=Monitor\n",
    # the connections without the operations
    "dn: cn=Current,cn=Connections,cn=Monitor\nmonitorCounter: 1\n\n"
    "dn: cn=Total,cn=Connections,cn=Monitor\nmonitorCounter: 5\n",
])
def test_an_answer_without_the_counters_is_unreadable(facts, text):
    with pytest.raises(ValueError, match="cn=Monitor"):
        facts.ldap_monitor_figures(text)


def test_an_operation_without_its_counters_is_unreadable(facts):
    text = sample("slapd-2.5.13.ldif").replace("monitorOpCompleted: 1159\n", "")
    with pytest.raises(ValueError, match="cn=bind,cn=operations"):
        facts.ldap_monitor_figures(text)


def test_the_reading_is_root_over_ldapi_and_says_when_it_fails(facts, monkeypatch):
    """One ldapsearch as local root over ldapi (the only identity cn=Monitor's access rules let in),
    asking for the operational attributes; a failure writes congvu_ldap_monitor_ok 0 and no figure."""
    calls = []

    def answer(argv):
        calls.append(argv)
        return sample("slapd-2.5.13.ldif")

    monkeypatch.setattr(facts, "run", answer)
    good = metrics(facts.ldap_monitor())
    argv = calls[0]
    assert argv[:1] == ["ldapsearch"] and argv[argv.index("-Y") + 1] == "EXTERNAL"
    assert argv[argv.index("-H") + 1] == "ldapi:///" and argv[argv.index("-b") + 1] == "cn=Monitor"
    assert {"monitorCounter", "monitorOpInitiated", "monitorOpCompleted"} <= set(argv)
    assert good["congvu_ldap_monitor_ok"] == 1 and good["congvu_ldap_connections_total"] == 284

    for failure in (subprocess.CalledProcessError(255, "ldapsearch"),  # slapd down
                    subprocess.TimeoutExpired("ldapsearch", 30),  # slapd not answering
                    FileNotFoundError("ldapsearch")):
        def broken(argv, failure=failure):
            raise failure

        monkeypatch.setattr(facts, "run", broken)
        assert metrics(facts.ldap_monitor()) == {"congvu_ldap_monitor_ok": 0}, failure
    monkeypatch.setattr(facts, "run", lambda argv: "dn: cn=Monitor\n")  # no monitor figures
    assert metrics(facts.ldap_monitor()) == {"congvu_ldap_monitor_ok": 0}


def test_the_file_is_written_on_directory_servers_only(tmp_path, monkeypatch):
    facts = load(tmp_path)
    monkeypatch.setattr(facts, "run", lambda argv: sample("slapd-2.5.13.ldif"))
    facts.main()
    written = (tmp_path / "congvu_ldap.prom").read_text(encoding="utf-8")
    assert "congvu_ldap_monitor_ok 1\n" in written and written.endswith("\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["congvu_ldap.prom"]  # no temporary file left

    other = tmp_path / "other"
    other.mkdir()
    facts = load(other, exporters_ldap_monitor=False, exporters_clamav=True,
                 exporters_clamav_db_dir=str(tmp_path / "clamav"))
    facts.main()
    assert sorted(p.name for p in other.iterdir()) == ["congvu_clamav.prom"]


def test_the_php_fpm_pools_figures(tmp_path):
    """congvu_phpfpm.prom from the pool's status page (?json) of Debian 12's PHP-FPM 8.2, as the
    webmail host's loopback status server gives it (fixtures/monitor/php-fpm-8.2.json)."""
    facts = load(tmp_path, exporters_webmail=True)
    assert facts.PHPFPM_STATUS_URI == "http://127.0.0.1:8081/fpm-status"
    status = json.loads(sample("php-fpm-8.2.json"))
    found = metrics(facts.phpfpm_figures(status))
    pool = '{pool="roundcube"}'
    assert found[f"congvu_phpfpm_processes_active{pool}"] == status["active processes"]
    assert found[f"congvu_phpfpm_processes_idle{pool}"] == status["idle processes"]
    assert found[f"congvu_phpfpm_accepted_connections_total{pool}"] == status["accepted conn"]
    assert found[f"congvu_phpfpm_max_children_reached_total{pool}"] == status["max children reached"]
    assert found[f"congvu_phpfpm_listen_queue{pool}"] == status["listen queue"]
    assert len(found) == len(facts.PHPFPM)


def test_an_unreadable_pool_says_so(tmp_path):
    """No status page (PHP-FPM down, a wrong address): congvu_phpfpm_up 0 and no other figure."""
    facts = load(tmp_path, exporters_webmail=True, exporters_phpfpm_status_uri="http://127.0.0.1:9/fpm-status")
    assert metrics(facts.phpfpm()) == {"congvu_phpfpm_up": 0}
    assert load(tmp_path).PHPFPM_STATUS_URI == ""  # not a webmail host: not read at all


def families(lines: list[str]) -> dict[str, dict[str, float]]:
    """family -> {labels: value} of text-format lines with any labels, checking that each family is
    announced by one HELP and one TYPE before its samples and that no series is written twice."""
    helped, typed, found = set(), {}, {}
    for line in lines:
        meta = re.fullmatch(r"# (HELP|TYPE) ([a-z_]+) (.+)", line)
        if meta:
            seen = helped if meta.group(1) == "HELP" else typed
            assert meta.group(2) not in seen, f"{line!r}: a second {meta.group(1)}"
            if meta.group(1) == "HELP":
                helped.add(meta.group(2))
            else:
                assert meta.group(3) in ("gauge", "counter"), line
                typed[meta.group(2)] = meta.group(3)
            continue
        match = re.fullmatch(r'([a-z_]+)(\{(?:[a-z]+="[^"]*",?)+\})? (-?[0-9.e+-]+)', line)
        assert match, f"not a text-format sample: {line!r}"
        name = match.group(1)
        assert name in typed and name in helped, f"{line!r} has no HELP and TYPE before it"
        series = found.setdefault(name, {})
        assert (match.group(2) or "") not in series, f"{line!r} twice"
        series[match.group(2) or ""] = float(match.group(3))
    return found


def test_rspamds_own_figures(tmp_path):
    """congvu_rspamd.prom from Rspamd 3.4's /metrics (fixtures/monitor/rspamd-3.4.metrics: one message
    scanned, given the "add header" action): Rspamd's own families under their names, but the
    configuration's id (a new series at each reload) and OpenMetrics' "# EOF"; its process start time,
    a name the node exporter has for itself, renamed."""
    facts = load(tmp_path, exporters_rspamd=True)
    assert facts.RSPAMD_METRICS_URI == "http://127.0.0.1:11334/metrics"
    text = sample("rspamd-3.4.metrics")
    lines = facts.rspamd_figures(text)
    found = families(lines)
    assert found["rspamd_scanned_total"] == {"": 1}
    assert found["rspamd_actions_total"]['{type="add header"}'] == 1
    assert set(found["rspamd_actions_total"]) == {f'{{type="{a}"}}' for a in (
        "reject", "soft reject", "rewrite subject", "add header", "greylist", "no action")}
    assert found["rspamd_spam_total"] == {"": 1} and found["rspamd_ham_total"] == {"": 0}
    assert found["rspamd_statfiles_revision"].keys() == {'{symbol="BAYES_SPAM",type="redis"}',
                                                         '{symbol="BAYES_HAM",type="redis"}'}
    start = re.search(r"^process_start_time_seconds (\d+)$", text, re.M).group(1)
    assert found["rspamd_start_time_seconds"] == {"": float(start)}
    assert "rspamd_config" not in found and "rspamd_read_only" not in found
    assert not any(name.startswith("process_") for name in found)
    assert all(name.startswith("rspamd_") for name in found) and "# EOF" not in lines
    assert "# HELP rspamd_ham_total Messages classified as ham." in lines  # Rspamd 3.4 says "spam"
    # a client timestamp (which the textfile collector refuses) is dropped, the sample kept
    stamped = facts.rspamd_figures(text.replace("_scanned_total 1", "_scanned_total 1 1796626435000"))
    assert "rspamd_scanned_total 1" in stamped


@pytest.mark.parametrize("text", [
    "",
    "# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\nnode_load1 0.5\n",  # another page
    "<html><body>401 Unauthorized</body></html>\n",  # not the text format
])
def test_a_page_that_is_not_rspamds_metrics_is_unreadable(tmp_path, text):
    with pytest.raises(ValueError):
        load(tmp_path, exporters_rspamd=True).rspamd_figures(text)


class _Controller(http.server.BaseHTTPRequestHandler):
    """Rspamd's controller as far as the reading sees it: /metrics for the right Password header."""
    password = ""

    def do_GET(self):
        right = self.path == "/metrics" and self.headers.get("Password") == self.password
        body = sample("rspamd-3.4.metrics").encode() if right else b'{"error":"Unauthorized"}'
        self.send_response(200 if right else 401)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_reading_uses_the_read_only_password_and_says_when_it_fails(tmp_path):
    """The password comes from the root-only file the rspamd role makes; a wrong one (401), no file or
    no controller writes congvu_rspamd_up 0 and no figure."""
    secret = tmp_path / "controller-readonly.password"
    secret.write_text("Rk3b9TqLw2\n", encoding="utf-8")
    _Controller.password = "Rk3b9TqLw2"
    server = http.server.HTTPServer(("127.0.0.1", 0), _Controller)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    uri = f"http://127.0.0.1:{server.server_port}/metrics"
    try:
        facts = load(tmp_path, exporters_rspamd=True, exporters_rspamd_metrics_uri=uri,
                     exporters_rspamd_password_file=str(secret))
        good = families(facts.rspamd())
        assert good["congvu_rspamd_up"] == {"": 1} and good["rspamd_scanned_total"] == {"": 1}
        facts.main()
        assert "congvu_rspamd_up 1\n" in (tmp_path / "congvu_rspamd.prom").read_text(encoding="utf-8")
        secret.write_text("wrong-password\n", encoding="utf-8")
        assert families(facts.rspamd()) == {"congvu_rspamd_up": {"": 0}}
        secret.unlink()
        assert families(facts.rspamd()) == {"congvu_rspamd_up": {"": 0}}
    finally:
        server.shutdown()
        server.server_close()
    secret.write_text("Rk3b9TqLw2\n", encoding="utf-8")
    assert families(facts.rspamd()) == {"congvu_rspamd_up": {"": 0}}  # no controller
    assert load(tmp_path).RSPAMD_METRICS_URI == ""  # not a filter host: not read at all


# --- addresses two entries hold (docs/directory.md; alert DiaChiTrung) ------------------------------

DOUBLED = """dn: uid=vanthu.sotc,o=sotc,ou=organisations,dc=x,dc=gov,dc=vn
mail: vanthu.sotc@x.gov.vn

dn: uid=nguoila,o=sct,ou=organisations,dc=x,dc=gov,dc=vn
mail: nguoila@x.gov.vn
congvuMailAlias: Vanthu.SoTC@x.gov.vn
congvuMailAlias: nguoila.cu@x.gov.vn

dn: cn=ds-sotc,o=sotc,ou=organisations,dc=x,dc=gov,dc=vn
mail: ds-sotc@x.gov.vn
congvumailalias: nguoila.cu@x.gov.vn

dn: uid=khac,o=sotc,ou=organisations,dc=x,dc=gov,dc=vn
mail: khac@x.gov.vn
congvuMailAlias: khac.cu@x.gov.vn
"""


def test_addresses_two_entries_hold_are_found_in_any_mix(tmp_path):
    """A mail equal to another entry's alias (in another case), and an alias two entries hold (a
    person and a list); an entry's own aliases are not doubles."""
    facts = load(tmp_path, exporters_address_base_dn="dc=x,dc=gov,dc=vn")
    assert facts.doubled_addresses(DOUBLED) == ["nguoila.cu@x.gov.vn", "vanthu.sotc@x.gov.vn"]
    assert facts.doubled_addresses(DOUBLED.split("\n\ndn: cn=ds-sotc")[0]) == ["vanthu.sotc@x.gov.vn"]


def test_the_address_check_reads_the_whole_tree_as_root_and_says_when_it_fails(tmp_path, monkeypatch):
    facts = load(tmp_path, exporters_address_base_dn="dc=x,dc=gov,dc=vn", exporters_ldap_monitor=False)
    asked = []

    def answer(argv):
        asked.append(argv)
        return DOUBLED
    monkeypatch.setattr(facts, "run", answer)
    good = "\n".join(facts.addresses())
    assert asked[0][asked[0].index("-b") + 1] == "dc=x,dc=gov,dc=vn" and "ldapi:///" in asked[0]
    assert "pr=1000/noprompt" in asked[0] and "mail" in asked[0] and "congvuMailAlias" in asked[0]
    assert "congvu_directory_addresses_ok 1" in good.splitlines()
    assert "congvu_directory_doubled_addresses 2" in good.splitlines()
    assert 'congvu_directory_doubled_address{address="vanthu.sotc@x.gov.vn"} 1' in good

    def fail(argv):
        raise subprocess.CalledProcessError(255, argv)
    monkeypatch.setattr(facts, "run", fail)
    kept = "\n".join(facts.addresses(good))  # unreadable: ok 0, the last figures kept (the alert goes on)
    assert "congvu_directory_addresses_ok 0" in kept
    assert 'congvu_directory_doubled_address{address="vanthu.sotc@x.gov.vn"} 1' in kept
    assert "congvu_directory_addresses_ok 1" not in kept.splitlines()
    # written by main() on the directory server that has the setting, then not again for 14 minutes
    monkeypatch.setattr(facts, "run", answer)
    facts.main()
    written = tmp_path / "congvu_addresses.prom"
    assert "congvu_directory_doubled_addresses 2" in written.read_text()
    asked.clear()
    facts.main()
    assert asked == []
    os.utime(written, (time.time() - 15 * 60, time.time() - 15 * 60))
    facts.main()
    assert len(asked) == 1
    # a host without the setting writes none, and removes one it wrote before
    other = tmp_path / "other"
    other.mkdir()
    (other / "congvu_addresses.prom").write_text("congvu_directory_addresses_ok 1\n")
    quiet = load(other, exporters_ldap_monitor=False)
    quiet.main()
    assert not (other / "congvu_addresses.prom").exists()
