"""The MFA screens at desktop and phone width: screenshots for people to look at (in
/tmp/ozy-shots/, never the repository), and the checks a person would make at a glance:
nothing wider than the screen, the QR code whole, the buttons on screen."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.pages import CodePage, LoginPage, RecoveryPage, overflow

WRONG_CODE = "That code didn't work"


def look(page, shots, name, size):
    """Save a full-page screenshot and check the page fits the screen's width."""
    page.screenshot(path=shots / f"{name}-{size['width']}x{size['height']}.png", full_page=True)
    too_wide = overflow(page)
    assert too_wide <= 0, f"{name} is {too_wide}px wider than a {size['width']}px screen"


def fits(page, locator):
    """The element lies wholly within the width of the screen."""
    box = locator.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"], box


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_mfa_screens_fit_the_screen(page, factory, clock, shots, size):
    page.set_viewport_size(size)
    user = factory.user(kind="healthcare", email="dr.screens@example.com")

    login = LoginPage(page).open()
    look(page, shots, "01-login", size)

    security = login.log_in_to_security(user.email).setup_shown()
    fits(page, security.qr)
    fits(page, security.setup_key)
    look(page, shots, "03-security-enrol", size)
    phone = security.scan_qr(clock)  # a phone can read the code at this width

    security.verify_and_enable(phone.wrong_code())
    expect(security.error().first).to_contain_text(WRONG_CODE)
    security.settled()
    look(page, shots, "04-security-enrol-wrong-code", size)

    key = security.verify_expecting_recovery_key(phone.code())
    fits(page, security.recovery_key)
    # On one line, down to 360 px: wrapped after a hyphen, the last group read as a line
    # of its own.
    for width in {size["width"], min(size["width"], 360)}:
        page.set_viewport_size({**size, "width": width})
        lines = security.recovery_key.evaluate(
            """e => {
                const s = getComputedStyle(e);
                const pad = parseFloat(s.paddingTop) + parseFloat(s.paddingBottom);
                return (e.clientHeight - pad) / parseFloat(s.lineHeight);
            }"""
        )
        assert round(lines) == 1, f"the recovery key takes {lines:.1f} lines at {width} px"
    page.set_viewport_size(size)
    fits(page, page.get_by_role("button", name="Continue"))
    look(page, shots, "05-recovery-key", size)
    assert key

    login = security.saved_and_continue().log_out()
    clock.advance(seconds=30)
    code_page = login.log_in_expecting_code(user.email)
    look(page, shots, "06-code", size)

    code_page.enter(phone.wrong_code())
    CodePage(page).arrive()
    expect(code_page.error()).to_contain_text(WRONG_CODE)
    look(page, shots, "07-code-wrong", size)

    code_page.use_recovery_key()
    RecoveryPage(page).arrive()
    look(page, shots, "08-recovery", size)


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_where_mfa_is_optional_a_reset_is_said_on_the_dashboard(page, factory, app, shots, size):
    """Someone whose MFA was reset, where it is optional, lands on the dashboard: it says who
    reset it beside the Enable MFA it recommends."""
    from ozyops.extensions import db
    from ozyops.models import User
    from ozyops.security import mfa

    page.set_viewport_size(size)
    firm = factory.account(kind="law", name="Hartley & Lee Law")
    lee = factory.user(firm, role="owner", email="lee@example.com", name="Lee Hartley", mfa=True)
    maria = factory.user(firm, role="member", email="maria@example.com", name="Maria", mfa=True)
    with app.app_context():
        mfa.reset(db.session.get(User, maria.id), actor=db.session.get(User, lee.id))
    LoginPage(page).open().log_in_to_dashboard(maria.email)
    banner = page.get_by_role("status").filter(has_text="reset your MFA")
    expect(banner).to_contain_text("Lee Hartley reset your MFA on")
    fits(page, banner.get_by_role("link", name="Enable MFA"))
    look(page, shots, "dashboard-after-a-reset", size)
