"""Security notifications by SMTP, against a real SMTP server on loopback (aiosmtpd: the
`smtp` and `mail_app` fixtures in tests/conftest.py)."""

from tests.conftest import wrong_codes


def test_reset_mails_the_person_and_the_owner(mail_app, smtp, factory, browser):
    account = factory.account(kind="healthcare")
    admin = factory.user(account_id=account, role="admin", email="ali@example.com", mfa=True)
    factory.user(account_id=account, role="owner", email="dana@example.com", mfa=True)
    member = factory.user(account_id=account, role="member", email="sam@example.com", mfa=True)
    browser.login_with_code(admin.email)
    browser.post(f"/settings/team/{member.id}/reset-mfa", {}, page="/settings/team")
    inbox = smtp[0]
    assert [m[0] for m in inbox.messages] == [["sam@example.com"], ["dana@example.com"]]
    assert "authenticator was reset" in inbox.messages[0][1]
    assert "Subject: OzyOps security notice" in inbox.messages[0][1]


def test_wrong_codes_and_lockout_are_mailed(mail_app, smtp, factory, make_browser):
    user = factory.user(email="kim@example.com", kind="law", mfa=True)
    for attempt in range(2):
        b = make_browser()
        b.login(user.email)
        b.get("/login/mfa")
        for code in wrong_codes(10)[5 * attempt : 5 * attempt + 5]:
            b.post("/login/mfa", {"code": code})
    bodies = " ".join(m[1] for m in smtp[0].messages)
    assert "password is probably known to someone else" in bodies
    assert "locked for 15 minutes" in bodies


def test_a_mail_failure_never_breaks_the_action(app, factory, browser, caplog):
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=1)  # nothing listens there
    account = factory.account(kind="law")
    owner = factory.user(account_id=account, email="o@example.com")
    member = factory.user(account_id=account, role="member", email="m@example.com", mfa=True)
    browser.login(owner.email)
    r = browser.post(f"/settings/team/{member.id}/reset-mfa", {}, page="/settings/team")
    assert r.status_code == 303
    assert "could not send notification mfa_reset" in caplog.text


def test_invitation_link_is_mailed_and_shown(mail_app, smtp, factory, browser):
    owner = factory.user(email="boss@example.com", kind="law")
    browser.login(owner.email)
    r = browser.post(
        "/settings/team/add",
        {"name": "Nia", "email": "nia@example.com", "role": "member"},
        page="/settings/team/add",
    )
    assert 'id="invitation-link"' in r.text
    ((to, body),) = smtp[0].messages
    assert to == ["nia@example.com"] and "/set-password/" in body and "72 hours" in body


def test_operator_reset_notifies_the_owner(mail_app, smtp, factory, runner):
    account = factory.account(kind="healthcare")
    factory.user(account_id=account, role="owner", email="dana@example.com", mfa=True)
    factory.user(account_id=account, role="member", email="sam@example.com", mfa=True)
    assert (
        runner.invoke(args=["reset-mfa", "sam@example.com", "--reason", "ticket 7"]).exit_code == 0
    )
    assert [m[0] for m in smtp[0].messages] == [["sam@example.com"], ["dana@example.com"]]


def test_enabling_and_disabling_mfa_are_mailed(mail_app, smtp, factory, browser, clock):
    import re

    from ozyops.security import totp

    user = factory.user(email="kim@example.com", kind="law")
    browser.login(user.email)
    r = browser.post(
        "/settings/profile/security/enrol", page="/settings/profile/security", follow_redirects=True
    )
    secret = re.search(r'id="setup-key"[^>]*>([A-Z2-7 ]+)<', r.text).group(1).replace(" ", "")
    r = browser.post(
        "/settings/profile/security/verify", {"code": totp.code_at(secret, clock.timestamp)}
    )
    assert 'id="recovery-key"' in r.text
    clock.advance(seconds=30)
    browser.get("/settings/profile/security")
    browser.post(
        "/settings/profile/security/disable", {"code": totp.code_at(secret, clock.timestamp)}
    )
    assert "turned on" in smtp[0].messages[0][1] and "turned off" in smtp[0].messages[1][1]


def test_recovery_key_use_is_mailed(mail_app, smtp, factory, browser):
    from tests.conftest import RECOVERY_KEY

    factory.user(email="doc@example.com", kind="healthcare", mfa=True)
    browser.login("doc@example.com")
    browser.post("/login/recovery", {"recovery_key": RECOVERY_KEY}, page="/login/recovery")
    ((to, body),) = smtp[0].messages
    assert to == ["doc@example.com"] and "recovery key was used" in body


def test_a_password_set_by_reset_link_is_mailed_but_not_an_invitation(
    mail_app, smtp, factory, browser, make_browser
):
    import re

    owner = factory.user(email="boss@example.com", kind="law")
    member = factory.user(account_id=owner.account_id, role="member", email="sam@example.com")
    browser.login(owner.email)
    invite = browser.invite("Nia", "nia@example.com")
    r = browser.post(
        f"/settings/team/{member.id}/password-link", {}, page=f"/settings/team/{member.id}"
    )
    reset = re.search(r'id="password-link"[^>]*>http://localhost([^<]+)<', r.text).group(1)
    smtp[0].messages.clear()  # the two links themselves
    for path in (invite, reset):
        b = make_browser()
        b.get(path)
        r = b.post(path, {"password": "brand new password", "confirm": "brand new password"})
        assert r.status_code == 303
    ((to, body),) = smtp[0].messages
    assert to == ["sam@example.com"] and "password was set with a one-time link" in body


def test_a_new_recovery_key_is_mailed(mail_app, smtp, factory, browser):
    factory.user(email="kim@example.com", kind="law", mfa=True)
    browser.login_with_code("kim@example.com")
    browser.clock.advance(seconds=30)
    browser.get("/settings/profile/security")
    r = browser.post("/settings/profile/security/recovery-key", {"code": browser.code()})
    assert 'id="recovery-key"' in r.text
    ((to, body),) = smtp[0].messages
    assert to == ["kim@example.com"] and "new recovery key" in body


def test_without_a_mail_server_notifications_are_in_the_server_log(factory, browser, caplog):
    """caplog without `at_level`, which would lower the level itself: the app's own logger
    must let INFO through, or under gunicorn the notice is dropped and no one is told."""
    account = factory.account(kind="law")
    owner = factory.user(account_id=account, email="o@example.com")
    member = factory.user(account_id=account, role="member", email="m@example.com", mfa=True)
    browser.login(owner.email)
    browser.post(f"/settings/team/{member.id}/reset-mfa", {}, page="/settings/team")
    assert (
        f"notification mfa_reset to user {member.id}: Your OzyOps authenticator was reset"
        in caplog.text
    )
