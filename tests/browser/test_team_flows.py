"""Settings > Team as owners, admins and members meet it in a real browser (SPEC §4, §6):
Reset MFA as help/mfa.md tells it ("If You Do Not Have Your Recovery Key"), sudo mode,
Add member and the invitation link, deactivation, the audit log and its CSV, signing out
other sessions, and how these pages look on a desktop and on a phone.

Every person has their own browser context (their own cookies), as on their own computer.
Flows marked with `any_page` run with JavaScript (htmx swaps rows in place) and without
(plain links and form posts, whole pages): both must end the same way.
"""

import csv
import re

import pytest
from playwright.sync_api import expect

from ozyops import passwords
from ozyops.extensions import db
from ozyops.models import User
from tests.browser.conftest import DESKTOP, PHONE, TIMEOUT_MS
from tests.browser.pages import (
    Authenticator,
    LoginPage,
    MemberPage,
    SetPasswordPage,
    TeamPage,
    javascript_on,
    overflow,
    url,
)
from tests.conftest import PASSWORD, SECRET

REQUIRED = "Required — not set up"
WRONG_CODE = "That code didn't work"


@pytest.fixture
def browser_for(chromium, live_server):
    """Another person's (or another device's) browser: a context of its own, with or
    without JavaScript."""
    contexts = []

    def open_page(javascript=True):
        context = chromium.new_context(
            base_url=live_server, viewport=DESKTOP, java_script_enabled=javascript
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def log_in_with_code(page, email, clock):
    """Password, then the current code from the authenticator (the tests' SECRET)."""
    code_page = LoginPage(page).open().log_in_expecting_code(email)
    return code_page.enter_expecting_dashboard(Authenticator(SECRET, clock).code())


def team_from_dashboard(dashboard):
    """Settings in the main navigation, then Team, as help/mfa.md says."""
    return dashboard.go_to_settings().go_to_team()


def watch_navigations(page):
    """Mark the window and record every navigation of the tab from now on."""
    navigations = []
    page.on("framenavigated", lambda f: navigations.append(f.url) if f == page.main_frame else None)
    page.evaluate("window.__marker = 1")
    return navigations


def assert_no_navigation(page, navigations, path):
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    assert navigations == [], navigations
    expect(page).to_have_url(url(path))


def enrol_with_setup_key(security, clock):
    """Set MFA up where the practice requires it: the QR code is on screen already."""
    security.setup_shown()
    phone = security.type_setup_key(clock)
    security.verify_expecting_recovery_key(phone.code())
    return security.saved_and_continue()


# --- 1. help/mfa.md: "If You Do Not Have Your Recovery Key", the owner resets ----------


def test_owner_resets_mfa_for_someone_without_their_recovery_key(
    any_page, browser_for, clinic, clock
):
    page = any_page
    sam = clinic["member"]

    # "The Owner goes to Settings > Team."
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    js = javascript_on(page)
    expect(team.column("Sam Park", "MFA")).to_have_text("Enabled")

    # "They find your account and click Reset MFA."
    if js:
        navigations = watch_navigations(page)
    confirmation = team.click_reset_mfa("Sam Park")
    expect(confirmation.box).to_contain_text("Reset MFA for Sam Park (sam@example.com)?")
    expect(confirmation.credential).to_have_count(0)  # signed in just now: no code asked
    if js:
        assert_no_navigation(page, navigations, "/settings/team")
        expect(team.row("Dana Owner")).to_be_visible()  # the rest of the table is still there
    else:
        expect(page).to_have_url(url(f"/settings/team/{sam.id}/reset-mfa"))
        expect(page).to_have_title("Reset MFA for Sam Park · OzyOps")

    team = confirmation.confirm()

    if js:
        assert_no_navigation(page, navigations, "/settings/team")
        expect(team.reset_mfa_button("Sam Park")).to_have_count(0)
        expect(team.column("Sam Park", "MFA")).to_contain_text(REQUIRED)
    else:
        team.arrive()
        expect(team.reset_mfa_button("Sam Park")).to_have_count(0)
    expect(team.column("Sam Park", "MFA")).to_have_text(REQUIRED)  # and nothing more
    if js:
        # Said in the row too, where the button was: on a phone the page's message is
        # screens above the row (found by a walk of the help article at 390 px).
        expect(team.row("Sam Park").get_by_text("Reset just now")).to_be_in_viewport()
    # Where every page's messages are, with or without JavaScript.
    expect(page.locator("#alerts").get_by_role("status")).to_have_text(
        "MFA for Sam Park was reset. They can log in with their password and set it up again."
    )
    expect(team.reset_mfa_button("Ali Admin")).to_be_visible()  # nobody else was touched

    # "You can now log in without MFA and set it up again on your new device."
    sams_browser = browser_for(javascript=js)
    security = LoginPage(sams_browser).open().log_in_to_security(sam.email)
    expect(security.status("Your practice requires multi-factor authentication")).to_be_visible()
    dashboard = enrol_with_setup_key(security, clock)
    security = dashboard.go_to_security()
    expect(security.mfa_status).to_have_text(re.compile(r"^MFA is on\."))

    team = TeamPage(page).open()
    expect(team.column("Sam Park", "MFA")).to_have_text("Enabled")


# --- 2. an admin resets a member; who sees what ----------------------------------------


def test_admin_resets_a_member_but_not_the_owner_and_members_see_no_mfa(
    page, browser_for, clinic, clock
):
    # Sam, a member, sees the team but no MFA column and no Reset MFA.
    sams_browser = browser_for()
    members_view = team_from_dashboard(
        log_in_with_code(sams_browser, clinic["member"].email, clock)
    )
    expect(members_view.row("Dana Owner")).to_contain_text("dana@example.com")
    expect(members_view.row("Ali Admin")).to_contain_text("Admin")
    expect(sams_browser.get_by_role("columnheader")).to_have_text(["Name", "Email", "Role"])
    expect(sams_browser.get_by_role("columnheader", name="MFA")).to_have_count(0)
    expect(sams_browser.get_by_role("cell", name="Enabled")).to_have_count(0)
    expect(members_view.reset_mfa_buttons).to_have_count(0)
    expect(sams_browser.get_by_role("link", name="Add member")).to_have_count(0)
    expect(members_view.settings_nav.get_by_role("link", name="Audit log")).to_have_count(0)

    # Ali, an admin, may reset Sam but not the owner.
    team = team_from_dashboard(log_in_with_code(page, clinic["admin"].email, clock))
    expect(page.get_by_role("columnheader", name="MFA")).to_be_visible()
    expect(team.column("Dana Owner", "MFA")).to_have_text("Enabled")
    expect(team.row("Dana Owner")).to_be_visible()
    expect(team.reset_mfa_button("Dana Owner")).to_have_count(0)  # not the owner
    expect(team.reset_mfa_button("Ali Admin")).to_have_count(0)  # nor themself (Security)
    expect(team.reset_mfa_buttons).to_have_count(1)  # Sam's only

    navigations = watch_navigations(page)
    confirmation = team.click_reset_mfa("Sam Park")
    expect(confirmation.box).to_contain_text("Reset MFA for Sam Park")
    team = confirmation.confirm()
    assert_no_navigation(page, navigations, "/settings/team")
    expect(team.column("Sam Park", "MFA")).to_contain_text(REQUIRED)
    expect(team.status("MFA for Sam Park was reset.")).to_be_visible()
    expect(team.reset_mfa_buttons).to_have_count(0)

    # Sam's session ended with the reset; he logs in with his password and must enrol.
    sams_browser.reload()
    login = LoginPage(sams_browser).arrive()
    expect(sams_browser.get_by_role("status")).to_have_text(
        ["You were signed out. Log in again to continue."]
    )
    login.log_in_to_security(clinic["member"].email)


def test_reset_mfa_from_a_members_page(any_page, clinic, clock):
    """Manage, then Reset MFA: the confirmation is a page of its own, with or without
    JavaScript; Confirm ends back on the member's page with the message, where the owner
    may well do something next (a password link)."""
    page = any_page
    owner = Authenticator(SECRET, clock)
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    clock.advance(minutes=11)  # a code is asked, and a wrong one keeps the page
    confirmation = team.manage("Sam Park").reset_mfa()
    member_page = f"/settings/team/{clinic['member'].id}"
    expect(page).to_have_url(url(f"{member_page}/reset-mfa?from=member"))
    expect(confirmation.box).to_contain_text("Reset MFA for Sam Park (sam@example.com)?")

    confirmation.confirm(owner.wrong_code())
    expect(confirmation.error()).to_contain_text(WRONG_CODE)
    expect(page).to_have_url(url(f"{member_page}/reset-mfa"))

    confirmation.confirm(owner.code())
    member = MemberPage(page).arrive()
    expect(page).to_have_url(url(member_page))
    expect(page.locator("#alerts").get_by_role("status")).to_have_text(
        "MFA for Sam Park was reset. They can log in with their password and set it up again."
    )
    expect(member.fact("MFA")).to_have_text(REQUIRED)


# --- 3. sudo mode: more than 10 minutes after signing in, a code is asked --------------


def test_reset_after_ten_minutes_asks_for_a_current_code(page, clinic, clock):
    owner = Authenticator(SECRET, clock)
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    clock.advance(minutes=11)

    confirmation = team.click_reset_mfa("Sam Park")
    expect(confirmation.credential).to_be_visible()
    expect(confirmation.box).to_contain_text(
        "To confirm it is you, enter the current code from your authenticator app."
    )
    # Sized for six digits, as every other code field (a walk found it the page's width).
    code_width = confirmation.credential.evaluate("e => e.getBoundingClientRect().width")
    assert code_width < 200, code_width

    confirmation.confirm(owner.wrong_code())
    expect(confirmation.error()).to_contain_text(WRONG_CODE)
    expect(confirmation.credential).to_be_visible()
    expect(team.status("was reset")).to_have_count(0)

    team = confirmation.confirm(owner.code())  # a later step than the sign-in's code
    expect(team.column("Sam Park", "MFA")).to_contain_text(REQUIRED)
    expect(team.status("MFA for Sam Park was reset.")).to_be_visible()

    # The code renewed the ten minutes: the next confirmation asks for nothing.
    confirmation = team.click_reset_mfa("Ali Admin")
    expect(confirmation.credential).to_have_count(0)
    confirmation.confirm()
    expect(team.column("Ali Admin", "MFA")).to_contain_text(REQUIRED)


def test_reset_mfa_after_an_idle_logoff_takes_the_whole_tab_to_login_and_back(page, clinic, clock):
    """The session ended while the team page stayed open (15 minutes idle, healthcare):
    Reset MFA, an htmx swap of one row, opens the login page in the whole tab, with the
    reason, and signing in again comes back to Settings > Team."""
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    clock.advance(minutes=16)

    team.reset_mfa_button("Sam Park").click()
    login = LoginPage(page).arrive()
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fsettings%2Fteam$"))
    expect(page.get_by_role("table")).to_have_count(0)
    expect(page.get_by_role("status")).to_have_text(
        ["You were signed out after 15 minutes of inactivity."]
    )

    code_page = login.log_in_expecting_code(clinic["owner"].email)
    code_page.enter(Authenticator(SECRET, clock).code())
    team = TeamPage(page).arrive()
    expect(team.column("Sam Park", "MFA")).not_to_contain_text(REQUIRED)


# --- 4. Add member and the invitation link ---------------------------------------------


def test_add_member_and_the_invitation_link(any_page, browser_for, clinic, clock):
    page = any_page
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))

    add = team.add_member()
    link = add.add("Robin Nurse", "robin@example.com", role="Member")

    assert re.match(r"^https?://[^/]+/set-password/[\w-]+$", link), link
    expect(page.get_by_text("works for 72 hours")).to_be_visible()
    page.get_by_role("link", name="Back to Team").click()
    team.arrive()
    expect(team.row("Robin Nurse")).to_contain_text("(invited)")
    expect(team.column("Robin Nurse", "MFA")).to_have_text(REQUIRED)
    expect(team.column("Robin Nurse", "Last sign-in")).to_have_text("Never")

    robins_browser = browser_for(javascript=javascript_on(page))
    welcome = SetPasswordPage(robins_browser).open(link)
    expect(robins_browser.get_by_role("heading", name="Welcome to OzyOps")).to_be_visible()
    expect(robins_browser.get_by_text("Robin Nurse, choose a password")).to_be_visible()
    login = welcome.set_password()
    expect(login.status("Your password is set. Log in with it now.")).to_be_visible()

    security = login.log_in_to_security("robin@example.com")
    expect(security.status("Your practice requires multi-factor authentication")).to_be_visible()

    # The link was for once (tried from another browser: Robin's own is held at enrolment).
    someone_else = browser_for()
    someone_else.goto(link)
    expect(someone_else.get_by_role("alert")).to_contain_text("This link no longer works")
    expect(someone_else.get_by_role("button", name="Set password")).to_have_count(0)


def test_adding_an_admin_later_asks_for_a_current_code(page, clinic, clock, shots):
    """Whoever sits at an owner's unlocked computer must not make an admin of their own."""
    owner = Authenticator(SECRET, clock)
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    clock.advance(minutes=11)
    page.set_viewport_size(PHONE)
    add = team.add_member()
    expect(add.credential).to_be_visible()
    add.fill("Mal Admin", "mal@example.com", role="Admin", code=owner.wrong_code())
    expect(page.get_by_role("alert")).to_contain_text(WRONG_CODE)
    expect(add.credential).to_be_focused()
    expect(add.credential).to_be_in_viewport()
    expect(page.get_by_label("Email", exact=True)).to_have_value("mal@example.com")  # kept
    page.screenshot(path=shots / "add-member-asks-for-a-code-phone.png", full_page=True)
    link = add.add("Mal Admin", "mal@example.com", role="Admin", code=owner.code())
    assert "/set-password/" in link


# --- 5. deactivate and reactivate ------------------------------------------------------


def test_deactivation_signs_the_member_out_until_reactivated(page, browser_for, clinic, clock):
    sam = clinic["member"]
    sams_browser = browser_for()
    log_in_with_code(sams_browser, sam.email, clock)

    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    member = team.manage("Sam Park")
    expect(page.get_by_role("heading", name="Sam Park", level=1)).to_be_visible()
    expect(member.fact("Status")).to_have_text("Active")

    member.deactivate("Sam Park")
    expect(member.status("Sam Park was deactivated.")).to_be_visible()
    expect(member.fact("Status")).to_have_text("Deactivated")
    expect(page.get_by_role("button", name="Deactivate Sam Park")).to_have_count(0)

    # Sam's open session is over at his next click, and he cannot log in again.
    sams_browser.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    login = LoginPage(sams_browser).arrive()
    login.submit(sam.email)
    login.arrive()
    expect(login.error()).to_contain_text("This account has been deactivated")

    member.go_to_team()
    expect(team.row("Sam Park")).to_contain_text("(deactivated)")
    team.manage("Sam Park").reactivate("Sam Park")
    expect(member.status("Sam Park was reactivated.")).to_be_visible()
    expect(member.fact("Status")).to_have_text("Active")

    clock.advance(seconds=30)
    log_in_with_code(sams_browser, sam.email, clock)


def test_a_paused_password_is_explained_to_the_owner_and_a_link_ends_it(
    page, browser_for, clinic, clock, app, shots
):
    sam = clinic["member"]
    with app.app_context():  # 19 wrong passwords already; the 20th is typed below
        db.session.get(User, sam.id).password_failures = passwords.MAX_FAILURES - 1
        db.session.commit()
    sams_browser = browser_for()
    login = LoginPage(sams_browser).open()
    login.submit(sam.email, "not my password")
    login.arrive()
    login.submit(sam.email)  # the right one: refused, and the page says no more than that
    login.arrive()
    expect(login.error()).to_contain_text("That email and password don't match")

    page.set_viewport_size(PHONE)
    member = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock)).manage(
        "Sam Park"
    )
    expect(member.fact("Password")).to_contain_text("Paused until")
    page.screenshot(path=shots / "member-password-paused-phone.png", full_page=True)
    link = member.create_password_link()
    SetPasswordPage(sams_browser).open(link).set_password("a brand new password")
    LoginPage(sams_browser).log_in_expecting_code(sam.email, "a brand new password")
    page.reload()
    expect(member.fact("Password")).to_have_count(0)


# --- 6. the audit log: entries, the Event filter, Export CSV ---------------------------


def test_audit_log_shows_the_reset_filters_and_exports_csv(page, clinic, clock):
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    team.click_reset_mfa("Sam Park").confirm()
    expect(team.status("MFA for Sam Park was reset.")).to_be_visible()

    audit = team.go_to_audit_log()
    newest = audit.rows().first
    expect(newest.get_by_role("cell").nth(1)).to_contain_text("MFA reset")
    expect(newest.get_by_role("cell").nth(2)).to_have_text("Dana Owner")
    expect(newest.get_by_role("cell").nth(3)).to_have_text("Sam Park")
    expect(audit.rows().filter(has_text="Signed in")).not_to_have_count(0)
    everything = audit.rows().count()
    assert everything > 1

    navigations = watch_navigations(page)
    audit.filter_by_event("MFA reset")
    expect(audit.rows()).to_have_count(1)
    expect(audit.rows().first).to_contain_text("Sam Park")
    expect(page.get_by_text("1 entry, page 1 of 1")).to_be_visible()
    # The filter is put in the address (a reload keeps it) without loading a new page.
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"
    assert all(url("/settings/audit").match(u) for u in navigations), navigations
    expect(page).to_have_url(re.compile(r"/settings/audit\?.*event=mfa_reset"))

    with page.expect_download() as download_info:
        audit.export_csv.click()
    download = download_info.value
    assert download.suggested_filename == "ozyops-audit.csv"
    with open(download.path(), encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][0] == "time_utc"
    assert rows[0] == ["time_utc", "event", "actor", "target", "address", "user_agent", "details"]
    assert ["mfa_reset", "dana@example.com", "sam@example.com"] in [r[1:4] for r in rows[1:]]


def test_trying_filters_with_the_arrow_keys_leaves_no_trail_for_back(page, clinic, clock):
    """A select sends "change" at every arrow key: each filter tried must not become a page
    that Back then steps through. The address keeps the last one (a reload keeps it)."""
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    audit = team.go_to_audit_log()
    before = page.evaluate("history.length")
    for select, filtered in (("#event", "/settings/audit?"), ("#person", "/settings/audit?")):
        page.locator(select).focus()
        for _ in range(3):
            page.keyboard.press("ArrowDown")
        expect(page).to_have_url(re.compile(re.escape(filtered)))
        expect(page.locator("#announcer")).to_have_text(re.compile(r"^(No|\d+) entr"))
    team = audit.go_to_team()
    page.locator("#mfa-filter").focus()
    page.keyboard.press("ArrowDown")
    expect(page).to_have_url(re.compile(r"/settings/team\?.*mfa="))
    # What a screen reader hears: the count, from the announcer that stays on the page.
    expect(page.locator("#announcer")).to_have_text(re.compile(r"^(No|\d+) members? match"))
    assert page.evaluate("history.length") == before + 1  # the audit log, then Team
    page.go_back()
    expect(page).to_have_url(re.compile(r"/settings/audit\?"))


def test_export_csv_after_filtering_exports_what_is_shown(page, clinic, clock):
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    team.click_reset_mfa("Sam Park").confirm()
    expect(team.status("MFA for Sam Park was reset.")).to_be_visible()
    audit = team.go_to_audit_log()
    audit.filter_by_event("MFA reset")
    expect(audit.rows()).to_have_count(1)

    with page.expect_download() as download_info:
        audit.export_csv.click()
    with open(download_info.value.path(), encoding="utf-8", newline="") as f:
        events = [row["event"] for row in csv.DictReader(f)]
    assert events == ["mfa_reset"]


# --- 7. Security: where you are signed in; sign out the others -------------------------


def test_sign_out_other_sessions(page, browser_for, factory, clock, shots):
    user = factory.user(kind="trades", email="pat@builders.example", name="Pat Builder")
    laptop = page
    other = browser_for()
    LoginPage(other).open().log_in_to_dashboard(user.email)

    dashboard = LoginPage(laptop).open().log_in_to_dashboard(user.email)
    clock.advance(minutes=11)  # past sudo mode: the password is asked again
    security = dashboard.go_to_security()
    signed_in = laptop.get_by_role("region", name="Where you are signed in")
    expect(signed_in.get_by_role("listitem")).to_have_count(2)
    expect(signed_in.get_by_role("listitem").filter(has_text="This device")).to_have_count(1)

    password = signed_in.get_by_label("Your password")
    password.fill("not my password")
    with laptop.expect_navigation():
        signed_in.get_by_role("button", name="Sign out other sessions").click()
    expect(signed_in.get_by_role("alert")).to_have_text("That password is not right.")
    expect(signed_in.get_by_role("listitem")).to_have_count(2)
    for size in (DESKTOP, PHONE):
        laptop.set_viewport_size(size)
        laptop.screenshot(path=shots / f"sessions-refused-{size['width']}.png", full_page=True)

    password.fill(PASSWORD)
    with laptop.expect_navigation():
        signed_in.get_by_role("button", name="Sign out other sessions").click()
    security.arrive()
    expect(security.status("You are now signed out everywhere else.")).to_be_visible()
    expect(signed_in.get_by_role("listitem")).to_have_count(1)
    expect(signed_in.get_by_role("button", name="Sign out other sessions")).to_have_count(0)

    other.reload()
    LoginPage(other).arrive()
    laptop.reload()
    security.arrive()


# --- 8. how Team, a member's page and the audit log look on a desktop and a phone ------


def look(page, shots, name, size):
    """Save a full-page screenshot; check nothing is wider than the screen, not even a
    table scrolled inside its box."""
    page.set_viewport_size(size)
    page.screenshot(
        path=shots / f"team-{name}-{size['width']}x{size['height']}.png", full_page=True
    )
    widths = page.evaluate(
        """() => ({
            page: document.documentElement.scrollWidth,
            screen: window.innerWidth,
            tables: [...document.querySelectorAll('.table-wrap')]
                .map(w => w.scrollWidth - w.clientWidth),
        })"""
    )
    assert widths["page"] <= widths["screen"], f"{name} is wider than the screen: {widths}"
    assert all(extra <= 0 for extra in widths["tables"]), f"{name}: table scrolls: {widths}"


def on_screen(page, locator):
    """Wholly within the screen's width, and big enough to tap (44 px high)."""
    box = locator.bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"], box
    assert box["height"] >= 44, box


SMALL_PHONE = {"width": 360, "height": 740}  # many Android phones
SMALL_LAPTOP = {"width": 1024, "height": 700}  # and a tablet held sideways


def test_team_pages_on_a_desktop_and_a_phone(page, clinic, factory, clock, shots):
    factory.user(
        account_id=clinic["owner"].account_id,
        role="member",
        email="nora.hygienist.longname@bright-smile-dental.example",
        name="Nora Hygienist-Longname",
    )
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    for size in (DESKTOP, SMALL_LAPTOP, PHONE, SMALL_PHONE):
        look(page, shots, "list", size)
        on_screen(page, team.reset_mfa_button("Sam Park"))
        on_screen(page, page.get_by_role("link", name="Add member"))

    clock.advance(minutes=11)  # so the confirmation asks for a code too
    confirmation = team.click_reset_mfa("Sam Park")
    for size in (DESKTOP, SMALL_LAPTOP, PHONE, SMALL_PHONE):
        look(page, shots, "reset-confirmation", size)
        on_screen(page, confirmation.box.get_by_role("button", name="Confirm"))

    page.set_viewport_size(DESKTOP)
    team = confirmation.cancel()
    expect(team.column("Sam Park", "MFA")).to_have_text("Enabled")
    member = team.manage("Sam Park")
    for size in (DESKTOP, PHONE):
        look(page, shots, "member", size)
        on_screen(page, page.get_by_role("button", name="Deactivate Sam Park"))

    audit = member.go_to_audit_log()
    for size in (DESKTOP, PHONE):
        look(page, shots, "audit", size)
        on_screen(page, audit.export_csv)


def test_one_very_long_word_in_a_name_widens_nothing(page, clinic, factory, clock, shots):
    """A name is whatever was typed: one word of 50 letters must not push Manage, the
    audit log's Address or a member page's buttons past the screen's edge."""
    name = "Maximiliana Wolfeschlegelsteinhausenbergerdorffvoralternwaren"
    factory.user(
        account_id=clinic["owner"].account_id, role="member", email="max@example.com", name=name
    )
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    for size in (DESKTOP, SMALL_LAPTOP, PHONE):
        look(page, shots, "long-word-list", size)
        manage = team.row(name).get_by_role("link", name="Manage").bounding_box()
        assert manage["x"] + manage["width"] <= size["width"], manage
    member = team.manage(name)
    member.create_password_link()  # an audit entry naming them
    for size in (DESKTOP, PHONE):
        look(page, shots, "long-word-member", size)
        on_screen(page, page.get_by_role("button", name=f"Deactivate {name}"))
    member.go_to_audit_log()
    for size in (DESKTOP, PHONE):
        look(page, shots, "long-word-audit", size)
        address = page.locator("td[data-label='Address']").first.bounding_box()
        assert address["x"] + address["width"] <= size["width"], address


WORD_ON_ONE_LINE = """(cell, word) => {
    const text = [...cell.querySelectorAll("*"), cell].flatMap(e => [...e.childNodes])
        .find(n => n.nodeType === Node.TEXT_NODE && n.data.includes(word));
    const range = document.createRange();
    range.setStart(text, text.data.indexOf(word));
    range.setEnd(text, text.data.indexOf(word) + word.length);
    return new Set([...range.getClientRects()].map(r => Math.round(r.top))).size === 1;
}"""


def test_an_ordinary_word_in_a_name_is_never_cut_in_two(page, clinic, factory, clock):
    """ "Rita Receptioni / st" on the team list and in the audit log: the name column had
    no room of its own, as only a very long word needs to break."""
    factory.user(
        account_id=clinic["owner"].account_id,
        role="member",
        name="Rita Receptionist",
        email="rita.receptionist@brightsmiledentalpractice.example",
    )
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    for size in (DESKTOP, SMALL_LAPTOP):
        page.set_viewport_size(size)
        cell = team.row("Rita Receptionist").locator("td[data-label='Name']")
        assert cell.evaluate(WORD_ON_ONE_LINE, "Receptionist"), size
    team.manage("Rita Receptionist").create_password_link()  # an entry naming her
    page.goto("/settings/audit")
    for size in (DESKTOP, SMALL_LAPTOP):
        page.set_viewport_size(size)
        cell = page.locator("td[data-label='Person']", has_text="Rita Receptionist").first
        assert cell.evaluate(WORD_ON_ONE_LINE, "Receptionist"), size


def test_an_invitation_to_a_mistyped_address_is_corrected(any_page, clinic, clock, shots):
    page = any_page
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    team.add_member().add("Robin Nurse", "robin@exmaple.com")
    page.get_by_role("link", name="Back to Team").click()
    member = team.arrive().manage("Robin Nurse")
    member = member.correct_invitation("Robin Nurse", "robin@example.com")
    expect(
        member.status("The invitation is now for Robin Nurse (robin@example.com)")
    ).to_be_visible()
    expect(member.fact("Email")).to_have_text("robin@example.com")
    for size in (DESKTOP, PHONE):
        look(page, shots, "invitation-corrected", size)
    assert "/set-password/" in member.create_password_link()


def test_filter_fields_do_not_overlap_and_are_big_enough_to_tap(page, factory):
    owner = factory.user(kind="trades", email="pat@builders.example", name="Pat Builder")
    settings = LoginPage(page).open().log_in_to_dashboard(owner.email).go_to_settings()
    team = settings.go_to_team()
    search = team.page.get_by_label("Find a member", exact=True)
    audit = team.go_to_audit_log()
    person = page.get_by_label("Person", exact=True).bounding_box()
    event = page.get_by_label("Event", exact=True).bounding_box()
    assert person["x"] + person["width"] <= event["x"], (person, event)
    team = audit.go_to_team()
    assert search.bounding_box()["height"] >= 44


# --- Long names, emails and links on a phone ---------------------------------------------

LONG_NAME = "Priya Raghunathan-Oyelaran"
LONG_EMAIL = "priya.raghunathan-oyelaran@brightsmiledentalpractice.example.com"


def fits_the_screen(page, what):
    """Nothing on the page is wider than the screen: no sideways scrolling."""
    too_wide = overflow(page)
    assert too_wide <= 0, f"{what} is {too_wide}px wider than the screen"


def test_long_names_emails_and_links_fit_a_phone(page, browser_for, factory, clock, shots):
    """A practice's real names and addresses are long: on a 390 px phone every page still
    fits, the invitation and password links wrap whole (a link cut short does not work),
    and the consent box beside a long label keeps its size."""
    account = factory.account(kind="healthcare", name="Bright Smile Dental Practice")
    owner = factory.user(
        account_id=account,
        email="dana.whitfield-okonkwo@brightsmiledentalpractice.example.com",
        mfa=True,
    )
    page.set_viewport_size(PHONE)
    team = team_from_dashboard(log_in_with_code(page, owner.email, clock))

    link = team.add_member().add(LONG_NAME, LONG_EMAIL)
    fits_the_screen(page, "the invitation link")
    page.screenshot(path=shots / "long-invited-390.png", full_page=True)
    assert page.locator("#invitation-link").inner_text().strip() == link  # whole, wrapped

    team = TeamPage(page).open()
    expect(team.row(LONG_NAME)).to_contain_text("(invited)")
    fits_the_screen(page, "Settings > Team")
    invited = team.row(LONG_NAME).get_by_text("(invited)")
    box = invited.bounding_box()
    assert box["x"] + box["width"] <= PHONE["width"], box

    member = team.manage(LONG_NAME)
    expect(member.fact("Email")).to_have_text(LONG_EMAIL)
    fits_the_screen(page, "the member's page")
    member_url = page.url
    link = member.create_password_link()  # an invitation again: it replaces the first
    fits_the_screen(page, "the password link")
    page.screenshot(path=shots / "long-member-390.png", full_page=True)

    page.get_by_role("link", name="Profile").click()
    fits_the_screen(page, "Profile")

    newcomer = browser_for()
    newcomer.set_viewport_size(PHONE)
    SetPasswordPage(newcomer).open(link)
    fits_the_screen(newcomer, "the set-password page")
    newcomer.screenshot(path=shots / "long-set-password-390.png", full_page=True)
    SetPasswordPage(newcomer).set_password()

    # Joined: now they may be made the owner, and the consent box beside their long name
    # keeps its size.
    page.goto(member_url)
    box = page.get_by_role("checkbox").bounding_box()
    assert box["width"] >= 22 and box["height"] >= 22, box


# --- An error lower down a page is where the person is looking --------------------------


def test_an_error_below_the_fold_comes_back_in_view_on_a_phone(any_page, clinic, clock):
    """A form low on a page posts and comes back with its error: the page must open at
    that error, with the field to fix focused, not at the top with the error out of
    sight (no JavaScript needed: the field is autofocused)."""
    page = any_page
    page.set_viewport_size(PHONE)
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    clock.advance(minutes=11)  # Deactivate asks for a code again

    team.manage("Sam Park")
    section = page.locator("section").filter(has=page.get_by_role("heading", name="Deactivate"))
    section.get_by_label("Your authentication code").fill("000000")
    with page.expect_navigation():
        page.get_by_role("button", name="Deactivate Sam Park").click()
    expect(section.get_by_role("alert")).to_contain_text(WRONG_CODE)
    expect(section.get_by_role("alert")).to_be_in_viewport()
    expect(section.get_by_label("Your authentication code")).to_be_focused()

    page.get_by_role("link", name="Profile").click()
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("three words of mine")
    page.get_by_label("Type it again").fill("three words of yours")
    with page.expect_navigation():
        page.get_by_role("button", name="Change password").click()
    error = page.get_by_text("The two passwords are different: type both again.")
    expect(error).to_be_in_viewport()
    expect(page.get_by_label("Type it again")).to_be_focused()


def test_reloading_the_page_with_a_password_link_keeps_that_link_working(
    any_page, browser_for, clinic, clock
):
    """The link is the answer to a form: the browser's reload sends the form again, which
    must not make a new link and kill the one just copied."""
    page = any_page
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    link = team.manage("Sam Park").create_password_link()
    page.reload()
    expect(page.get_by_role("alert")).to_contain_text("was made after this page was shown")
    SetPasswordPage(browser_for()).open(link)  # still works


def test_a_password_link_opened_where_the_owner_is_signed_in_asks_to_log_out_first(
    any_page, clinic, clock, shots
):
    """The owner checks the link just made, in her own browser: the page says whose link it
    is, and Log out opens it again for them, with or without JavaScript."""
    page = any_page
    page.set_viewport_size(PHONE)
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    link = team.manage("Sam Park").create_password_link()
    page.goto(link)
    expect(page.get_by_role("heading", level=1)).to_have_text("This link is for Sam Park")
    expect(page.locator("main")).to_contain_text("you are signed in as Dana Owner")
    expect(page.get_by_label("New password", exact=True)).to_have_count(0)
    fits_the_screen(page, "the link for someone else")
    page.screenshot(path=shots / "link-for-someone-else-390.png", full_page=True)
    with page.expect_navigation():
        page.locator("main").get_by_role("button", name="Log out").click()
    expect(page.get_by_role("status")).to_have_text("You have logged out.")
    SetPasswordPage(page).open(link).set_password()


def test_the_owner_sets_the_practices_time_zone_and_times_follow(any_page, clinic, clock, shots):
    """A practice in New York reads its sign-ins on its own clock, not UTC's."""
    page = any_page
    team = team_from_dashboard(log_in_with_code(page, clinic["owner"].email, clock))
    expect(team.column("Dana Owner", "Last sign-in")).to_contain_text("09:00 UTC")
    page.get_by_role("link", name="Change the time zone").click()
    page.get_by_label("Your practice's time zone").select_option("America/New_York")
    page.set_viewport_size(PHONE)
    page.screenshot(path=shots / "time-zone-390.png", full_page=True)
    page.set_viewport_size(DESKTOP)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Times are now shown in America/New_York time.")).to_be_visible()
    expect(team.column("Dana Owner", "Last sign-in")).to_contain_text("04:00 EST")
