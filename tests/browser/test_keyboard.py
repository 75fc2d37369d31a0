"""MFA enrolment with the keyboard alone (Tab, Shift+Tab, Enter, Space and typing), as
someone who cannot use a mouse does it, with a screen reader's needs checked on the way:
focus moves to the code field when it appears, errors are announced, fields are labelled.
"""

import re

from playwright.sync_api import expect

from tests.browser.pages import DashboardPage, LoginPage, focused

WRONG_CODE = "That code didn't work"
MAX_TABS = 25  # more than every link and button before the one wanted


def tab_to(page, wanted, backwards=False):
    """Press Tab (or Shift+Tab) until `wanted(focused element)` holds; returns how many
    presses it took. Fails with the path focus took when it never gets there."""
    path = []
    for presses in range(1, MAX_TABS + 1):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        now = focused(page)
        path.append(f"{now['tag']}#{now['id']}[{now['name'][:30]}]")
        if wanted(now):
            return presses
    raise AssertionError(f"never reached by Tab: focus went {' -> '.join(path)}")


def is_button(name):
    return lambda el: el["tag"] == "button" and el["name"] == name


def announced(locator):
    """The message is in a live region: role=alert or status, or inside aria-live."""
    return locator.evaluate(
        """el => ['alert', 'status'].includes(el.getAttribute('role'))
                 || !!el.closest('[aria-live]:not([aria-live=off])')"""
    )


def test_enrolment_with_the_keyboard_only(page, factory, clock):
    user = factory.user(kind="healthcare", email="dr.keys@example.com")
    security = LoginPage(page).open().log_in_to_security(user.email)
    keyboard = page.keyboard

    # Required, so the setup is on screen at once (help/mfa.md), and focus is in its code
    # field, so the code can be typed at once.
    security.setup_shown()
    expect(security.code).to_be_focused()
    assert focused(page)["id"] == security.code.get_attribute("id")
    expect(security.code).to_have_accessible_name("Authentication code")
    expect(security.qr).to_have_accessible_name(re.compile(r"setup key", re.IGNORECASE))
    # What to do, and the key itself, are above the field: read with it.
    key = security.setup_key.inner_text()
    expect(security.code).to_have_accessible_description(re.compile(rf"scan this QR code.*{key}"))
    phone = security.type_setup_key(clock)  # read off the screen, typed into the phone

    # A wrong code, submitted with Enter: the error is announced and focus stays put.
    keyboard.type(phone.wrong_code())
    keyboard.press("Enter")
    error = security.error().filter(has_text=WRONG_CODE).first
    expect(error).to_be_visible()
    security.settled()
    assert announced(error), error.evaluate("e => e.outerHTML")
    expect(security.code).to_be_focused()
    expect(security.code).to_have_value("")
    expect(security.code).to_have_attribute("aria-invalid", "true")
    described_by = security.code.get_attribute("aria-describedby").split()
    assert error.get_attribute("id") in described_by, described_by

    # The right code, typed as the app shows it ("123 456"), then Tab to the button.
    code = phone.code()
    keyboard.type(f"{code[:3]} {code[3:]}")
    tab_to(page, is_button("Verify and Enable"))
    keyboard.press("Enter")
    security.shown_recovery_key()

    # Save the key: tick the box with Space, then Continue with Enter.
    saved = page.get_by_label("I have saved my recovery key")
    tab_to(page, lambda el: el["id"] == "saved-key")
    expect(saved).to_be_focused()
    keyboard.press("Space")
    expect(saved).to_be_checked()
    tab_to(page, is_button("Continue"))
    with page.expect_navigation():
        keyboard.press("Enter")
    DashboardPage(page).arrive()


def test_focus_moves_to_the_recovery_key_when_it_appears(page, factory, clock):
    user = factory.user(kind="healthcare", email="dr.focus@example.com")
    security = LoginPage(page).open().log_in_to_security(user.email).setup_shown()
    expect(security.code).to_be_focused()
    page.keyboard.type(security.type_setup_key(clock).code())
    page.keyboard.press("Enter")
    security.shown_recovery_key()

    where = focused(page)
    assert page.evaluate("() => !!document.activeElement.closest('#mfa-panel')"), where
    assert tab_to(page, lambda el: el["id"] == "saved-key") <= 3


def test_every_field_of_the_mfa_pages_has_a_label(page, factory, clock):
    """Labels a screen reader reads out, checked field by field on the pages of the
    article (axe checks the same on every page, in test_accessibility)."""
    user = factory.user(kind="trades", email="lee@law.example", mfa=True)
    login = LoginPage(page).open()
    expect(login.email).to_have_accessible_name("Email")
    expect(login.password).to_have_accessible_name("Password")
    code_page = login.log_in_expecting_code(user.email)
    expect(code_page.code).to_have_accessible_name("Authentication code")
    expect(code_page.code).to_be_focused()
    recovery = code_page.use_recovery_key()
    expect(recovery.key).to_have_accessible_name("Recovery key")
    expect(recovery.key).to_be_focused()
