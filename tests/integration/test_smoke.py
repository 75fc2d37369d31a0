def test_login_page(browser):
    r = browser.get("/login")
    assert r.status_code == 200
    assert "Log in" in r.text


def test_settings_typed_as_an_address_opens_settings(browser, factory):
    """A walk of help/mfa.md typed /settings and got "Page not found"."""
    user = factory.user(email="pat@example.com")
    assert browser.get("/settings").headers["Location"] == "/settings/profile"
    browser.login(user.email)
    r = browser.get("/settings", follow_redirects=True)
    assert r.status_code == 200 and "<h1>Profile</h1>" in r.text
