"""MFA as a person meets it in a real browser, following help/mfa.md step by step: forced
enrolment in healthcare, enrolment by QR code and by setup key, the code step, the recovery
key, disabling MFA. After the first URL everything is reached by clicking what is on screen.

Flows marked with `any_page` run twice, with JavaScript (htmx swaps the MFA panel) and
without (plain form posts, whole pages): both must end the same way.
"""

import re

import pyotp
from playwright.sync_api import expect

from tests.browser.conftest import PHONE
from tests.browser.pages import (
    Authenticator,
    CodePage,
    DashboardPage,
    LoginPage,
    SecurityPage,
    javascript_on,
    url,
)
from tests.conftest import PASSWORD, RECOVERY_KEY, SECRET

WRONG_CODE = "That code didn't work"
RECOVERY_KEY_FORMAT = re.compile(r"^[0-9A-Z]{5}(-[0-9A-Z]{5}){4}$")
SETUP_KEY_FORMAT = re.compile(r"^[A-Z2-7]{4}( [A-Z2-7]{4})*$")


def enrol_with_setup_key(security, clock):
    """Enable MFA, type the setup key into the phone, verify, save the key, continue.
    Returns the phone and the recovery key."""
    security.enable()
    phone = security.type_setup_key(clock)
    key = security.verify_expecting_recovery_key(phone.code())
    security.saved_and_continue()
    return phone, key


# --- a. healthcare: MFA is required before anything else -------------------------------


def test_healthcare_user_without_mfa_is_sent_to_security(page, factory):
    user = factory.user(kind="healthcare", email="dr.ada@example.com")

    security = LoginPage(page).open().log_in_to_security(user.email)

    # help/mfa.md: "you will be redirected to the setup page automatically ... You will see
    # a QR code on screen": no Enable MFA to click first.
    expect(security.status("Your practice requires multi-factor authentication")).to_be_visible()
    security.setup_shown()
    expect(security.enable_button).to_have_count(0)

    page.goto("/dashboard")
    security.arrive()
    with page.expect_navigation(url=url("/settings/profile/security")):
        security.main_nav.get_by_role("link", name="Dashboard").click()
    expect(security.status("Your practice requires multi-factor authentication")).to_be_visible()


def test_setting_up_on_the_phone_itself_offers_a_link_to_the_app(
    chromium, live_server, factory, shots
):
    """A phone cannot scan its own screen: the setup also comes as a link that opens the
    authenticator app (found by a walk of help/mfa.md on a phone)."""
    user = factory.user(kind="healthcare", email="front.desk@example.com")
    context = chromium.new_context(
        base_url=live_server, viewport=PHONE, is_mobile=True, has_touch=True
    )
    try:
        page = context.new_page()
        security = LoginPage(page).open().log_in_to_security(user.email)
        security.setup_shown()
        link = page.get_by_role("link", name="Add OzyOps to your authenticator app")
        expect(link).to_be_visible()
        href = link.get_attribute("href")
        assert href.startswith("otpauth://totp/OzyOps:front.desk%40example.com?secret=")
        assert pyotp.parse_uri(href).secret == security.setup_key.inner_text().replace(" ", "")
        # N.B. not full_page: that resizes a mobile viewport, whose media then match a mouse.
        link.scroll_into_view_if_needed()
        page.screenshot(path=shots / "setup-on-the-phone-390.png")
    finally:
        context.close()


# --- b. enrolment by scanning the QR code, with htmx -----------------------------------


def test_enrol_by_scanning_the_qr_code_without_a_page_reload(page, factory, clock):
    user = factory.user(kind="healthcare", email="dr.grace@example.com")
    security = LoginPage(page).open().log_in_to_security(user.email)

    navigations = []
    page.on("framenavigated", lambda f: navigations.append(f.url) if f == page.main_frame else None)
    page.evaluate("window.__marker = 1")

    security.setup_shown()
    assert navigations == []
    expect(page).to_have_url(url("/settings/profile/security"))

    phone = security.scan_qr(clock)
    uri = pyotp.parse_uri(phone.uri)
    assert phone.uri.startswith("otpauth://totp/")
    assert phone.label == f"OzyOps:{user.email}"
    assert (uri.issuer, uri.name, uri.digits, uri.interval) == ("OzyOps", user.email, 6, 30)
    assert uri.digest().name == "sha1"
    setup_key = security.setup_key.inner_text().strip()
    assert SETUP_KEY_FORMAT.match(setup_key), setup_key
    assert setup_key.replace(" ", "") == phone.secret, "QR code and setup key disagree"

    key = security.verify_expecting_recovery_key(phone.code())

    assert RECOVERY_KEY_FORMAT.match(key), key
    assert page.evaluate("window.__marker") == 1, "Verify and Enable reloaded the page"
    assert navigations == []
    expect(page.get_by_text("Write it down or store it in a password manager")).to_be_visible()
    saved = page.get_by_label("I have saved my recovery key")
    expect(saved).not_to_be_checked()
    assert saved.evaluate("box => box.validity.valueMissing"), "Continue is not held back"

    dashboard = security.saved_and_continue()

    security = dashboard.go_to_security()
    expect(security.mfa_status).to_have_text(re.compile(r"^MFA is on\."))
    expect(security.enable_button).to_have_count(0)
    expect(security.recovery_key).to_have_count(0)
    page.reload()
    security.arrive()
    expect(security.mfa_status).to_be_visible()
    expect(security.recovery_key).to_have_count(0)
    assert key not in page.content()

    # The phone that scanned the code now signs in.
    login = security.log_out()
    clock.advance(seconds=30)
    login.log_in_expecting_code(user.email).enter_expecting_dashboard(phone.code())


# --- c. enrolment by typing the setup key ----------------------------------------------


def test_enrol_by_typing_the_setup_key(any_page, factory, clock):
    page = any_page
    user = factory.user(kind="trades", email="bob@builders.example")
    dashboard = LoginPage(page).open().log_in_to_dashboard(user.email)
    expect(dashboard.status("Multi-factor authentication is recommended")).to_be_visible()

    security = dashboard.go_to_security()
    expect(security.mfa_status).to_have_text(re.compile(r"^MFA is off\."))
    security.enable()
    expect(security.setup_key).to_have_text(SETUP_KEY_FORMAT)
    phone = security.type_setup_key(clock)
    assert len(phone.secret) == 32

    key = security.verify_expecting_recovery_key(phone.code())
    assert RECOVERY_KEY_FORMAT.match(key), key
    dashboard = security.saved_and_continue()
    expect(dashboard.status("Multi-factor authentication is recommended")).to_have_count(0)

    login = dashboard.log_out()
    clock.advance(seconds=30)
    login.log_in_expecting_code(user.email).enter_expecting_dashboard(phone.code())


# --- d. a wrong code during enrolment --------------------------------------------------


def test_wrong_code_during_enrolment_keeps_the_same_qr_code(any_page, factory, clock):
    page = any_page
    user = factory.user(kind="healthcare", email="dr.lin@example.com")
    security = LoginPage(page).open().log_in_to_security(user.email).setup_shown()
    setup_key = security.setup_key.inner_text()
    qr = security.qr.inner_html()
    phone = security.type_setup_key(clock)

    security.verify_and_enable(phone.wrong_code())

    expect(security.error().filter(has_text=WRONG_CODE).first).to_be_visible()
    security.settled()
    expect(security.setup_key).to_have_text(setup_key)
    assert security.qr.inner_html() == qr, "a wrong code changed the QR code"
    expect(security.code).to_be_visible()

    # A phone whose clock is five minutes fast is told so.
    security.verify_and_enable(phone.code(seconds=300))
    expect(security.error().first).to_contain_text("clock looks about 5 minutes ahead")
    security.settled()
    expect(security.setup_key).to_have_text(setup_key)

    security.verify_expecting_recovery_key(phone.code())
    security.saved_and_continue()


# --- e. the code step at login ---------------------------------------------------------


def test_log_in_with_a_code_from_the_authenticator(page, factory, clock):
    """(The code step has no htmx; its no-JavaScript run is in the test of section h.)"""
    user = factory.user(kind="trades", email="cara@law.example", mfa=True)
    phone = Authenticator(SECRET, clock)

    code_page = LoginPage(page).open().log_in_expecting_code(user.email)
    expect(code_page.code).to_have_attribute("inputmode", "numeric")
    expect(code_page.code).to_have_attribute("autocomplete", "one-time-code")

    # The password alone opens nothing: other pages send the browser back to the code step.
    page.goto("/dashboard")
    code_page.arrive()

    code_page.enter(phone.wrong_code())
    code_page.arrive()
    expect(code_page.error()).to_contain_text(WRONG_CODE)

    dashboard = code_page.enter_expecting_dashboard(phone.code())

    # Log out and back in within the same 30 seconds: that code is used up.
    code_page = dashboard.log_out().log_in_expecting_code(user.email)
    code_page.enter(phone.code())
    code_page.arrive()
    expect(code_page.error()).to_contain_text(WRONG_CODE)

    clock.advance(seconds=30)
    code_page.enter_expecting_dashboard(phone.code())


def test_back_from_the_dashboard_keeps_you_signed_in(page, factory, clock):
    user = factory.user(kind="law", email="dev@law.example", mfa=True)
    code_page = LoginPage(page).open().log_in_expecting_code(user.email)
    dashboard = code_page.enter_expecting_dashboard(Authenticator(SECRET, clock).code())

    page.go_back()  # to the code step, which sends a signed-in person on

    dashboard.arrive()
    page.reload()
    dashboard.arrive()


def test_log_out_in_a_tab_left_open_since_signing_in_again_logs_out(any_page, factory):
    """A second tab logged out and in again, which made the first tab's forms stale: its
    Log out must still log out, not leave the person signed in at a shared desk."""
    user = factory.user(kind="law", email="desk@law.example")
    first = LoginPage(any_page).open().log_in_to_dashboard(user.email)
    second = any_page.context.new_page()
    second.goto("/dashboard")
    DashboardPage(second).arrive().log_out().log_in_to_dashboard(user.email)

    first.log_out()  # the page shown since before the second tab's sign-in

    second.goto("/dashboard")
    LoginPage(second).arrive()
    second.close()


# --- f. lost device: the recovery key --------------------------------------------------


def test_lost_phone_recovery_key_signs_in_once(any_page, factory, clock):
    page = any_page
    user = factory.user(kind="healthcare", email="dr.mo@example.com", mfa=True)

    recovery = LoginPage(page).open().log_in_expecting_code(user.email).use_recovery_key()
    recovery.enter(RECOVERY_KEY)

    security = SecurityPage(page).arrive()
    expect(security.status("You are signed in with your recovery key")).to_be_visible()
    expect(security.status("Set up MFA on your new device now")).to_be_visible()
    expect(security.qr).to_be_visible()  # required: set up again at once
    page.goto("/dashboard")
    security.arrive()  # the QR code is shown once: Enable MFA makes a new one

    # Set up the new phone; its enrolment gives a new recovery key.
    _, new_key = enrol_with_setup_key(security, clock)
    assert new_key != RECOVERY_KEY
    # "Set up MFA now" and "your recovery key no longer works" are over, and must not sit
    # above the new key (found by a walk of the help article).
    expect(security.status("Set up MFA on your new device now")).to_have_count(0)

    # Later, the old key does not work again; the new one does.
    login = security.log_out()
    clock.advance(minutes=5)
    recovery = login.log_in_expecting_code(user.email).use_recovery_key()
    recovery.enter(RECOVERY_KEY)
    recovery.arrive()
    expect(recovery.error()).to_contain_text("That recovery key didn't work")

    recovery.enter(new_key)
    SecurityPage(page).arrive().setup_shown()  # required: set up again at once


# --- g. disabling MFA ------------------------------------------------------------------


def test_trades_user_can_disable_mfa(any_page, factory, clock):
    page = any_page
    user = factory.user(kind="trades", email="dee@plumbing.example")
    dashboard = LoginPage(page).open().log_in_to_dashboard(user.email)
    security = dashboard.go_to_security()
    phone, _ = enrol_with_setup_key(security, clock)
    security = SecurityPage(page).open()
    expect(security.mfa_status).to_have_text(re.compile(r"^MFA is on\."))
    clock.advance(seconds=30)

    security.disable(phone.wrong_code())
    expect(security.error()).to_contain_text(WRONG_CODE)
    security.settled()
    expect(security.mfa_status).to_have_text(re.compile(r"^MFA is on\."))

    security.disable(phone.code())
    expect(security.status("MFA is off. You can turn it on again at any time.")).to_be_visible()
    expect(security.mfa_status).to_have_text(re.compile(r"^MFA is off\."))
    expect(security.enable_button).to_be_visible()
    expect(security.disable_section).to_have_count(0)
    # The keyboard's place is the panel's heading, next to the message, not lost with the
    # form that went; a screen reader hears the message (found by an accessibility audit).
    heading = page.get_by_role("heading", name="Multi-factor authentication")
    expect(heading).to_be_focused()
    if javascript_on(page):
        expect(page.locator("#announcer")).to_have_text(
            "MFA is off. You can turn it on again at any time."
        )

    # Password alone signs in now.
    security.settled().log_out().log_in_to_dashboard(user.email)


def test_healthcare_user_has_no_way_to_disable_mfa(page, factory, clock):
    user = factory.user(kind="healthcare", email="dr.kim@example.com", mfa=True)
    dashboard = (
        LoginPage(page)
        .open()
        .log_in_expecting_code(user.email)
        .enter_expecting_dashboard(Authenticator(SECRET, clock).code())
    )

    security = dashboard.go_to_security()

    expect(security.mfa_status).to_have_text(re.compile(r"^MFA is on\."))
    expect(
        page.get_by_text("Your practice requires MFA, so it cannot be turned off.")
    ).to_be_visible()
    expect(security.disable_section).to_have_count(0)
    expect(page.get_by_role("button", name="Disable MFA")).to_have_count(0)
    expect(page.get_by_text("Disable MFA")).to_have_count(0)


# --- h. the whole thing without JavaScript ---------------------------------------------


def test_enrol_by_qr_code_and_log_in_without_javascript(nojs_page, factory, clock):
    page = nojs_page
    user = factory.user(kind="healthcare", email="dr.noam@example.com")
    security = LoginPage(page).open().log_in_to_security(user.email).setup_shown()
    # The whole Security page at its own address, the QR code on it at once.
    expect(page).to_have_url(url("/settings/profile/security"))
    expect(page).to_have_title("Security · OzyOps")
    expect(page.get_by_role("navigation", name="Settings")).to_be_visible()
    expect(security.main_nav.get_by_role("button", name="Log out")).to_be_visible()

    phone = security.scan_qr(clock)
    assert phone.label == f"OzyOps:{user.email}"
    assert security.setup_key.inner_text().replace(" ", "") == phone.secret

    key = security.verify_expecting_recovery_key(phone.code())
    expect(page).to_have_url(url("/settings/profile/security/verify"))
    expect(page.get_by_role("heading", name="Security", exact=True)).to_be_visible()
    assert RECOVERY_KEY_FORMAT.match(key), key
    # The focus starts at the key's heading, for a screen reader, with no box drawn round
    # it: that looked like a glitch (a walk of help/mfa.md without JavaScript).
    heading = page.get_by_role("heading", name="Save your recovery key")
    expect(heading).to_be_focused()
    assert heading.evaluate("e => getComputedStyle(e).outlineStyle") == "none"

    dashboard = security.saved_and_continue()
    security = dashboard.go_to_security()
    expect(security.mfa_status).to_have_text(re.compile(r"^MFA is on\."))
    expect(security.recovery_key).to_have_count(0)

    login = security.log_out()
    clock.advance(seconds=30)
    code_page = login.log_in_expecting_code(user.email)
    code_page.enter(phone.wrong_code())
    CodePage(page).arrive()
    expect(code_page.error()).to_contain_text(WRONG_CODE)
    code_page.enter_expecting_dashboard(phone.code())


def test_recovery_page_links_back_to_the_code_step(page, factory, clock):
    user = factory.user(kind="trades", email="eve@law.example", mfa=True)
    LoginPage(page).open().log_in_expecting_code(user.email).use_recovery_key()
    page.get_by_role("link", name="Use an authentication code instead").click()
    CodePage(page).arrive().enter_expecting_dashboard(Authenticator(SECRET, clock).code())


def test_a_whole_recovery_key_fits_its_field_on_a_phone(page, factory):
    """ "Check it and try again": on a 390 px phone the key's last characters were hidden
    in its field (a walk of help/mfa.md)."""
    page.set_viewport_size(PHONE)
    user = factory.user(kind="trades", email="eve@law.example", mfa=True)
    LoginPage(page).open().log_in_expecting_code(user.email).use_recovery_key()
    field = page.get_by_label("Recovery key")
    field.fill("WWWWW-MMMMM-WWWWW-MMMMM-WWWWW")  # the widest letters the key can have
    assert field.evaluate("e => e.scrollWidth <= e.clientWidth")


# --- more of what a person runs into ---------------------------------------------------


def test_a_wrong_enrolment_code_is_explained_once(page, factory, clock):
    user = factory.user(kind="healthcare", email="dr.once@example.com")
    security = LoginPage(page).open().log_in_to_security(user.email).setup_shown()
    phone = security.type_setup_key(clock)

    security.verify_and_enable(phone.wrong_code())

    expect(security.error().first).to_contain_text(WRONG_CODE)
    security.settled()
    assert security.error().count() == 1  # the swap is done: count now, don't wait for a change


def test_enable_mfa_again_makes_a_new_secret(page, factory, clock):
    """Two tabs open on Security, Enable MFA clicked in each: the second click makes a new
    secret. The first tab's code then says its QR code was replaced, rather than "wait for
    the next code", which would never help, and Enable MFA there starts again."""
    user = factory.user(kind="trades", email="fay@law.example")
    LoginPage(page).open().log_in_to_dashboard(user.email)
    security = SecurityPage(page).open()
    other_tab = SecurityPage(page.context.new_page()).open()
    security.enable()
    first_phone = security.type_setup_key(clock)

    other_tab.enable()
    second_phone = other_tab.type_setup_key(clock)
    assert second_phone.secret != first_phone.secret

    security.verify_and_enable(first_phone.code())
    expect(security.error().first).to_contain_text("This QR code was replaced by a newer one")
    security.settled()
    security.enable()
    third_phone = security.type_setup_key(clock)
    assert third_phone.secret not in (first_phone.secret, second_phone.secret)
    security.verify_expecting_recovery_key(third_phone.code())


def test_an_unfinished_enrolment_expires_after_15_minutes(any_page, factory, clock):
    page = any_page
    user = factory.user(kind="trades", email="gus@builders.example")
    LoginPage(page).open().log_in_to_dashboard(user.email)
    security = SecurityPage(page).open()
    security.enable()
    phone = security.type_setup_key(clock)

    clock.advance(minutes=16)
    security.verify_and_enable(phone.code())

    expect(security.error()).to_contain_text("This setup has expired")
    expect(security.mfa_status).to_have_text(re.compile(r"^MFA is off\."))
    security.settled()
    # Over 10 minutes since signing in: starting again asks for the password (sudo mode),
    # and without it nothing starts.
    expect(security.password).to_be_visible()
    security.enable_button.click()
    expect(security.setup_key).to_have_count(0)
    security.enable(password=PASSWORD)
    phone = security.type_setup_key(clock)
    security.verify_expecting_recovery_key(phone.code())


def test_a_reload_mid_setup_keeps_the_setup_just_scanned(any_page, factory, clock):
    """On a phone the browser may reload the tab after a trip to the authenticator app; the
    setup in the app must still be the one the page takes a code for, with or without
    JavaScript. The QR code (the secret) is not shown twice."""
    page = any_page
    user = factory.user(kind="law", email="nia@law.example")
    LoginPage(page).open().log_in_to_dashboard(user.email)
    security = SecurityPage(page).open()
    security.enable()
    expect(page).to_have_url(url(SecurityPage.path))
    phone = security.type_setup_key(clock)
    page.reload()
    security.arrive()
    expect(security.qr).to_have_count(0)
    expect(page.get_by_text("the QR code is shown only once")).to_be_visible()
    security.verify_expecting_recovery_key(phone.code())


def test_a_code_step_left_for_10_minutes_starts_over(page, factory, clock):
    user = factory.user(kind="healthcare", email="dr.slow@example.com", mfa=True)
    code_page = LoginPage(page).open().log_in_expecting_code(user.email)

    clock.advance(minutes=11)
    code_page.enter(Authenticator(SECRET, clock).code())

    login = LoginPage(page).arrive()
    expect(login.status("Your sign-in took longer than 10 minutes. Log in again.")).to_be_visible()
    clock.advance(seconds=30)
    login.log_in_expecting_code(user.email).enter_expecting_dashboard(
        Authenticator(SECRET, clock).code()
    )


def test_regenerate_recovery_key_replaces_the_old_one(page, factory, clock):
    user = factory.user(kind="trades", email="hal@law.example", mfa=True)
    phone = Authenticator(SECRET, clock)
    dashboard = (
        LoginPage(page)
        .open()
        .log_in_expecting_code(user.email)
        .enter_expecting_dashboard(phone.code())
    )
    security = dashboard.go_to_security()
    clock.advance(seconds=30)

    security.regenerate_recovery_key(phone.code())

    new_key = security.shown_recovery_key()
    assert RECOVERY_KEY_FORMAT.match(new_key) and new_key != RECOVERY_KEY
    expect(page.get_by_text("Your new recovery key replaces the old one")).to_be_visible()
    login = security.saved_and_continue().log_out()

    recovery = login.log_in_expecting_code(user.email).use_recovery_key()
    recovery.enter(RECOVERY_KEY)
    recovery.arrive()
    expect(recovery.error()).to_contain_text("That recovery key didn't work")
    recovery.enter(new_key)
    security = SecurityPage(page).arrive()
    expect(security.mfa_status).to_have_text(re.compile(r"^MFA is off\."))


def test_the_sign_in_steps_links_are_big_enough_to_tap_on_a_phone(page, factory):
    """Links standing alone on the code and recovery-key steps: at least 24 px high
    (WCAG 2.5.8), as a thumb needs; they were 20."""
    factory.user(email="kim@example.com", kind="law", mfa=True)
    page.set_viewport_size(PHONE)
    code_page = LoginPage(page).open().log_in_expecting_code("kim@example.com")
    for name in ("Use Recovery Key", "Start again with a different account"):
        assert page.get_by_role("link", name=name).bounding_box()["height"] >= 24, name
    code_page.use_recovery_key()
    link = page.get_by_role("link", name="Use an authentication code instead")
    assert link.bounding_box()["height"] >= 24
