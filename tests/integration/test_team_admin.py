"""Settings > Team: Reset MFA, sudo mode, invitations, password links, roles, ownership,
deactivation, sessions (SPEC §4, §6)."""

import html
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from ozyops.extensions import db
from ozyops.models import Account, AuditEvent, User

TEAM = "/settings/team"


@pytest.fixture
def clinic(factory):
    account = factory.account(kind="healthcare", name="Bright Smile")
    return {
        "owner": factory.user(
            account_id=account, role="owner", email="dana@example.com", name="Dana Owner", mfa=True
        ),
        "admin": factory.user(
            account_id=account, role="admin", email="ali@example.com", name="Ali Admin", mfa=True
        ),
        "member": factory.user(
            account_id=account, role="member", email="sam@example.com", name="Sam Park", mfa=True
        ),
    }


def user(app, ref):
    with app.app_context():
        u = db.session.get(User, ref.id)
        db.session.expunge(u)
        return u


def events(app, name):
    with app.app_context():
        return db.session.scalars(select(AuditEvent).where(AuditEvent.event == name)).all()


def test_team_rows_show_status_last_sign_in_and_reset_button(browser, clinic):
    browser.login_with_code(clinic["owner"].email)
    page = browser.get(TEAM).text
    assert page.count(">Reset MFA<") == 2  # admin and member; not the owner themself
    assert "Enabled" in page and "Never" in page


def test_reset_mfa_confirmation_names_the_person_then_resets_in_place(
    browser, make_browser, clinic, app, caplog
):
    victim = make_browser()
    victim.login_with_code(clinic["member"].email)
    browser.clock.advance(seconds=30)
    browser.login_with_code(clinic["owner"].email)
    browser.get(TEAM)
    url = f"{TEAM}/{clinic['member'].id}/reset-mfa"
    confirm = browser.get(url, headers={"HX-Request": "true"})
    assert confirm.status_code == 200 and "<html" not in confirm.text
    assert "Reset MFA for Sam Park" in confirm.text and ">Confirm</button>" in confirm.text
    assert f'id="member-{clinic["member"].id}"' in confirm.text
    with caplog.at_level("INFO"):
        r = browser.post(url, {}, htmx=True)
    assert r.status_code == 200 and "<html" not in r.text
    assert f'id="member-{clinic["member"].id}"' in r.text
    assert "Required — not set up" in r.text and "was reset" in r.text
    row, after = r.text.split("</tr>")
    assert "was reset" not in row  # the message goes to the page's messages (#alerts),
    assert '<span class="badge">Reset just now</span>' in row  # the row says it in brief
    assert '<div id="alerts" hx-swap-oob="innerHTML">' in after and "was reset" in after
    reset = user(app, clinic["member"])
    assert reset.totp_secret is None and reset.recovery_key_hash is None
    assert victim.get("/dashboard").status_code == 302  # their session ended
    (event,) = events(app, "mfa_reset")
    assert event.actor_id == clinic["owner"].id and event.target_id == clinic["member"].id
    assert caplog.text.count("notification mfa_reset") == 1  # to Sam; Dana did it herself
    again = make_browser()
    assert again.login(clinic["member"].email).headers["Location"] == "/dashboard"
    assert again.get("/dashboard").headers["Location"] == "/settings/profile/security"


def test_whoever_had_their_mfa_reset_is_told_who_did_it_and_when(
    browser, make_browser, clinic, clock
):
    """Their session ended and their codes stopped working, with no word why where no mail
    server is set up (found by a walk of the help article). Said until MFA changes again;
    whom to tell is the owner, not whoever did it (it may not have been them)."""
    from ozyops.security import totp
    from tests.integration.test_security import PAGE, enable_mfa

    browser.login_with_code(clinic["admin"].email)
    browser.get(TEAM)
    r = browser.post(f"{TEAM}/{clinic['member'].id}/reset-mfa", {}, htmx=True)
    assert "Reset just now" in r.text
    sam = make_browser()
    sam.login(clinic["member"].email)
    page = sam.get(PAGE).text
    when = clock.now.strftime('%Y-%m-%d</span>\\s+<span class="whole">%H:%M UTC')
    assert re.search(rf'Ali Admin reset your MFA on <span class="whole">{when}', page), page
    assert re.search(r"If you did not\s+ask for this, tell your practice&#39;s owner\.", page)
    # MFA set up again, then turned off by the new recovery key: not a reset any more.
    _, secret = enable_mfa(sam)
    r = sam.post(PAGE + "/verify", {"code": totp.code_at(secret, clock.timestamp)})
    key = re.search(r'id="recovery-key"[^>]*>([0-9A-Z-]+)<', r.text).group(1)
    assert "reset your MFA" not in sam.get(PAGE).text
    again = make_browser()
    again.login(clinic["member"].email)
    assert (
        again.post("/login/recovery", {"recovery_key": key}, page="/login/recovery").status_code
        == 303
    )
    page = again.get(PAGE).text
    assert 'id="mfa-qr"' in page and "reset your MFA" not in page  # set up again at once


def test_a_member_reset_by_the_owner_is_told_to_tell_them(browser, make_browser, clinic):
    """Not "tell your practice's owner", who did it (found by a walk of the help article)."""
    from tests.integration.test_security import PAGE

    browser.login_with_code(clinic["owner"].email)
    browser.get(TEAM)
    assert browser.post(f"{TEAM}/{clinic['member'].id}/reset-mfa", {}).status_code == 303
    sam = make_browser()
    sam.login(clinic["member"].email)
    page = sam.get(PAGE).text
    assert re.search(r"If you did not\s+ask for this, tell them\.", page), page
    assert "practice&#39;s owner." not in page


def test_where_mfa_is_optional_the_dashboard_says_who_reset_it(browser, make_browser, factory):
    """Someone reset where MFA is optional lands on the dashboard, not on setup: it said only
    that MFA is recommended (found by a walk of the help article)."""
    firm = factory.account(kind="law", name="Hartley & Lee")
    factory.user(firm, role="owner", email="lee@example.com", name="Lee Hartley", mfa=True)
    maria = factory.user(firm, role="member", email="maria@example.com", name="Maria", mfa=True)
    browser.login_with_code("lee@example.com")
    browser.get(TEAM)
    assert browser.post(f"{TEAM}/{maria.id}/reset-mfa", {}).status_code == 303
    b = make_browser()
    assert b.login(maria.email).headers["Location"] == "/dashboard"
    page = b.get("/dashboard").text
    assert re.search(
        r"Lee Hartley reset your MFA on .*If you did not\s+ask for this, tell them\.", page, re.S
    )
    assert "Multi-factor authentication is recommended" in page and ">Enable MFA</a>" in page
    other = make_browser()  # someone who never had MFA: the banner alone
    factory.user(firm, role="member", email="kim@example.com", mfa=False)
    other.login("kim@example.com")
    page = other.get("/dashboard").text
    assert "reset your MFA" not in page and "Multi-factor authentication is recommended" in page


def test_reset_works_without_javascript(browser, clinic, app):
    browser.login_with_code(clinic["admin"].email)
    url = f"{TEAM}/{clinic['member'].id}/reset-mfa"
    page = browser.get(url)
    assert "<html" in page.text and "Reset MFA for Sam Park" in page.text
    r = browser.post(url, {})
    assert r.status_code == 303 and r.headers["Location"] == TEAM
    assert "MFA for Sam Park was reset" in browser.get(TEAM).text
    assert not user(app, clinic["member"]).mfa_enabled


def test_reset_clears_a_lockout_which_the_members_page_shows(browser, factory, app, clinic, clock):
    """The owner called by someone locked out sees it on their page, and what ends it (a
    walk of help/mfa.md found the lock shown nowhere an owner looks)."""
    with app.app_context():
        u = db.session.get(User, clinic["member"].id)
        u.mfa_locked_until = clock.now.replace(tzinfo=None) + timedelta(minutes=15)
        u.mfa_failures = 7
        db.session.commit()
    browser.login_with_code(clinic["owner"].email)
    page = f"{TEAM}/{clinic['member'].id}"
    until = (clock.now + timedelta(minutes=15)).strftime("%H:%M")
    assert f"Enabled: locked until {until} UTC after too many wrong codes" in browser.get(page).text
    browser.post(f"{page}/reset-mfa", {}, page=TEAM)
    u = user(app, clinic["member"])
    assert u.mfa_locked_until is None and u.mfa_failures == 0
    assert "locked until" not in browser.get(page).text


def test_owner_is_told_when_an_admin_resets_someone(browser, clinic, caplog):
    browser.login_with_code(clinic["admin"].email)
    with caplog.at_level("INFO"):
        browser.post(f"{TEAM}/{clinic['member'].id}/reset-mfa", {}, page=TEAM)
    assert f"notification mfa_reset to user {clinic['owner'].id}" in caplog.text
    assert f"notification mfa_reset to user {clinic['member'].id}" in caplog.text


class TestSudoMode:
    def test_after_ten_minutes_the_confirmation_asks_for_a_code(self, browser, clinic, clock, app):
        browser.login_with_code(clinic["owner"].email)
        clock.advance(minutes=9)
        url = f"{TEAM}/{clinic['member'].id}/reset-mfa"
        assert 'name="credential"' not in browser.get(url).text
        clock.advance(minutes=1, seconds=1)
        confirm = browser.get(url, headers={"HX-Request": "true"})
        assert 'name="credential"' in confirm.text and "Your authentication code" in confirm.text
        r = browser.post(url, {}, htmx=True)
        assert r.status_code == 422 and "enter your authentication code" in r.text
        # Asked for, not typed wrong: the field is not marked wrong (a review's find).
        assert "aria-invalid" not in re.search(r'<input id="credential-[^>]*>', r.text)[0]
        r = browser.post(url, {"credential": "000000"}, htmx=True)
        assert r.status_code == 422 and "didn&#39;t work" in r.text
        # The field takes the focus and a screen reader reads the refusal with it.
        suffix = f"reset-{clinic['member'].id}"
        field = re.search(rf'<input id="credential-{suffix}"[^>]*>', r.text)[0]
        # ... with the question it answers, which the focus skips (an accessibility audit).
        described = f"confirm-{clinic['member'].id} credential-{suffix}-hint error-{suffix}"
        assert f'aria-describedby="{described}"' in field
        assert 'aria-invalid="true"' in field
        assert "autofocus" in field and f'id="error-{suffix}"' in r.text
        assert user(app, clinic["member"]).mfa_enabled
        r = browser.post(url, {"credential": browser.code()}, htmx=True)
        assert r.status_code == 200 and not user(app, clinic["member"]).mfa_enabled
        # the fresh code renews the window for the next ten minutes
        r = browser.post(f"{TEAM}/{clinic['admin'].id}/reset-mfa", {}, htmx=True)
        assert r.status_code == 200

    def test_what_cannot_be_a_code_is_said_so_and_not_counted(self, browser, clinic, clock, app):
        """As at every other code field: "12" tells no one anything."""
        browser.login_with_code(clinic["owner"].email)
        clock.advance(minutes=11)
        url = f"{TEAM}/{clinic['member'].id}/reset-mfa"
        r = browser.post(url, {"credential": "12"}, htmx=True, page=TEAM)
        assert r.status_code == 422 and "Enter the 6-digit code from your app." in r.text
        assert events(app, "mfa_failed") == [] and user(app, clinic["member"]).mfa_enabled
        assert user(app, clinic["owner"]).mfa_failures == 0

    def test_each_code_field_on_a_members_page_says_what_it_confirms(self, browser, clinic, clock):
        """Four fields named "Your authentication code" on one page: each is described by its
        form's button, not told apart by position alone (an accessibility audit)."""
        browser.login_with_code(clinic["owner"].email)
        clock.advance(minutes=11)
        page = browser.get(f"{TEAM}/{clinic['member'].id}").text
        for suffix in ("role", "link", "active", "transfer"):
            field = re.search(rf'<input id="credential-{suffix}"[^>]*>', page)[0]
            assert f'aria-describedby="about-{suffix} credential-{suffix}-hint"' in field
            assert f'<button type="submit" id="about-{suffix}"' in page

    @pytest.mark.parametrize("role", ["admin", "member"])
    def test_adding_someone_later_asks_for_a_code(self, browser, clinic, clock, app, role):
        """An admin made by Add member has what a role change gives, which asks for a code
        after ten minutes: whoever holds the session (an unlocked computer) must not be
        able to make a way in of their own instead."""
        browser.login_with_code(clinic["admin"].email)
        clock.advance(minutes=11)
        page = browser.get(f"{TEAM}/add").text
        assert '<label for="credential-add">Your authentication code</label>' in page
        form = {"name": "Mallory", "email": "mallory@example.com", "role": role}
        for credential, message in [
            (None, "to confirm it&#39;s you, enter your authentication code."),
            ("000000", "That code didn&#39;t work."),
        ]:
            sent = form if credential is None else {**form, "credential": credential}
            r = browser.post(f"{TEAM}/add", sent)
            assert r.status_code == 422 and message in r.text
            assert 'aria-describedby="credential-add-hint error-add"' in r.text
            assert (
                'id="credential-add"' in r.text
                and "autofocus" in r.text.split('id="credential-add"')[1].split(">")[0]
            )
            assert "invitation-link" not in r.text
        with app.app_context():
            assert db.session.scalar(select(User).filter_by(email="mallory@example.com")) is None
        r = browser.post(f"{TEAM}/add", {**form, "credential": browser.code()})
        assert r.status_code == 200 and "invitation-link" in r.text
        # the fresh code renews the window: the next one asks for nothing
        r = browser.post(f"{TEAM}/add", {**form, "email": "second@example.com"})
        assert r.status_code == 200 and "invitation-link" in r.text

    def test_without_mfa_the_password_is_asked(self, browser, factory, clock, app):
        account = factory.account(kind="law")
        owner = factory.user(account_id=account, email="boss@example.com")
        member = factory.user(account_id=account, role="member", email="m@example.com")
        browser.login(owner.email)
        clock.advance(minutes=11)
        page = browser.get(f"{TEAM}/{member.id}")
        assert "Your password" in page.text
        r = browser.post(f"{TEAM}/{member.id}/role", {"role": "admin", "credential": "nope"})
        assert r.status_code == 422 and "password is not right" in r.text
        r = browser.post(
            f"{TEAM}/{member.id}/role", {"role": "admin", "credential": "correct horse battery"}
        )
        assert r.status_code == 303 and user(app, member).role == "admin"

    def test_without_password_or_mfa_a_fresh_sign_in_is_asked(self, browser, factory, clock, app):
        account = factory.account(kind="law")
        owner = factory.user(account_id=account, email="boss@example.com")
        member = factory.user(account_id=account, role="member", email="m@example.com")
        browser.login(owner.email)
        with app.app_context():  # as after signing in with Google, no password ever set
            db.session.get(User, owner.id).password_hash = None
            db.session.commit()
        clock.advance(minutes=11)
        r = browser.post(
            f"{TEAM}/{member.id}/role",
            {"role": "admin", "credential": "anything"},
            page=f"{TEAM}/{member.id}",
        )
        assert r.status_code == 422 and "Log out and sign in again" in r.text
        assert user(app, member).role == "member"

    @pytest.mark.parametrize(
        ("path", "data"),
        [
            ("/settings/team/require-mfa", {"require_mfa": "on"}),
            ("/settings/team/{id}/role", {"role": "admin"}),
            ("/settings/team/{id}/active", {"active": "0"}),
            ("/settings/team/{id}/reset-mfa", {}),
            ("/settings/team/add", {"name": "Mo", "email": "mo@example.com", "role": "member"}),
            ("/settings/profile/security/enrol", {}),
        ],
    )
    def test_a_credential_too_long_is_said_to_be(self, browser, factory, clock, app, path, data):
        """The form's own length check was shown on two pages and silently swallowed on the
        others (a 422, or a redirect, with no word of why: found by a review)."""
        owner = factory.user(email="boss@example.com", kind="law")
        member = factory.user(account_id=owner.account_id, role="member", email="m@example.com")
        browser.login(owner.email)
        clock.advance(minutes=11)
        url = path.format(id=member.id)
        r = browser.post(url, {**data, "credential": "x" * 300}, page="/settings/team")
        assert r.status_code == 422
        assert "That is too long to be a code or a password." in r.text
        assert user(app, member).role == "member" and user(app, member).active
        with app.app_context():
            assert not db.session.get(Account, owner.account_id).require_mfa
            assert db.session.scalar(select(User).filter_by(email="mo@example.com")) is None


def test_add_member_shows_a_one_time_invitation_link(browser, make_browser, clinic, app, clock):
    browser.login_with_code(clinic["owner"].email)
    page = browser.get(f"{TEAM}/add")
    for name in ('name="email"', 'name="name"', 'name="role"'):
        assert name in page.text
    r = browser.post(
        f"{TEAM}/add", {"name": "Nia New", "email": "Nia@Example.com", "role": "member"}
    )
    assert r.status_code == 200
    link = re.search(r'id="invitation-link"[^>]*>([^<]+)<', r.text).group(1)
    path = link.replace("http://localhost", "")
    again = browser.post(  # the page with the link reloaded: the form is sent again
        f"{TEAM}/add", {"name": "Nia New", "email": "Nia@Example.com", "role": "member"}
    )
    assert again.status_code == 422
    assert "Nia New (nia@example.com) is already on your team" in again.text
    assert "click Manage on their row, then Create password link" in again.text
    assert re.search(r"Nia New\s*<span class=\"muted\">\(invited\)", browser.get(TEAM).text)
    newcomer = make_browser()
    form = newcomer.get(path)
    assert form.status_code == 200 and "nia@example.com" in form.text
    assert "Then log in with it and set up MFA, which your practice requires." in form.text
    r = newcomer.post(path, {"password": "short", "confirm": "short"})
    assert r.status_code == 422 and "at least 10" in r.text
    field = re.search(r'<input[^>]*\bid="password"[^>]*>', r.text)[0]  # the message's field
    assert 'aria-invalid="true"' in field and "password-error" in field and "autofocus" in field
    r = newcomer.post(path, {"password": "Welcome2024!", "confirm": "Welcome2024!"})
    assert r.status_code == 422 and "That password is too easy to guess." in r.text
    r = newcomer.post(path, {"password": "a new long password", "confirm": "different one!"})
    assert r.status_code == 422 and "two passwords are different: type both again" in r.text
    # The focus is where the message is, not on a field that says nothing (an audit's find).
    assert "autofocus" not in re.search(r'<input[^>]*\bid="password"[^>]*>', r.text)[0]
    assert "autofocus" in re.search(r'<input[^>]*\bid="confirm"[^>]*>', r.text)[0]
    # Both fields come back empty, so every problem is said at once, each at its field.
    r = newcomer.post(path, {"password": "short", "confirm": "shorx"})
    assert "two passwords are different" in r.text and "at least 10" in r.text
    assert 'aria-invalid="true"' in re.search(r'<input[^>]*\bid="password"[^>]*>', r.text)[0]
    # The first of them has the focus, and no other field claims it too.
    assert r.text.count("autofocus") == 1
    assert "autofocus" in re.search(r'<input[^>]*\bid="password"[^>]*>', r.text)[0]
    r = newcomer.post(path, {"password": "a new long password", "confirm": "a new long password"})
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert newcomer.get(path).status_code == 410  # used
    # The link signed nobody in; logging in still passes the enrolment guard.
    assert newcomer.get("/dashboard").status_code == 302
    newcomer.login("nia@example.com", "a new long password")
    assert newcomer.get("/dashboard").headers["Location"] == "/settings/profile/security"
    assert len(events(app, "member_invited")) == 1
    assert len(events(app, "invitation_accepted")) == 1


def test_a_link_used_meanwhile_is_said_above_the_form_not_at_the_password(
    browser, make_browser, clinic, monkeypatch
):
    """Used in another tab between this page and its post: a problem with the link, which
    the page shows as such, not as something wrong with the password typed."""
    from ozyops import links

    browser.login_with_code(clinic["owner"].email)
    path = browser.invite("Nia New", "nia@example.com")
    newcomer = make_browser()
    newcomer.get(path)

    def used_meanwhile(*_args):
        raise links.LinkError("This link has already been used.")

    monkeypatch.setattr(links, "set_password", used_meanwhile)
    form = {"password": "a new long password", "confirm": "a new long password"}
    r = newcomer.post(path, form)
    assert r.status_code == 422
    assert re.search(
        r'class="alert alert-error" role="alert">This link has already been used', r.text
    )
    field = re.search(r'<input[^>]*\bid="password"[^>]*>', r.text)[0]
    assert "aria-invalid" not in field


def test_invitation_expires_after_72_hours(browser, make_browser, clinic, clock):
    browser.login_with_code(clinic["owner"].email)
    r = browser.post(
        f"{TEAM}/add",
        {"name": "Late", "email": "late@example.com", "role": "member"},
        page=f"{TEAM}/add",
    )
    path = re.search(r'id="invitation-link"[^>]*>http://localhost([^<]+)<', r.text).group(1)
    clock.advance(hours=72, seconds=1)
    page = make_browser().get(path)
    assert page.status_code == 410 and "expired" in page.text


@pytest.mark.parametrize(
    "email, message",
    [
        ("dana@example.com", "already on your team"),
        ("elsewhere@example.com", "already has an OzyOps sign-in"),  # another practice's
        ("bad", "valid email"),
    ],
)
def test_add_member_bad_input(browser, clinic, factory, email, message):
    factory.user(email="elsewhere@example.com", name="Someone Else")
    browser.login_with_code(clinic["owner"].email)
    r = browser.post(
        f"{TEAM}/add", {"name": "X", "email": email, "role": "member"}, page=f"{TEAM}/add"
    )
    assert r.status_code == 422 and message in r.text
    assert "Someone Else" not in r.text  # nothing about another practice's people
    assert "Create password link" not in r.text  # not for oneself, nor anyone else here


def test_invalid_link_is_a_clear_410(browser):
    r = browser.get("/set-password/not-a-real-token")
    assert r.status_code == 410 and "This link no longer works: it was used" in r.text
    assert "ask your practice&#39;s owner or an admin for a new link" in r.text


def test_password_link_sets_a_password_but_mfa_still_applies(browser, make_browser, clinic, app):
    victim = make_browser()
    victim.login_with_code(clinic["member"].email)
    browser.clock.advance(seconds=30)
    browser.login_with_code(clinic["admin"].email)
    r = browser.post(
        f"{TEAM}/{clinic['member'].id}/password-link", {}, page=f"{TEAM}/{clinic['member'].id}"
    )
    path = re.search(r'id="password-link"[^>]*>http://localhost([^<]+)<', r.text).group(1)
    other = make_browser()
    other.get(path)
    r = other.post(path, {"password": "brand new password", "confirm": "brand new password"})
    assert r.status_code == 303
    assert victim.get("/dashboard").status_code == 302  # a password change ends sessions
    r = other.login(clinic["member"].email, "brand new password")
    assert r.headers["Location"] == "/login/mfa"
    assert len(events(app, "password_reset")) == 1


def test_a_resent_password_link_form_does_not_kill_the_link_just_made(
    browser, make_browser, clinic
):
    """Without JavaScript the link is shown in answer to the POST: a reload sends the form
    again. That must not make a new link, which would end the one already handed over."""
    browser.login_with_code(clinic["owner"].email)
    member_page = f"{TEAM}/{clinic['member'].id}"
    url = f"{member_page}/password-link"

    def made(response):
        found = re.search(r'id="password-link"[^>]*>http://localhost([^<]+)<', response.text)
        return found.group(1) if found else None

    def replaces(page):
        return re.search(r'name="replaces" value="(\d+)"', page).group(1)

    shown = replaces(browser.get(member_page).text)
    first = made(browser.post(url, {"replaces": shown}, page=member_page))
    resent = browser.post(url, {"replaces": shown}, page=member_page)  # the reload
    assert resent.status_code == 409 and made(resent) is None
    assert "was made after this page was shown" in resent.text
    assert make_browser().get(first).status_code == 200  # still works
    # Asked again from the page as it is now: a new link, and the first one ends.
    second = made(browser.post(url, {"replaces": replaces(resent.text)}, page=member_page))
    assert second and second != first
    assert make_browser().get(first).status_code == 410
    assert make_browser().get(second).status_code == 200


def test_a_resent_link_form_refused_for_its_code_still_keeps_the_link(
    browser, make_browser, clinic
):
    """Reloaded more than 10 minutes later, the form comes back asking for a code: the page
    it comes back as must still name the link shown then, or a fresh code would replace it."""
    browser.login_with_code(clinic["owner"].email)
    member_page = f"{TEAM}/{clinic['member'].id}"
    url = f"{member_page}/password-link"
    r = browser.post(url, {"replaces": "0"}, page=member_page)
    first = re.search(r'id="password-link"[^>]*>http://localhost([^<]+)<', r.text).group(1)
    browser.clock.advance(minutes=11)
    resent = browser.post(url, {"replaces": "0", "credential": "000000"}, page=member_page)
    assert resent.status_code == 422
    assert 'name="replaces" value="0"' in resent.text
    again = browser.post(url, {"replaces": "0", "credential": browser.code()}, page=member_page)
    assert again.status_code == 409
    assert make_browser().get(first).status_code == 200


def test_add_member_with_an_error_focuses_that_field(browser, clinic):
    browser.login_with_code(clinic["owner"].email)
    r = browser.post(
        f"{TEAM}/add", {"name": "New Person", "email": "", "role": "member"}, page=f"{TEAM}/add"
    )
    assert r.status_code == 422
    tags = {m.group(1): m.group(0) for m in re.finditer(r'<input[^>]*\bid="(\w+)"[^>]*>', r.text)}
    assert "autofocus" in tags["email"] and "autofocus" not in tags["name"]


@pytest.mark.parametrize(
    "name, email, at, message",
    [
        ("Dup", "sam@example.com", "email", "is already on your team"),
        ("Someone", "not an address", "email", "Enter a valid email address."),
        ("Tab\there", "new@example.com", "name", "without control characters"),
        # Shown as "Sam AM" (a right-to-left override): passing for someone else.
        ("Sam \u202eMA", "new@example.com", "name", "without control characters"),
        ("Dana \u2067x\u2069", "new@example.com", "name", "without control characters"),
    ],
)
def test_add_member_shows_a_refusal_at_the_field_it_is_about(
    browser, clinic, name, email, at, message
):
    """The field takes the focus and says what is wrong with it (aria-describedby), as a
    screen reader reads a field it lands on, not an alert that was there before."""
    browser.login_with_code(clinic["owner"].email)
    form = {"name": name, "email": email, "role": "member"}
    r = browser.post(f"{TEAM}/add", form, page=f"{TEAM}/add")
    assert r.status_code == 422
    tag = re.search(rf'<input[^>]*\bid="{at}"[^>]*>', r.text)[0]
    assert "autofocus" in tag and 'aria-invalid="true"' in tag
    assert f'aria-describedby="{at}-error"' in tag
    assert re.search(rf'id="{at}-error" role="alert">[^<]*{message}', r.text)
    assert r.text.count(message) == 1  # not again in an alert above the form


def test_reset_mfa_acts_on_what_its_button_is_for(browser, clinic, app):
    """Only an authenticator or a lock: wrong codes counted but no lock, with no
    authenticator, are nothing to reset (no notice, no ended sessions, no entry)."""
    with app.app_context():
        u = db.session.get(User, clinic["member"].id)
        u.totp_secret, u.mfa_failures = None, 2
        db.session.commit()
    browser.login_with_code(clinic["owner"].email)
    url = f"{TEAM}/{clinic['member'].id}/reset-mfa"
    assert browser.post(url, {}, page=TEAM).status_code == 303
    assert "nothing to reset" in browser.get(TEAM).text
    row = browser.post(url, {}, htmx=True).text.split("</tr>")[0]
    assert '<span class="badge">Already off</span>' in row
    assert events(app, "mfa_reset") == []


def test_ownership_cannot_go_to_someone_invited_who_has_not_joined(browser, clinic, app):
    browser.login_with_code(clinic["owner"].email)
    r = browser.post(
        f"{TEAM}/add",
        {"name": "New Person", "email": "new@example.com", "role": "admin"},
        page=f"{TEAM}/add",
    )
    assert r.status_code == 200
    with app.app_context():
        invited = db.session.scalar(select(User).where(User.email == "new@example.com"))
    page = f"{TEAM}/{invited.id}"
    text = browser.get(page).text
    assert "(invited, not joined yet)" in text and "Make New Person the owner" not in text
    assert "can be made the owner once they have joined" in text
    assert browser.post(f"{page}/transfer", {"confirm": "yes"}, page=page).status_code == 403
    assert user(app, clinic["owner"]).role == "owner"


def test_role_change_and_ownership_transfer_keep_exactly_one_owner(browser, clinic, app):
    browser.login_with_code(clinic["owner"].email)
    r = browser.post(
        f"{TEAM}/{clinic['member'].id}/role",
        {"role": "admin"},
        page=f"{TEAM}/{clinic['member'].id}",
    )
    assert r.status_code == 303 and user(app, clinic["member"]).role == "admin"
    assert "Sam Park is now an admin." in browser.get(r.headers["Location"]).text
    r = browser.post(
        f"{TEAM}/{clinic['member'].id}/role",
        {"role": "owner"},
        page=f"{TEAM}/{clinic['member'].id}",
    )
    assert r.status_code == 422 and user(app, clinic["member"]).role == "admin"
    page = f"{TEAM}/{clinic['admin'].id}"
    r = browser.post(f"{page}/transfer", {}, page=page)
    assert r.status_code == 422 and "Tick the box" in r.text
    assert user(app, clinic["owner"]).role == "owner"
    r = browser.post(f"{page}/transfer", {"confirm": "yes"}, page=page)
    assert r.status_code == 303
    assert user(app, clinic["admin"]).role == "owner" and user(app, clinic["owner"]).role == "admin"
    with app.app_context():
        owners = db.session.scalar(select(func.count()).where(User.role == "owner"))
        assert owners == 1
    (event,) = events(app, "role_changed")
    assert '"new": "admin"' in event.details
    now_owner = browser.get(f"{TEAM}/{clinic['admin'].id}")
    assert now_owner.status_code == 200 and "Make Ali Admin the owner" not in now_owner.text


def test_deactivation_ends_sessions_and_blocks_login_until_reactivated(
    browser, make_browser, clinic, app
):
    victim = make_browser()
    victim.login_with_code(clinic["member"].email)
    browser.clock.advance(seconds=30)
    browser.login_with_code(clinic["owner"].email)
    page = f"{TEAM}/{clinic['member'].id}"
    r = browser.post(f"{page}/active", {"active": "0"}, page=page)
    assert r.status_code == 303
    assert victim.get("/dashboard").status_code == 302
    assert "deactivated" in make_browser().login(clinic["member"].email).text
    browser.post(f"{page}/active", {"active": "1"}, page=page)
    assert make_browser().login(clinic["member"].email).headers["Location"] == "/login/mfa"


def test_security_page_lists_sessions_and_signs_out_the_others(make_browser, factory, clock):
    owner = factory.user(email="pat@example.com", kind="trades")
    laptop, phone = make_browser(), make_browser()
    laptop.client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (Windows NT 10.0) Chrome/140.0"
    phone.client.environ_base["HTTP_USER_AGENT"] = "Mozilla/5.0 (iPhone) Version/18 Safari/605"
    laptop.login(owner.email)
    phone.login(owner.email)
    clock.advance(minutes=5)  # this device's last request was a while ago: it is in use now
    page = laptop.get("/settings/profile/security").text
    assert "Chrome on Windows" in page and "Safari on iPhone" in page
    assert "This device" in page and "Sign out other sessions" in page
    assert page.count("active now") == 1 and page.count("last active") == 1
    r = laptop.post("/settings/profile/security/sessions/end-others", {})
    assert r.status_code == 303
    assert phone.get("/dashboard").status_code == 302
    assert laptop.get("/dashboard").status_code == 200
    assert "Sign out other sessions" not in laptop.get("/settings/profile/security").text


END_OTHERS = "/settings/profile/security/sessions/end-others"


@pytest.mark.parametrize("mfa", [True, False])
def test_signing_out_the_others_later_asks_for_a_code_or_password(
    make_browser, factory, clock, mfa
):
    """ASVS 3.3.4: past sudo mode's 10 minutes, whoever holds a session (a stolen one, say)
    cannot sign out the others without the person's code, or password without MFA."""
    owner = factory.user(email="pat@example.com", kind="trades", mfa=mfa)
    laptop, phone = make_browser(), make_browser()
    for device in (laptop, phone):
        (device.login_with_code if mfa else device.login)(owner.email)
        clock.advance(seconds=30)  # a code is good once: the phone's is the next one
    clock.advance(minutes=11)
    page = laptop.get("/settings/profile/security").text
    label = "Your authentication code" if mfa else "Your password"
    assert f'<label for="credential-sessions">{label}</label>' in page
    wrong = "000000" if mfa else "not my password"
    refusals = {
        "x" * 300: "That is too long to be a code or a password.",
        "": f"To confirm it&#39;s you, enter your {'authentication code' if mfa else 'password'}.",
        wrong: "That code didn&#39;t work." if mfa else "That password is not right.",
    }
    for typed, message in refusals.items():
        r = laptop.post(END_OTHERS, {"credential": typed})
        assert r.status_code == 422 and message in r.text
        assert phone.get("/dashboard").status_code == 200
    right = laptop.code() if mfa else "correct horse battery"
    assert laptop.post(END_OTHERS, {"credential": right}).status_code == 303
    assert phone.get("/dashboard").status_code == 302
    assert laptop.get("/dashboard").status_code == 200


def test_team_search_finds_accented_names_and_takes_wildcards_as_typed(browser, clinic, factory):
    """SQLite's own lower() changes only A to Z, so "élodie" did not find "Élodie"; and "_"
    or "%" matched everyone (found by a review)."""
    factory.user(
        account_id=clinic["owner"].account_id,
        role="member",
        email="e@example.com",
        name="Élodie Martin",
    )
    browser.login_with_code(clinic["owner"].email)
    for q in ("élodie", "ÉLODIE", "Élo"):
        assert "Élodie Martin" in browser.get(f"{TEAM}?q={q}").text, q
    for q in ("_", "%"):
        assert "No members match." in browser.get(f"{TEAM}?q={q}").text, q


def test_team_filter_by_name_and_mfa_status(browser, clinic, factory):
    factory.user(
        account_id=clinic["owner"].account_id,
        role="member",
        email="zed@example.com",
        name="Zed Nomfa",
    )
    browser.login_with_code(clinic["owner"].email)
    r = browser.get(f"{TEAM}?q=sam")
    text = r.text.replace("<wbr>", "")
    assert "sam@example.com" in text and "ali@example.com" not in text
    r = browser.get(f"{TEAM}?mfa=not_set_up", headers={"HX-Request": "true"})
    assert r.text.lstrip().startswith('<tbody id="members"')
    text = r.text.replace("<wbr>", "")
    assert "zed@example.com" in text and "sam@example.com" not in text
    # A swapped-in part is new to the page: the count is read out by base.html's announcer.
    assert json.loads(r.headers["HX-Trigger"]) == {"ozyops:announce": "1 member matches."}
    r = browser.get(f"{TEAM}?q=nobody-at-all", headers={"HX-Request": "true"})
    assert json.loads(r.headers["HX-Trigger"]) == {"ozyops:announce": "No members match."}
    assert "HX-Trigger" not in browser.get(f"{TEAM}?q=sam").headers  # a whole page: none
    r = browser.get(f"{TEAM}?q=%25")  # a literal % matches nobody special
    assert r.status_code == 200


def test_reset_mfa_page_of_its_own_has_plain_buttons_and_no_row(browser, clinic):
    """Manage > Reset MFA, or the row's button without JavaScript, opens a page: its Confirm
    and Cancel must not be wired to swap a table row, which that page does not have."""
    browser.login_with_code(clinic["owner"].email)
    url = f"{TEAM}/{clinic['member'].id}/reset-mfa"
    page = browser.get(url).text
    assert "<html" in page and "Reset MFA for Sam Park" in page
    main = page.split('<main id="main">')[1].split("</main>")[0]  # not the idle warning
    assert "<tr" not in main and "hx-post" not in main and "hx-get" not in main
    in_row = browser.get(url, headers={"HX-Request": "true"}).text
    assert in_row.lstrip().startswith("<tr") and 'hx-target="closest tr"' in in_row


def test_reset_mfa_with_nothing_to_reset_says_so(browser, clinic, app):
    browser.login_with_code(clinic["owner"].email)
    url = f"{TEAM}/{clinic['member'].id}/reset-mfa"
    assert browser.post(url, {}, page=TEAM).status_code == 303
    # Confirm again (a second click, or another admin first): nothing happened, and it says so.
    r = browser.post(url, {}, page=TEAM)
    assert r.status_code == 303 and r.headers["Location"] == TEAM
    page = browser.get(TEAM).text
    assert "MFA for Sam Park is already off: there was nothing to reset." in page
    assert "was reset" not in page
    assert len(events(app, "mfa_reset")) == 1
    # The confirmation reloaded after Confirm asks nothing more.
    r = browser.get(url)
    assert r.status_code == 303 and r.headers["Location"] == TEAM
    assert "nothing to reset" in browser.get(TEAM).text
    row = browser.get(url, headers={"HX-Request": "true"}).text
    assert "Confirm" not in row and "nothing to reset" in row


def _invite_nia(browser, clinic, app):
    """The owner adds Nia New; returns her invitation link's path and her, as loaded."""
    browser.login_with_code(clinic["owner"].email)
    invitation = browser.invite("Nia New", "nia@example.com")
    with app.app_context():
        return invitation, db.session.scalar(select(User).where(User.email == "nia@example.com"))


def _password_link(browser, member):
    page = f"{TEAM}/{member.id}"
    r = browser.post(f"{page}/password-link", {}, page=page)
    return re.search(r'id="password-link"[^>]*>http://localhost([^<]+)<', r.text).group(1)


def test_a_new_password_ends_every_unused_link(browser, make_browser, clinic, clock):
    """A link left in a mailbox must not set a password over the one chosen since."""
    browser.login_with_code(clinic["admin"].email)
    path = _password_link(browser, clinic["member"])
    sam = make_browser()
    clock.advance(seconds=30)
    sam.login_with_code(clinic["member"].email)
    r = sam.post(
        "/settings/profile/password",
        {
            "current": "correct horse battery",
            "password": "a brand new phrase",
            "confirm": "a brand new phrase",
        },
        page="/settings/profile",
    )
    assert r.status_code == 303
    assert make_browser().get(path).status_code == 410


def test_a_used_reset_link_ends_the_unused_invitation(browser, make_browser, clinic, app):
    invitation, nia = _invite_nia(browser, clinic, app)
    reset = _password_link(browser, nia)
    nia_browser = make_browser()
    nia_browser.get(reset)
    r = nia_browser.post(
        reset, {"password": "a new long password", "confirm": "a new long password"}
    )
    assert r.status_code == 303
    assert make_browser().get(invitation).status_code == 410


def test_deactivation_ends_unused_links_for_good(browser, make_browser, clinic, app):
    """Reactivated, the person needs a new link: one made before is not brought back."""
    invitation, nia = _invite_nia(browser, clinic, app)
    page = f"{TEAM}/{nia.id}"
    reset = _password_link(browser, nia)
    assert browser.post(f"{page}/active", {"active": "0"}, page=page).status_code == 303
    r = browser.post(f"{page}/active", {"active": "1"}, page=page)
    assert r.status_code == 303
    assert "They have not joined yet: create a password link for them" in browser.get(page).text
    for path in (invitation, reset):
        assert make_browser().get(path).status_code == 410
    assert make_browser().get(_password_link(browser, nia)).status_code == 200


def test_a_link_made_by_an_admin_stops_working_when_its_person_becomes_the_owner(
    browser, make_browser, clinic, app, clock
):
    """An admin who kept a link to a member must not set the owner's password once that
    member is made the owner (found by a security review)."""
    browser.login_with_code(clinic["admin"].email)
    path = _password_link(browser, clinic["member"])
    owner = make_browser()
    clock.advance(seconds=30)
    owner.login_with_code(clinic["owner"].email)
    page = f"{TEAM}/{clinic['member'].id}"
    assert owner.post(f"{page}/transfer", {"confirm": "yes"}, page=page).status_code == 303
    thief = make_browser()
    r = thief.get(path)
    assert r.status_code == 410
    text = html.unescape(r.text)
    assert "whoever made it may no longer set this account's password" in text
    assert "Ask whoever runs OzyOps for your practice for a new link." in text
    new = {"password": "violet tractor harbour kettle", "confirm": "violet tractor harbour kettle"}
    assert thief.post(path, new).status_code == 410
    assert thief.login("sam@example.com", new["password"]).status_code == 422
    assert not events(app, "password_reset")


@pytest.mark.parametrize("change", ["made a member", "deactivated"])
def test_links_made_by_an_admin_end_with_their_say(browser, make_browser, clinic, app, change):
    """A link works only while whoever made it could still make it; the owner's stay."""
    browser.login_with_code(clinic["admin"].email)
    invitation = browser.invite("Nia New", "nia@example.com")
    owner = make_browser()
    owner.login_with_code(clinic["owner"].email)
    kept = _password_link(owner, clinic["member"])
    page = f"{TEAM}/{clinic['admin'].id}"
    if change == "made a member":
        r = owner.post(f"{page}/role", {"role": "member"}, page=page)
    else:
        r = owner.post(f"{page}/active", {"active": "0"}, page=page)
    assert r.status_code == 303
    r = make_browser().get(invitation)
    assert r.status_code == 410
    assert "Ask your practice's owner or an admin for a new link." in html.unescape(r.text)
    assert make_browser().get(kept).status_code == 200
    with app.app_context():
        nia = db.session.scalar(select(User).where(User.email == "nia@example.com"))
    assert make_browser().get(_password_link(owner, nia)).status_code == 200


def test_a_link_opened_where_someone_else_is_signed_in_sets_nothing(
    browser, make_browser, clinic, app
):
    """An owner checking the link just made, or a new hire at a computer someone is signed
    in at, must not set a colleague's password inside someone else's session (found by a
    usability walk)."""
    browser.login_with_code(clinic["owner"].email)
    path = _password_link(browser, clinic["member"])
    r = browser.get(path)
    text = html.unescape(r.text)
    assert r.status_code == 409
    assert "This link is for Sam Park" in text and "signed in as <strong>Dana Owner" in text
    assert 'name="password"' not in text
    new = {"password": "violet tractor harbour kettle", "confirm": "violet tractor harbour kettle"}
    assert browser.post(path, new, page=path).status_code == 409
    assert not events(app, "password_reset")
    r = browser.post("/logout", {"next": path}, page=path)
    assert r.status_code == 303 and r.headers["Location"] == path
    r = browser.get(path)
    assert r.status_code == 200 and "You have logged out." in r.text
    assert browser.post(path, new, page=path).headers["Location"] == "/login"
    assert len(events(app, "password_reset")) == 1


def test_log_out_on_that_page_after_the_session_ended_still_opens_the_link(browser, clinic, clock):
    """Its form is stale then: it went to /login?next=%2Fset-password%2F<token>, the link's
    token in a URL and the logs (found by a review)."""
    browser.login_with_code(clinic["owner"].email)
    path = _password_link(browser, clinic["member"])
    assert browser.get(path).status_code == 409
    clock.advance(minutes=17)  # healthcare's idle logoff
    r = browser.post("/logout", {"next": path}, headers={"Referer": f"http://localhost{path}"})
    assert r.status_code == 303 and r.headers["Location"] == path
    assert 'name="password"' in browser.get(path).text


def test_logging_out_goes_only_to_a_page_of_this_site(browser, clinic):
    browser.login_with_code(clinic["owner"].email)
    r = browser.post("/logout", {"next": "https://evil.example/"}, page="/dashboard")
    assert r.headers["Location"] == "/login"


def test_a_link_for_someone_not_joined_is_an_invitation_again(
    browser, make_browser, clinic, app, clock
):
    """After a corrected email or a lost invitation: a welcome and 72 hours, as the first
    invitation said, not "Set a new password" for 24 (found by a usability walk)."""
    _, nia = _invite_nia(browser, clinic, app)
    page = f"{TEAM}/{nia.id}"
    r = browser.post(f"{page}/password-link", {}, page=page)
    text = html.unescape(r.text)
    assert "It lets them choose their password\n    once and works for 72 hours." in text
    # Shown at the top, where a phone shows it: above the cards the button was below.
    assert text.index('id="password-link"') < text.index("<h2>Invitation</h2>")
    path = re.search(r'id="password-link"[^>]*>http://localhost([^<]+)<', r.text).group(1)
    clock.advance(hours=48)
    newcomer = make_browser()
    assert "Welcome to OzyOps" in newcomer.get(path).text
    new = {"password": "violet tractor harbour kettle", "confirm": "violet tractor harbour kettle"}
    assert newcomer.post(path, new, page=path).headers["Location"] == "/login"
    assert len(events(app, "invitation_accepted")) == 1
    assert not events(app, "password_reset")
    browser.login_with_code(clinic["owner"].email)  # two days on, signed out meanwhile
    r = browser.post(f"{page}/password-link", {}, page=page)  # now joined: a reset
    assert "It lets them set a new password\n    once and works for 24 hours." in r.text


def test_a_link_asked_for_on_a_page_shown_before_they_joined_is_made(
    browser, make_browser, clinic, app
):
    """Joining changes which kind of link is made; it is not a page sent again."""
    invitation, nia = _invite_nia(browser, clinic, app)
    page = f"{TEAM}/{nia.id}"
    shown = re.search(r'name="replaces" value="(\d+)"', browser.get(page).text).group(1)
    new = {"password": "violet tractor harbour kettle", "confirm": "violet tractor harbour kettle"}
    assert make_browser().post(invitation, new, page=invitation).status_code == 303
    r = browser.post(f"{page}/password-link", {"replaces": shown})
    assert r.status_code == 200 and "set a new password" in r.text


def test_adding_someone_deactivated_again_says_to_reactivate_them(browser, clinic, app):
    _, nia = _invite_nia(browser, clinic, app)
    page = f"{TEAM}/{nia.id}"
    assert browser.post(f"{page}/active", {"active": "0"}, page=page).status_code == 303
    assert "Let Nia New join." in browser.get(page).text
    r = browser.post(
        f"{TEAM}/add", {"name": "Nia New", "email": "nia@example.com", "role": "member"}
    )
    assert r.status_code == 422
    assert "They are deactivated: click Manage on their row and reactivate them" in r.text


def test_reset_mfa_from_a_members_page_ends_on_that_page(browser, clinic, app):
    """The owner often does something next on that person's page: a password link, say
    (found by a usability walk). From the team list it still ends on the list."""
    browser.login_with_code(clinic["owner"].email)
    page = f"{TEAM}/{clinic['member'].id}"
    url = f"{page}/reset-mfa?from=member"
    assert f'href="{url}"' in browser.get(page).text
    r = browser.get(url)
    assert f'href="{page}">&larr; Sam Park</a>' in r.text
    assert f'class="tap" href="{page}"' in r.text  # Cancel
    r = browser.post(f"{page}/reset-mfa", {"from": "member"}, page=url)
    assert r.status_code == 303 and r.headers["Location"] == page
    assert "Sam Park" in browser.get(page).text and not user(app, clinic["member"]).mfa_enabled


@pytest.mark.parametrize("value", ["", "true", "1", "ON"])
def test_require_mfa_needs_the_checkboxs_own_value(browser, factory, app, value):
    """Anything but the box's "on" or nothing used to switch the requirement off."""
    account = factory.account(kind="law", require_mfa=True)
    owner = factory.user(account_id=account, email="boss@example.com", mfa=True)
    browser.login_with_code(owner.email)
    r = browser.post("/settings/team/require-mfa", {"require_mfa": value}, page="/settings/team")
    assert r.status_code == 400
    with app.app_context():
        assert db.session.get(Account, account).require_mfa


@pytest.mark.parametrize("value", [None, "", "yes", "2"])
def test_deactivate_or_reactivate_needs_the_forms_own_value(browser, clinic, app, value):
    browser.login_with_code(clinic["owner"].email)
    page = f"{TEAM}/{clinic['member'].id}"
    data = {} if value is None else {"active": value}
    assert browser.post(f"{page}/active", data, page=page).status_code == 400
    assert user(app, clinic["member"]).active


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("role", {"role": "admin"}, "Dana Owner is now the owner, so their role was not changed."),
        ("active", {"active": "0"}, "Dana Owner is now the owner, so they were not deactivated."),
    ],
)
def test_a_page_judged_before_someone_became_owner_says_so(
    browser, clinic, app, monkeypatch, action, data, message
):
    """The check passed on a copy loaded before another request made the person owner (here:
    the permission check sees them as they were); the write refuses, and the page says why
    at the top, where it is seen whatever forms the page has now."""
    from ozyops.team import views

    browser.login_with_code(clinic["admin"].email)
    monkeypatch.setattr(views, "can", lambda *_a: True)
    page = f"{TEAM}/{clinic['owner'].id}"
    r = browser.post(f"{page}/{action}", data, page=page)
    assert r.status_code == 409 and message in r.text
    owner = user(app, clinic["owner"])
    assert owner.role == "owner" and owner.active


@pytest.mark.parametrize("htmx", [True, False])
def test_the_reset_confirmation_puts_the_focus_on_its_question_not_on_confirm(
    browser, clinic, htmx
):
    """Enter on a page just opened must not reset anyone's MFA: the question takes the
    focus (and is read out); Confirm is a Tab away. Past 10 minutes the code field does."""
    browser.login_with_code(clinic["owner"].email)
    r = browser.get(
        f"{TEAM}/{clinic['member'].id}/reset-mfa", headers={"HX-Request": "true"} if htmx else {}
    )
    assert re.search(r'<p id="confirm-\d+" tabindex="-1" autofocus>', r.text)
    assert r.text.count("autofocus") == 1
    browser.clock.advance(minutes=11)
    r = browser.get(
        f"{TEAM}/{clinic['member'].id}/reset-mfa", headers={"HX-Request": "true"} if htmx else {}
    )
    assert r.text.count("autofocus") == 1 and re.search(
        r'id="credential-reset-\d+"[^>]*autofocus', r.text
    )


@pytest.mark.parametrize("action", ["cancel", "confirm"])
def test_back_in_the_row_the_keyboard_is_where_it_was(browser, clinic, action):
    """With JavaScript the confirmation replaces the row; Cancel and Confirm put the row
    back, and the focus with it (not at the top of the page): on Reset MFA after Cancel,
    on Manage once there is nothing left to reset."""
    browser.login_with_code(clinic["owner"].email)
    member = clinic["member"].id
    if action == "cancel":
        r = browser.get(f"{TEAM}/{member}/row", headers={"HX-Request": "true"})
        assert re.search(r'<a class="button" href="[^"]+/reset-mfa" autofocus', r.text)
    else:
        r = browser.post(f"{TEAM}/{member}/reset-mfa", {}, htmx=True, page=TEAM)
        assert "was reset" in r.text
        assert re.search(r'<a class="tap" href="/settings/team/\d+" autofocus>Manage', r.text)
    assert r.text.count("autofocus") == 1
    assert "autofocus" not in browser.get(TEAM).text  # the page itself takes no focus


def test_changing_someone_to_the_role_they_have_says_nothing_changed(browser, clinic, app):
    browser.login_with_code(clinic["owner"].email)
    page = f"{TEAM}/{clinic['admin'].id}"
    r = browser.post(f"{page}/role", {"role": "admin"}, page=page)
    assert r.status_code == 303
    assert "Ali Admin is already an admin." in browser.get(page).text
    assert events(app, "role_changed") == []


def test_an_admin_on_the_owners_page_is_told_why_there_is_nothing_to_do(browser, clinic):
    browser.login_with_code(clinic["admin"].email)
    text = browser.get(f"{TEAM}/{clinic['owner'].id}").text
    text = " ".join(text.split())
    assert "Only Dana Owner can change the owner's own sign-in" in text
    assert "they contact support@ozyops.com (or whoever runs OzyOps" in text
    browser.logout()
    browser.clock.advance(seconds=30)
    browser.login_with_code(clinic["owner"].email)
    assert "can change the owner" not in browser.get(f"{TEAM}/{clinic['admin'].id}").text


def test_a_link_ended_by_deactivation_says_so(browser, make_browser, clinic, app):
    browser.login_with_code(clinic["owner"].email)
    path = _password_link(browser, clinic["member"])
    page = f"{TEAM}/{clinic['member'].id}"
    browser.post(f"{page}/active", {"active": "0"}, page=page)
    r = make_browser().get(path)
    assert r.status_code == 410 and "This account has been deactivated." in r.text
    browser.post(f"{page}/active", {"active": "1"}, page=page)
    r = make_browser().get(path)
    assert r.status_code == 410 and "a password was set since" in r.text


def test_an_invited_persons_page_speaks_of_a_first_password(browser, clinic, app):
    _, nia = _invite_nia(browser, clinic, app)
    text = browser.get(f"{TEAM}/{nia.id}").text
    assert "Not joined yet? Create a one-time link for them to set their first password." in text
    assert "Forgot their password?" not in text and "invitation link" not in text
    assert "Forgot their password?" in browser.get(f"{TEAM}/{clinic['member'].id}").text


def test_no_password_link_is_made_for_someone_deactivated(browser, clinic, app):
    """It would not work until they were reactivated, yet the page said to send it."""
    browser.login_with_code(clinic["owner"].email)
    page = f"{TEAM}/{clinic['member'].id}"
    browser.post(f"{page}/active", {"active": "0"}, page=page)
    text = browser.get(page).text
    assert "reactivate Sam Park first" in text and "Create password link" not in text
    r = browser.post(f"{page}/password-link", page=page)
    assert r.status_code == 409 and "Sam Park is deactivated: reactivate them first." in r.text
    assert 'id="password-link"' not in r.text


def test_an_invitation_typed_wrong_is_corrected_before_they_join(
    browser, make_browser, clinic, app
):
    """A mistyped email used to mean deactivating them and inviting again, the address
    taken for good. The link made for the wrong address stops working."""
    browser.login_with_code(clinic["owner"].email)
    r = browser.post(
        f"{TEAM}/add",
        {"name": "Nia Nw", "email": "nia@exmaple.com", "role": "member"},
        page=f"{TEAM}/add",
    )
    sent_to_the_typo = re.search(r'id="invitation-link"[^>]*>([^<]+)<', r.text).group(1)
    nia = user_by_email(app, "nia@exmaple.com")
    page = f"{TEAM}/{nia.id}"
    card = browser.get(page).text
    assert "Save name and email" in card
    # Where to make the new link, said by a link to it rather than by "below" (WCAG 1.3.3).
    assert re.search(r'under\s+<a href="#password">Password</a>', card) and 'id="password"' in card
    fix = {"name": "Nia New", "email": "Nia@Example.com"}
    r = browser.post(f"{page}/invitation", fix, page=page)
    assert r.status_code == 303 and r.headers["Location"] == page
    shown = browser.get(page).text
    assert "The invitation is now for Nia New (nia@example.com)" in shown
    assert make_browser().get(sent_to_the_typo.replace("http://localhost", "")).status_code == 410
    [entry] = events(app, "invitation_corrected")
    assert (
        '"old_email": "nia@exmaple.com"' in entry.details and entry.actor_id == clinic["owner"].id
    )
    # A new link for the right address works, and once they have joined the card is gone.
    link = browser.post(f"{page}/password-link", {}, page=page)
    path = re.search(r'id="password-link"[^>]*>([^<]+)<', link.text).group(1)
    path = path.replace("http://localhost", "")
    newcomer = make_browser()
    r = newcomer.post(
        path, {"password": "a new long password", "confirm": "a new long password"}, page=path
    )
    assert r.status_code == 303
    assert "Save name and email" not in browser.get(page).text
    r = browser.post(f"{page}/invitation", {"name": "X", "email": "x@example.com"}, page=page)
    assert r.status_code == 409 and "has joined meanwhile" in r.text
    assert user(app, nia).email == "nia@example.com"


def test_an_invitation_cannot_be_corrected_to_an_email_in_use(browser, clinic, app, factory):
    browser.login_with_code(clinic["owner"].email)
    browser.post(
        f"{TEAM}/add",
        {"name": "Nia New", "email": "nia@exmaple.com", "role": "member"},
        page=f"{TEAM}/add",
    )
    page = f"{TEAM}/{user_by_email(app, 'nia@exmaple.com').id}"
    other = factory.account(kind="law", name="Elsewhere LLP")
    factory.user(account_id=other, email="taken@example.com")
    r = browser.post(f"{page}/invitation", {"name": "Nia", "email": "taken@example.com"}, page=page)
    assert r.status_code == 422
    assert "Someone with the email taken@example.com already has an OzyOps sign-in." in r.text
    field = re.search(r'<input[^>]*\bid="invitation-email"[^>]*>', r.text)[0]
    assert 'aria-invalid="true"' in field and 'value="taken@example.com"' in field
    r = browser.post(f"{page}/invitation", {"name": "", "email": "nia@example.com"}, page=page)
    assert r.status_code == 422 and "Enter their name." in r.text
    assert user_by_email(app, "nia@exmaple.com").name == "Nia New"


def test_a_name_alone_corrected_keeps_the_link_already_sent(browser, make_browser, clinic, app):
    browser.login_with_code(clinic["owner"].email)
    link = browser.invite("Nia Nw", "nia@example.com")
    page = f"{TEAM}/{user_by_email(app, 'nia@example.com').id}"
    same = {"name": "Nia Nw", "email": "nia@example.com"}
    assert browser.post(f"{page}/invitation", same, page=page).status_code == 303
    assert "Nothing was changed" in browser.get(page).text
    fixed = {"name": "Nia New", "email": "nia@example.com"}
    assert browser.post(f"{page}/invitation", fixed, page=page).status_code == 303
    assert "The invitation is now for Nia New." in browser.get(page).text
    assert make_browser().get(link).status_code == 200  # still works
    r = browser.post(
        f"{page}/invitation", {"name": "Nia New", "email": "SAM@example.com"}, page=page
    )
    assert r.status_code == 422 and "Sam Park (sam@example.com) is already on your team." in r.text
    browser.post(f"{page}/active", {"active": "0"}, page=page)
    assert "Save name and email" not in browser.get(page).text  # deactivated: reactivate first


def test_a_member_cannot_correct_an_invitation(make_browser, clinic, app):
    owner = make_browser()
    owner.login_with_code(clinic["owner"].email)
    owner.post(
        f"{TEAM}/add",
        {"name": "Nia New", "email": "nia@exmaple.com", "role": "member"},
        page=f"{TEAM}/add",
    )
    page = f"{TEAM}/{user_by_email(app, 'nia@exmaple.com').id}"
    member = make_browser()
    member.login_with_code(clinic["member"].email)
    r = member.post(f"{page}/invitation", {"name": "Mallory", "email": "m@evil.example"}, page=TEAM)
    assert r.status_code == 403
    assert user_by_email(app, "nia@exmaple.com").name == "Nia New"


def user_by_email(app, email):
    with app.app_context():
        u = db.session.scalar(select(User).where(User.email == email))
        db.session.expunge(u)
        return u
