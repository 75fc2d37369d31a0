"""Wrong passwords in a row pause that person's password (passwords.check): NIST SP 800-63B
§5.2.2's per-account limit, on top of the per-address rate limit."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from ozyops import passwords
from ozyops.auth.signin import WRONG_CREDENTIALS
from ozyops.extensions import db
from ozyops.models import AuditEvent, User
from tests.conftest import PASSWORD
from tests.integration.test_notifications import mail_app, smtp  # noqa: F401 (fixtures)
from tests.integration.test_races import race

MAX = passwords.MAX_FAILURES


def wrong_passwords(browser, email, n):
    for _ in range(n):
        r = browser.login(email, "not the password")
        assert r.status_code == 422 and WRONG_CREDENTIALS.replace("'", "&#39;") in r.text


def events(app, name):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)).all()


def stored(app, ref):
    with app.app_context():
        return db.session.get(User, ref.id)


def test_a_right_password_clears_the_count(browser, factory, app):
    user = factory.user(kind="law")
    wrong_passwords(browser, user.email, MAX - 1)
    assert browser.login(user.email).headers["Location"] == "/dashboard"
    assert stored(app, user).password_failures == 0
    browser.logout()
    wrong_passwords(browser, user.email, MAX - 1)
    assert browser.login(user.email).headers["Location"] == "/dashboard"
    assert events(app, "password_paused") == []


def test_the_last_wrong_password_pauses_even_the_right_one_without_saying_so(
    mail_app,  # noqa: F811 (fixture)
    smtp,  # noqa: F811 (fixture)
    browser,
    factory,
    clock,
    app,
):
    account = factory.account(kind="law")
    factory.user(account_id=account, email="dana@example.com")
    member = factory.user(account_id=account, role="member", email="sam@example.com")
    wrong_passwords(browser, member.email, MAX)
    until = stored(app, member).password_paused_until
    assert until == (clock.now + timedelta(minutes=15)).replace(tzinfo=None)
    assert len(events(app, "password_paused")) == 1
    # The right password now looks exactly like a wrong one: the page tells no one whether
    # the email exists or the password was right. The person and the owner get a notice.
    r = browser.login(member.email)
    assert r.status_code == 422 and WRONG_CREDENTIALS.replace("'", "&#39;") in r.text
    assert [m[0] for m in smtp[0].messages] == [["sam@example.com"], ["dana@example.com"]]
    assert "paused for 15 minutes after 20 wrong passwords" in smtp[0].messages[0][1]
    # Wrong passwords meanwhile do not make it longer.
    wrong_passwords(browser, member.email, 3)
    assert stored(app, member).password_paused_until == until
    clock.advance(minutes=15)
    assert browser.login(member.email).headers["Location"] == "/dashboard"


def test_an_unknown_email_is_never_paused(browser, factory, app):
    wrong_passwords(browser, "nobody@example.com", MAX + 2)
    assert events(app, "password_paused") == []
    assert len(events(app, "login_failed")) == MAX + 2


def test_the_owner_sees_the_pause_and_a_password_link_ends_it(browser, make_browser, factory, app):
    account = factory.account(kind="law")
    owner = factory.user(account_id=account, email="dana@example.com")
    member = factory.user(account_id=account, role="member", email="sam@example.com")
    wrong_passwords(make_browser(), member.email, MAX)
    browser.login(owner.email)
    page = browser.get(f"/settings/team/{member.id}").text
    assert "Paused until" in page and "set a new one with a password link" in page
    r = browser.post(
        f"/settings/team/{member.id}/password-link", {}, page=f"/settings/team/{member.id}"
    )
    path = r.text.split('id="password-link"')[1].split(">http://localhost")[1].split("<")[0]
    sam = make_browser()
    sam.get(path)
    r = sam.post(path, {"password": "brand new password", "confirm": "brand new password"})
    assert r.status_code == 303
    assert sam.login(member.email, "brand new password").headers["Location"] == "/dashboard"
    assert "Paused until" not in browser.get(f"/settings/team/{member.id}").text


@pytest.mark.parametrize("where", ["sudo", "change_password"])
def test_wrong_passwords_when_signed_in_count_too_and_say_so(browser, factory, app, clock, where):
    account = factory.account(kind="law")
    owner = factory.user(account_id=account, email="dana@example.com")
    member = factory.user(account_id=account, role="member", email="sam@example.com")
    browser.login(owner.email)
    clock.advance(minutes=11)  # sudo mode has lapsed: the password is asked for
    if where == "sudo":
        url, field, page = (
            f"/settings/team/{member.id}/role",
            "credential",
            f"/settings/team/{member.id}",
        )
        data = {"role": "admin"}
    else:
        url, field, page = "/settings/profile/password", "current", "/settings/profile"
        data = {"password": "brand new password", "confirm": "brand new password"}
    for _ in range(MAX):
        r = browser.post(url, {**data, field: "not the password"}, page=page)
        assert r.status_code == 422
    assert "Too many wrong passwords in a row" in r.text and "UTC" in r.text
    assert len(events(app, "reauth_failed")) == MAX
    r = browser.post(url, {**data, field: PASSWORD}, page=page)
    assert r.status_code == 422 and "Too many wrong passwords in a row" in r.text
    assert stored(app, member).role == "member"


def test_concurrent_wrong_passwords_pause_exactly_once(app, factory, clock):
    user = factory.user()
    with app.app_context():
        db.session.execute(
            User.__table__.update().where(User.id == user.id).values(password_failures=MAX - 3)
        )
        db.session.commit()

    def guess(u):
        return passwords.check(u, "not the password", clock.now, "login_failed")

    guess.user_id = user.id
    results = race(app, guess, n=6)
    assert results.count(passwords.Verdict.PAUSED) == 1
    assert len(events(app, "password_paused")) == 1
