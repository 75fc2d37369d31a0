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
    # A phone breaks the address after "@" or before a dot, not mid-word (a walk found
    # "…example.co" / "m"), as the team page does.
    assert "<dd>pat@<wbr>example<wbr>.com</dd>" in r.text


def test_no_id_is_used_twice_on_a_page_of_several_forms(browser, factory):
    """Each form's CSRF field was `id="csrf_token"`: twice on the Security page with MFA on,
    and on a member's page (found by a walk of help/mfa.md). An id names one element."""
    import re
    from collections import Counter

    owner = factory.user(email="pat@example.com", mfa=True)
    member = factory.user(account_id=owner.account_id, role="member", email="m@example.com")
    browser.login_with_code(owner.email)
    for page in ("/settings/profile/security", f"/settings/team/{member.id}", "/settings/profile"):
        ids = Counter(re.findall(r'\sid="([^"]+)"', browser.get(page).text))
        assert [i for i, n in ids.items() if n > 1] == [], page
