"""The roundcube role on the mail core: packages, configuration checks, HTTPS only with HSTS and
hardened cookies, Vietnamese login page, secrets never served, TLS verified towards the mail servers.
The user-level behaviour (forced change, sending, forwarding, lockout) is in tests/browser/."""

from __future__ import annotations

import json

import pytest

CURL = "curl -sS --max-time 20 --cacert /etc/ssl/congvu/ca.crt"


@pytest.fixture(scope="module")
def base(hostvars):
    return f"https://{hostvars['webmail_hostname']}"


@pytest.mark.parametrize("name", ["nginx", "php8.2-fpm"])
def test_services_running(host, name):
    service = host.service(name)
    assert service.is_running
    assert service.is_enabled


def test_configuration_checks_pass(host):
    assert host.run("nginx -t").rc == 0
    assert host.run("php-fpm8.2 -t").rc == 0


def test_http_redirects_to_https(host, hostvars):
    out = host.check_output(
        f"curl -sS -o /dev/null -w '%{{http_code}} %{{redirect_url}}' http://{hostvars['webmail_hostname']}/?_task=mail")
    assert out == f"301 https://{hostvars['webmail_hostname']}/?_task=mail"


def test_login_page_https_hsts_cookies_vietnamese(host, base):
    # curl verifies the chain against the internal CA and the host name
    headers = host.check_output(f"{CURL} -D - -o /tmp/login.html {base}/").lower()
    assert headers.startswith("http/2 200")
    assert "strict-transport-security: max-age=31536000" in headers
    cookie = next(line for line in headers.splitlines() if line.startswith("set-cookie: congvu_sessid="))
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "content-language: vi" in headers
    page = host.file("/tmp/login.html").content_string
    assert 'lang="vi"' in page
    assert "Thư điện tử công vụ" in page
    assert "Đăng nhập" in page


def test_static_assets_also_carry_hsts(host, base):
    headers = host.check_output(f"{CURL} -D - -o /dev/null {base}/skins/elastic/images/logo.svg").lower()
    assert headers.startswith("http/2 200")
    assert "strict-transport-security" in headers


@pytest.mark.parametrize("path", [
    "/plugins/congvu_security/config.inc.php",
    "/plugins/password/config.inc.php",
    "/plugins/managesieve/config.inc.php",
    "/plugins/congvu_security/localization/vi_VN.inc",
    "/plugins/congvu_security/lib/congvu_directory.php",
    "/config/config.inc.php",
    "/program/js/../../config/config.inc.php",
    "/.htaccess",
])
def test_secrets_and_code_are_not_served(host, base, path):
    code = host.check_output(f"{CURL} --path-as-is -o /dev/null -w '%{{http_code}}' '{base}{path}'")
    assert code in ("403", "404"), f"{path} answered {code}"


@pytest.mark.parametrize("path", [
    "/etc/roundcube/config.inc.php",
    "/etc/roundcube/plugins/congvu_security/config.inc.php",
    "/etc/roundcube/congvu-des-key",
])
def test_secret_files_readable_by_php_only(host, path):
    f = host.file(path)
    assert f.user == "root" and f.group == "www-data" and f.mode == 0o640


def test_roundcube_settings(host, hostvars):
    dump = host.check_output(
        "php -r 'include \"/etc/roundcube/config.inc.php\"; "
        "foreach ([\"password\", \"managesieve\", \"congvu_security\"] as $p) "
        "{ include \"/etc/roundcube/plugins/$p/config.inc.php\"; $all[$p] = $config; } "
        "include \"/etc/roundcube/config.inc.php\"; $all[\"main\"] = $config; echo json_encode($all);'")
    cfg = json.loads(dump)
    main = cfg["main"]
    name = hostvars["webmail_hostname"]
    assert main["language"] == "vi_VN"
    assert main["imap_host"] == f"ssl://{name}:993"
    assert main["smtp_host"] in (f"ssl://{name}:465", f"tls://{name}:587")
    for key in ("imap_conn_options", "smtp_conn_options"):
        ssl = main[key]["ssl"]
        assert ssl["verify_peer"] is True and ssl["verify_peer_name"] is True
        assert ssl["cafile"] == "/etc/ssl/congvu/ca.crt"
    assert main["use_https"] is True and main["session_samesite"] == "Strict"
    assert len(main["des_key"]) == 24
    assert main["plugins"][-1] == "congvu_security"
    # Hà Nam Art 4.5: forwarding only to the province's domains, no raw editor to get around it
    sieve = cfg["managesieve"]
    assert sieve["managesieve_domains"] == hostvars["webmail_domains"]
    assert sieve["managesieve_raw_editor"] is False
    assert sieve["managesieve_host"] == f"tls://{name}"
    assert cfg["password"]["password_driver"] == "congvu_ldap"
    # Hà Nam Art 8.2.b rules handed to the plugin
    rules = cfg["congvu_security"]["congvu_password_rules"]
    assert rules["min_length"] == 8 and set(rules["classes"]) == {"upper", "lower", "digit", "special"}


def test_imaps_certificate_verifies_against_the_internal_ca(host, hostvars):
    # what Roundcube's stream context does: a wrong CA or name would fail here
    name = hostvars["webmail_hostname"]
    php = (f"$c = stream_context_create([\"ssl\" => [\"verify_peer\" => true, \"verify_peer_name\" => true, "
           f"\"cafile\" => \"/etc/ssl/congvu/ca.crt\"]]); "
           f"$s = stream_socket_client(\"ssl://{name}:993\", $e, $m, 10, STREAM_CLIENT_CONNECT, $c); "
           f"echo $s ? fgets($s) : \"FAIL $m\";")
    out = host.check_output(f"php -r '{php}'")
    assert out.startswith("* OK"), out


def test_service_account_reads_the_address_book(host, hostvars):
    # the LDAP lookup Roundcube's "Danh bạ" makes (docs/directory.md): full name and agency
    secret = host.check_output("php -r 'include \"/etc/roundcube/config.inc.php\"; "
                               "echo $config[\"ldap_public\"][\"congvu\"][\"bind_pass\"];'")
    base_dn = ",".join(f"dc={p}" for p in hostvars["webmail_domains"][0].split("."))
    name = hostvars["webmail_hostname"]
    out = host.run(
        f"printf %s '{secret}' | LDAPTLS_CACERT=/etc/ssl/congvu/ca.crt "
        f"ldapsearch -LLL -ZZ -o ldif-wrap=no -H ldap://{name} "
        f"-D cn=roundcube,ou=services,{base_dn} -y /dev/stdin -b {base_dn} "
        f"'(&(objectClass=congvuMailAccount)(congvuAccountState=active))' displayName o mail")
    assert out.rc == 0, out.stderr
    reader = hostvars["webmail_accounts"]["reader"]["mail"]
    assert f"mail: {reader}" in out.stdout
    assert "displayName::" in out.stdout or "displayName: " in out.stdout
    locked = hostvars["webmail_accounts"]["locked"]["mail"]
    assert f"mail: {locked}" not in out.stdout


PLUGIN_LIB = "/usr/share/roundcube/plugins/congvu_security/lib"


@pytest.mark.parametrize(("password", "expected"), [
    ("abc123", ["too_short", "missing_upper", "missing_special"]),
    ("ABCDEFGH1!", ["missing_lower"]),
    ("Abcdefgh!", ["missing_digit"]),
    ("Abcdefg12^", ["missing_special"]),  # ^ is not one of Hà Nam's ! @ # % $ * &
    ("Mật khẩu1!A", ["invalid_character"]),
    ("Nguyenvanan1!", ["same_as_username"]),
    ("Moi@Hanam2026", []),
])
def test_province_rules_in_php(host, password, expected):
    """The plugin's pre-check applies Hà Nam Art 8.2.b like congvu/passwords.py does."""
    php = (f"require '{PLUGIN_LIB}/congvu_password_rules.php'; "
           "$r = ['min_length' => 8, 'classes' => ['upper', 'lower', 'digit', 'special'], "
           "'special_chars' => '!@#%$*&']; "
           "echo json_encode(array_column(congvu_password_rules::violations($argv[1], $r, "
           "'nguyenvanan@hanam.gov.vn'), 0));")
    out = host.run("php -r %s %s", php, password)
    assert out.rc == 0, out.stderr
    assert json.loads(out.stdout) == expected


@pytest.mark.parametrize(("errno", "ppolicy", "diag", "reason"), [
    (19, 6, "Password fails quality checking policy", "too_short"),
    (19, 8, "Password is in history of old passwords", "in_history"),
    (19, 5, "Password fails quality checking policy", "quality"),
    (19, None, 'Password for dn="uid=a" is too short (6/8)', "too_short"),
    (19, 5, 'Password for dn="uid=a" has not reached the minimum number of characters (1) '
     "for class upperCase", "missing_upper"),
    (19, 5, 'Password for dn="uid=a" contains 1 forbidden characters in x', "invalid_character"),
    (19, 7, "Password is too young to change", "too_young"),
    (49, None, "", "invalid_credentials"),
    (50, None, "", "mod_not_allowed"),
])
def test_slapd_refusals_map_to_reasons(host, errno, ppolicy, diag, reason):
    """ppolicy response errors and ppm diagnostics become the plugin's (Vietnamese) reason codes."""
    php = (f"require '{PLUGIN_LIB}/congvu_directory.php'; "
           "echo congvu_directory::reason_from_result((int) $argv[1], "
           "$argv[2] === '' ? null : (int) $argv[2], $argv[3]);")
    out = host.run("php -r %s %s %s %s", php, str(errno), "" if ppolicy is None else str(ppolicy), diag)
    assert out.rc == 0, out.stderr
    assert out.stdout == reason


def test_every_reason_has_a_vietnamese_text(host):
    php = ("$labels = $messages = []; "
           "include '/usr/share/roundcube/plugins/congvu_security/localization/vi_VN.inc'; "
           "$vi = $messages + $labels; $labels = $messages = []; "
           "include '/usr/share/roundcube/plugins/congvu_security/localization/en_US.inc'; "
           "$en = $messages + $labels; echo json_encode([array_keys($vi), array_keys($en), "
           "array_keys(array_intersect_assoc($vi, $en))]);")
    vi, en, same = json.loads(host.check_output("php -r %s", php))
    assert sorted(vi) == sorted(en)
    assert same == [], f"untranslated: {same}"
    codes = ["too_short", "missing_upper", "missing_lower", "missing_digit", "missing_special",
             "invalid_character", "same_as_username", "quality", "in_history", "too_young", "locked",
             "invalid_credentials", "mod_not_allowed", "connect", "unknown", "dictionary", "repeated"]
    assert all(f"reason_{c}" in vi for c in codes)
