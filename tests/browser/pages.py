"""Page objects for the browser tests, and the phone that holds the authenticator.

Elements are found the way a person finds them, by role and visible label (the words of
help/mfa.md); ids are used only where the spec names them (#mfa-qr, #setup-key,
#recovery-key). Each `arrive()` checks the URL and waits for the page to finish loading,
so that htmx has wired up the forms before anything is clicked.
"""

import io
import re
from urllib.parse import unquote

import pyotp
import zxingcpp
from PIL import Image
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

HTMX_BUSY = ".htmx-request, .htmx-swapping, .htmx-settling, .htmx-added"


def overflow(page):
    """How many pixels the page is wider than the window (0 or less: no sideways scrolling)."""
    return page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def url(path):
    """A regex matching `path` on the live server, ignoring any query string."""
    return re.compile(rf"^https?://[^/]+{re.escape(path)}(\?.*)?$")


class Authenticator:
    """The phone: an authenticator app holding one secret, showing the code for the app's
    injected clock (the test's `clock`), never the wall clock."""

    def __init__(self, secret, clock, uri=None):
        self.secret = secret
        self.clock = clock
        self.uri = uri

    @classmethod
    def scan(cls, png, clock):
        """Read a QR code the way a phone camera does: from the pixels on screen."""
        results = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
        assert len(results) == 1, f"expected one QR code on screen, decoded {len(results)}"
        uri = results[0].text
        return cls(pyotp.parse_uri(uri).secret, clock, uri=uri)

    @classmethod
    def type_in(cls, setup_key, clock):
        """Type the setup key by hand, as it is shown (groups of four): spaces dropped."""
        return cls(re.sub(r"\s", "", setup_key), clock)

    def code(self, seconds=0):
        """The 6-digit code on screen now (or `seconds` from now)."""
        return pyotp.TOTP(self.secret).at(int(self.clock.now.timestamp()) + seconds)

    def wrong_code(self):
        """A well-formed code that matches no step within ±11 minutes, so it is plainly
        wrong (not even "your clock looks off"), whatever the random secret."""
        totp = pyotp.TOTP(self.secret)
        now = int(self.clock.now.timestamp())
        near = {totp.at(now + 30 * k) for k in range(-22, 23)}
        return next(c for c in (f"{n:06d}" for n in range(123456, 10**6)) if c not in near)

    @property
    def label(self):
        """The account label in the scanned otpauth:// URI, decoded (issuer:email)."""
        return unquote(self.uri.split("otpauth://totp/", 1)[1].split("?", 1)[0])


class Screen:
    """What every page has: the top navigation, alerts and the way to Security."""

    path = None

    def __init__(self, page: Page):
        self.page = page

    def arrive(self):
        """Wait (on navigation events, not polling) until this page has loaded."""
        self.page.wait_for_url(url(self.path))
        return self

    @property
    def main_nav(self):
        return self.page.get_by_role("navigation", name="Main")

    def error(self):
        return self.page.get_by_role("alert")

    def status(self, text):
        """A polite message (flash, notice), found by its words."""
        return self.page.get_by_role("status").filter(has_text=text)

    def settled(self):
        """Wait until no htmx request or swap is in flight (nothing to wait for without JS)."""
        self.page.locator(HTMX_BUSY).first.wait_for(state="detached")
        return self

    def log_out(self):
        self.main_nav.get_by_role("button", name="Log out").click()
        login = LoginPage(self.page).arrive()
        expect(login.status("You have logged out.")).to_be_visible()
        return login

    def go_to_settings(self):
        """Settings in the main navigation, which opens on Profile."""
        self.main_nav.get_by_role("link", name="Settings").click()
        ProfilePage(self.page).arrive()
        return SettingsScreen(self.page)

    def go_to_security(self):
        """Settings > Profile > Security, through the links a person clicks."""
        self.main_nav.get_by_role("link", name="Settings").click()
        ProfilePage(self.page).arrive()
        settings = self.page.get_by_role("navigation", name="Settings")
        settings.get_by_role("link", name="Security").click()
        return SecurityPage(self.page).arrive()


class LoginPage(Screen):
    path = "/login"

    def open(self):
        self.page.goto(self.path)
        return self.arrive()

    @property
    def email(self):
        return self.page.get_by_label("Email", exact=True)

    @property
    def password(self):
        return self.page.get_by_label("Password", exact=True)

    def submit(self, email, password=PASSWORD):
        self.email.fill(email)
        self.password.fill(password)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Log in").click()

    def log_in_expecting_code(self, email, password=PASSWORD):
        self.submit(email, password)
        return CodePage(self.page).arrive()

    def log_in_to_dashboard(self, email, password=PASSWORD):
        self.submit(email, password)
        return DashboardPage(self.page).arrive()

    def log_in_to_security(self, email, password=PASSWORD):
        """A user who must set up MFA first is taken straight to Security."""
        self.submit(email, password)
        return SecurityPage(self.page).arrive()


class CodePage(Screen):
    path = "/login/mfa"

    @property
    def code(self):
        return self.page.get_by_label("Authentication code", exact=True)

    def enter(self, code):
        """Type the code and click Verify; returns once the answer (a new page) has loaded."""
        self.code.fill(code)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Verify", exact=True).click()

    def enter_expecting_dashboard(self, code):
        self.enter(code)
        return DashboardPage(self.page).arrive()

    def use_recovery_key(self):
        self.page.get_by_role("link", name="Use Recovery Key").click()
        return RecoveryPage(self.page).arrive()


class RecoveryPage(Screen):
    path = "/login/recovery"

    @property
    def key(self):
        return self.page.get_by_label("Recovery key", exact=True)

    def enter(self, key):
        """Type the key and click Verify; returns once the answer (a new page) has loaded."""
        self.key.fill(key)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Verify", exact=True).click()


class DashboardPage(Screen):
    path = "/dashboard"

    def arrive(self):
        super().arrive()
        expect(self.page.get_by_text("Signed in as")).to_be_visible()
        return self


class ProfilePage(Screen):
    path = "/settings/profile"


class SecurityPage(Screen):
    """Settings > Profile > Security and its MFA panel (off | enrolling | on | key)."""

    path = "/settings/profile/security"

    def open(self):
        self.page.goto(self.path)
        return self.arrive()

    @property
    def mfa_status(self):
        """The sentence that says whether MFA is on ("MFA is on." / "MFA is off.")."""
        return self.page.get_by_text(re.compile(r"^MFA is (on|off)\.($| Signing)"))

    @property
    def enable_button(self):
        return self.page.get_by_role("button", name="Enable MFA")

    @property
    def qr(self):
        return self.page.locator("#mfa-qr")

    @property
    def setup_key(self):
        return self.page.locator("#setup-key")

    @property
    def recovery_key(self):
        return self.page.locator("#recovery-key")

    @property
    def code(self):
        """The one "Authentication code" field of the enrolment step."""
        return self.page.get_by_label("Authentication code", exact=True)

    @property
    def password(self):
        """The password Enable MFA asks for over 10 minutes after signing in (sudo mode)."""
        return self.page.get_by_label("Your password", exact=True)

    def enable(self, password=None):
        if password is not None:
            self.password.fill(password)
        self.enable_button.click()
        return self.setup_shown()

    def setup_shown(self):
        """The QR code on screen: after Enable MFA, or at once where MFA is required."""
        self.page.get_by_role("heading", name="Set up your authenticator app").wait_for()
        self.qr.locator("svg").wait_for()
        return self.settled()

    def scan_qr(self, clock):
        """Point the phone at the QR code on screen."""
        return Authenticator.scan(self.qr.screenshot(), clock)

    def type_setup_key(self, clock):
        return Authenticator.type_in(self.setup_key.inner_text(), clock)

    def verify_and_enable(self, code):
        self.code.fill(code)
        self.page.get_by_role("button", name="Verify and Enable").click()

    def verify_expecting_recovery_key(self, code):
        self.verify_and_enable(code)
        return self.shown_recovery_key()

    def shown_recovery_key(self):
        """The recovery key on screen, shown this once."""
        self.page.get_by_role("heading", name="Save your recovery key").wait_for()
        self.recovery_key.wait_for()
        self.settled()
        return self.recovery_key.inner_text().strip()

    def saved_and_continue(self):
        self.page.get_by_label("I have saved my recovery key").check()
        self.page.get_by_role("button", name="Continue").click()
        return DashboardPage(self.page).arrive()

    def _summary(self, text):
        """The clickable heading of a collapsed section (<summary>: it has no ARIA role)."""
        return self.page.locator("summary").filter(has_text=re.compile(rf"^{re.escape(text)}$"))

    @property
    def disable_section(self):
        return self.page.locator("details").filter(has=self._summary("Disable MFA"))

    def _confirm_with_code(self, title, code):
        """Expand the collapsed section `title`, enter a current code, click its button."""
        section = self.page.locator("details").filter(has=self._summary(title))
        field = section.get_by_label("Authentication code", exact=True)
        if not field.is_visible():  # closed, as on arrival; open again after a wrong code
            self._summary(title).click()
        field.fill(code)
        section.get_by_role("button", name=title).click()

    def disable(self, code):
        """Expand "Disable MFA", enter a current code, click Disable MFA."""
        self._confirm_with_code("Disable MFA", code)

    def regenerate_recovery_key(self, code):
        """Expand "Regenerate recovery key", enter a current code, click its button."""
        self._confirm_with_code("Regenerate recovery key", code)

    def expand(self, title):
        """Open the collapsed section `title` ("Disable MFA", "Regenerate recovery key")."""
        section = self.page.locator("details").filter(has=self._summary(title))
        if not section.evaluate("d => d.open"):
            self._summary(title).click()
        expect(section.get_by_label("Authentication code", exact=True)).to_be_visible()
        return section


# --- Settings > Team, a member's page, Add member, Audit log ---------------------------


def member_url():
    """A member's page, /settings/team/<id>, on the live server."""
    return re.compile(r"^https?://[^/]+/settings/team/\d+(\?.*)?$")


def javascript_on(page: Page):
    """Whether this tab runs the page's scripts (htmx loaded): the same flow is driven with
    and without, and a few checks (a swap without navigation) only mean something with."""
    return page.evaluate("() => 'htmx' in window")


class SettingsScreen(Screen):
    """A Settings page, with the Settings navigation (Profile, Security, Team, Audit log)."""

    @property
    def settings_nav(self):
        return self.page.get_by_role("navigation", name="Settings")

    def go_to_team(self):
        self.settings_nav.get_by_role("link", name="Team").click()
        return TeamPage(self.page).arrive()

    def go_to_audit_log(self):
        self.settings_nav.get_by_role("link", name="Audit log").click()
        return AuditLogPage(self.page).arrive()


class TeamPage(SettingsScreen):
    """Settings > Team: one row per member; Reset MFA swaps a confirmation into the row
    (htmx), or opens it as a page of its own without JavaScript."""

    path = "/settings/team"

    def open(self):
        self.page.goto(self.path)
        return self.arrive()

    def row(self, name):
        """The member's row (and, while it is open, the confirmation that replaced it)."""
        return self.page.get_by_role("row").filter(has_text=name)

    def column(self, name, heading):
        """The cell of `name`'s row under the column `heading` (MFA, Role, Last sign-in…)."""
        headings = self.page.get_by_role("columnheader").all_inner_texts()
        return self.row(name).get_by_role("cell").nth(headings.index(heading))

    def reset_mfa_button(self, name):
        """Reset MFA on `name`'s row (a link that looks like a button; its accessible name
        says whose row it is)."""
        return self.page.get_by_role("link", name=f"Reset MFA for {name}", exact=True)

    @property
    def reset_mfa_buttons(self):
        return self.page.get_by_role("link", name=re.compile(r"^Reset MFA"))

    def click_reset_mfa(self, name):
        self.reset_mfa_button(name).click()
        return ResetConfirmation(self.page).arrive()

    def manage(self, name):
        self.page.get_by_role("link", name=f"Manage {name}", exact=True).click()
        return MemberPage(self.page).arrive()

    def add_member(self):
        self.page.get_by_role("link", name="Add member").click()
        return AddMemberPage(self.page).arrive()


class ResetConfirmation(SettingsScreen):
    """The Reset MFA confirmation: a row in the Team table with JavaScript, a page of its
    own (/settings/team/<id>/reset-mfa) without, or from a member's page (Manage)."""

    @property
    def box(self):
        return self.page.locator("form").filter(has=self.page.get_by_role("button", name="Confirm"))

    def _in_row(self):
        """Whether Confirm and Cancel swap a Team row in place (htmx) or load a page."""
        return javascript_on(self.page) and self.page.locator("tr.confirm-row").count() > 0

    def arrive(self):
        self.box.wait_for()
        return self.settled()

    @property
    def credential(self):
        return self.box.get_by_label("Your authentication code", exact=True)

    def error(self):
        return self.box.get_by_role("alert")

    def confirm(self, credential=None):
        """Click Confirm (after entering a code when one is asked). With JavaScript the row
        swaps in place; without, the browser goes back to Team. Waits for either."""
        if credential is not None:
            self.credential.fill(credential)
        if self._in_row():
            self.box.get_by_role("button", name="Confirm").click()
            self.settled()
        else:
            with self.page.expect_navigation():
                self.box.get_by_role("button", name="Confirm").click()
        return TeamPage(self.page)

    def cancel(self):
        """Cancel: the row comes back as it was (in a row), or Team again (a page)."""
        in_row = self._in_row()
        self.box.get_by_role("link", name="Cancel").click()
        if in_row:
            self.box.wait_for(state="detached")
            self.settled()
        return TeamPage(self.page).arrive()


class MemberPage(SettingsScreen):
    """A member's page (Manage): role, password link, deactivate or reactivate."""

    def arrive(self):
        self.page.wait_for_url(member_url())
        return self

    def fact(self, term):
        """The value next to `term` (Email, Role, Status, MFA) in the facts list."""
        return self.page.locator("dl.facts dt").filter(has_text=term).locator("+ dd")

    def _act(self, button):
        with self.page.expect_navigation():
            self.page.get_by_role("button", name=button, exact=True).click()
        return self.arrive()

    def deactivate(self, name):
        return self._act(f"Deactivate {name}")

    def reactivate(self, name):
        return self._act(f"Reactivate {name}")

    def reset_mfa(self):
        """Click Reset MFA: its confirmation, on a page of its own."""
        with self.page.expect_navigation():
            self.page.get_by_role("link", name="Reset MFA").click()
        return ResetConfirmation(self.page).arrive()

    def correct_invitation(self, name, email):
        """Type the name and email in the Invitation card and save them."""
        card = self.page.locator("section").filter(
            has=self.page.get_by_role("heading", name="Invitation")
        )
        card.get_by_label("Name", exact=True).fill(name)
        card.get_by_label("Email", exact=True).fill(email)
        return self._act("Save name and email")

    def create_password_link(self):
        """Click Create password link; returns the one-time link shown on the page."""
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Create password link").click()
        link = self.page.locator("#password-link")
        link.wait_for()
        return link.inner_text().strip()


class AddMemberPage(SettingsScreen):
    path = "/settings/team/add"

    @property
    def credential(self):
        """The confirm-it's-you code, asked after ten minutes (sudo mode)."""
        return self.page.get_by_label("Your authentication code", exact=True)

    def fill(self, name, email, role="Member", code=None):
        self.page.get_by_label("Name", exact=True).fill(name)
        self.page.get_by_label("Email", exact=True).fill(email)
        self.page.get_by_label("Role", exact=True).select_option(label=role)
        if code is not None:
            self.credential.fill(code)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Add member").click()

    def add(self, name, email, role="Member", code=None):
        """Fill in Name, Email and Role (and the code when asked) and click Add member;
        returns the invitation link."""
        self.fill(name, email, role, code)
        self.page.get_by_role("heading", name=f"{name} was added").wait_for()
        return self.page.locator("#invitation-link").inner_text().strip()


class SetPasswordPage(Screen):
    """An invitation or password-reset link: choose a password, then log in as usual."""

    def open(self, link):
        self.page.goto(link)
        self.page.get_by_role("button", name="Set password").wait_for()
        return self

    def set_password(self, password=PASSWORD):
        self.page.get_by_label("New password", exact=True).fill(password)
        self.page.get_by_label("Type it again", exact=True).fill(password)
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Set password").click()
        return LoginPage(self.page).arrive()


class AuditLogPage(SettingsScreen):
    path = "/settings/audit"

    @property
    def entries(self):
        return self.page.get_by_role("table", name="Audit entries, newest first")

    def rows(self):
        """The entries' rows, newest first (not the heading row)."""
        return self.entries.get_by_role("row").filter(has=self.page.get_by_role("cell"))

    @property
    def export_csv(self):
        return self.page.get_by_role("link", name="Export CSV")

    def filter_by_event(self, label):
        """Choose an Event. With JavaScript the table follows the choice; without, click
        Filter (a plain GET of the whole page)."""
        self.page.get_by_label("Event", exact=True).select_option(label=label)
        if javascript_on(self.page):
            return self.settled()
        with self.page.expect_navigation():
            self.page.get_by_role("button", name="Filter").click()
        return self.arrive()


def focused(page: Page):
    """What has the keyboard focus: tag, id, type and accessible-ish name, for messages."""
    return page.evaluate(
        """() => {
            const el = document.activeElement;
            if (!el || el === document.body) return {tag: 'body', id: '', name: ''};
            return {
                tag: el.tagName.toLowerCase(),
                id: el.id,
                type: el.getAttribute('type') || '',
                name: (el.getAttribute('aria-label') || el.innerText || el.value || '').trim(),
            };
        }"""
    )
