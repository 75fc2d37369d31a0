"""The screenshots in the README (docs/screenshots/), taken from the real pages at a desktop
(1280x800) and a phone (390x844) size, with fixed data: a dental practice, fixed names,
the tests' fixed clock, and a fixed setup key and recovery key (the app draws both at
random), so that an unchanged page gives the same picture.

A picture is only rewritten when its pixels changed, so running the suite leaves the
repository untouched unless a page really looks different (then `git diff` shows it).
Set OZYOPS_SCREENSHOTS_DIR to write them somewhere else.
"""

import io
import os
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from playwright.sync_api import expect

from ozyops.security import recovery, totp
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.pages import Authenticator, LoginPage, overflow
from tests.conftest import SECRET

REPO = Path(__file__).resolve().parents[2]
SIZES = {"desktop": DESKTOP, "phone": PHONE}
SETUP_SECRET = "K5QWY3TFMFZGK4TMNFXHIZLSMVXGG2LB"  # the fixed "random" secret of the QR code
RECOVERY_KEY = "7K2QM-4XRTB-9HWZP-3CNVD-6FJ8Y"


@pytest.fixture
def screenshots():
    """Where the pictures go: docs/screenshots/ unless OZYOPS_SCREENSHOTS_DIR says."""
    folder = Path(os.environ.get("OZYOPS_SCREENSHOTS_DIR") or REPO / "docs" / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def fixed_secrets(monkeypatch):
    """The setup key and recovery key the app would draw at random, fixed."""
    monkeypatch.setattr(totp, "new_secret", lambda: SETUP_SECRET)
    monkeypatch.setattr(recovery, "new_key", lambda: RECOVERY_KEY)


def snap(page, folder, name, whole=None, start=None):
    """Save the screen at each size. When `whole` (a locator) ends below the fold, the
    picture is made a little taller to show it, or, when that is not enough, the page is
    scrolled (as a person would) to put `start` (else `whole`) at the top.
    Returns what is wider than the screen."""
    too_wide = []
    for size_name, size in SIZES.items():
        page.set_viewport_size(size)
        page.evaluate("() => window.scrollTo(0, 0)")
        wider = overflow(page)
        if wider > 0:
            too_wide.append(f"{name} is {wider}px wider than a {size['width']}px screen")
        options = {"animations": "disabled", "caret": "hide"}
        bottom = 0
        if whole is not None:
            box = whole.bounding_box()
            bottom = round(box["y"] + box["height"] + 20)
        if bottom <= size["height"]:
            png = page.screenshot(**options)
        elif bottom <= size["height"] * 1.25:
            clip = {"x": 0, "y": 0, "width": size["width"], "height": bottom}
            png = page.screenshot(full_page=True, clip=clip, **options)
        else:
            page.evaluate("y => window.scrollTo(0, y)", (start or whole).bounding_box()["y"] - 12)
            png = page.screenshot(**options)
        save(png, folder / f"{name}-{size_name}.png")
    page.set_viewport_size(DESKTOP)
    return too_wide


def save(png, path):
    """Write the picture as a 256-colour PNG (much smaller, the same to the eye),
    unless the file there already looks the same: Chromium's anti-aliasing of a rounded
    corner can differ by a shade between two runs of one page, so a change of at most
    `NOISE` in any colour channel does not count."""
    image = (
        Image.open(io.BytesIO(png)).convert("RGB").quantize(colors=256, dither=Image.Dither.NONE)
    )
    if path.exists():
        with Image.open(path) as old:
            if old.size == image.size:
                diff = ImageChops.difference(old.convert("RGB"), image.convert("RGB"))
                if max(high for _low, high in diff.getextrema()) <= NOISE:
                    return
    image.save(path, optimize=True)


NOISE = 8


def test_readme_screenshots(page, factory, clock, screenshots, fixed_secrets):
    account = factory.account(kind="healthcare", name="Bright Smile Dental")
    people = [
        ("owner", "dana@brightsmile.example", "Dana Whitfield", True),
        ("admin", "ali@brightsmile.example", "Ali Hassan", True),
        ("member", "maria@brightsmile.example", "Maria Lopez", True),
        ("member", "sam@brightsmile.example", "Sam Park", False),
    ]
    users = {
        name: factory.user(account_id=account, role=role, email=email, name=name, mfa=mfa)
        for role, email, name, mfa in people
    }

    too_wide = []

    # Sam, a new hygienist, signs in for the first time and must set up MFA.
    login = LoginPage(page).open()
    too_wide += snap(page, screenshots, "login")
    security = login.log_in_to_security(users["Sam Park"].email).setup_shown()
    panel = page.locator("#mfa-panel")
    start = page.get_by_role("heading", name="Set up your authenticator app")
    too_wide += snap(page, screenshots, "security-enrol", whole=panel, start=start)
    phone = security.scan_qr(clock)
    security.verify_expecting_recovery_key(phone.code())
    too_wide += snap(page, screenshots, "recovery-key", whole=panel)
    security.saved_and_continue().log_out()

    # Twenty minutes later Dana, the owner, signs in and looks after the team.
    clock.advance(minutes=20)
    code_page = LoginPage(page).open().log_in_expecting_code(users["Dana Whitfield"].email)
    too_wide += snap(page, screenshots, "code")
    dashboard = code_page.enter_expecting_dashboard(Authenticator(SECRET, clock).code())
    team = dashboard.go_to_settings().go_to_team()
    too_wide += snap(page, screenshots, "team")
    confirmation = team.click_reset_mfa("Maria Lopez")
    too_wide += snap(page, screenshots, "team-reset", whole=confirmation.box)
    confirmation.confirm()
    expect(team.status("MFA for Maria Lopez was reset.")).to_be_visible()
    team.go_to_audit_log()
    too_wide += snap(page, screenshots, "audit-log")
    assert not too_wide, too_wide
