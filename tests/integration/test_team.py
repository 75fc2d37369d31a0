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
