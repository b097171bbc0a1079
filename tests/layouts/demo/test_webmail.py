"""The roundcube role on the all-in-one layout: packages, configuration checks, HTTPS only with HSTS
and hardened cookies, Vietnamese login page, secrets never served, TLS verified towards the mail and
directory servers. HTTP is spoken from the test runner with curl (the webmail's name mapped to the
host's address, the chain and the name verified against the staging CA); the configuration is read on
the webmail host. The user-level behaviour (forced change, sending, forwarding, lockout) is in
test_webmail_browser.py.
"""

from __future__ import annotations

import json
import shlex
import subprocess

import pytest
from webaccounts import web_accounts


@pytest.fixture(scope="module")
def web(stage):
    return stage.first("webmail_servers")


@pytest.fixture(scope="module")
def name(stage, web):
    """The province's webmail name (the policy's webmail.host: Hà Nam's https://mail.hanam.gov.vn)."""
    return stage.wiring[web.name]["roundcube_server_name"]


@pytest.fixture(scope="module")
def curl(stage, web, name):
    def run(*args: str, check: bool = True) -> str:
        cmd = ["curl", "-sS", "--max-time", "20", "--cacert", stage.ca_file,
               "--resolve", f"{name}:443:{web.address}", "--resolve", f"{name}:80:{web.address}", *args]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
        if check:
            assert out.returncode == 0, out.stderr
        return out.stdout
    return run


@pytest.mark.parametrize("unit", ["nginx", "php8.2-fpm"])
def test_services_running(web, unit):
    assert web.run(f"systemctl is-active {unit}").returncode == 0
    assert web.run(f"systemctl is-enabled {unit}").returncode == 0


def test_configuration_checks_pass(web):
    assert web.run("nginx -t").returncode == 0
    assert web.run("php-fpm8.2 -t").returncode == 0


def test_http_redirects_to_https(curl, name):
    out = curl("-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", f"http://{name}/?_task=mail")
    assert out == f"301 https://{name}/?_task=mail"


def test_login_page_https_hsts_cookies_vietnamese(curl, name, tmp_path):
    # curl verifies the chain against the internal CA and the host name
    page_file = tmp_path / "login.html"
    headers = curl("-D", "-", "-o", str(page_file), f"https://{name}/").lower()
    assert headers.startswith("http/2 200")
    assert "strict-transport-security: max-age=31536000" in headers
    cookie = next(line for line in headers.splitlines() if line.startswith("set-cookie: congvu_sessid="))
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "content-language: vi" in headers
    page = page_file.read_text(encoding="utf-8")
    assert 'lang="vi"' in page
    assert "Đăng nhập" in page


def test_login_page_names_the_province_and_its_support(stage, web, curl, name):
    """Issue 18: the login page and the title bar name the province's mail system, and the support
    link mails its postmaster."""
    wiring = stage.wiring[web.name]
    page = curl(f"https://{name}/")
    product = wiring["roundcube_product_name"]
    assert product.startswith("Thư điện tử công vụ tỉnh "), product
    assert f"<title>{product}" in page, page[:400]
    assert f'href="{wiring["roundcube_support_url"]}"' in page


def test_login_page_shows_the_provinces_logo(stage, curl, name, tmp_path):
    """Issue 18: the logo the inventory gives (roundcube_logo_file: inventories/demo/files/logo.svg) is
    the login page's logo and icon, served by the webmail host itself, the same bytes, with the static
    files' headers (HSTS, nosniff). The split layout keeps Roundcube's own:
    tests/layouts/demo-split/test_split.py."""
    page = curl(f"https://{name}/")
    assert '<img src="congvu-logo.svg" id="logo"' in page, page[:600]
    assert '<link rel="shortcut icon" href="congvu-logo.svg">' in page
    served = tmp_path / "logo.svg"
    headers = curl("-D", "-", "-o", str(served), f"https://{name}/congvu-logo.svg").lower()
    assert headers.startswith("http/2 200") and "content-type: image/svg+xml" in headers, headers
    assert "strict-transport-security" in headers and "x-content-type-options: nosniff" in headers
    assert served.read_bytes() == (stage.inventory / "files" / "logo.svg").read_bytes()


def test_static_assets_also_carry_hsts(curl, name):
    headers = curl("-D", "-", "-o", "/dev/null", f"https://{name}/skins/elastic/images/logo.svg").lower()
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
def test_secrets_and_code_are_not_served(curl, name, path):
    code = curl("--path-as-is", "-o", "/dev/null", "-w", "%{http_code}", f"https://{name}{path}")
    assert code in ("403", "404"), f"{path} answered {code}"


@pytest.mark.parametrize("path", [
    "/etc/roundcube/config.inc.php",
    "/etc/roundcube/plugins/congvu_security/config.inc.php",
])
def test_secret_files_readable_by_php_only(web, path):
    assert web.out(f"stat -c '%U %G %a' {path}").split() == ["root", "www-data", "640"]


def test_session_key_comes_from_the_inventory(stage, web):
    # the site sets roundcube_des_key (vault, else generated once into <inventory>/.secrets/), so every
    # webmail host of the province shares it; the per-host key file is only made when it is empty
    key = php(web, 'include "/etc/roundcube/config.inc.php"; echo $config["des_key"];')
    assert key == stage.secret("roundcube_des_key").split()[0]
    assert web.run("test -e /etc/roundcube/congvu-des-key").returncode != 0


def php(web, code: str, *args: str) -> str:
    return web.out(f"php -r {shlex.quote(code)} " + " ".join(shlex.quote(a) for a in args))


def test_roundcube_settings(stage, web, name):
    dump = php(web, 'include "/etc/roundcube/config.inc.php"; '
                    'foreach (["password", "managesieve", "congvu_security"] as $p) '
                    '{ include "/etc/roundcube/plugins/$p/config.inc.php"; $all[$p] = $config; } '
                    'include "/etc/roundcube/config.inc.php"; $all["main"] = $config; '
                    'echo json_encode($all);')
    cfg = json.loads(dump)
    main = cfg["main"]
    wiring = stage.wiring[web.name]
    mail_host = wiring["roundcube_imap_host"]
    assert main["language"] == "vi_VN"
    assert main["imap_host"] == f"ssl://{mail_host}:993"
    assert main["smtp_host"] in (f"ssl://{mail_host}:465", f"tls://{mail_host}:587")
    for key in ("imap_conn_options", "smtp_conn_options"):
        ssl = main[key]["ssl"]
        assert ssl["verify_peer"] is True and ssl["verify_peer_name"] is True
        assert ssl["cafile"] == "/etc/ssl/congvu/ca.crt"
    assert main["use_https"] is True and main["session_samesite"] == "Strict"
    assert len(main["des_key"]) == 24
    assert main["plugins"][-1] == "congvu_security"
    # Hà Nam Art 4.5: forwarding only to state domains, no raw editor to get around it
    sieve = cfg["managesieve"]
    assert sieve["managesieve_domains"] == wiring["roundcube_forward_allowed_domains"]
    assert stage.policy["domains"]["primary"] in sieve["managesieve_domains"]
    assert sieve["managesieve_raw_editor"] is False
    assert sieve["managesieve_host"] == f"tls://{mail_host}"
    assert cfg["password"]["password_driver"] == "congvu_ldap"
    # Hà Nam Art 8.2.b rules handed to the plugin
    rules = cfg["congvu_security"]["congvu_password_rules"]
    assert rules["min_length"] == 8 and set(rules["classes"]) == {"upper", "lower", "digit", "special"}


def test_imaps_certificate_verifies_against_the_internal_ca(stage, web):
    # what Roundcube's stream context does: a wrong CA or name would fail here
    mail_host = stage.wiring[web.name]["roundcube_imap_host"]
    out = php(web, '$c = stream_context_create(["ssl" => ["verify_peer" => true, "verify_peer_name" => true, '
                   '"cafile" => "/etc/ssl/congvu/ca.crt"]]); '
                   f'$s = stream_socket_client("ssl://{mail_host}:993", $e, $m, 10, '
                   'STREAM_CLIENT_CONNECT, $c); '
                   'echo $s ? fgets($s) : "FAIL $m";')
    assert out.startswith("* OK"), out


def test_service_account_reads_the_address_book(stage, web, testpeople):
    # the LDAP lookup Roundcube's "Danh bạ" makes (docs/directory.md): full name and agency, active only
    accounts = web_accounts(stage, testpeople)
    secret = php(web, 'include "/etc/roundcube/config.inc.php"; '
                      'echo $config["ldap_public"]["congvu"]["bind_pass"];')
    # the filter as Roundcube has it (active accounts and the mailing lists: docs/webmail.md)
    flt = php(web, 'include "/etc/roundcube/config.inc.php"; '
                   'echo $config["ldap_public"]["congvu"]["filter"];').strip()
    assert "(objectClass=congvuMailList)" in flt and "(congvuAccountState=active)" in flt, flt
    wiring = stage.wiring[web.name]
    base_dn = wiring["roundcube_ldap_base_dn"]
    out = web.run(
        f"LDAPTLS_CACERT=/etc/ssl/congvu/ca.crt ldapsearch -LLL -ZZ -o ldif-wrap=no "
        f"-H {wiring['roundcube_ldap_uri']} -D cn=roundcube,ou=services,{base_dn} -y /dev/stdin -b {base_dn} "
        f"{shlex.quote(flt)} displayName o mail", stdin=secret)
    assert out.returncode == 0, out.stderr_text
    assert f"mail: {accounts['reader'].mail}" in out.stdout_text
    assert "displayName::" in out.stdout_text or "displayName: " in out.stdout_text
    assert f"mail: {accounts['locked'].mail}" not in out.stdout_text


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
def test_province_rules_in_php(web, password, expected):
    """The plugin's pre-check applies Hà Nam Art 8.2.b like congvu/passwords.py does."""
    out = php(web, f"require '{PLUGIN_LIB}/congvu_password_rules.php'; "
                   "$r = ['min_length' => 8, 'classes' => ['upper', 'lower', 'digit', 'special'], "
                   "'special_chars' => '!@#%$*&']; "
                   "echo json_encode(array_column(congvu_password_rules::violations($argv[1], $r, "
                   "'nguyenvanan@hanam.gov.vn'), 0));", password)
    assert json.loads(out) == expected


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
def test_slapd_refusals_map_to_reasons(web, errno, ppolicy, diag, reason):
    """ppolicy response errors and ppm diagnostics become the plugin's (Vietnamese) reason codes."""
    out = php(web, f"require '{PLUGIN_LIB}/congvu_directory.php'; "
                   "echo congvu_directory::reason_from_result((int) $argv[1], "
                   "$argv[2] === '' ? null : (int) $argv[2], $argv[3]);",
              str(errno), "" if ppolicy is None else str(ppolicy), diag)
    assert out == reason


def test_every_reason_has_a_vietnamese_text(web):
    vi, en, same = json.loads(php(
        web, "$labels = $messages = []; "
             "include '/usr/share/roundcube/plugins/congvu_security/localization/vi_VN.inc'; "
             "$vi = $messages + $labels; $labels = $messages = []; "
             "include '/usr/share/roundcube/plugins/congvu_security/localization/en_US.inc'; "
             "$en = $messages + $labels; echo json_encode([array_keys($vi), array_keys($en), "
             "array_keys(array_intersect_assoc($vi, $en))]);"))
    assert sorted(vi) == sorted(en)
    assert same == [], f"untranslated: {same}"
    codes = ["too_short", "missing_upper", "missing_lower", "missing_digit", "missing_special",
             "invalid_character", "same_as_username", "quality", "in_history", "too_young", "locked",
             "invalid_credentials", "mod_not_allowed", "connect", "unknown", "dictionary", "repeated"]
    assert all(f"reason_{c}" in vi for c in codes)
