"""Production settings: proxies, HTTPS cookies and HSTS, the health check."""

import pytest
from sqlalchemy.exc import OperationalError

from ozyops.extensions import db
from ozyops.models import AuditEvent


@pytest.mark.settings(TRUSTED_PROXIES=1)
def test_client_address_comes_from_the_trusted_proxy(browser, factory, app):
    user = factory.user(email="pat@example.com")
    proxied = {"HTTP_X_FORWARDED_FOR": "203.0.113.7", "REMOTE_ADDR": "10.0.0.2"}
    browser.client.environ_base.update(proxied)
    browser.login(user.email)
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(event="login").one().ip == "203.0.113.7"


def test_forwarded_headers_are_ignored_without_a_proxy(browser, factory, app):
    user = factory.user(email="pat@example.com")
    browser.client.environ_base["HTTP_X_FORWARDED_FOR"] = "203.0.113.7"
    browser.login(user.email)
    with app.app_context():
        assert db.session.query(AuditEvent).filter_by(event="login").one().ip == "127.0.0.1"


@pytest.mark.settings(TRUSTED_PROXIES=1)
def test_https_via_proxy_gives_secure_cookie_and_hsts(browser, factory):
    factory.user(email="pat@example.com")
    browser.client.environ_base["HTTP_X_FORWARDED_PROTO"] = "https"
    r = browser.get("/login")
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Secure" in r.headers["Set-Cookie"]


def test_plain_http_has_no_hsts(browser):
    r = browser.get("/login")
    assert "Strict-Transport-Security" not in r.headers
    assert "Secure" not in r.headers["Set-Cookie"]


def test_healthz_checks_the_database(browser, app, monkeypatch):
    assert browser.get("/healthz").json == {"status": "ok"}

    def broken(*a, **kw):
        raise OperationalError("SELECT 1", {}, Exception("down"))

    monkeypatch.setattr(db.session, "execute", broken)
    r = browser.get("/healthz")
    assert r.status_code == 503 and r.json == {"status": "database unavailable"}
