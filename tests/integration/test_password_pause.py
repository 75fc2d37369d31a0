"""Wrong passwords in a row pause that person's password (passwords.check): NIST SP 800-63B
§5.2.2's per-account limit, on top of the per-address rate limit."""

from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from flask import has_request_context
from sqlalchemy import select

from ozyops import devices, notify, passwords
from ozyops.auth.signin import WRONG_CREDENTIALS
from ozyops.extensions import db
from ozyops.models import AuditEvent, User
from tests.conftest import PASSWORD
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
    mail_app,
    smtp,
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
    # Someone with this session's cookie but not the browser's other cookies (the owner's
    # own browser knows them and is never paused: test_a_browser_signed_in_before_...).
    browser.client.delete_cookie(devices.COOKIE)
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
    failed = events(app, "reauth_failed")
    assert len(failed) == MAX
    # Typed by the person signed in, as a wrong code there is: the audit log says so.
    assert {e.actor_id for e in failed} == {owner.id}
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
    # Three wrong passwords reach the limit; whichever comes later finds the pause.
    assert results.count(passwords.Verdict.WRONG) <= 2
    assert len(events(app, "password_paused")) == 1


def test_a_browser_signed_in_before_is_not_paused(browser, make_browser, factory, app):
    sam = factory.user(kind="law")
    assert browser.login(sam.email).headers["Location"] == "/dashboard"
    browser.logout()
    stranger = make_browser()
    wrong_passwords(stranger, sam.email, MAX)
    assert stranger.login(sam.email).status_code == 422  # paused for everyone else
    assert browser.login(sam.email).headers["Location"] == "/dashboard"
    # A made-up or altered device cookie is worth nothing.
    forger = make_browser()
    forger.client.set_cookie(devices.COOKIE, browser.client.get_cookie(devices.COOKIE).value + "x")
    assert forger.login(sam.email).status_code == 422


def test_a_browser_signed_in_before_loses_its_exemption_after_as_many_wrong_ones(
    browser, make_browser, factory
):
    """OWASP's device cookie has a lockout of its own: else whoever sits at a shared
    computer, or holds a copy of its cookie, guesses a colleague's password without end.
    Neither a re-encoded copy of the cookie nor a sign-in there starts the count again."""
    account = factory.account(kind="law")
    sam = factory.user(account_id=account, email="sam@example.com")
    colleague = factory.user(account_id=account, role="member", email="kim@example.com")
    assert browser.login(sam.email).headers["Location"] == "/dashboard"
    browser.logout()
    wrong_passwords(browser, sam.email, MAX // 2)
    # The colleague signs in at the same computer: its cookie is written again.
    assert browser.login(colleague.email).headers["Location"] == "/dashboard"
    browser.logout()
    copy = make_browser()  # elsewhere, with the cookie re-encoded: "=" still verifies
    copy.client.set_cookie(devices.COOKIE, browser.client.get_cookie(devices.COOKIE).value + "=")
    wrong_passwords(copy, sam.email, MAX - MAX // 2)
    for b in (browser, copy):
        r = b.login(sam.email)  # the right password
        assert r.status_code == 422 and WRONG_CREDENTIALS.replace("'", "&#39;") in r.text
    browser.clock.advance(minutes=16)  # the pause is over
    assert browser.login(sam.email).headers["Location"] == "/dashboard"


def test_a_password_checked_after_a_pause_began_elsewhere_is_paused(app, factory, clock):
    """A sign-in waits its turn for the hashing thread, with the user loaded before; a
    pause begun meanwhile by another process still holds for it, right password or not."""
    user = factory.user(kind="law")
    with app.app_context():
        loaded_before = db.session.get(User, user.id)
        db.session.expunge(loaded_before)
    with app.app_context():  # another process: 20 wrong passwords
        other = db.session.get(User, user.id)
        for _ in range(MAX):
            passwords.check(other, "not the password", clock.now, "login_failed")
    verdicts = []
    for typed in (PASSWORD, "guess", "guess"):
        with app.app_context():
            u = db.session.merge(loaded_before, load=False)
            verdicts.append(passwords.check(u, typed, clock.now, "login_failed"))
    assert verdicts == [passwords.Verdict.PAUSED] * 3
    assert stored(app, user).password_failures == 0  # not counted towards the next pause


def test_wrong_passwords_from_a_known_browser_do_not_lengthen_a_pause(
    browser, make_browser, factory, app, clock
):
    """Not counted while the pause lasts, from any browser: a shared computer where the
    person has signed in before cannot keep their password paused on every other one."""
    sam = factory.user(kind="law")
    assert browser.login(sam.email).headers["Location"] == "/dashboard"
    browser.logout()
    wrong_passwords(make_browser(), sam.email, MAX)
    until = stored(app, sam).password_paused_until
    clock.advance(minutes=10)
    wrong_passwords(browser, sam.email, MAX - 1)
    assert stored(app, sam).password_paused_until == until
    assert stored(app, sam).password_failures == 0
    clock.advance(minutes=6)  # the pause is over, on every computer
    assert make_browser().login(sam.email).headers["Location"] == "/dashboard"


def test_a_password_changed_while_the_old_one_was_checked_does_not_sign_in(
    browser, factory, app, monkeypatch
):
    """A sign-in waits its turn for the hashing thread; a password changed meanwhile (Change
    password, a link, in another process) ends every session, and the old password, right
    when the hash began, must not start a new one after it."""
    user = factory.user(kind="law")
    verify = passwords._first_verified

    def changed_meanwhile(password_hash, forms):
        matched = verify(password_hash, forms)
        with app.app_context():
            db.session.get(User, user.id).password_hash = passwords._hasher.hash("a new one!")
            db.session.commit()
        return matched

    monkeypatch.setattr(passwords, "_first_verified", changed_meanwhile)
    r = browser.login(user.email)  # the old password, right until a moment ago
    assert r.status_code == 422 and WRONG_CREDENTIALS.replace("'", "&#39;") in r.text
    monkeypatch.setattr(passwords, "_first_verified", verify)
    assert browser.get("/dashboard").status_code == 302


def test_the_same_password_hashed_again_meanwhile_still_signs_in(
    browser, factory, app, monkeypatch
):
    """The stored hash is at an older cost, and a sign-in elsewhere hashes it again while
    this one's hash waits its turn: the password is the same, and right."""
    user = factory.user(kind="law")
    with app.app_context():
        older = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1).hash(PASSWORD)
        db.session.get(User, user.id).password_hash = older
        db.session.commit()
    verify = passwords._first_verified

    held = []
    with app.app_context():
        pool = db.engine.pool

    def hashed_again_meanwhile(password_hash, forms):  # on the hashing thread
        held.append(pool.checkedout())
        matched = verify(password_hash, forms)
        if password_hash == older:  # the sign-in elsewhere hashes it again once
            with app.app_context():
                db.session.get(User, user.id).password_hash = passwords._hasher.hash(PASSWORD)
                db.session.commit()
        return matched

    monkeypatch.setattr(passwords, "_first_verified", hashed_again_meanwhile)
    assert browser.login(user.email).headers["Location"] == "/dashboard"
    assert stored(app, user).password_failures == 0
    assert held == [0, 0]  # neither hash waited holding a database connection


def test_attempts_while_paused_are_audited(browser, factory, app):
    user = factory.user(kind="law")
    wrong_passwords(browser, user.email, MAX)
    before = len(events(app, "login_failed"))
    for typed in ("guess 1", PASSWORD):
        assert browser.login(user.email, typed).status_code == 422
    after = events(app, "login_failed")
    assert len(after) == before + 2 and '"reason": "paused"' in after[-1].details


def test_no_one_is_paused_who_has_no_password_to_guess(browser, factory, app, caplog):
    user = factory.user(kind="law")
    with app.app_context():
        db.session.get(User, user.id).password_hash = None
        db.session.commit()
    caplog.set_level("INFO")
    wrong_passwords(browser, user.email, MAX + 1)
    assert stored(app, user).password_failures == 0
    assert events(app, "password_paused") == [] and "password_paused" not in caplog.text


def test_a_deactivated_persons_password_is_paused_like_anyone_elses(browser, factory, app):
    """Else their password could be guessed without end, the page saying "deactivated" at
    the right one, for the day they are reactivated."""
    user = factory.user(kind="law", active=False)
    wrong_passwords(browser, user.email, MAX)
    assert stored(app, user).password_paused_until is not None
    r = browser.login(user.email)  # the right password, while paused
    assert r.status_code == 422 and "deactivated" not in r.text
    assert WRONG_CREDENTIALS.replace("'", "&#39;") in r.text


def test_the_pause_notice_goes_after_the_response_and_once_a_day(
    browser, factory, app, clock, monkeypatch
):
    delivered = []
    monkeypatch.setattr(
        notify, "_deliver", lambda user, what, body: delivered.append((what, has_request_context()))
    )
    user = factory.user(kind="law")
    wrong_passwords(browser, user.email, MAX)
    assert delivered == [("password_paused", False)]  # the request was over by then
    clock.advance(minutes=15)
    wrong_passwords(browser, user.email, MAX)  # paused again the same day: no second notice
    assert len(events(app, "password_paused")) == 2 and len(delivered) == 1
    clock.advance(days=1)
    wrong_passwords(browser, user.email, MAX)
    assert len(delivered) == 2


def test_over_https_only_the_prefixed_device_cookie_is_read(app, factory):
    user = factory.user(kind="law")
    with app.test_request_context():
        value = devices._serializer().dumps({"browser": "b", "people": [user.id]})
    for scheme, name, known in (
        ("https", "__Host-ozyops_device", True),
        ("https", "ozyops_device", False),  # planted over plain HTTP, or by a subdomain
        ("http", "ozyops_device", True),
    ):
        cookie = {"Cookie": f"{name}={value}"}
        with app.test_request_context(base_url=f"{scheme}://localhost", headers=cookie):
            assert devices.known(factory.get(user)) is known, (scheme, name)


@pytest.mark.settings(TRUSTED_PROXIES=1)
def test_the_device_cookie_is_httponly_samesite_and_secure_over_https(browser, factory):
    user = factory.user(kind="law")
    browser.client.environ_base["HTTP_X_FORWARDED_PROTO"] = "https"
    browser.client.environ_base["HTTP_REFERER"] = "https://localhost/login"
    r = browser.login(user.email)
    assert r.headers["Location"] == "/dashboard"
    (cookie,) = [
        c for c in r.headers.getlist("Set-Cookie") if c.startswith("__Host-ozyops_device=")
    ]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert "Max-Age=7776000" in cookie  # 90 days: it remembers a browser, not a session


@pytest.mark.settings(RATELIMIT_ENABLED=False)
def test_with_rate_limits_switched_off_a_known_browser_skips_nothing(browser, factory):
    """The browser's count lives in the limiter's storage, which is then not there:
    uncounted, it must not skip the pause (and must not be a 500)."""
    sam = factory.user(kind="law")
    assert browser.login(sam.email).headers["Location"] == "/dashboard"
    browser.logout()
    wrong_passwords(browser, sam.email, MAX)
    assert browser.login(sam.email).status_code == 422  # the right password, paused
