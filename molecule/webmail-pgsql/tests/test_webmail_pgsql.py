"""The roundcube role on PostgreSQL (roundcube_db_type: pgsql): Roundcube's schema is in the database
and up to date, no SQLite file is involved, a real HTTPS login (curl with the login form's token)
creates the user's row in PostgreSQL and shows the mailbox in Vietnamese, the congvu_security plugin's
failure counter works on PostgreSQL, and every text of core and the enabled plugins has Vietnamese
(checked against the installed package, so an upgrade that adds strings fails here)."""

from __future__ import annotations

import json
import os
import pathlib
import re
import shlex

import pytest
import yaml

SCENARIO = pathlib.Path(__file__).resolve().parents[1]
CONTAINER = "mail.hanam.gov.vn"  # the platform: named as the host it stands for
testinfra_hosts = [f"podman://{CONTAINER}"]

VARS = yaml.safe_load((SCENARIO / "molecule.yml").read_text())["provisioner"]["inventory"]["host_vars"]
VARS = VARS[CONTAINER]
NAME = VARS["webmail_hostname"]
BASE = f"https://{NAME}"
CURL = "curl -sS --max-time 30 --cacert /etc/ssl/congvu/ca.crt"
JAR = "/tmp/pgsql-login.cookies"
PLUGIN = "/usr/share/roundcube/plugins/congvu_security"
# (Vietnamese, English) of texts Debian's vi_VN lacks, as the mailbox page shows them
COMPLETED_ON_THE_MAILBOX_PAGE = [
    ("Chế độ tối", "Dark mode"),
    ("Tùy chọn danh sách", "List options"),
    ("Danh sách thư", "Email Messages Listing"),
    # client labels of the dialogs, looked up before any plugin runs
    ('"confirmationtitle":"Bạn có chắc chắn?"', '"Are you sure..."'),
    ('"alerttitle":"Chú ý"', '"Attention"'),
    ('"continue":"Tiếp tục"', '"Continue"'),
]


@pytest.fixture(scope="module")
def initial_password():
    """The accounts' password (converge.yml generated it into the ephemeral directory)."""
    secrets = pathlib.Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "secrets"
    return "Cv#7" + (secrets / "initial").read_text().split()[0]


def psql(host, sql):
    """Run SQL as PostgreSQL's superuser in Roundcube's database; rows as lists of columns."""
    out = host.run("cd / && runuser -u postgres -- psql -X -tA -F '|' -d %s -c %s",
                   VARS["webmail_pgsql_database"], sql)
    assert out.rc == 0, out.stderr
    return [line.split("|") for line in out.stdout.splitlines() if line]


def login(host, user, password):
    """Roundcube's login as a browser does it: GET the form (session cookie + request token), POST
    the credentials with the token, follow the redirect. Returns (final URL, page HTML)."""
    host.run(f"rm -f {JAR}")
    form = host.check_output(f"{CURL} -c {JAR} -b {JAR} {BASE}/")
    token = re.search(r'name="_token" value="([^"]+)"', form).group(1)
    data = {"_token": token, "_task": "login", "_action": "login", "_timezone": "Asia/Ho_Chi_Minh",
            "_url": "", "_user": user, "_pass": password}
    args = " ".join(f"--data-urlencode {shlex.quote(f'{k}={v}')}" for k, v in data.items())
    out = host.run(f"{CURL} -c {JAR} -b {JAR} -L -o /tmp/pgsql-page.html -w '%{{url_effective}}' "
                   f"{args} '{BASE}/?_task=login'")
    assert out.rc == 0, out.stderr
    return out.stdout, host.file("/tmp/pgsql-page.html").content_string


def test_database_settings(host):
    dump = host.check_output("php -r 'include \"/etc/roundcube/config.inc.php\"; "
                             "echo json_encode([$config[\"db_dsnw\"] ?? \"\", $config[\"des_key\"]]);'")
    dsn, des_key = json.loads(dump)
    assert dsn.startswith("pgsql://" + VARS["webmail_pgsql_user"] + ":")
    assert dsn.endswith(f"@{VARS['webmail_pgsql_host']}:5432/{VARS['webmail_pgsql_database']}")
    assert len(des_key) == 24  # shared by the webmail hosts of the database


def test_schema_is_in_postgresql_and_current(host):
    tables = {row[0]: row[1] for row in psql(
        host, "SELECT tablename, tableowner FROM pg_tables WHERE schemaname = 'public'")}
    for table in ("users", "session", "identities", "contacts", "contactgroups", "searches", "cache",
                  "cache_index", "cache_messages", "dictionary", "filestore", "responses", "system"):
        assert table in tables, f"{table} missing: {sorted(tables)}"
        # owned by Roundcube's login role, so a later schema upgrade (updatedb) can alter it
        assert tables[table] == VARS["webmail_pgsql_user"]
    # the schema version is the newest upgrade script the package ships: nothing left to apply
    newest = host.check_output(
        "ls /usr/share/roundcube/SQL/postgres | sed -n 's/\\.sql$//p' | sort -n | tail -1")
    assert psql(host, "SELECT value FROM system WHERE name = 'roundcube-version'") == [[newest]]


def test_no_sqlite_is_involved(host):
    assert not host.file("/var/lib/dbconfig-common/sqlite3/roundcube").exists
    assert not host.package("roundcube-sqlite3").is_installed
    assert host.package("roundcube-pgsql").is_installed
    found = host.run("find /var/lib/roundcube /var/lib/dbconfig-common /etc/roundcube /var/log/roundcube "
                     "-xdev \\( -name '*.db' -o -name '*.sqlite*' -o -name 'roundcube' -type f \\) -print")
    assert found.stdout.strip() == ""
    assert "sqlite" not in host.file("/etc/roundcube/config.inc.php").content_string.split("// --- mail")[0]


def test_wrong_password_is_counted_in_postgresql(host):
    """congvu_security's failure counter (its own table) works on PostgreSQL; the refusal is Vietnamese."""
    user = VARS["webmail_accounts"]["reader"]["mail"]
    psql(host, "DELETE FROM congvu_login_failures" if psql(
        host, "SELECT 1 FROM pg_tables WHERE tablename = 'congvu_login_failures'") else "SELECT 1")
    url, page = login(host, user, "Sai-mat-khau-9!")
    assert "_task=mail" not in url
    assert "Đăng nhập" in page
    rows = psql(host, f"SELECT kind, subject FROM congvu_login_failures WHERE subject = '{user}'")
    assert rows == [["account", user]]


def test_https_login_creates_the_user_row(host, initial_password):
    user = VARS["webmail_accounts"]["reader"]["mail"]
    psql(host, f"DELETE FROM users WHERE username = '{user}'")  # a row only a login can recreate
    url, page = login(host, user, initial_password)
    assert "_task=mail" in url, f"login did not reach the mailbox: {url}\n{page[-2000:]}"
    assert 'id="messagelist"' in page
    rows = psql(host, f"SELECT username, mail_host, language FROM users WHERE username = '{user}'")
    assert rows == [[user, NAME, "vi_VN"]]
    # the session is stored in PostgreSQL too (what lets several webmail hosts share it)
    assert int(psql(host, "SELECT count(*) FROM session")[0][0]) >= 1
    # the successful login cleared the account's failures (congvu_security on PostgreSQL)
    failures = psql(host, "SELECT count(*) FROM congvu_login_failures "
                          f"WHERE kind = 'account' AND subject = '{user}'")
    assert failures == [["0"]]
    # texts the stock vi_VN lacks, completed by congvu_security (docs/webmail.md)
    for vietnamese, english in COMPLETED_ON_THE_MAILBOX_PAGE:
        assert vietnamese in page, vietnamese
        assert english not in page, english


def test_mustchange_account_gets_the_change_form(host, initial_password):
    """The forced first-login change (Hà Nam Art 8.2.a) runs on PostgreSQL sessions as well."""
    url, page = login(host, VARS["webmail_accounts"]["newcomer"]["mail"], initial_password)
    assert "plugin.congvu_forcechange" in url
    assert "Đổi mật khẩu lần đầu" in page


def test_every_text_is_vietnamese_in_the_installed_package(host):
    """Every en_US text of Roundcube and of the enabled plugins (managesieve, password) resolves to a
    Vietnamese one: the package's vi_VN or congvu_security's completion. Run against the installed
    package, so a Roundcube upgrade that adds strings fails here (and in tests/unit)."""
    php = (
        "$R = '/usr/share/roundcube/'; $L = $R . 'program/localization/'; "
        "$C = '" + PLUGIN + "/localization/upstream/vi_VN/'; $missing = []; "
        "function rc_texts(...$files) { $all = []; foreach ($files as $f) { $labels = $messages = []; "
        "if (is_file($f)) include $f; $all = array_merge($all, $labels, $messages); } return $all; } "
        "$sets = ['core' => [rc_texts($L . 'en_US/labels.inc', $L . 'en_US/messages.inc'), "
        "rc_texts($L . 'vi_VN/labels.inc', $L . 'vi_VN/messages.inc', $C . 'core.inc')]]; "
        "foreach (['managesieve', 'password'] as $p) { $d = $R . \"plugins/$p/localization/\"; "
        "$sets[$p] = [rc_texts($d . 'en_US.inc'), rc_texts($d . 'vi_VN.inc', $C . \"$p.inc\")]; } "
        "foreach ($sets as $name => [$en, $vi]) foreach ($en as $k => $v) "
        "if (!isset($vi[$k]) || trim($vi[$k]) === '') $missing[] = \"$name.$k\"; "
        "echo json_encode($missing);"
    )
    missing = json.loads(host.check_output("php -r %s", php))
    assert missing == [], f"{len(missing)} texts without Vietnamese: {missing[:40]}"
