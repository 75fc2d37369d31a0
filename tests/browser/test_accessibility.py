"""axe-core on every page a person can reach, in every state of the MFA panel, the Team
table and the sign-in steps: no violation of impact "serious" or "critical" is allowed.

axe (tests/browser/vendor/, the npm package axe-core; a test asset the app never serves)
is injected into each page as an inline script. The app is to get a strict
Content-Security-Policy (script-src 'self'), which would block that script, so these tabs
bypass the page's CSP: axe only reads the page, it changes nothing the check is about.

Each page is also checked for what axe does not judge: every visible field has an
accessible name, and the title (what the tab and a screen reader say) is "<page> · OzyOps".
"""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from ozyops import links
from ozyops.extensions import db
from ozyops.models import User
from tests.browser.conftest import DESKTOP, PHONE, TIMEOUT_MS
from tests.browser.pages import (
    Authenticator,
    LoginPage,
    SecurityPage,
)
from tests.conftest import SECRET

AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1.min.js"
BLOCKING = {"serious", "critical"}
TITLE = re.compile(r"^[^<>\n]{1,80} · OzyOps$")  # what the tab and a screen reader say
WRONG_CODE = "That code didn't work"

RUN_AXE = """async () => {
    const result = await axe.run(document, {resultTypes: ['violations']});
    return result.violations.map(v => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        url: v.helpUrl,
        nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary})),
    }));
}"""


@pytest.fixture(scope="session")
def axe_source():
    return AXE.read_text(encoding="utf-8")


@pytest.fixture
def a11y_page(chromium, live_server):
    """A tab with JavaScript on (pages as most people see them, app.js's buttons included)
    whose CSP is bypassed so that axe can be injected."""
    context = chromium.new_context(base_url=live_server, viewport=DESKTOP, bypass_csp=True)
    context.set_default_timeout(TIMEOUT_MS)
    yield context.new_page()
    context.close()


def axe_violations(page, source):
    """Inject axe (once per document) and run every rule it runs by default."""
    if not page.evaluate("() => 'axe' in window"):
        page.add_script_tag(content=source)
    return page.evaluate(RUN_AXE)


def describe(violations):
    lines = []
    for v in violations:
        lines.append(f"- {v['id']} ({v['impact']}): {v['help']} <{v['url']}>")
        for node in v["nodes"]:
            summary = " ".join(node["summary"].split())
            lines.append(f"    {node['target']}: {summary}")
    return "\n".join(lines)


def unlabelled_fields(page):
    """Visible inputs, selects and text areas whose accessible name is empty."""
    fields = page.locator("input:not([type=hidden]), select, textarea")
    missing = []
    for i in range(fields.count()):
        field = fields.nth(i)
        if not field.is_visible():
            continue
        try:
            expect(field).to_have_accessible_name(re.compile(r"\S"), timeout=1)
        except AssertionError:
            missing.append(field.evaluate("f => f.outerHTML"))
    return missing


# A field's edge against what it sits on: WCAG 1.4.11 asks 3:1 (axe does not judge it).
FAINT_EDGES = """() => {
  const lum = c => {
    const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(v => {
      v = v / 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const behind = el => {
    for (let e = el.parentElement; e; e = e.parentElement) {
      const bg = getComputedStyle(e).backgroundColor;
      if (!bg.endsWith(', 0)') && bg !== 'transparent') return bg;
    }
    return 'rgb(255, 255, 255)';
  };
  const faint = [];
  for (const f of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!f.offsetParent) continue;
    const edge = lum(getComputedStyle(f).borderTopColor), back = lum(behind(f));
    const ratio = (Math.max(edge, back) + 0.05) / (Math.min(edge, back) + 0.05);
    if (ratio < 3) faint.push(`${f.name || f.id}: ${ratio.toFixed(2)}:1`);
  }
  return faint;
}"""


class Axe:
    """Runs axe on each state of a page as a test walks through them, and collects every
    serious or critical violation (and unlabelled field) to report them all at the end."""

    def __init__(self, page, source):
        self.page = page
        self.source = source
        self.findings = []
        self.checked = []

    def check(self, state, sizes=(DESKTOP,)):
        for size in sizes:
            self.page.set_viewport_size(size)
            where = f"{state} at {size['width']}x{size['height']} ({self.page.url})"
            found = axe_violations(self.page, self.source)
            blocking = [v for v in found if v["impact"] in BLOCKING]
            if blocking:
                self.findings.append(f"{where}:\n{describe(blocking)}")
            self.checked.append(where)
        if unlabelled := unlabelled_fields(self.page):
            self.findings.append(f"{state}: fields without an accessible name: {unlabelled}")
        if faint := self.page.evaluate(FAINT_EDGES):
            self.findings.append(f"{state}: field edges under 3:1 (WCAG 1.4.11): {faint}")
        title = self.page.title()
        if not TITLE.match(title):
            self.findings.append(f"{state}: the page title is not '<page> · OzyOps': {title!r}")
        self.page.set_viewport_size(DESKTOP)

    def assert_clean(self):
        assert not self.findings, "\n".join(self.findings)


@pytest.fixture
def axe(a11y_page, axe_source):
    return Axe(a11y_page, axe_source)


def log_in_with_code(page, email, clock):
    code_page = LoginPage(page).open().log_in_expecting_code(email)
    return code_page.enter_expecting_dashboard(Authenticator(SECRET, clock).code())


# --- signed out: setup, login, the code step, recovery, a password link, 404 -----------


def test_signed_out_pages(axe, app, factory, clock):
    page = axe.page
    page.goto("/setup")  # a fresh install: no practice yet
    expect(page.get_by_role("heading", name="Set up OzyOps")).to_be_visible()
    axe.check("setup")

    invited = factory.user(kind="healthcare", email="robin@example.com", name="Robin Nurse")
    with app.app_context():
        token = links.issue(db.session.get(User, invited.id), "invite", None, clock.now)
        db.session.commit()
    page.goto(f"/set-password/{token}")
    expect(page.get_by_role("button", name="Set password")).to_be_visible()
    axe.check("set password")

    assert page.goto("/no-such-page").status == 404
    expect(page.get_by_role("heading", level=1, name="Page not found")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("not here")
    axe.check("404")

    user = factory.user(kind="trades", email="cara@law.example", mfa=True)
    login = LoginPage(page).open()
    axe.check("login", sizes=(DESKTOP, PHONE))
    login.submit(user.email, "not the password")
    expect(login.arrive().error()).to_be_visible()
    axe.check("login with an error")

    code_page = login.log_in_expecting_code(user.email)
    axe.check("code", sizes=(DESKTOP, PHONE))
    code_page.enter("123456")
    expect(code_page.arrive().error()).to_contain_text(WRONG_CODE)
    axe.check("code with an error")

    recovery = code_page.use_recovery_key()
    axe.check("recovery")
    recovery.enter("AAAAA-AAAAA-AAAAA-AAAAA-AAAAA")
    expect(recovery.arrive().error()).to_contain_text("That recovery key didn't work")
    axe.check("recovery with an error")

    axe.assert_clean()


# --- the MFA panel in each of its states -----------------------------------------------


def test_security_while_enrolling(axe, factory, clock):
    page = axe.page
    user = factory.user(kind="healthcare", email="dr.ada@example.com", name="Ada Shaw")
    security = LoginPage(page).open().log_in_to_security(user.email).setup_shown()
    axe.check("security, enrolling with the QR code", sizes=(DESKTOP, PHONE))

    phone = security.type_setup_key(clock)
    security.verify_and_enable(phone.wrong_code())
    expect(security.error().first).to_contain_text(WRONG_CODE)
    security.settled()
    axe.check("security, enrolling after a wrong code")

    security.verify_expecting_recovery_key(phone.code())
    axe.check("security, recovery key shown")
    axe.assert_clean()


def test_profile(axe, factory):
    user = factory.user(kind="trades", email="pat@builders.example", name="Pat Builder")
    LoginPage(axe.page).open().log_in_to_dashboard(user.email).go_to_settings()
    axe.check("profile")
    axe.assert_clean()


def test_dashboard_and_security_with_mfa_on(axe, factory, clock):
    page = axe.page
    pat = factory.user(kind="trades", email="pat@builders.example", name="Pat Builder")
    dashboard = LoginPage(page).open().log_in_to_dashboard(pat.email)
    expect(dashboard.status("Multi-factor authentication is recommended")).to_be_visible()
    axe.check("dashboard, MFA recommended")

    hal = factory.user(kind="trades", email="hal@law.example", name="Hal Lawson", mfa=True)
    log_in_with_code(dashboard.log_out().page, hal.email, clock)
    axe.check("dashboard")
    security = SecurityPage(page).open()
    security.expand("Regenerate recovery key")
    security.expand("Disable MFA")
    axe.check("security, MFA on, both sections open")
    axe.assert_clean()


# --- Settings > Team, a member, Add member, the invitation, the audit log --------------


def test_team_pages(axe, clinic, clock):
    page = axe.page
    people = clinic
    team = log_in_with_code(page, people["owner"].email, clock).go_to_settings().go_to_team()
    axe.check("team (owner)", sizes=(DESKTOP, PHONE))

    confirmation = team.click_reset_mfa("Sam Park")
    axe.check("team with the Reset MFA confirmation open", sizes=(DESKTOP, PHONE))
    team = confirmation.cancel()

    member = team.manage("Sam Park")
    axe.check("member")
    member.create_password_link()
    axe.check("member with a password link")

    add = member.go_to_team().add_member()
    axe.check("add member")
    add.add("Robin Nurse", "robin@example.com")
    axe.check("invitation link")

    add.go_to_audit_log()
    axe.check("audit log")
    axe.assert_clean()


# --- what axe cannot judge, and the check itself ---------------------------------------


def test_the_qr_code_has_a_text_alternative_pointing_to_the_setup_key(page, factory):
    user = factory.user(kind="healthcare", email="dr.ada@example.com")
    security = LoginPage(page).open().log_in_to_security(user.email).setup_shown()
    expect(security.qr).to_have_role("img")
    expect(security.qr).to_have_accessible_name(re.compile(r"\bsetup key\b", re.IGNORECASE))
    expect(security.setup_key).to_be_visible()


FOCUS_RING = """el => {
    el.focus();
    const [r, g, b] = getComputedStyle(el).outlineColor.match(/\\d+/g).map(Number);
    const lum = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * lum(r) + 0.7152 * lum(g) + 0.0722 * lum(b);
}"""


def test_the_focus_ring_stands_out_on_every_background(page, factory):
    """WCAG 1.4.11: 3:1 against what is behind it, white cards, the page and the warning
    rows alike (amber measured under 2:1 on each)."""
    factory.user(email="pat@builders.example")
    LoginPage(page).open()
    page.keyboard.press("Tab")  # focus-visible: as from the keyboard
    ring = page.locator("#email").evaluate(FOCUS_RING)
    for background in ("#ffffff", "#f5f7fa", "#fff4d6"):
        rgb = [int(background[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lum = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
        behind = 0.2126 * lum[0] + 0.7152 * lum[1] + 0.0722 * lum[2]
        assert (max(behind, ring) + 0.05) / (min(behind, ring) + 0.05) >= 3, background


def test_axe_reports_what_it_should(axe, factory):
    """The check works: with a label removed, axe and the label check both object."""
    factory.user(email="pat@builders.example")
    page = axe.page
    LoginPage(page).open()
    page.evaluate("document.querySelector('label[for=email]').remove()")
    found = {v["id"]: v["impact"] for v in axe_violations(page, axe.source)}
    assert found.get("label") == "critical", found
    assert unlabelled_fields(page) == [page.locator("#email").evaluate("e => e.outerHTML")]


def test_the_idle_warning(axe, factory, clock):
    """The dialog two minutes before the idle logoff (test_idle_warning.py), at both sizes."""
    page = axe.page
    factory.user(kind="healthcare", email="sam@smile.example", name="Sam Park", mfa=True)
    page.clock.install()
    log_in_with_code(page, "sam@smile.example", clock)
    clock.advance(minutes=13, seconds=1)
    page.clock.fast_forward((13 * 60 + 1) * 1000)
    expect(page.get_by_role("dialog", name="Are you still there?")).to_be_visible()
    axe.check("idle warning", sizes=(DESKTOP, PHONE))
    axe.assert_clean()
