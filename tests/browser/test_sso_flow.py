"""Sign in with Google in a real browser, against a real OpenID Connect provider on
loopback (oidc-provider-mock): the button, the provider's consent page, back, then the
same code step as after a password."""

from urllib.parse import quote

import oidc_provider_mock
import pytest
import requests
from playwright.sync_api import expect

from ozyops.auth import sso
from tests.conftest import SECRET

from .pages import Authenticator, CodePage, DashboardPage, LoginPage


@pytest.fixture
def provider(app):
    with oidc_provider_mock.run_server_in_thread() as server:
        url = f"http://localhost:{server.server_port}"
        app.config.update(
            GOOGLE_CLIENT_ID="ozyops-browser-test",
            GOOGLE_CLIENT_SECRET="s",
            GOOGLE_METADATA_URL=f"{url}/.well-known/openid-configuration",
        )
        sso.init_app(app)
        yield url


def test_sign_in_with_google_then_the_code(provider, page, factory, clock):
    factory.user(email="doc@example.com", kind="healthcare", mfa=True)
    response = requests.put(
        f"{provider}/users/{quote('google-doc')}",
        json={"email": "doc@example.com", "email_verified": True},
        timeout=5,
    )
    assert response.status_code == 204
    LoginPage(page).open()
    page.get_by_role("link", name="Sign in with Google").click()
    page.get_by_placeholder("sub").fill("google-doc")
    page.get_by_role("button", name="Authorize").click()
    code_page = CodePage(page).arrive()
    code_page.enter_expecting_dashboard(Authenticator(SECRET, clock).code())
    expect(DashboardPage(page).arrive().page.get_by_text("Signed in as")).to_be_visible()


def test_cancelling_at_google_explains_on_the_login_page(provider, page):
    LoginPage(page).open()
    page.get_by_role("link", name="Sign in with Google").click()
    page.get_by_role("button", name="Deny").click()
    expect(page.get_by_role("alert")).to_contain_text("Sign-in with Google was cancelled")
