"""Settings > Team as far as this release goes: the list and the MFA requirement."""

import re

import pytest
from sqlalchemy import select

from ozyops.extensions import db
from ozyops.models import Account, AuditEvent


@pytest.fixture
def practice(factory):
    account = factory.account(kind="law", name="Lee & Co")
    return {
        "owner": factory.user(account_id=account, role="owner", email="o@example.com", mfa=True),
        "admin": factory.user(account_id=account, role="admin", email="a@example.com"),
        "member": factory.user(account_id=account, role="member", email="m@example.com"),
        "account": account,
    }


def test_members_see_names_emails_roles_but_not_mfa_status(browser, practice, factory):
    outsider = factory.user(email="elsewhere@example.com")
    browser.login(practice["member"].email)
    page = browser.get("/settings/team").text
    assert "m@<wbr>example<wbr>.com" in page  # a phone breaks it there, not mid-word
    page = page.replace("<wbr>", "")
    for who in ("o@example.com", "a@example.com", "m@example.com"):
        assert who in page
    assert outsider.email not in page
    assert "Not set up" not in page and "Last sign-in" not in page


def test_admins_see_mfa_status_and_last_sign_in(browser, practice):
    browser.login(practice["admin"].email)
    page = browser.get("/settings/team").text
    assert "Enabled" in page and "Not set up" in page and "Last sign-in" in page
    assert "Require MFA for everyone" not in page


def test_required_status_reads_required_not_set_up(browser, factory):
    account = factory.account(kind="healthcare")
    owner = factory.user(account_id=account, email="doc@example.com", mfa=True)
    factory.user(account_id=account, role="member", email="nurse@example.com")
    browser.login_with_code(owner.email)
    page = browser.get("/settings/team").text
    assert "Required — not set up</td>" in page
    # The filter names them as the rows do.
    assert re.search(r'<option value="not_set_up"[^>]*>Required — not set up</option>', page)


@pytest.mark.parametrize("role", ["admin", "member"])
def test_only_the_owner_may_require_mfa(browser, practice, role, app):
    browser.login(practice[role].email)
    r = browser.post("/settings/team/require-mfa", {"require_mfa": "on"}, page="/settings/team")
    assert r.status_code == 403
    with app.app_context():
        assert not db.session.get(Account, practice["account"]).require_mfa


def test_owner_switches_the_requirement_on_and_off_and_it_is_audited(browser, practice, app):
    browser.login_with_code(practice["owner"].email)
    assert "you too" not in browser.get("/settings/team").text  # MFA on: nothing to warn of
    browser.post("/settings/team/require-mfa", {"require_mfa": "on"}, page="/settings/team")
    with app.app_context():
        assert db.session.get(Account, practice["account"]).require_mfa
    r = browser.post("/settings/team/require-mfa", {}, page="/settings/team")
    assert r.status_code == 303
    with app.app_context():
        assert not db.session.get(Account, practice["account"]).require_mfa
        events = db.session.scalars(select(AuditEvent.event)).all()
        assert events.count("mfa_requirement_changed") == 2


def test_healthcare_owner_has_no_switch(browser, factory):
    owner = factory.user(email="doc@example.com", kind="healthcare", mfa=True)
    browser.login_with_code(owner.email)
    assert "Require MFA for everyone" not in browser.get("/settings/team").text
    r = browser.post("/settings/team/require-mfa", {}, page="/settings/team")
    assert r.status_code == 403


# --- the practice's time zone ------------------------------------------------------------

ZONE_PAGE = "/settings/team/time-zone"


def test_the_practice_reads_times_on_its_own_clock(browser, practice, app, clock):
    """A dental office in New York read "09:00 UTC" for its own sign-ins and locks (noted
    by walks of help/mfa.md since the first sessions): owners and admins set the practice's
    time zone, and the pages' times follow it; the audit log stays in UTC (SPEC §6)."""
    browser.login_with_code(practice["owner"].email)  # 09:00 UTC, 04:00 in New York
    team = browser.get("/settings/team").text
    assert "Times are shown in UTC time." in team and "09:00 UTC" in team
    page = browser.get(ZONE_PAGE).text
    assert "<option selected>UTC</option>" in page and "<option>America/New_York</option>" in page
    assert "US/Eastern" not in page and "Etc/GMT+5" not in page  # aliases only lengthen it
    r = browser.post(ZONE_PAGE, {"time_zone": "America/New_York"}, page=ZONE_PAGE)
    assert r.status_code == 303 and r.headers["Location"] == "/settings/team"
    team = browser.get("/settings/team").text
    assert "Times are now shown in America/New_York time." in team
    assert '2026-11-28</span> <span class="whole">04:00 EST</span>' in team
    # SPEC §6: the audit log's times are UTC, on the page and in the export.
    audit_page = browser.get("/settings/audit").text
    assert "2026-11-28 09:00:10" in audit_page and "Time zone changed" in audit_page
    assert "2026-11-28T09:00:10Z" in browser.get("/settings/audit.csv").text
    with app.app_context():
        account = db.session.get(Account, practice["account"])
        assert account.time_zone == "America/New_York"
        entry = db.session.scalar(select(AuditEvent).filter_by(event="time_zone_changed"))
        assert entry.actor_id == practice["owner"].id and "America/New_York" in entry.details


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "US/Eastern", "", "<b>"])
def test_a_time_zone_not_on_the_list_is_refused_and_nothing_changes(browser, practice, app, zone):
    browser.login_with_code(practice["owner"].email)
    r = browser.post(ZONE_PAGE, {"time_zone": zone}, page=ZONE_PAGE)
    assert r.status_code == 422 and "Choose your practice&#39;s time zone from the list." in r.text
    with app.app_context():
        assert db.session.get(Account, practice["account"]).time_zone == "UTC"


def test_only_owners_and_admins_set_the_time_zone(browser, make_browser, practice, app):
    browser.login(practice["member"].email)
    assert browser.get(ZONE_PAGE).status_code == 403
    r = browser.post(ZONE_PAGE, {"time_zone": "Europe/London"}, page="/settings/team")
    assert r.status_code == 403
    assert "Change the time zone" not in browser.get("/settings/team").text
    admin = make_browser()
    admin.login(practice["admin"].email)
    r = admin.post(ZONE_PAGE, {"time_zone": "Europe/London"}, page=ZONE_PAGE)
    assert r.status_code == 303
    with app.app_context():
        assert db.session.get(Account, practice["account"]).time_zone == "Europe/London"
