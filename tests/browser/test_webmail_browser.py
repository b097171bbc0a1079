"""The webmail as a civil servant uses it, in a real browser (Playwright + Debian's chromium).

Order matters (one module, tests run top to bottom): the newcomer changes the initial password,
then uses the new one to send mail; the brute-force test comes last since it blocks an account.
"""

from __future__ import annotations

import os
import secrets
import string
import time

import pytest

pytestmark = pytest.mark.skipif(not os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY"),
                                reason="browser tests run from the molecule webmail scenario")

STATE: dict = {}


def strong_password() -> str:
    """A password satisfying Hà Nam Art 8.2.b (upper, lower, digit, one of ! @ # % $ * &)."""
    body = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(10))
    return f"Moi@{body}9x"


@pytest.fixture(scope="module")
def accounts(webvars):
    return webvars["webmail_accounts"]


def test_login_page_vietnamese_https_only(webmail):
    web = webmail("login-page")
    web.page.goto(web.base.replace("https://", "http://") + "/")
    web.page.wait_for_load_state("networkidle")
    assert web.page.url.startswith("https://"), "plain HTTP must redirect to HTTPS"
    assert web.page.locator("html").get_attribute("lang") == "vi"
    assert web.page.locator("#rcmloginsubmit").inner_text().strip().lower() == "đăng nhập"
    assert "Thư điện tử công vụ" in web.page.title()
    web.shot("login")


def test_first_login_forces_a_password_change(webmail, accounts, passwords, directory):
    """Hà Nam Art 8.2.a, Gia Lai Art 9.1: the default password must be changed at first login."""
    user = accounts["newcomer"]["mail"]
    web = webmail("forced-change")
    assert directory(user, "congvuMustChangePassword")["congvuMustChangePassword"] == ["TRUE"]

    web.login(user, passwords["initial"])
    assert "_action=plugin.congvu_forcechange" in web.page.url
    assert web.page.locator("h1.congvu-title").inner_text() == "Đổi mật khẩu lần đầu"
    assert "Mật khẩu mới phải có ít nhất 8 ký tự" in web.page.locator("#congvu-rules").inner_text()
    web.shot("form")

    # nothing else is reachable: the mailbox sends back to the login page
    web.goto("?_task=mail")
    assert web.page.locator("#rcmloginuser").is_visible()
    assert web.page.locator("#messagelist").count() == 0
    web.login(user, passwords["initial"])
    assert "_action=plugin.congvu_forcechange" in web.page.url

    # a weak password is refused, the reasons in Vietnamese (Hà Nam Art 8.2.b)
    web.page.fill("#congvu-newpasswd", "abc123")
    web.page.fill("#congvu-confpasswd", "abc123")
    web.page.click("#congvu-submit")
    web.page.wait_for_load_state("networkidle")
    errors = web.page.locator("#congvu-errors").inner_text()
    web.shot("weak-refused")
    assert "Mật khẩu phải có độ dài tối thiểu 8 ký tự" in errors
    assert "Mật khẩu phải chứa ít nhất một chữ in hoa (A-Z)" in errors
    assert "ký tự đặc biệt trong số ! @ # % $ * &" in errors
    assert directory(user, "congvuMustChangePassword")["congvuMustChangePassword"] == ["TRUE"]

    # mismatching confirmation
    new = strong_password()
    web.page.fill("#congvu-newpasswd", new)
    web.page.fill("#congvu-confpasswd", new + "x")
    web.page.click("#congvu-submit")
    web.page.wait_for_load_state("networkidle")
    assert "không khớp" in web.page.locator("#congvu-errors").inner_text()

    # a strong one is accepted by slapd (ppolicy + ppm), the flag is cleared
    web.page.fill("#congvu-newpasswd", new)
    web.page.fill("#congvu-confpasswd", new)
    web.page.click("#congvu-submit")
    web.page.wait_for_load_state("networkidle")
    assert web.page.locator("#rcmloginuser").is_visible()
    assert "Đã đổi mật khẩu thành công" in web.messages()
    web.shot("changed")
    assert directory(user, "congvuMustChangePassword")["congvuMustChangePassword"] == ["FALSE"]

    # the old password no longer works, the new one opens the mailbox
    web.login(user, passwords["initial"])
    assert web.page.locator("#messagelist").count() == 0
    web.login(user, new)
    web.page.wait_for_selector("#messagelist", state="attached")
    assert "_task=mail" in web.page.url
    web.shot("inbox")
    STATE["newcomer_password"] = new


def test_password_reuse_refused_by_slapd_in_vietnamese(webmail, accounts, passwords):
    """The province rules pass, but slapd's ppolicy refuses a password from the history; the reason
    reaches the user in Vietnamese (Settings > Password, the congvu_ldap driver)."""
    current = STATE.get("newcomer_password") or pytest.skip("forced change did not complete")
    web = webmail("password-history")
    web.login(accounts["newcomer"]["mail"], current)
    web.goto("?_task=settings&_action=plugin.password")
    web.page.fill("#curpasswd", current)
    web.page.fill("#newpasswd", passwords["initial"])
    web.page.fill("#confpasswd", passwords["initial"])
    click_save(web.page)
    notice = web.messages()
    web.shot("history-refused")
    assert "Không thể lưu mật khẩu mới" in notice
    assert "đã được sử dụng" in notice or "chưa được phép đổi lại" in notice, notice


def test_message_sent_by_one_user_reaches_another(webmail, accounts, passwords):
    current = STATE.get("newcomer_password") or pytest.skip("forced change did not complete")
    subject = f"Công văn thử nghiệm {secrets.token_hex(4)}"
    sender = webmail("send")
    sender.login(accounts["newcomer"]["mail"], current)
    sender.goto("?_task=mail&_action=compose")
    to = sender.page.locator("#compose_to input:visible, .recipient-input input:visible").first
    to.type(accounts["reader"]["mail"] + ", ")
    sender.page.fill("#compose-subject", subject)
    sender.page.fill("#composebody", "Kính gửi chị Bích,\n\nĐây là thư thử nghiệm của hệ thống.\n")
    assert accounts["reader"]["mail"] in sender.page.input_value("#_to")
    sender.shot("compose")
    sender.page.locator("button.send:visible, a.send:visible").first.click()
    # Roundcube hands the message to submission (TLS, SASL as the user), then confirms or goes back
    # to the mailbox
    sender.page.wait_for_function(
        "!location.href.includes('_action=compose')"
        " || document.querySelector('#messagestack .confirmation, #messagestack .warning') !== null",
        timeout=60_000)
    sender.shot("sent")

    reader = webmail("receive")
    reader.login(accounts["reader"]["mail"], passwords["initial"])
    deadline = time.time() + 60
    while time.time() < deadline:
        reader.goto("?_task=mail&_mbox=INBOX")
        if reader.page.locator("#messagelist").get_by_text(subject).count():
            break
        time.sleep(3)
    reader.shot("inbox")
    assert reader.page.locator("#messagelist").get_by_text(subject).count() == 1


def sieve_scripts(host, user):
    """Every Sieve script of a user, as stored by Dovecot (what ManageSieve accepted)."""
    return host.run(
        f"for s in $(doveadm sieve list -u {user} | awk '{{print $1}}'); "
        f"do doveadm sieve get -u {user} $s; done").stdout


def click_save(page):
    """The form's save button ("Lưu"), wherever the skin placed it."""
    page.get_by_role("button", name="Lưu").click()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(1500)  # the answer comes back over AJAX


def test_forward_outside_the_province_is_refused(webmail, accounts, passwords, host):
    """Hà Nam Art 4.5, Ninh Bình Art 12.5: no auto-forwarding to mailboxes not issued by a state body."""
    web = webmail("forward")
    web.login(accounts["reader"]["mail"], passwords["initial"])
    web.goto("?_task=settings&_action=plugin.managesieve-forward")
    form = web.page
    # the form only offers the province's domains
    options = form.locator("#action_domain option").all_inner_texts()
    assert options == ["hanam.gov.vn"]
    form.select_option("#forward_status", "on")
    form.fill("#action_target", "ai.do@gmail.com")
    web.shot("outside")
    click_save(form)
    notice = web.messages()
    web.shot("outside-refused")
    assert "gmail.com" not in sieve_scripts(host, accounts["reader"]["mail"])
    assert "email hợp lệ" in notice or "không" in notice.lower(), notice
    assert "thành công" not in notice.lower(), notice

    # inside the province it is accepted (the server still decides whether redirects run)
    web.goto("?_task=settings&_action=plugin.managesieve-forward")
    form.select_option("#forward_status", "on")
    form.fill("#action_target", accounts["target"]["mail"].split("@")[0])
    click_save(form)
    web.shot("inside-saved")
    assert accounts["target"]["mail"] in sieve_scripts(host, accounts["reader"]["mail"])


def test_locked_account_is_told_in_vietnamese(webmail, accounts, passwords):
    """Hà Nam Art 7.1, Gia Lai Art 6.1: a locked mailbox cannot log in (mail is still delivered)."""
    web = webmail("locked")
    web.login(accounts["locked"]["mail"], passwords["initial"])
    assert web.page.locator("#messagelist").count() == 0
    assert "đang bị khoá" in web.messages()
    web.shot("locked")


def test_address_book_lists_the_province_directory(webmail, accounts, passwords):
    web = webmail("addressbook")
    web.login(accounts["reader"]["mail"], passwords["initial"])
    web.goto("?_task=addressbook")
    web.page.locator("#directorylist").get_by_text("Danh bạ", exact=True).click()
    web.page.wait_for_load_state("networkidle")
    contacts = web.page.locator("#contacts-table")
    contacts.get_by_text(accounts["target"]["name"]).first.wait_for()
    assert contacts.get_by_text(accounts["locked"]["name"]).count() == 0  # only active accounts
    contacts.get_by_text(accounts["target"]["name"]).first.click()
    frame = web.page.frame_locator("#contact-frame")
    frame.get_by_text("Sở Thông tin và Truyền thông").first.wait_for()
    web.shot("contact")


def test_repeated_wrong_passwords_lock_further_attempts(webmail, accounts, passwords, directory):
    """Webmail brute-force protection: 5 failures per account, then refused without asking IMAP;
    the directory's own lockout (ppolicy pwdMaxFailure) is reached as well."""
    user = accounts["target"]["mail"]
    web = webmail("bruteforce")
    for attempt in range(5):
        web.login(user, f"Sai#mat{attempt}khau")
        assert web.page.locator("#messagelist").count() == 0
    web.shot("failures")
    web.login(user, passwords["initial"])  # the right password, too late
    notice = web.messages()
    web.shot("blocked")
    assert web.page.locator("#messagelist").count() == 0
    assert "quá số lần cho phép" in notice, notice
    assert directory(user, "pwdAccountLockedTime").get("pwdAccountLockedTime"), "slapd did not lock"
