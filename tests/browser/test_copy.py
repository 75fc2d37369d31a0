"""Small comforts around the keys: Copy buttons (app.js) beside the setup key, the recovery
key, an invitation link and a password link; "Download as text file" for the recovery key;
a pasted code with a space in it. Without JavaScript there is no button, and every key is
plain, selectable text.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.pages import Authenticator, LoginPage, TeamPage
from tests.conftest import SECRET

KEY_FILE = "ozyops-recovery-key.txt"


@pytest.fixture
def clipboard(page, live_server):
    """Let the live server's pages use the clipboard, as a person's browser allows when
    asked; returns a function that reads what is on it."""
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server)
    return lambda: page.evaluate("() => navigator.clipboard.readText()")


def copy(page, what, element):
    """Click Copy beside `element` and check the page says it worked."""
    button = page.get_by_role("button", name=f"Copy {what}", exact=True)
    expect(button).to_have_text("Copy")
    # The button sits right after the text it copies (so a screen reader meets them together).
    assert element.evaluate("(el, b) => el.nextElementSibling === b", button.element_handle())
    button.click()
    expect(page.get_by_role("status").filter(has_text="Copied.")).to_be_visible()


def downloaded_text(page):
    with page.expect_download() as info:
        page.get_by_role("link", name="Download as text file").click()
    download = info.value
    assert download.suggested_filename == KEY_FILE
    return download.path().read_text(encoding="utf-8")


def test_copy_the_setup_key_and_recovery_key_and_download_the_key(page, factory, clock, clipboard):
    user = factory.user(kind="trades", email="bob@builders.example")
    security = LoginPage(page).open().log_in_to_dashboard(user.email).go_to_security()
    security.enable()

    copy(page, "setup key", security.setup_key)
    setup_key = security.setup_key.inner_text().strip()
    assert clipboard() == setup_key
    phone = Authenticator.type_in(clipboard(), clock)  # pasted into the authenticator app

    # The code pasted from the phone's app, with a space in the middle as some apps show it.
    code = phone.code()
    page.evaluate("code => navigator.clipboard.writeText(code)", f"{code[:3]} {code[3:]}")
    security.code.focus()
    page.keyboard.press("ControlOrMeta+V")
    expect(security.code).to_have_value(f"{code[:3]} {code[3:]}")
    page.get_by_role("button", name="Verify and Enable").click()
    key = security.shown_recovery_key()

    copy(page, "recovery key", security.recovery_key)
    assert clipboard() == key

    text = downloaded_text(page)
    assert key in text.splitlines(), text
    assert user.email in text


def test_without_javascript_keys_are_plain_text_and_the_download_still_works(
    nojs_page, factory, clock
):
    page = nojs_page
    user = factory.user(kind="trades", email="bob@builders.example")
    security = LoginPage(page).open().log_in_to_dashboard(user.email).go_to_security()
    security.enable()

    copy_buttons = page.get_by_role("button", name=re.compile(r"^Copy"))
    expect(copy_buttons).to_have_count(0)
    expect(security.setup_key).to_be_visible()
    assert security.setup_key.evaluate("e => getComputedStyle(e).userSelect") in ("all", "text")
    phone = security.type_setup_key(clock)

    key = security.verify_expecting_recovery_key(phone.code())
    expect(copy_buttons).to_have_count(0)
    expect(security.recovery_key).to_be_visible()
    assert security.recovery_key.evaluate("e => getComputedStyle(e).userSelect") != "none"
    assert key in downloaded_text(page).splitlines()


def test_copy_an_invitation_link_and_a_password_link(page, factory, clock, clipboard):
    account = factory.account(kind="healthcare", name="Bright Smile Dental")
    owner = factory.user(
        account_id=account, email="dana@example.com", name="Dana Owner", role="owner", mfa=True
    )
    factory.user(account_id=account, email="sam@example.com", name="Sam Park", role="member")
    code_page = LoginPage(page).open().log_in_expecting_code(owner.email)
    code_page.enter_expecting_dashboard(Authenticator(SECRET, clock).code())
    team = TeamPage(page).open()

    invitation = team.add_member().add("Robin Nurse", "robin@example.com")
    copy(page, "invitation link", page.locator("#invitation-link"))
    assert clipboard() == invitation

    member = TeamPage(page).open().manage("Sam Park")
    password_link = member.create_password_link()
    copy(page, "password link", page.locator("#password-link"))
    assert clipboard() == password_link
    assert password_link != invitation
