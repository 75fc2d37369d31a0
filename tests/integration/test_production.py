"""Production settings: proxies, HTTPS cookies and HSTS, the health check."""

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from ozyops import sessions
from ozyops.extensions import db
from ozyops.models import AuditEvent
from tests.conftest import csrf_from


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
def test_https_via_proxy_gives_a_host_only_secure_cookie_and_hsts(browser, factory):
    user = factory.user(email="pat@example.com")
    browser.client.environ_base["HTTP_X_FORWARDED_PROTO"] = "https"
    browser.client.environ_base["HTTP_REFERER"] = "https://localhost/login"
    r = browser.get("/login")
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    cookie = r.headers["Set-Cookie"]
    # ASVS 3.4.4: __Host- makes browsers refuse it unless Secure, Path=/ and no Domain.
    assert cookie.startswith("__Host-ozyops_session=") and "Secure" in cookie
    assert "Path=/" in cookie and "Domain" not in cookie
    assert browser.login(user.email).headers["Location"] == "/dashboard"
    assert browser.get("/dashboard").status_code == 200


@pytest.mark.settings(TRUSTED_PROXIES=1)
def test_over_https_a_cookie_without_the_prefix_is_not_a_session(browser, factory):
    """One planted from a plain-HTTP page or a sibling subdomain, with an id its planter
    knows: it is not read, so the session (and its CSRF token) is a new one."""
    user = factory.user(email="pat@example.com")
    browser.login(user.email)  # over plain HTTP: the bare name
    planted = browser.client.get_cookie("ozyops_session").value
    assert browser.get("/dashboard").status_code == 200
    browser.client.environ_base["HTTP_X_FORWARDED_PROTO"] = "https"
    r = browser.get("/dashboard")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    assert planted not in r.headers.get("Set-Cookie", "")


@pytest.mark.settings(TRUSTED_PROXIES=1)
def test_over_https_a_planted_anonymous_id_gives_its_planter_no_csrf_token(browser, app):
    """Login CSRF: an anonymous id's CSRF token is derived from the id, so whoever plants
    an id knows its token. Over HTTPS the bare name is not read at all."""
    planted = "a." + "p" * 43
    browser.client.set_cookie("ozyops_session", planted)
    browser.client.environ_base["HTTP_X_FORWARDED_PROTO"] = "https"
    r = browser.get("/login")
    with app.test_request_context():
        known_token = sessions._csrf_token(planted)
    assert known_token not in r.text and csrf_from(r.text)
    assert r.headers["Set-Cookie"].startswith("__Host-ozyops_session=")
    assert planted not in r.headers["Set-Cookie"]


@pytest.mark.settings(TRUSTED_PROXIES=1, SESSION_COOKIE_DOMAIN="ozyops.example")
def test_with_a_cookie_domain_the_name_stays_bare_but_secure(browser):
    """A browser refuses a __Host- cookie that has a Domain: the operator who sets one
    (to share the cookie across subdomains) gets the bare name, still Secure."""
    browser.client.environ_base["HTTP_X_FORWARDED_PROTO"] = "https"
    cookie = browser.get("/login").headers["Set-Cookie"]
    assert cookie.startswith("ozyops_session=") and "Secure" in cookie
    assert "Domain=ozyops.example" in cookie


def test_plain_http_has_no_hsts_and_a_bare_cookie_name(browser):
    r = browser.get("/login")
    assert "Strict-Transport-Security" not in r.headers
    assert r.headers["Set-Cookie"].startswith("ozyops_session=")
    assert "Secure" not in r.headers["Set-Cookie"]


@pytest.mark.parametrize(
    "secure, domain, path, name",
    [
        (True, None, "/", "__Host-ozyops_session"),
        (False, None, "/", "ozyops_session"),  # plain HTTP: a browser would refuse __Host-
        (True, "example.com", "/", "ozyops_session"),  # a Domain rules the prefix out
        (True, None, "/ozyops", "ozyops_session"),  # so does a path other than /
    ],
)
def test_the_prefix_only_where_a_browser_accepts_it(secure, domain, path, name):
    assert sessions.cookie_name("ozyops_session", secure, domain, path) == name


def test_healthz_checks_the_database(browser, app, monkeypatch):
    assert browser.get("/healthz").json == {"status": "ok"}

    def broken(*a, **kw):
        raise OperationalError("SELECT 1", {}, Exception("down"))

    monkeypatch.setattr(db.session, "execute", broken)
    r = browser.get("/healthz")
    assert r.status_code == 503 and r.json == {"status": "database unavailable"}


def test_healthz_says_when_the_database_needs_db_upgrade(browser, app):
    """A server started before `db upgrade` fails every page: a balancer must send no one
    to it (found by an operator's walk). A database a newer version has migrated is fine:
    the old servers of a rolling upgrade keep serving."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory(app.extensions["migrate"].directory)
    head = script.get_current_head()
    older = script.get_revision(head).down_revision

    def database_at(version):
        with app.app_context():
            db.session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": version})
            db.session.commit()
        return browser.get("/healthz")

    upgrade_first = {"status": "database schema out of date: run flask --app ozyops db upgrade"}
    try:
        r = database_at(older)
        assert r.status_code == 503 and r.json == upgrade_first
        assert database_at("a_newer_versions_migration").json == {"status": "ok"}
        assert database_at(head).json == {"status": "ok"}
    finally:  # never upgraded at all: no version table (and the next test stamps it again)
        with app.app_context():
            db.session.execute(text("DROP TABLE alembic_version"))
            db.session.commit()
    r = browser.get("/healthz")
    assert r.status_code == 503 and r.json == upgrade_first
