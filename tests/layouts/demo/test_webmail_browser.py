"""The webmail of the all-in-one layout as a civil servant uses it, in a real browser (Playwright
driving Debian's chromium, /usr/bin/chromium, never a downloaded browser).

The browser runs on the test runner, in a network namespace of its own (browser_netns.py), and
reaches the webmail host's HTTPS on its address, the province's webmail name (mail.hanam.gov.vn)
mapped to it; the directory's state is read as root over ldapi on the LDAP host, the Sieve scripts
with doveadm on the mail host. The four test accounts (webaccounts.py) are reset when the module
starts, and Roundcube's failed-login counters of these accounts and of the runner's and the
browser's addresses are cleared, so the module can run again on the same layout.
Screenshots go to $WEBMAIL_ARTIFACTS (default: artifacts/browser/ at the project root, git-ignored).

Order matters (one module, tests run top to bottom): the newcomer changes the initial password,
then uses the new one to send mail; the brute-force test comes last since it blocks an account.
"""

from __future__ import annotations

import os
import pathlib
import re
import secrets
import shlex
import string
import time

import pytest
from browser_netns import BROWSER_ADDRESS, isolated_chromium
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import sync_playwright
from webaccounts import INITIAL_PASSWORD, web_accounts

PROJECT = pathlib.Path(__file__).resolve().parents[3]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
ROUNDCUBE_DB = "/var/lib/dbconfig-common/sqlite3/roundcube/roundcube"
NOTICE = "#messagestack div:not(.loading)"  # Roundcube's answer, not its "Đang tải..." notice
STATE: dict = {}


def strong_password() -> str:
    """A password satisfying Hà Nam Art 8.2.b (upper, lower, digit, one of ! @ # % $ * &)."""
    body = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(10))
    return f"Moi@{body}9x"


# --- fixtures --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def web(stage):
    return stage.first("webmail_servers")


@pytest.fixture(scope="module")
def accounts(stage, testpeople, web):
    """The test accounts in their starting state, and no failed login counted against them or the
    test runner (its own address, and the browser's in its namespace) by the webmail's own
    brute-force limits (congvu_security, docs/webmail.md)."""
    people = web_accounts(stage, testpeople)
    runner = web.out("ip -4 route show default").split()[2]
    mails = [a.mail for a in people.values()]
    php = ("$db = new PDO('sqlite:' . $argv[1]); "
           "$t = $db->query(\"SELECT name FROM sqlite_master WHERE name = 'congvu_login_failures'\"); "
           "if ($t->fetch()) { "
           "$d = $db->prepare('DELETE FROM congvu_login_failures WHERE subject = ?'); "
           "foreach (array_slice($argv, 2) as $s) { $d->execute([$s]); } }")
    web.out(f"php -r {shlex.quote(php)} {ROUNDCUBE_DB} {runner} {BROWSER_ADDRESS} " + " ".join(mails))
    return people


@pytest.fixture(scope="session")
def artifacts():
    path = pathlib.Path(os.environ.get("WEBMAIL_ARTIFACTS", PROJECT / "artifacts" / "browser"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def server(stage, web):
    """(webmail name, address): the browser maps the province's webmail name to the host."""
    return stage.wiring[web.name]["roundcube_server_name"], web.address


@pytest.fixture(scope="module")
def browser(server):
    """Chromium in a network namespace of its own (browser_netns.py: the other CI lane's containers
    coming and going would otherwise abort its requests with ERR_NETWORK_CHANGED)."""
    name, address = server
    with isolated_chromium(CHROMIUM) as executable, sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=executable,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {name} {address}"],
        )
        yield chromium
        chromium.close()


class Webmail:
    """One browser context (one person at one computer) on the webmail."""

    def __init__(self, browser, server, artifacts, label):
        self.base = f"https://{server[0]}"
        # chromium does not know the staging CA; test_webmail.py's curl verifies the chain instead
        self.context = browser.new_context(ignore_https_errors=True, locale="vi-VN",
                                           viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(30_000)
        self.page = self.context.new_page()
        self.artifacts = artifacts
        self.label = label
        self.shots = 0

    def shot(self, what):
        self.shots += 1
        name = re.sub(r"[^a-z0-9-]+", "-", f"{self.label}-{self.shots:02d}-{what}".lower())
        self.page.screenshot(path=str(self.artifacts / f"{name}.png"), full_page=True)

    def goto(self, query=""):
        self.page.goto(f"{self.base}/{query}")
        self.page.wait_for_load_state("networkidle")

    def submit(self, button):
        """Click a form's submit button and wait for the page the server answers with. A failed
        login is answered no sooner than a second later (the plugin's failure floor): waiting only
        for "networkidle" would return on the old page, and the next goto would abort the post."""
        with self.page.expect_navigation():
            self.page.click(button)
        self.page.wait_for_load_state("networkidle")

    def login(self, user, password):
        self.goto()
        self.page.fill("#rcmloginuser", user)
        self.page.fill("#rcmloginpwd", password)
        self.submit("#rcmloginsubmit")

    def messages(self):
        """Texts of the notices Roundcube shows (the message stack), once one that is not a "loading"
        notice is there ('' if none comes)."""
        try:
            self.page.wait_for_selector(NOTICE, timeout=15_000)
        except PlaywrightTimeoutError:
            return ""
        return " ".join(self.page.locator(NOTICE).all_inner_texts())

    def close(self):
        self.context.close()


@pytest.fixture()
def webmail(browser, server, artifacts, request):
    opened = []
    failed_before = request.session.testsfailed

    def open_session(label=None):
        session = Webmail(browser, server, artifacts, label or request.node.name)
        opened.append(session)
        return session

    yield open_session
    # the call phase has been reported by now: a screenshot of every session of a failed test
    failed = request.session.testsfailed > failed_before
    for session in opened:
        if failed:
            session.shot("failure")
        session.close()


def must_change(testpeople, account) -> list[str]:
    return testpeople.attr(account.dn, "congvuMustChangePassword")


# --- the tests -------------------------------------------------------------------------------------

def test_login_page_vietnamese_https_only(webmail):
    web = webmail("login-page")
    web.page.goto(web.base.replace("https://", "http://") + "/")
    web.page.wait_for_load_state("networkidle")
    assert web.page.url.startswith("https://"), "plain HTTP must redirect to HTTPS"
    assert web.page.locator("html").get_attribute("lang") == "vi"
    assert web.page.locator("#rcmloginsubmit").inner_text().strip().lower() == "đăng nhập"
    assert "Thư điện tử công vụ" in web.page.title()
    web.shot("login")


def test_first_login_forces_a_password_change(webmail, accounts, testpeople):
    """Hà Nam Art 8.2.a, Gia Lai Art 9.1: the default password must be changed at first login."""
    newcomer = accounts["newcomer"]
    user = newcomer.mail
    web = webmail("forced-change")
    assert must_change(testpeople, newcomer) == ["TRUE"]

    web.login(user, INITIAL_PASSWORD)
    assert "_action=plugin.congvu_forcechange" in web.page.url
    assert web.page.locator("h1.congvu-title").inner_text() == "Đổi mật khẩu lần đầu"
    assert "Mật khẩu mới phải có ít nhất 8 ký tự" in web.page.locator("#congvu-rules").inner_text()
    web.shot("form")

    # nothing else is reachable: the mailbox sends back to the login page
    web.goto("?_task=mail")
    assert web.page.locator("#rcmloginuser").is_visible()
    assert web.page.locator("#messagelist").count() == 0
    web.login(user, INITIAL_PASSWORD)
    assert "_action=plugin.congvu_forcechange" in web.page.url

    # a weak password is refused, the reasons in Vietnamese (Hà Nam Art 8.2.b)
    web.page.fill("#congvu-newpasswd", "abc123")
    web.page.fill("#congvu-confpasswd", "abc123")
    web.submit("#congvu-submit")
    errors = web.page.locator("#congvu-errors").inner_text()
    web.shot("weak-refused")
    assert "Mật khẩu phải có độ dài tối thiểu 8 ký tự" in errors
    assert "Mật khẩu phải chứa ít nhất một chữ in hoa (A-Z)" in errors
    assert "ký tự đặc biệt trong số ! @ # % $ * &" in errors
    assert must_change(testpeople, newcomer) == ["TRUE"]

    # mismatching confirmation
    new = strong_password()
    web.page.fill("#congvu-newpasswd", new)
    web.page.fill("#congvu-confpasswd", new + "x")
    web.submit("#congvu-submit")
    assert "không khớp" in web.page.locator("#congvu-errors").inner_text()

    # a strong one is accepted by slapd (ppolicy + ppm), the flag is cleared
    web.page.fill("#congvu-newpasswd", new)
    web.page.fill("#congvu-confpasswd", new)
    web.submit("#congvu-submit")
    assert web.page.locator("#rcmloginuser").is_visible()
    assert "Đã đổi mật khẩu thành công" in web.messages()
    web.shot("changed")
    assert must_change(testpeople, newcomer) == ["FALSE"]

    # the old password no longer works, the new one opens the mailbox
    web.login(user, INITIAL_PASSWORD)
    assert web.page.locator("#messagelist").count() == 0
    web.login(user, new)
    web.page.wait_for_selector("#messagelist", state="attached")
    assert "_task=mail" in web.page.url
    web.shot("inbox")
    STATE["newcomer_password"] = new


def test_password_reuse_refused_by_slapd_in_vietnamese(webmail, accounts):
    """The province rules pass, but slapd's ppolicy refuses a password from the history; the reason
    reaches the user in Vietnamese (Settings > Password, the congvu_ldap driver)."""
    current = STATE.get("newcomer_password")
    assert current, "the forced change (test_first_login_forces_a_password_change) did not complete"
    web = webmail("password-history")
    web.login(accounts["newcomer"].mail, current)
    web.goto("?_task=settings&_action=plugin.password")
    web.page.fill("#curpasswd", current)
    web.page.fill("#newpasswd", INITIAL_PASSWORD)
    web.page.fill("#confpasswd", INITIAL_PASSWORD)
    click_save(web.page)
    notice = web.messages()
    web.shot("history-refused")
    assert "Không thể lưu mật khẩu mới" in notice
    assert "đã được sử dụng" in notice or "chưa được phép đổi lại" in notice, notice


def test_message_sent_by_one_user_reaches_another(webmail, accounts):
    current = STATE.get("newcomer_password")
    assert current, "the forced change (test_first_login_forces_a_password_change) did not complete"
    subject = f"Công văn thử nghiệm {secrets.token_hex(4)}"
    reader = accounts["reader"].mail
    sender = webmail("send")
    sender.login(accounts["newcomer"].mail, current)
    sender.goto("?_task=mail&_action=compose")
    to = sender.page.locator("#compose_to input:visible, .recipient-input input:visible").first
    to.type(reader + ", ")
    sender.page.fill("#compose-subject", subject)
    sender.page.fill("#composebody", "Kính gửi chị Bích,\n\nĐây là thư thử nghiệm của hệ thống.\n")
    assert reader in sender.page.input_value("#_to")
    sender.shot("compose")
    sender.page.locator("button.send:visible, a.send:visible").first.click()
    # Roundcube hands the message to submission (TLS, SASL as the user), then confirms or goes back
    # to the mailbox
    sender.page.wait_for_function(
        "!location.href.includes('_action=compose')"
        " || document.querySelector('#messagestack .confirmation, #messagestack .warning') !== null",
        timeout=60_000)
    sender.shot("sent")

    receiver = webmail("receive")
    receiver.login(reader, INITIAL_PASSWORD)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        receiver.goto("?_task=mail&_mbox=INBOX")
        if receiver.page.locator("#messagelist").get_by_text(subject).count():
            break
        time.sleep(3)
    receiver.shot("inbox")
    assert receiver.page.locator("#messagelist").get_by_text(subject).count() == 1


def sieve_scripts(stage, user):
    """Every Sieve script of a user, as stored by Dovecot on the mail host (what ManageSieve accepted)."""
    return stage.first("mail_servers").run(
        f"for s in $(doveadm sieve list -u {user} | awk '{{print $1}}'); "
        f"do doveadm sieve get -u {user} $s; done").stdout_text


def click_save(page):
    """The form's save button ("Lưu"), wherever the skin placed it; the answer comes back over AJAX."""
    page.get_by_role("button", name="Lưu").click()
    page.wait_for_load_state("networkidle")
    page.wait_for_selector(NOTICE, timeout=30_000)


def test_forward_outside_the_province_is_refused(stage, web, webmail, accounts):
    """Hà Nam Art 4.5, Ninh Bình Art 12.5: no auto-forwarding to mailboxes not issued by a state body."""
    reader = accounts["reader"].mail
    browser = webmail("forward")
    browser.login(reader, INITIAL_PASSWORD)
    browser.goto("?_task=settings&_action=plugin.managesieve-forward")
    form = browser.page
    # the form only offers the state domains of the wiring (the province's own among them)
    options = form.locator("#action_domain option").all_inner_texts()
    assert sorted(options) == sorted(stage.wiring[web.name]["roundcube_forward_allowed_domains"])
    assert stage.policy["domains"]["primary"] in options and "gmail.com" not in options
    form.select_option("#forward_status", "on")
    form.fill("#action_target", "ai.do@gmail.com")
    browser.shot("outside")
    click_save(form)
    notice = browser.messages()
    browser.shot("outside-refused")
    assert "gmail.com" not in sieve_scripts(stage, reader)
    assert "email hợp lệ" in notice or "không" in notice.lower(), notice
    assert "thành công" not in notice.lower(), notice

    # inside the province it is accepted (the server still decides whether redirects run)
    target = accounts["target"].mail
    browser.goto("?_task=settings&_action=plugin.managesieve-forward")
    form.select_option("#forward_status", "on")
    form.select_option("#action_domain", target.split("@")[1])
    form.fill("#action_target", target.split("@")[0])
    click_save(form)
    browser.shot("inside-saved")
    assert target in sieve_scripts(stage, reader)


def test_locked_account_is_told_in_vietnamese(webmail, accounts):
    """Hà Nam Art 7.1, Gia Lai Art 6.1: a locked mailbox cannot log in (mail is still delivered)."""
    web = webmail("locked")
    web.login(accounts["locked"].mail, INITIAL_PASSWORD)
    assert web.page.locator("#messagelist").count() == 0
    assert "đang bị khóa" in web.messages()
    web.shot("locked")


def search_contacts(web, text: str) -> None:
    """Quick search in the address book; returns once the list shows the answer (rows naming ``text``,
    or none at all). A search takes seconds on a loaded machine: wait for Roundcube's answer."""
    with web.page.expect_response(lambda r: "_action=search" in r.url, timeout=90_000):
        web.page.fill("#searchform", text)
        web.page.keyboard.press("Enter")
    web.page.wait_for_function(
        "t => { const rows = [...document.querySelectorAll('#contacts-table tbody tr')];"
        " return rows.length === 0 || rows.every(r => r.textContent.includes(t)); }", arg=text)


def test_address_book_lists_the_province_directory(stage, webmail, accounts):
    """Cần Thơ Art 4.2.đ: the directory shows each person's full name and agency ("Danh bạ")."""
    web = webmail("addressbook")
    web.login(accounts["reader"].mail, INITIAL_PASSWORD)
    web.goto("?_task=addressbook&_source=congvu")  # the "Danh bạ" address book (ldap_public)
    assert web.page.locator("#directorylist .selected").inner_text().strip() == "Danh bạ"
    web.page.wait_for_function("document.querySelectorAll('#contacts-table tbody tr').length > 0",
                               timeout=90_000)
    web.shot("list")
    contacts = web.page.locator("#contacts-table")
    # the directory holds the demo province's hundreds of people: find the test accounts by name
    search_contacts(web, accounts["locked"].name)
    assert contacts.get_by_text(accounts["locked"].name).count() == 0  # only active accounts
    target = accounts["target"]
    search_contacts(web, target.name)
    contacts.get_by_text(target.name).first.click()
    frame = web.page.frame_locator("#contact-frame")
    frame.get_by_text(stage.catalogue[target.org].name).first.wait_for()
    web.shot("contact")


def test_address_book_finds_an_agency_mailing_list_by_name(stage, webmail, accounts, testpeople):
    """An agency's mailing list (Cần Thơ Art 11.5, docs/lists.md) is in "Danh bạ" under its name, with
    its address; the list's members are not shown."""
    token = secrets.token_hex(3)
    name = f"Danh sách kiểm thử {token}"
    org = accounts["reader"].org
    dn = f"cn=kiemthu-ds-{token},{testpeople.org_dn(org)}"
    mail = f"kiemthu-ds-{token}@{testpeople.mail_domain(org)}"
    testpeople.root("ldapadd", check=True, stdin=(
        f"dn: {dn}\nobjectClass: congvuMailList\ncn: kiemthu-ds-{token}\nmail: {mail}\n"
        f"displayName: {name}\nmember: {accounts['reader'].dn}\n"))
    testpeople.forget(dn)
    web = webmail("addressbook-list")
    web.login(accounts["reader"].mail, INITIAL_PASSWORD)
    web.goto("?_task=addressbook&_source=congvu")
    web.page.wait_for_function("document.querySelectorAll('#contacts-table tbody tr').length > 0",
                               timeout=90_000)
    search_contacts(web, name)
    contacts = web.page.locator("#contacts-table")
    contacts.get_by_text(name).first.click()
    web.page.frame_locator("#contact-frame").get_by_text(mail).first.wait_for()
    web.shot("list")


def test_repeated_wrong_passwords_lock_further_attempts(stage, webmail, accounts, testpeople):
    """Webmail brute-force protection: 5 failures per account, then refused without asking IMAP;
    the directory's own lockout (ppolicy pwdMaxFailure, Hà Nam's 5 attempts) is reached as well."""
    target = accounts["target"]
    assert int(stage.policy["passwords"]["user"]["lockout_attempts"]) <= 5
    web = webmail("bruteforce")
    for attempt in range(5):
        web.login(target.mail, f"Sai#mat{attempt}khau")
        assert web.page.locator("#messagelist").count() == 0
    web.shot("failures")
    web.login(target.mail, INITIAL_PASSWORD)  # the right password, too late
    notice = web.messages()
    web.shot("blocked")
    assert web.page.locator("#messagelist").count() == 0
    assert "quá số lần cho phép" in notice, notice
    assert testpeople.attr(target.dn, "pwdAccountLockedTime"), "slapd did not lock"
