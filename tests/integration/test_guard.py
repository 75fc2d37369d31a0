"""The app-wide enrolment guard (SPEC §3) checked against every route there is."""

import pytest

from ozyops.security.guard import ALWAYS_ALLOWED, ENROLMENT_ALLOWED

ENROL = "/settings/profile/security"


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ENROLMENT_ALLOWED | ALWAYS_ALLOWED or rule.arguments:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


@pytest.fixture
def unenrolled(factory, browser):
    user = factory.user(email="new@example.com", kind="healthcare")
    r = browser.login(user.email)
    assert r.headers["Location"] == "/dashboard"
    return user


def test_every_route_outside_the_allow_list_redirects_to_enrolment(app, browser, unenrolled):
    checked = 0
    for rule, method in routes(app):
        if method == "GET":
            r = browser.get(rule.rule)
        else:
            r = browser.post(rule.rule, page=ENROL)
        assert r.status_code == 303, (method, rule.rule, r.status_code)
        assert r.headers["Location"] == ENROL, (method, rule.rule)
        checked += 1
    assert checked >= 8


def test_htmx_requests_get_hx_redirect(app, browser, unenrolled):
    r = browser.get("/settings/team", headers={"HX-Request": "true"})
    assert r.status_code == 200 and r.headers["HX-Redirect"] == ENROL


def test_the_enrolment_steps_and_static_files_stay_reachable(browser, make_browser, unenrolled):
    make_browser().login(unenrolled.email)  # a second, older sign-in to end
    assert "Sign out other sessions" in browser.get(ENROL).text
    r = browser.post(ENROL + "/sessions/end-others", page=ENROL)
    assert r.status_code == 303 and r.headers["Location"] == ENROL
    assert "Sign out other sessions" not in browser.get(ENROL).text
    assert browser.post(ENROL + "/enrol", follow_redirects=True).status_code == 200
    with browser.client.get("/static/app.css") as css:
        assert css.status_code == 200
    assert browser.post("/logout", page=ENROL).headers["Location"] == "/login"


def test_allow_list_names_real_endpoints(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints >= ENROLMENT_ALLOWED


def test_optional_account_is_not_guarded_until_the_owner_requires_mfa(browser, factory):
    owner = factory.user(email="boss@example.com", kind="trades")
    browser.login(owner.email)
    assert browser.get("/dashboard").status_code == 200
    team = browser.get("/settings/team")
    assert "Require MFA for everyone" in team.text
    r = browser.post("/settings/team/require-mfa", {"require_mfa": "on"})
    assert r.status_code == 303
    assert browser.get("/dashboard").headers["Location"] == ENROL


def test_enrolled_user_passes(browser, factory):
    user = factory.user(email="doc@example.com", kind="healthcare", mfa=True)
    browser.login_with_code(user.email)
    assert browser.get("/dashboard").status_code == 200
