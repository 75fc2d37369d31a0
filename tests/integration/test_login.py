"""The password step, logout and server-side sessions."""

import re
import unicodedata
from datetime import timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from ozyops import clock as clocks
from ozyops import passwords
from ozyops.extensions import db
from ozyops.models import AuditEvent, ServerSession, User
from ozyops.security import mfa
from tests.conftest import CHEAP_COST, PASSWORD, csrf_from

WRONG = "That email and password don&#39;t match"


def events(app, name):
    with app.app_context():
        return db.session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.event == name)
        )


def test_login_page_has_the_fields_and_button(browser):
    html = browser.get("/login").text
    assert 'name="email"' in html and 'name="password"' in html
    assert ">Log in</button>" in html
    # A forgotten password: members go to the practice; the owner to whoever runs the
    # install (the `password-link` command).
    assert "owner or an admin for a link" in html and "Owners: contact support@ozyops.com" in html


def test_a_page_that_needs_signing_in_says_so_as_a_notice(browser):
    r = browser.get("/dashboard")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    page = browser.get(r.headers["Location"]).text
    assert '<div class="alert alert-info" role="status">Please log in to continue.</div>' in page


def test_login_without_mfa_lands_on_dashboard(browser, factory, app):
    user = factory.user(kind="trades", email="pat@example.com")
    r = browser.login("PAT@example.com")
    assert r.status_code == 303
    assert r.headers["Location"] == "/dashboard"
    page = browser.get("/dashboard")
    assert page.status_code == 200
    assert "Practice" in page.text and "owner" in page.text
    assert events(app, "login") == 1
    with app.app_context():
        assert factory.get(user).last_login_at is not None


def test_a_password_hashed_as_typed_is_hashed_again_in_normal_form(browser, factory, app):
    """Chosen before passwords were normalised, with "e" and an accent as two characters:
    it still signs in as typed, and from then on however the accents are typed."""
    typed = unicodedata.normalize("NFD", "Crème brûlée à Noël")
    user = factory.user(kind="trades", email="pat@example.com")
    with app.app_context():
        factory.get(user).password_hash = passwords._hasher.hash(typed)
        db.session.commit()
    assert browser.login(user.email, typed).headers["Location"] == "/dashboard"
    with app.app_context():
        stored = factory.get(user).password_hash
    assert passwords.verify_password(stored, unicodedata.normalize("NFC", typed))
    assert passwords._hasher.verify(stored, unicodedata.normalize("NFKC", typed))


def test_a_password_hashed_at_an_older_cost_is_hashed_again_at_todays(browser, factory, app):
    """Hashed with four lanes (this product's cost until the eighth session): the right
    password signs in and is hashed again at today's cost; a wrong one changes nothing."""
    older = PasswordHasher(parallelism=4, **CHEAP_COST)
    user = factory.user(kind="trades", email="pat@example.com")
    with app.app_context():
        factory.get(user).password_hash = before = older.hash(PASSWORD)
        db.session.commit()
    assert browser.login(user.email, "not the password").status_code == 422
    with app.app_context():
        assert factory.get(user).password_hash == before
    assert browser.login(user.email).headers["Location"] == "/dashboard"
    with app.app_context():
        stored = factory.get(user).password_hash
    assert stored != before and not passwords._hasher.check_needs_rehash(stored)
    assert passwords.verify_password(stored, PASSWORD)


def test_hashing_again_holds_no_connection_and_keeps_a_password_changed_meanwhile(
    browser, factory, app, monkeypatch
):
    """The wait for the hashing thread holds no database connection, and a password set
    meanwhile (here by another request, as a link would) is not overwritten by the old one."""
    user = factory.user(kind="trades", email="pat@example.com")
    with app.app_context():
        factory.get(user).password_hash = PasswordHasher(parallelism=4, **CHEAP_COST).hash(PASSWORD)
        db.session.commit()
        changed = passwords._hasher.hash("set by a link meanwhile")
    hash_now = passwords.hash_password

    def meanwhile(password):
        assert db.session().get_transaction() is None  # nothing begun: no connection held
        with db.engine.begin() as conn:
            conn.execute(update(User).where(User.id == user.id).values(password_hash=changed))
        return hash_now(password)

    monkeypatch.setattr(passwords, "hash_password", meanwhile)
    assert browser.login(user.email).headers["Location"] == "/dashboard"
    with app.app_context():
        assert factory.get(user).password_hash == changed


def test_a_code_sign_in_records_when_and_a_confirmation_code_does_not(browser, factory, app, clock):
    user = factory.user(email="pat@example.com", mfa=True)
    r = browser.login_with_code("pat@example.com")
    assert r.status_code == 303, r.text
    assert r.headers["Location"] == "/dashboard"
    with app.app_context():
        assert factory.get(user).last_login_at == clocks.naive(clock())
        signed_in_at = factory.get(user).last_login_at
    clock.advance(seconds=60)
    with app.app_context():
        assert mfa.verify_code(factory.get(user), browser.code(), clock()).ok
        db.session.commit()
        assert factory.get(user).last_login_at == signed_in_at


@pytest.mark.parametrize(
    "email, password",
    [
        ("pat@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("not an email", PASSWORD),
    ],
)
def test_wrong_email_or_password_get_the_same_message(browser, factory, app, email, password):
    factory.user(email="pat@example.com")
    r = browser.post("/login", {"email": email, "password": password}, page="/login")
    assert r.status_code == 422
    assert WRONG in r.text
    assert events(app, "login_failed") == 1
    # The password field takes the focus and a screen reader reads the message with it.
    field = re.search(r'<input[^>]*\bid="password"[^>]*>', r.text)[0]
    assert "autofocus" in field and 'aria-describedby="login-error"' in field
    assert re.search(rf'id="login-error"[^>]*>{WRONG}', r.text)
    # Both fields are marked wrong: the message does not say which (an accessibility audit).
    for name in ("email", "password"):
        tag = re.search(rf'<input[^>]*\bid="{name}"[^>]*>', r.text)[0]
        assert 'aria-invalid="true"' in tag, tag


def test_empty_fields_say_what_is_missing(browser):
    r = browser.post("/login", {"email": "", "password": ""}, page="/login")
    assert r.status_code == 422
    assert "Enter your email." in r.text and "Enter your password." in r.text
    # The first field in error takes the focus, and it alone (HTML allows one autofocus).
    assert r.text.count("autofocus") == 1
    assert "autofocus" in re.search(r'<input[^>]*\bid="email"[^>]*>', r.text)[0]


def test_deactivated_user_cannot_log_in(browser, factory):
    factory.user(email="gone@example.com", active=False)
    r = browser.login("gone@example.com")
    assert r.status_code == 422
    assert "deactivated" in r.text
    assert "aria-invalid" not in r.text  # nothing typed was wrong


def test_next_is_followed_only_on_this_site(browser, factory):
    factory.user(email="pat@example.com")
    r = browser.get("/settings/team")
    assert r.status_code == 302 and "/login?next=" in r.headers["Location"]
    browser.get("/login?next=/settings/team")
    r = browser.post(
        "/login", {"email": "pat@example.com", "password": PASSWORD, "next": "/settings/team"}
    )
    assert r.headers["Location"] == "/settings/team"
    browser.logout()
    for evil in (
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "/dashboard\nX-Injected: 1",  # a line break cannot go into a Location header
        "/settings\r\nSet-Cookie: a=b",
        "/settings/team\t",
    ):
        r = browser.post(
            "/login",
            {"email": "pat@example.com", "password": PASSWORD, "next": evil},
            page="/login",
        )
        assert r.headers["Location"] == "/dashboard"
        browser.logout()


def test_a_line_break_in_next_is_not_followed_after_the_code_either(browser, factory):
    """Not a 500 after the code is used up and the session begun: the dashboard."""
    factory.user(email="doc@example.com", mfa=True)
    browser.get("/login?next=/settings/team%0d%0aX-Injected:%201")
    r = browser.post(
        "/login",
        {"email": "doc@example.com", "password": PASSWORD, "next": "/settings/team\r\nX: 1"},
        page="/login",
    )
    assert r.headers["Location"] == "/login/mfa"
    r = browser.post("/login/mfa", {"code": browser.code()}, page="/login/mfa")
    assert r.status_code == 303 and r.headers["Location"] == "/dashboard"


def test_logout_is_post_only_and_kills_a_copied_cookie(browser, factory, app):
    factory.user(email="pat@example.com")
    browser.login("pat@example.com")
    cookie = browser.client.get_cookie("ozyops_session").value
    assert browser.client.get("/logout").status_code == 405
    r = browser.logout()
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    thief = app.test_client()
    thief.set_cookie("ozyops_session", cookie)
    assert thief.get("/dashboard").status_code == 302
    assert events(app, "logout") == 1


def test_logout_needs_the_csrf_token(browser, factory):
    factory.user(email="pat@example.com")
    browser.login("pat@example.com")
    r = browser.client.post("/logout")
    assert r.status_code == 400
    assert "This form has expired" in r.text
    assert browser.get("/dashboard").status_code == 200


@pytest.mark.parametrize(
    "sent_from", [{"Origin": "http://localhost"}, {"Sec-Fetch-Site": "same-origin"}]
)
def test_log_out_in_a_tab_left_open_since_signing_in_again_still_logs_out(
    browser, factory, sent_from
):
    """Another tab logged out and in again, so this tab's token is stale: Log out must still
    log out, or the person stays signed in at a shared desk."""
    factory.user(email="pat@example.com")
    browser.login("pat@example.com")
    left_open = browser.get("/dashboard") and browser.token
    browser.logout()
    browser.login("pat@example.com")
    r = browser.client.post("/logout", data={"csrf_token": left_open}, headers=sent_from)
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert browser.get("/dashboard").status_code == 302


@pytest.mark.parametrize(
    "sent_from",
    [
        {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain
        {"Origin": "http://localhost", "Sec-Fetch-Site": "cross-site"},  # the browser's word
    ],
)
def test_a_stale_log_out_from_another_site_logs_no_one_out(browser, factory, sent_from):
    factory.user(email="pat@example.com")
    browser.login("pat@example.com")
    r = browser.client.post("/logout", headers=sent_from)
    assert r.status_code == 400
    assert browser.get("/dashboard").status_code == 200


def test_a_stale_form_leads_back_to_its_page_not_to_a_reload_of_the_same_post(browser, factory):
    factory.user(email="pat@example.com")
    browser.login("pat@example.com")
    r = browser.client.post(
        "/settings/profile/password",
        data={"csrf_token": "stale"},
        headers={"Referer": "http://localhost/settings/profile/security?x=1"},
    )
    assert r.status_code == 400 and "Nothing was changed" in r.text
    assert '<a href="/settings/profile/security?x=1">Open the page again</a>' in r.text
    r = browser.client.post(
        "/settings/profile/password",
        data={"csrf_token": "stale"},
        headers={"Referer": "https://evil.example/settings"},
    )
    assert "Open the page again" not in r.text and "Go to the start page" in r.text


def test_login_issues_a_new_session_id(browser, factory, app):
    factory.user(email="pat@example.com")
    browser.get("/login")
    before = browser.client.get_cookie("ozyops_session").value
    browser.login("pat@example.com")
    after = browser.client.get_cookie("ozyops_session").value
    assert before != after
    with app.app_context():
        stored = db.session.scalars(select(ServerSession.id_hash)).all()
        assert after not in stored  # only hashes are stored


def test_cookie_holds_only_a_random_id(browser, factory):
    factory.user(email="pat@example.com")
    browser.login("pat@example.com")
    cookie = browser.client.get_cookie("ozyops_session")
    assert len(cookie.value) == 43 and "." not in cookie.value
    assert cookie.http_only and cookie.same_site == "Lax"


def test_session_ends_twelve_hours_after_sign_in(browser, factory, clock):
    factory.user(email="pat@example.com")
    browser.login("pat@example.com")
    for _ in range(24):  # active every 30 minutes, so never idle
        clock.advance(minutes=29)
        assert browser.get("/dashboard").status_code == 200
    clock.advance(minutes=30)
    r = browser.get("/dashboard")
    assert r.status_code == 302
    page = browser.get(r.headers["Location"]).text  # says which end it was, and only that
    assert "You were signed out 12 hours after you signed in." in page
    assert "Please log in to continue" not in page


@pytest.mark.parametrize("htmx", [False, True])
def test_a_form_sent_after_the_session_ended_leads_back_to_its_page_after_sign_in(
    browser, factory, clock, htmx
):
    """The receptionist filled in Add member, took a phone call, and clicked: after signing
    in again she is on the page she was on, not the dashboard (found by a usability walk)."""
    factory.user(email="doc@example.com", kind="healthcare", mfa=True, role="owner")
    browser.login_with_code("doc@example.com")
    browser.get("/settings/team/add")
    clock.advance(minutes=17)  # idle past healthcare's 15 minutes
    r = browser.post(
        "/settings/team/add",
        {"name": "Nia New", "email": "nia@example.com", "role": "member"},
        htmx=htmx,
        headers={"Referer": "http://localhost/settings/team/add"},
    )
    login = "/login?next=%2Fsettings%2Fteam%2Fadd"
    assert (r.headers["HX-Redirect"] if htmx else r.headers["Location"]) == login
    page = browser.get(login).text
    assert "signed out after 15 minutes of inactivity" in page
    assert 'name="next" type="hidden" value="/settings/team/add"' in page  # carried on
    browser.post(
        "/login", {"email": "doc@example.com", "password": PASSWORD, "next": "/settings/team/add"}
    )
    r = browser.post("/login/mfa", {"code": browser.code()}, page="/login/mfa")
    assert r.headers["Location"] == "/settings/team/add"


def test_a_part_of_a_page_asked_for_after_the_session_ended_sends_the_whole_tab_to_login(
    browser, factory, clock
):
    """htmx follows a 302 and would swap the login page into the team row or the list it
    asked for: it gets HX-Redirect instead, back to the page it was on, not to the part."""
    factory.user(email="doc@example.com", kind="healthcare", mfa=True, role="owner")
    browser.login_with_code("doc@example.com")
    clock.advance(minutes=16)  # idle past healthcare's 15 minutes
    page = "http://localhost/settings/team?q=pat"
    r = browser.get("/settings/team?q=x", headers={"HX-Request": "true", "HX-Current-URL": page})
    assert r.status_code == 200 and r.text == ""
    assert r.headers["HX-Redirect"] == "/login?next=%2Fsettings%2Fteam%3Fq%3Dpat"
    login = browser.get(r.headers["HX-Redirect"])
    assert "signed out after 15 minutes of inactivity" in login.text
    assert "Please log in to continue" not in login.text  # one notice says it
    r = browser.post(
        "/login", {"email": "doc@example.com", "password": PASSWORD, "next": "/settings/team?q=pat"}
    )
    r = browser.post("/login/mfa", {"code": browser.code()}, page="/login/mfa")
    assert r.headers["Location"] == "/settings/team?q=pat"
    browser.logout()
    # Without htmx (JavaScript off), the page itself is remembered, as before.
    r = browser.get("/settings/team?q=x")
    assert (
        r.status_code == 302 and r.headers["Location"] == "/login?next=%2Fsettings%2Fteam%3Fq%3Dx"
    )


def test_idle_healthcare_session_ends_after_15_minutes_with_a_message(browser, factory, clock):
    factory.user(email="doc@example.com", kind="healthcare", mfa=True)
    browser.login_with_code("doc@example.com")
    clock.advance(minutes=14)
    assert browser.get("/dashboard").status_code == 200
    # At most half a minute late: the last-seen time is written every 30 s at most.
    clock.advance(minutes=15, seconds=30)
    r = browser.get("/dashboard")
    assert r.status_code == 302
    page = browser.get(r.headers["Location"])
    assert "signed out after 15 minutes of inactivity" in page.text


def test_a_session_ended_on_the_server_says_so_on_the_login_page(browser, factory, app):
    """Signed out by an MFA reset, a deactivation or "Sign out other sessions": the next
    page is the login page with why, once, instead of the notice for a stranger."""
    from ozyops import sessions

    user = factory.user(email="pat@example.com", mfa=True)
    browser.login_with_code("pat@example.com")
    with app.app_context():
        sessions.end_all_for(user.id)
    r = browser.get("/dashboard")
    assert r.status_code == 302
    page = browser.get(r.headers["Location"]).text
    assert "You were signed out. Log in again to continue." in page
    assert "Please log in to continue" not in page
    assert "You were signed out" not in browser.get("/login").text  # said once


def test_idle_logoff_never_comes_before_15_minutes_after_the_last_request(browser, factory, clock):
    """A request less than 30 s after the last written last-seen time writes nothing (a
    write per request spared); the idle time still counts from that request."""
    factory.user(email="doc@example.com", kind="healthcare", mfa=True)
    browser.login_with_code("doc@example.com")
    clock.advance(seconds=29)
    assert browser.get("/dashboard").status_code == 200
    clock.advance(minutes=14, seconds=59)
    assert browser.get("/dashboard").status_code == 200


class TestIdleWarning:
    """Two minutes before the idle logoff a signed-in page asks "Are you still there?"
    (app.js; WCAG 2.2.1, found by an accessibility audit): the page carries the idle time,
    and "Stay signed in" is a request that keeps the session."""

    @pytest.mark.parametrize(("kind", "seconds"), [("healthcare", 900), ("law", 43200)])
    def test_a_signed_in_page_carries_its_idle_time(self, browser, factory, kind, seconds):
        factory.user(email="pat@example.com", kind=kind, mfa=True)
        assert 'id="idle-warning"' not in browser.get("/login").text  # no one to sign out
        browser.login_with_code("pat@example.com")
        page = browser.get("/dashboard").text
        assert f'data-idle-seconds="{seconds}"' in page
        assert 'data-login="/login"' in page and ">Stay signed in</button>" in page

    @pytest.mark.parametrize("htmx", [True, False])
    def test_stay_signed_in_keeps_the_session(self, browser, factory, clock, htmx):
        factory.user(email="doc@example.com", kind="healthcare", mfa=True)
        browser.login_with_code("doc@example.com")
        browser.get("/dashboard")
        clock.advance(minutes=13)  # the warning shows
        r = browser.post("/stay-signed-in", {}, htmx=htmx)
        if htmx:
            assert r.status_code == 204 and r.text == ""
        else:  # a plain post (the dialog is shown by JavaScript, but the form is real)
            assert r.status_code == 303 and r.headers["Location"] == "/dashboard"
        clock.advance(minutes=14)  # 27 minutes after the last page, 14 after staying
        assert browser.get("/dashboard").status_code == 200

    def test_without_it_the_session_ends_as_before(self, browser, factory, clock):
        factory.user(email="doc@example.com", kind="healthcare", mfa=True)
        browser.login_with_code("doc@example.com")
        browser.get("/dashboard")
        clock.advance(minutes=15, seconds=31)
        r = browser.post(
            "/stay-signed-in",
            {},
            htmx=True,
            headers={"Referer": "http://localhost/dashboard"},  # a browser sends it
        )
        assert r.headers["HX-Redirect"] == "/login?next=%2Fdashboard"
        assert "signed out after 15 minutes" in browser.get("/login").text

    def test_it_needs_the_pages_csrf_token(self, browser, factory):
        factory.user(email="doc@example.com", kind="healthcare", mfa=True)
        browser.login_with_code("doc@example.com")
        r = browser.client.post("/stay-signed-in", headers={"HX-Request": "true"})
        assert r.status_code == 400

    def test_it_works_while_mfa_is_being_set_up(self, browser, factory, clock):
        """Someone made to set MFA up may take a while: staying is not sent to enrolment."""
        factory.user(email="new@example.com", kind="healthcare")
        browser.login("new@example.com")
        page = browser.get("/settings/profile/security").text
        assert 'id="idle-warning"' in page
        r = browser.post("/stay-signed-in", {}, htmx=True)
        assert r.status_code == 204


@pytest.mark.settings(IDLE_TIMEOUT_MIN=120, IDLE_TIMEOUT_HEALTHCARE_MIN=1)
@pytest.mark.parametrize(
    ("kind", "idle", "said"), [("law", 121, "2 hours"), ("healthcare", 2, "1 minute")]
)
def test_the_idle_logoff_message_says_the_time_as_people_do(
    browser, factory, clock, kind, idle, said
):
    factory.user(email="pat@example.com", kind=kind, mfa=True)
    browser.login_with_code("pat@example.com")
    clock.advance(minutes=idle)
    page = browser.get(browser.get("/dashboard").headers["Location"]).text
    assert f"signed out after {said} of inactivity" in page


def test_logged_in_user_visiting_login_goes_to_dashboard(browser, factory):
    factory.user(email="pat@example.com")
    browser.login("pat@example.com")
    assert browser.get("/login").headers["Location"].endswith("/dashboard")


@pytest.mark.settings(LOGIN_RATE_LIMIT="3 per minute")
def test_sign_in_posts_are_rate_limited_per_address(browser, factory):
    factory.user(email="pat@example.com")
    for _ in range(3):
        assert (
            browser.post(
                "/login", {"email": "pat@example.com", "password": "x"}, page="/login"
            ).status_code
            == 422
        )
    r = browser.post("/login", {"email": "pat@example.com", "password": PASSWORD})
    assert r.status_code == 429
    # The message where a wrong password's would be, on the login page, the email kept.
    assert "Too many sign-in attempts came from your network" in r.text
    assert 'name="password"' in r.text and 'value="pat@example.com"' in r.text
    assert browser.get("/login").status_code == 200  # GETs are not limited


@pytest.mark.settings(LOGIN_RATE_LIMIT="3 per minute")
def test_an_ipv6_network_shares_one_budget(browser, factory):
    """One IPv6 host is usually given a whole /64: a new address for each post is not a
    new budget. Another /64 is another network."""
    factory.user(email="pat@example.com")

    def post(address):
        return browser.post(
            "/login",
            {"email": "pat@example.com", "password": "x"},
            page="/login",
            environ_base={"REMOTE_ADDR": address},
        ).status_code

    assert [post(f"2001:db8:1:2::{i}") for i in (1, 2, 3)] == [422, 422, 422]
    assert post("2001:db8:1:2:ffff:ffff:ffff:fffe") == 429
    assert post("2001:db8:1:3::1") == 422
    # An IPv4 address written as IPv6 counts as itself.
    assert [post(a) for a in ("::ffff:192.0.2.7", "192.0.2.7", "192.0.2.7")] == [422, 422, 422]
    assert post("::ffff:192.0.2.7") == 429


def test_unknown_page_is_a_friendly_404(browser):
    r = browser.get("/no/such/page")
    assert r.status_code == 404 and "<h1>Page not found</h1>" in r.text  # a heading to find


def test_htmx_errors_are_fragments_for_the_alert_region(browser):
    r = browser.get("/no/such/page", headers={"HX-Request": "true"})
    assert r.status_code == 404
    assert r.headers["HX-Retarget"] == "#alerts"
    assert "<html" not in r.text and "Page not found" in r.text


def test_stale_htmx_post_after_idle_logoff_goes_to_login_with_the_reason(browser, factory, clock):
    factory.user(email="doc@example.com", kind="healthcare", mfa=True)
    browser.login_with_code("doc@example.com")
    browser.get("/settings/profile/security")
    clock.advance(minutes=16)
    r = browser.post("/settings/profile/security/enrol", htmx=True)
    assert r.headers["HX-Redirect"] == "/login"
    assert "signed out after 15 minutes of inactivity" in browser.get("/login").text


def test_stale_login_form_is_explained_on_the_same_page(browser, factory):
    factory.user(email="pat@example.com")
    r = browser.client.post("/login", data={"email": "pat@example.com", "password": "x"})
    assert r.status_code == 400 and "This page had expired" in r.text
    assert 'name="password"' in r.text and 'value="pat@example.com"' in r.text
    browser.token = csrf_from(r.text)  # the fresh form works
    assert (
        browser.post("/login", {"email": "pat@example.com", "password": PASSWORD}).status_code
        == 303
    )


def test_a_login_form_left_open_while_signing_in_elsewhere_goes_to_the_dashboard(browser, factory):
    factory.user(email="pat@example.com")
    browser.get("/login")
    stale = browser.token  # another tab of this browser still shows this form
    browser.login("pat@example.com")
    r = browser.client.post(
        "/login", data={"email": "pat@example.com", "password": "x", "csrf_token": stale}
    )
    assert r.status_code == 303 and r.headers["Location"] == "/dashboard"


def test_logout_deletes_the_session_row(browser, factory, app):
    factory.user(email="pat@example.com")
    browser.login("pat@example.com")
    browser.logout()
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ServerSession)) <= 1
        rows = db.session.scalars(select(ServerSession)).all()
        assert all(row.user_id is None for row in rows)  # at most the new anonymous one


def _session_rows(app):
    with app.app_context():
        return db.session.scalars(select(ServerSession)).all()


def test_the_login_page_stores_nothing_until_someone_signs_in(browser, factory, app):
    factory.user(email="pat@example.com")
    r = browser.get("/login")
    cookie = browser.client.get_cookie("ozyops_session").value
    assert r.status_code == 200 and cookie.startswith("a.")
    assert _session_rows(app) == []  # its CSRF token is derived from the id, not stored
    browser.login("pat@example.com")
    [row] = _session_rows(app)
    assert row.user_id is not None


def test_a_bare_request_gets_no_session_cookie(app):
    client = app.test_client()
    for path in ("/healthz", "/static/app.css"):
        with client.get(path) as r:
            assert "Set-Cookie" not in r.headers, path


def test_a_made_up_anonymous_id_does_not_pass_the_csrf_check(app):
    client = app.test_client()
    client.set_cookie("ozyops_session", "a." + "x" * 43)
    r = client.post("/login", data={"email": "a@example.com", "password": "x", "csrf_token": "x"})
    assert r.status_code == 400 and "This page had expired" in r.text


def test_a_message_for_a_signed_out_visitor_is_kept_until_shown(browser, factory, app):
    factory.user(email="pat@example.com")
    browser.login("pat@example.com")
    browser.logout()  # "You have logged out." travels in a new anonymous session
    [row] = _session_rows(app)
    assert row.user_id is None
    assert "You have logged out." in browser.get("/login").text
    assert _session_rows(app) == []  # shown: nothing left to keep
    r = browser.post("/login", {"email": "pat@example.com", "password": PASSWORD})
    assert r.status_code == 303  # the same anonymous id's token still works


def test_an_anonymous_row_expires_after_an_hour(browser, factory, app, clock):
    factory.user(email="pat@example.com")
    browser.login("pat@example.com")
    browser.logout()
    [row] = _session_rows(app)
    assert row.expires_at == row.created_at + timedelta(minutes=60)


def test_the_code_step_moves_the_pending_row_to_a_new_id(browser, factory, app, make_browser):
    """No fixation: the half-login's id is dead once the code is accepted, and its one row
    now belongs to the new id (rewritten in place, not copied)."""
    factory.user(email="pat@example.com", mfa=True)
    browser.login("pat@example.com")
    pending = browser.client.get_cookie("ozyops_session").value
    [before] = _session_rows(app)
    assert before.authenticated_at is None
    r = browser.post("/login/mfa", {"code": browser.code()}, page="/login/mfa")
    assert r.status_code == 303 and r.headers["Location"] == "/dashboard"
    signed_in = browser.client.get_cookie("ozyops_session").value
    [after] = _session_rows(app)
    assert signed_in != pending and after.id_hash != before.id_hash
    assert after.authenticated_at is not None and after.user_id == before.user_id
    thief = make_browser()
    thief.client.set_cookie("ozyops_session", pending)
    assert thief.get("/dashboard").status_code == 302
    assert browser.get("/dashboard").status_code == 200


def test_a_half_login_ended_meanwhile_is_not_brought_back(browser, factory, app, monkeypatch):
    """If the pending row goes while the code is being checked (an MFA reset, a sign-out
    elsewhere), the sign-in writes no new row: ended stays ended."""
    from ozyops import sessions
    from ozyops.auth import signin

    user = factory.user(email="pat@example.com", mfa=True)
    browser.login("pat@example.com")
    browser.get("/login/mfa")
    pending_user = signin.pending_user

    def ended_meanwhile():
        found = pending_user()  # read with the row, as the code step does
        sessions.end_all_for(user.id)
        return found

    monkeypatch.setattr(signin, "pending_user", ended_meanwhile)
    r = browser.post("/login/mfa", {"code": browser.code()})
    assert r.status_code == 303
    assert _session_rows(app) == []
    assert browser.get("/dashboard").status_code == 302
