"""The idle logoff, said before it happens (WCAG 2.2.1, found by an accessibility audit):
two minutes ahead a dialog asks "Are you still there?", "Stay signed in" (or Escape) keeps
the session, and left alone the tab goes to the login page, so a screen nobody is watching
stops showing the practice's information.

The page's timers run on Playwright's fake clock, the server's on the test's injected
clock: the two are moved forward together, and nothing sleeps.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.pages import Authenticator, DashboardPage, LoginPage, overflow, url
from tests.conftest import SECRET


def signed_in(page, clock, email="sam@example.com"):
    """Sam (healthcare: 15 minutes idle) on the dashboard, the page's clock faked."""
    page.clock.install()
    code_page = LoginPage(page).open().log_in_expecting_code(email)
    return code_page.enter_expecting_dashboard(Authenticator(SECRET, clock).code())


def idle(page, clock, minutes, seconds=0):
    """Nobody touches anything for this long, in the page and on the server alike."""
    clock.advance(minutes=minutes, seconds=seconds)
    page.clock.fast_forward((minutes * 60 + seconds) * 1000)  # milliseconds


def warning(page):
    return page.get_by_role("dialog", name="Are you still there?")


def test_two_minutes_before_the_logoff_the_page_asks_and_staying_keeps_the_session(
    page, clinic, clock, shots
):
    signed_in(page, clock)
    idle(page, clock, 12, 30)
    expect(warning(page)).to_be_hidden()
    idle(page, clock, 0, 31)
    expect(warning(page)).to_be_visible()
    expect(warning(page)).to_contain_text("you will be signed out at")
    stay = warning(page).get_by_role("button", name="Stay signed in")
    expect(stay).to_be_focused()  # a modal dialog: the keyboard is already there
    for size in (PHONE, DESKTOP):
        page.set_viewport_size(size)
        page.screenshot(path=shots / f"idle-warning-{size['width']}.png")
        assert overflow(page) <= 0
    with page.expect_response(url("/stay-signed-in")) as answer:
        stay.click()
    assert answer.value.status == 204
    expect(warning(page)).to_be_hidden()
    # 25 minutes after the last page was loaded, 12 after staying: still signed in.
    idle(page, clock, 12)
    expect(warning(page)).to_be_hidden()
    page.reload()
    DashboardPage(page).arrive()


def test_escape_answers_it_too(page, clinic, clock):
    """Escape would close the question unanswered, and the logoff would still come."""
    signed_in(page, clock)
    idle(page, clock, 13, 1)
    expect(warning(page)).to_be_visible()
    with page.expect_response(url("/stay-signed-in")):
        page.keyboard.press("Escape")
    expect(warning(page)).to_be_hidden()


def test_someone_stepping_away_can_log_out_from_it(page, clinic, clock):
    signed_in(page, clock)
    idle(page, clock, 13, 1)
    with page.expect_navigation():
        warning(page).get_by_role("button", name="Log out").click()
    expect(page).to_have_url(url("/login"))
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def test_left_alone_the_tab_goes_to_the_login_page(page, clinic, clock):
    signed_in(page, clock)
    idle(page, clock, 13, 1)
    expect(warning(page)).to_be_visible()
    idle(page, clock, 2, 40)
    page.wait_for_url(url("/login"))
    assert page.url.endswith("/login?next=%2Fdashboard")
    expect(page.get_by_text("You were signed out after 15 minutes of inactivity.")).to_be_visible()
    expect(page.get_by_text("Signed in as")).to_have_count(0)


def test_a_tab_in_use_answers_for_the_others(page, clinic, clock):
    """Two tabs of one browser: staying in one closes the question in the other, and a
    page opened in one counts for both (the server counts any request)."""
    signed_in(page, clock)
    other = page.context.new_page()
    other.goto("/dashboard")
    DashboardPage(other).arrive()
    idle(page, clock, 13, 1)
    expect(warning(page)).to_be_visible()
    expect(warning(other)).to_be_visible()
    with other.expect_response(url("/stay-signed-in")):
        warning(other).get_by_role("button", name="Stay signed in").click()
    expect(warning(other)).to_be_hidden()
    expect(warning(page)).to_be_hidden()
    idle(page, clock, 12)
    other.goto("/settings/profile")  # activity in the other tab only
    idle(page, clock, 1, 1)
    expect(warning(page)).to_be_hidden()


def ending(page):
    return page.get_by_role("dialog", name="Your session ends soon")


@pytest.mark.settings(SESSION_MAX_AGE_MIN=20)
def test_before_the_absolute_end_it_says_so_and_offers_no_stay(page, clinic, clock, shots):
    """Nothing extends a session past its absolute end (12 hours; 20 minutes here): two
    minutes ahead the page says to save and log in again, Continue closes the notice, and
    the tab leaves at the end however busy it was (a review's find)."""
    signed_in(page, clock)
    idle(page, clock, 10)
    page.reload()  # busy: the idle logoff moves to 25 minutes, after the end at 20
    DashboardPage(page).arrive()
    idle(page, clock, 7, 59)
    expect(ending(page)).to_be_hidden()
    idle(page, clock, 0, 2)
    expect(ending(page)).to_be_visible()
    expect(ending(page)).to_contain_text("A session lasts 20 minutes at most")
    expect(ending(page)).to_contain_text("save what you are doing, then log in again")
    expect(ending(page).get_by_role("button", name="Stay signed in")).to_have_count(0)
    page.set_viewport_size(PHONE)
    page.screenshot(path=shots / "session-ends-390.png")
    assert overflow(page) <= 0
    ending(page).get_by_role("button", name="Continue").click()
    expect(ending(page)).to_be_hidden()
    idle(page, clock, 2, 40)
    page.wait_for_url(url("/login"))
    expect(page.get_by_text("Signed in as")).to_have_count(0)
    expect(page.get_by_role("status")).to_have_text(
        ["You were signed out 20 minutes after you signed in."]
    )


def test_a_download_counts_as_being_there(page, factory, clock):
    """A link that leaves the page where it is (the audit log's CSV) is a request the
    server counts: the tab does not warn, or leave, before the idle time after it."""
    factory.user(email="dana@example.com", kind="healthcare", mfa=True, role="owner")
    signed_in(page, clock, email="dana@example.com")
    page.goto("/settings/audit")
    idle(page, clock, 10)
    with page.expect_download():
        page.get_by_role("link", name=re.compile("CSV")).click()
    idle(page, clock, 10)
    expect(warning(page)).to_be_hidden()  # 20 minutes after the page, 10 after the download
    idle(page, clock, 3, 1)
    expect(warning(page)).to_be_visible()


def test_a_practice_with_the_12_hour_idle_time_is_told_before_11_hours_58(page, factory, clock):
    """Idle time and absolute end are both 12 hours there: the absolute end comes first."""
    factory.user(email="pat@example.com", kind="law", mfa=True)
    signed_in(page, clock, email="pat@example.com")
    idle(page, clock, 60 * 11 + 57)
    expect(ending(page)).to_be_hidden()
    idle(page, clock, 1, 1)
    expect(ending(page)).to_be_visible()
    expect(ending(page)).to_contain_text("A session lasts 12 hours at most")


@pytest.mark.settings(IDLE_TIMEOUT_HEALTHCARE_MIN=1)
def test_an_idle_time_under_two_minutes_warns_halfway(page, clinic, clock):
    """Else the question would stand over every page from the moment it opened (a review)."""
    signed_in(page, clock)
    expect(warning(page)).to_be_hidden()
    idle(page, clock, 0, 31)
    expect(warning(page)).to_be_visible()
    with page.expect_response(url("/stay-signed-in")):
        warning(page).get_by_role("button", name="Stay signed in").click()
    expect(warning(page)).to_be_hidden()
