"""Served over HTTPS, as in production: chromium must accept the `__Host-` cookies (it
refuses one that is not Secure, has a Domain or a Path other than /), and every kind of
post must still pass its CSRF check, which over HTTPS also wants a same-site Referer."""

import pytest
from playwright.sync_api import expect

from tests.browser.pages import LoginPage
from tests.browser.test_mfa_flows import enrol_with_setup_key

pytestmark = pytest.mark.https


def test_over_https_the_cookies_are_host_only_and_every_form_works(page, factory, clock):
    user = factory.user(kind="trades", email="pat@example.com")

    security = LoginPage(page).open().log_in_to_dashboard(user.email).go_to_security()
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert set(cookies) == {"__Host-ozyops_session", "__Host-ozyops_device"}
    for cookie in cookies.values():
        assert cookie["secure"] and cookie["httpOnly"] and cookie["path"] == "/"
        assert cookie["domain"] == "127.0.0.1"  # host-only: no Domain attribute was sent

    phone, _ = enrol_with_setup_key(security, clock)  # htmx posts, with the X-CSRFToken header
    login = security.log_out()  # a plain form post

    clock.advance(seconds=30)
    dashboard = login.log_in_expecting_code(user.email).enter_expecting_dashboard(phone.code())
    expect(dashboard.page.get_by_text("Signed in as")).to_be_visible()
