"""docs/security.md, G11: behaviours that were true in the code but proved by no test.
Each test here names the behaviour it proves; the item numbers follow the G11 list."""

import csv
import io
import re
import ssl
from unittest import mock

import pytest
from sqlalchemy import select, text

from ozyops import links, notify
from ozyops.extensions import db, limiter
from ozyops.models import ServerSession, SsoIdentity, User
from tests.conftest import PASSWORD, RECOVERY_KEY, wrong_codes
from tests.integration.test_hardening import ROUTE_ARGS, urls
from tests.integration.test_team_admin import events, user

TEAM = "/settings/team"
PROFILE = "/settings/profile"
SECURITY = "/settings/profile/security"
NEW_PASSWORD = "a brand new password"


@pytest.fixture
def office(factory):
    """A law practice (MFA optional): an owner with a password only, and a member with MFA.
    Created first, so their ids are those `ROUTE_ARGS` puts in the walked URLs."""
    account = factory.account(kind="law", name="Lee & Co")
    owner = factory.user(account_id=account, email="lee@example.com", name="Lee Owner")
    member = factory.user(
        account_id=account, role="member", email="sam@example.com", name="Sam Member", mfa=True
    )
    assert member.id == ROUTE_ARGS["user_id"]
    return owner, member


@pytest.fixture
def elsewhere(factory):
    """Someone in another practice, with MFA."""
    return factory.user(email="other@example.com", name="Olive Other", kind="trades", mfa=True)


def link_identity(app, clock, ref, provider="google"):
    """A Google or Microsoft identity linked to `ref`, as the first SSO sign-in leaves it
    (tests/integration/test_sso.py goes through a real provider for that)."""
    with app.app_context():
        link = SsoIdentity(
            user_id=ref.id,
            provider=provider,
            subject=f"{provider}-{ref.id}",
            email=ref.email,
            created_at=clock.now.replace(tzinfo=None),
        )
        db.session.add(link)
        db.session.commit()
        return link.id


def identity_ids(app):
    with app.app_context():
        return db.session.scalars(select(SsoIdentity.id).order_by(SsoIdentity.id)).all()


def stored_state(app):
    """Everything a post could change, apart from session bookkeeping and audit sealing."""
    with app.app_context():

        def rows(sql):
            return db.session.execute(text(sql)).all()

        return (
            rows("SELECT * FROM users ORDER BY id"),
            rows("SELECT id, name, kind, require_mfa FROM accounts ORDER BY id"),
            rows("SELECT id, event FROM audit_events ORDER BY id"),
            rows("SELECT * FROM sso_identities ORDER BY id"),
            rows("SELECT * FROM user_tokens ORDER BY id"),
            rows("SELECT id_hash, user_id FROM sessions ORDER BY id_hash"),
        )


# --- 1. CSRF on every POST route ---------------------------------------------------------

# With its token, each of these posts would change something (the owner has just signed
# in, so sudo mode holds); without it, nothing may change.
WOULD_SUCCEED = {
    "/settings/profile/password": {
        "current": PASSWORD,
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
    },
    "/settings/team/require-mfa": {"require_mfa": "on"},
    "/settings/team/add": {"name": "Nia", "email": "nia@example.com", "role": "member"},
    "/settings/team/2/role": {"role": "admin"},
    "/settings/team/2/active": {"active": "0"},
    "/settings/team/2/transfer": {"confirm": "yes"},
}


def test_every_post_route_refuses_a_missing_csrf_token(app, browser, office, clock):
    owner, member = office
    assert link_identity(app, clock, owner) == ROUTE_ARGS["identity_id"]
    browser.login(owner.email)
    before = stored_state(app)
    posts = [path for method, path in urls(app) if method == "POST"]
    assert len(posts) >= 20
    for path in posts:
        r = browser.client.post(path, data=WOULD_SUCCEED.get(path, {}))
        if path in ("/login", "/login/mfa", "/login/recovery"):
            # Signed in, a stale sign-in form goes to the dashboard (another tab finished).
            assert r.status_code == 303 and r.headers["Location"] == "/dashboard"
        else:
            assert r.status_code == 400, path
            assert "This form has expired" in r.text, path
        r.close()
    assert stored_state(app) == before  # no audit entry, no change, /logout ended nothing
    assert browser.get("/dashboard").status_code == 200
    # The same form with its token does what it says: the data above was enough.
    r = browser.post(f"{TEAM}/{member.id}/role", {"role": "admin"}, page=f"{TEAM}/{member.id}")
    assert r.status_code == 303 and user(app, member).role == "admin"


def test_the_address_of_every_post_opened_again_leads_to_its_page(app, browser, office, clock):
    """Without JavaScript a form's answer stays at the address it was posted to: opening it
    again (Enter in the address bar, a tab reopened) must lead to the page the form is on,
    not to "Not allowed"."""
    owner, member = office
    link_identity(app, clock, owner)
    browser.login(owner.email)
    routes = dict.fromkeys(path for _, path in urls(app))
    posts_only = {p for p in routes if ("GET", p) not in set(urls(app))}
    # ... but these two, whose answer is always somewhere else (a 303, or nothing for htmx)
    assert posts_only == {"/logout", "/stay-signed-in"}
    for path in routes:
        if not path.startswith("/settings/") or "/row" in path or path.endswith(".csv"):
            continue
        r = browser.client.get(path)
        assert r.status_code in (200, 303), path
        assert browser.client.head(path).status_code == r.status_code, path
        if r.status_code == 303:
            page = r.headers["Location"]
            assert page.startswith("/settings/") and browser.get(page).status_code == 200, path


def test_signed_out_forms_refuse_a_missing_csrf_token(app, make_browser, office, clock):
    owner, member = office
    with app.app_context():
        token = links.issue(db.session.get(User, member.id), "reset", None, clock.now)
        db.session.commit()
    visitor = make_browser()
    visitor.get("/login")  # an anonymous session, as a browser has on the login page
    before = stored_state(app)
    for path, data in (
        ("/login", {"email": owner.email, "password": PASSWORD}),
        ("/setup", {"account_name": "X", "kind": "law", "name": "X", "email": "x@example.com"}),
        (f"/set-password/{token}", {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}),
    ):
        r = visitor.client.post(path, data=data)
        assert r.status_code == 400, path
    assert stored_state(app) == before
    assert visitor.get("/dashboard").status_code == 302  # nobody signed in
    assert visitor.get(f"/set-password/{token}").status_code == 200  # the link is unused


def test_the_code_steps_refuse_a_missing_csrf_token_and_keep_the_code_unused(
    app, browser, elsewhere
):
    """Not signed in, a token-less post to the code or recovery step is sent to /login
    (errors.stale_form) rather than given a 400 page; either way nothing is checked."""
    browser.login(elsewhere.email)
    browser.get("/login/mfa")
    before = stored_state(app)
    for path, data in (
        ("/login/mfa", {"code": browser.code()}),
        ("/login/recovery", {"recovery_key": RECOVERY_KEY}),
    ):
        r = browser.client.post(path, data=data)
        assert r.status_code == 303 and r.headers["Location"] == "/login", path
    assert stored_state(app) == before
    r = browser.post("/login/mfa", {"code": browser.code()}, page="/login/mfa")
    assert r.headers["Location"] == "/dashboard"  # the same code, unused, still works


# --- 2. the audit log stays within the practice --------------------------------------------


def test_audit_log_and_csv_ignore_a_person_of_another_practice(
    browser, make_browser, office, elsewhere
):
    owner, member = office
    make_browser().login_with_code(elsewhere.email)  # entries in the other practice
    make_browser().login(elsewhere.email, "wrong password")
    make_browser().login_with_code(member.email)
    browser.login(owner.email)
    page = browser.get(f"/settings/audit?person={elsewhere.id}")
    assert page.status_code == 200
    assert "No entries match." in page.text and "0 entries" in page.text
    assert "Olive Other" not in page.text and elsewhere.email not in page.text
    with browser.client.get(f"/settings/audit.csv?person={elsewhere.id}") as r:
        assert r.status_code == 200
        rows = list(csv.reader(io.StringIO(r.text)))
    assert rows == [["time_utc", "event", "actor", "target", "address", "user_agent", "details"]]
    # The filter itself works for a person of this practice.
    assert "Sam Member" in browser.get(f"/settings/audit?person={member.id}").text


# --- 3. SSO unlink --------------------------------------------------------------------------


def test_unlinking_another_persons_sso_identity_is_a_404(app, browser, office, elsewhere, clock):
    owner, member = office
    theirs = [link_identity(app, clock, member), link_identity(app, clock, elsewhere)]
    browser.login(owner.email)  # just signed in: sudo mode holds, no credential asked
    for identity_id in theirs:
        r = browser.post(f"{PROFILE}/sign-in/{identity_id}/unlink", {}, page=PROFILE)
        assert r.status_code == 404, identity_id
    assert identity_ids(app) == theirs
    assert events(app, "sso_unlinked") == []


# --- 4 and 5. the session id stays in the cookie, and the cookie is not persistent ---------


def sign_in_with_code_and_browse(browser, email):
    """A whole sign-in with a code, some pages and a logout: yields each response as it
    comes, so the caller can read the cookie the browser holds at every step."""
    yield browser.get("/login")
    yield browser.login(email)
    yield browser.get("/login/mfa")
    yield browser.get("/login/recovery")
    yield browser.post("/login/mfa", {"code": browser.code()})
    for path in ("/", "/dashboard", PROFILE, SECURITY, TEAM, "/settings/audit"):
        yield browser.get(path)
    yield browser.logout()
    yield browser.get("/login")


def test_no_session_id_appears_in_any_url(browser, factory):
    doc = factory.user(email="doc@example.com", kind="healthcare", mfa=True)
    responses = []
    sids = set()
    for r in sign_in_with_code_and_browse(browser, doc.email):
        responses.append(r)
        sids.add(browser.client.get_cookie("ozyops_session").value)
    assert len(sids) >= 3  # anonymous, pending, signed in, anonymous again
    for r in responses:
        for sid in sids:
            assert sid not in r.headers.get("Location", ""), r.request.path
            assert sid not in r.headers.get("HX-Redirect", ""), r.request.path
            assert sid not in r.text, r.request.path  # no link, form action or script


def test_the_session_cookie_is_not_persistent(browser, factory):
    doc = factory.user(email="doc@example.com", kind="healthcare", mfa=True)
    set_cookies = [
        header
        for r in sign_in_with_code_and_browse(browser, doc.email)
        for header in r.headers.getlist("Set-Cookie")
        if header.startswith("ozyops_session=")
    ]
    assert len(set_cookies) >= 3
    for header in set_cookies:
        assert "expires=" not in header.lower() and "max-age=" not in header.lower(), header
    cookie = browser.client.get_cookie("ozyops_session")
    assert cookie.expires is None and cookie.max_age is None


# --- 6. nothing but the app's own files is served -----------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/static/",
        "/static",
        "/static/vendor/",
        "/.git/config",
        "/.git/HEAD",
        "/.env",
        "/instance/",
        "/instance/secret_key",
        "/instance/encryption_keys",
        "/instance/ozyops.sqlite",
        "/static/../instance/secret_key",
        "/static/%2e%2e/instance/secret_key",
        "/static/..%2f..%2f.git/config",
        "/static//etc/passwd",
        "/ozyops/config.py",
        "/wsgi.py",
        "/pyproject.toml",
    ],
)
def test_listings_and_files_outside_static_are_404(browser, office, path):
    browser.login(office[0].email)  # signed in makes no difference
    r = browser.client.get(path, follow_redirects=True)  # //: merged to one slash, then 404
    assert r.status_code == 404 and "Page not found" in r.text
    assert "test-secret-key" not in r.text
    r.close()


# --- 7. the 24-hour password-reset link ---------------------------------------------------


def test_password_reset_link_works_at_23h59_and_is_refused_after_24_hours(
    app, browser, make_browser, office, factory, clock
):
    owner, member = office
    late = factory.user(account_id=owner.account_id, role="member", email="late@example.com")
    browser.login(owner.email)
    paths = {}
    for ref in (member, late):
        page = f"{TEAM}/{ref.id}"
        r = browser.post(f"{page}/password-link", {}, page=page)
        paths[ref.id] = re.search(
            r'id="password-link"[^>]*>http://localhost([^<]+)<', r.text
        ).group(1)
    clock.advance(hours=23, minutes=59)
    on_time = make_browser()
    assert on_time.get(paths[member.id]).status_code == 200
    r = on_time.post(paths[member.id], {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert make_browser().login(member.email, NEW_PASSWORD).headers["Location"] == "/login/mfa"
    clock.advance(minutes=1, seconds=1)  # 24 hours and a second after the link was made
    too_late = make_browser()
    page = too_late.get(paths[late.id])
    assert page.status_code == 410 and "expired" in page.text
    r = too_late.post(
        paths[late.id], {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, page="/login"
    )
    assert r.status_code == 410
    assert make_browser().login(late.email, NEW_PASSWORD).status_code == 422
    assert len(events(app, "password_reset")) == 1  # the link used in time


# --- 8. a right code clears the failure count ---------------------------------------------


def test_a_right_code_clears_the_failure_count(app, browser, factory, clock):
    kim = factory.user(email="kim@example.com", kind="law", mfa=True)
    browser.login_with_code(kim.email)
    browser.get(SECURITY)
    url = f"{SECURITY}/recovery-key"
    for code in wrong_codes(9):
        assert browser.post(url, {"code": code}).status_code == 422
    assert user(app, kim).mfa_failures == 9
    clock.advance(seconds=30)  # the sign-in used this step's code
    assert browser.post(url, {"code": browser.code()}).status_code == 200
    assert user(app, kim).mfa_failures == 0
    *nine, tenth = wrong_codes(10)
    for code in nine:
        r = browser.post(url, {"code": code}, page=SECURITY)
        assert r.status_code == 422 and "locked" not in r.text
    assert user(app, kim).mfa_locked_until is None and events(app, "mfa_locked") == []
    r = browser.post(url, {"code": tenth})  # the tenth in a row does lock
    assert "are locked until" in r.text and len(events(app, "mfa_locked")) == 1


# --- 9. framing and opener headers on pages ------------------------------------------------


def test_pages_send_x_frame_options_deny_and_cross_origin_opener_policy(browser, office):
    pages = [browser.get("/login")]
    browser.login(office[0].email)
    pages += [browser.get(path) for path in ("/dashboard", SECURITY, TEAM)]
    for r in pages:
        assert r.status_code == 200 and r.mimetype == "text/html"
        assert r.headers["X-Frame-Options"] == "DENY", r.request.path
        assert r.headers["Cross-Origin-Opener-Policy"] == "same-origin", r.request.path


# --- 10. the role-changed notification ----------------------------------------------------


def test_a_role_change_and_an_ownership_transfer_notify_the_person(browser, office, caplog):
    owner, member = office
    page = f"{TEAM}/{member.id}"
    browser.login(owner.email)
    with caplog.at_level("INFO"):
        r = browser.post(f"{page}/role", {"role": "admin"}, page=page)
    assert r.status_code == 303
    assert f"notification role_changed to user {member.id}:" in caplog.text
    assert "Your role in your practice's OzyOps account was changed." in caplog.text
    caplog.clear()
    with caplog.at_level("INFO"):
        r = browser.post(f"{page}/transfer", {"confirm": "yes"}, page=page)
    assert r.status_code == 303
    assert f"notification role_changed to user {member.id}:" in caplog.text


# --- 11. one per-address limit for every credential post -----------------------------------
# As in test_mfa_login.py::test_code_posts_after_sign_in_share_the_per_address_limit, the
# budget is 3 posts a minute. In each test the post over the budget carries the right
# credential: it is refused with 429 and changes nothing; once the limit is reset, the same
# post goes through, so it was the limit that stopped it.


SUDO_ACTIONS = [  # (on the member, or None for the account), form, answer once confirmed
    ("role", {"role": "admin"}, 303),
    ("active", {"active": "0"}, 303),
    ("password-link", {}, 200),
    ("reset-mfa", {}, 303),
    ("transfer", {"confirm": "yes"}, 303),
    ("require-mfa", {"require_mfa": "on"}, 303),
]


@pytest.mark.settings(LOGIN_RATE_LIMIT="3 per minute")
@pytest.mark.parametrize("action, data, expected", SUDO_ACTIONS)
def test_sudo_confirmations_share_the_per_address_limit(
    app, browser, office, clock, action, data, expected
):
    owner, member = office
    url = f"{TEAM}/{action}" if action == "require-mfa" else f"{TEAM}/{member.id}/{action}"
    browser.login(owner.email)  # 1
    clock.advance(minutes=11)  # sudo mode has lapsed: the password is asked again
    browser.get(TEAM)
    for _ in range(2):  # 2, 3
        r = browser.post(url, {**data, "credential": "not my password"})
        assert r.status_code != 429
    before = stored_state(app)
    r = browser.post(url, {**data, "credential": PASSWORD})
    assert r.status_code == 429 and "Too many sign-in attempts" in r.text
    assert stored_state(app) == before
    with app.app_context():
        limiter.reset()
    browser.get(TEAM)
    r = browser.post(url, {**data, "credential": PASSWORD})
    assert r.status_code == expected and stored_state(app) != before


@pytest.mark.settings(LOGIN_RATE_LIMIT="3 per minute")
def test_enrolment_verify_shares_the_per_address_limit(app, browser, office):
    owner, _ = office
    browser.login(owner.email)  # 1
    r = browser.post(
        f"{SECURITY}/enrol", page=SECURITY, follow_redirects=True
    )  # 2: it may carry a password
    secret = re.search(r'id="setup-key"[^>]*>([A-Z2-7 ]+)<', r.text).group(1).replace(" ", "")
    url = f"{SECURITY}/verify"
    assert browser.post(url, {"code": "000000"}).status_code == 422  # 3
    right = {"code": browser.code(secret)}
    assert browser.post(url, right).status_code == 429
    assert not user(app, owner).mfa_enabled
    with app.app_context():
        limiter.reset()
    r = browser.post(url, right)
    assert r.status_code == 200 and user(app, owner).mfa_enabled


@pytest.mark.settings(LOGIN_RATE_LIMIT="3 per minute")
def test_recovery_key_regenerate_shares_the_per_address_limit(app, browser, office, clock):
    _, member = office
    browser.login_with_code(member.email)  # 1, 2
    clock.advance(seconds=30)  # the sign-in used this step's code
    browser.get(SECURITY)
    url = f"{SECURITY}/recovery-key"
    assert browser.post(url, {"code": "000000"}).status_code == 422  # 3
    key_before = user(app, member).recovery_key_hash
    r = browser.post(url, {"code": browser.code()})
    assert r.status_code == 429 and 'id="recovery-key"' not in r.text
    assert user(app, member).recovery_key_hash == key_before
    with app.app_context():
        limiter.reset()
    r = browser.post(url, {"code": browser.code()})
    assert r.status_code == 200 and 'id="recovery-key"' in r.text
    assert user(app, member).recovery_key_hash != key_before


@pytest.mark.settings(LOGIN_RATE_LIMIT="3 per minute")
def test_sso_unlink_shares_the_per_address_limit(app, browser, office, clock):
    owner, _ = office
    identity = link_identity(app, clock, owner)
    url = f"{PROFILE}/sign-in/{identity}/unlink"
    browser.login(owner.email)  # 1
    clock.advance(minutes=11)  # sudo mode has lapsed: the password is asked again
    browser.get(PROFILE)
    for _ in range(2):  # 2, 3
        assert browser.post(url, {"credential": "not my password"}).status_code == 422
    assert browser.post(url, {"credential": PASSWORD}).status_code == 429
    assert identity_ids(app) == [identity]
    with app.app_context():
        limiter.reset()
    assert browser.post(url, {"credential": PASSWORD}).status_code == 303
    assert identity_ids(app) == []


@pytest.mark.settings(LOGIN_RATE_LIMIT="3 per minute")
def test_change_password_shares_the_per_address_limit(app, browser, office):
    owner, _ = office
    url = f"{PROFILE}/password"
    browser.login(owner.email)  # 1
    browser.get(PROFILE)
    wrong = {"current": "not my password", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    for _ in range(2):  # 2, 3
        assert browser.post(url, wrong).status_code == 422
    right = {**wrong, "current": PASSWORD}
    hash_before = user(app, owner).password_hash
    assert browser.post(url, right).status_code == 429
    assert user(app, owner).password_hash == hash_before
    with app.app_context():
        limiter.reset()
    assert browser.post(url, right).status_code == 303
    assert user(app, owner).password_hash != hash_before


# --- 12. a wrong sudo or current password is audited ---------------------------------------


def test_a_wrong_sudo_password_is_audited_as_reauth_failed(app, browser, office, clock):
    owner, member = office
    page = f"{TEAM}/{member.id}"
    browser.login(owner.email)
    clock.advance(minutes=11)
    r = browser.post(f"{page}/role", {"role": "admin", "credential": "nope"}, page=page)
    assert r.status_code == 422 and user(app, member).role == "member"
    (event,) = events(app, "reauth_failed")
    assert event.target_id == owner.id and event.account_id == owner.account_id
    assert event.ip == "127.0.0.1" and "nope" not in (event.details or "")


def test_a_wrong_current_password_is_audited_as_reauth_failed(app, browser, office):
    owner, _ = office
    browser.login(owner.email)
    r = browser.post(
        f"{PROFILE}/password",
        {"current": "nope", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        page=PROFILE,
    )
    assert r.status_code == 422
    (event,) = events(app, "reauth_failed")
    assert event.target_id == owner.id and event.account_id == owner.account_id
    assert "nope" not in (event.details or "")


# --- 13. STARTTLS verifies the mail server ----------------------------------------------


def test_starttls_verifies_the_mail_servers_certificate(app, factory, monkeypatch):
    app.config.update(
        MAIL_SERVER="mail.example.com",
        MAIL_PORT=587,
        MAIL_USE_TLS=True,
        MAIL_USERNAME="ozyops",
        MAIL_PASSWORD="mail password",
    )
    smtp_class = mock.MagicMock()
    monkeypatch.setattr(notify.smtplib, "SMTP", smtp_class)
    kim = factory.user(email="kim@example.com")
    with app.app_context():
        notify.send(factory.get(kim), "role_changed")
    smtp_class.assert_called_once_with("mail.example.com", 587, timeout=10)
    smtp = smtp_class.return_value.__enter__.return_value
    # TLS first: the login and the message only ever go over the verified connection.
    assert [call[0] for call in smtp.method_calls] == ["starttls", "login", "send_message"]
    context = smtp.starttls.call_args.kwargs["context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname is True


# --- 14. a recovery-key sign-in ends a half-finished one elsewhere -----------------------


def test_a_recovery_key_sign_in_ends_a_half_finished_sign_in_elsewhere(
    app, browser, make_browser, factory
):
    doc = factory.user(email="doc@example.com", kind="healthcare", mfa=True)
    half = make_browser()  # someone with the password, at the code step
    half.login(doc.email)
    half.get("/login/mfa")
    browser.login(doc.email)
    r = browser.post("/login/recovery", {"recovery_key": RECOVERY_KEY}, page="/login/recovery")
    assert r.headers["Location"] == SECURITY
    with app.app_context():  # the half-finished one's row is gone at once
        rows = db.session.scalars(select(ServerSession).where(ServerSession.user_id == doc.id))
        assert len(rows.all()) == 1  # the recovery-key sign-in's own
    r = half.post("/login/mfa", {"code": half.code()})
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert half.get("/dashboard").status_code == 302
    assert browser.get(SECURITY).status_code == 200
