"""Fixtures for every layer: an app on a throwaway database with an injected clock,
a test client that carries CSRF tokens the way a browser does, and factories.

Set OZYOPS_TEST_DATABASE_URL (a PostgreSQL URL) to run the same suite on PostgreSQL.
"""

import os
import re
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from cryptography.fernet import Fernet
from flask_migrate import stamp
from sqlalchemy import text

from ozyops import create_app, passwords
from ozyops.extensions import db
from ozyops.models import Account, User
from ozyops.security import recovery, totp
from ozyops.security.secretbox import seal
from tests.servers import free_port

PG_URL = os.environ.get("OZYOPS_TEST_DATABASE_URL")
PASSWORD = "correct horse battery"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
RECOVERY_KEY = "ABCDE-FGHJK-MNPQR-STVWX-YZ012"


PRODUCTION_HASHER = passwords._hasher  # as the app hashes, before _cheap_hashing
CHEAP_COST = {"time_cost": 1, "memory_cost": 1024}  # argon2 as the tests hash, on one lane


@pytest.fixture(autouse=True, scope="session")
def _cheap_hashing():
    """Argon2 with production cost would dominate the run; the algorithm is the same."""
    fast = PasswordHasher(parallelism=1, **CHEAP_COST)
    slow, passwords._hasher = passwords._hasher, fast
    passwords._DUMMY_HASH = fast.hash("dummy")
    yield
    passwords._hasher = slow


class Clock:
    """A settable UTC clock, injected as app.config["CLOCK"]."""

    def __init__(self):
        self.now = datetime(2026, 11, 28, 9, 0, 10, tzinfo=UTC)

    def __call__(self):
        return self.now

    def advance(self, **delta):
        self.now += timedelta(**delta)

    @property
    def timestamp(self):
        return self.now.timestamp()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def app(tmp_path, clock, request):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "DATABASE_URL": PG_URL or f"sqlite:///{tmp_path}/test.sqlite",
        "CLOCK": clock,
        "LOGIN_RATE_LIMIT": "10000 per minute",
    }
    marker = request.node.get_closest_marker("settings")
    if marker:
        config.update(marker.kwargs)
    app = create_app(config)
    with app.app_context():
        db.create_all()
        # The schema `db upgrade` makes (test_db_upgrade_matches_the_models), and the version
        # it leaves, which /healthz reads.
        stamp()
    yield app
    with app.app_context():
        if PG_URL:
            names = ", ".join(t.name for t in db.metadata.sorted_tables)
            db.session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            db.session.commit()
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def wrong_codes(n):
    """`n` different wrong codes. The same wrong code sent twice in a row counts once (a
    reload of the page that said it was wrong: mfa._failure), so counts need different ones."""
    return [f"{i:06d}" for i in range(n)]


def csrf_from(html):
    match = re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert match, "page has no CSRF token"
    return match.group(1)


def _sent(response):
    """Read and close `response`, as a server does once it has sent it: what the app left
    for after the response (Response.call_on_close) then runs, as under gunicorn."""
    response.get_data()
    response.close()
    return response


class Browser:
    """The test client used like a browser: GET a page, then post its form with its token."""

    def __init__(self, client, clock):
        self.client = client
        self.clock = clock
        self.token = None

    def get(self, url, **kw):
        response = _sent(self.client.get(url, **kw))
        if response.mimetype == "text/html" and '"X-CSRFToken"' in response.text:
            self.token = csrf_from(response.text)
        return response

    def post(self, url, data=None, htmx=False, page=None, **kw):
        """POST with the token of the last page seen (or of `page`, fetched first)."""
        if page or self.token is None:
            self.get(page or "/login")
        data = dict(data or {})
        data.setdefault("csrf_token", self.token)
        headers = kw.pop("headers", {})
        if htmx:
            headers["HX-Request"] = "true"
        response = _sent(self.client.post(url, data=data, headers=headers, **kw))
        if response.mimetype == "text/html" and '"X-CSRFToken"' in response.text:
            self.token = csrf_from(response.text)
        return response

    def login(self, email, password=PASSWORD, **kw):
        return self.post("/login", {"email": email, "password": password}, page="/login", **kw)

    def code(self, secret=SECRET, offset=0):
        return totp.code_at(secret, self.clock.timestamp + offset)

    def login_with_code(self, email, secret=SECRET):
        self.login(email)
        return self.post("/login/mfa", {"code": self.code(secret)}, page="/login/mfa")

    def logout(self):
        return self.post("/logout", page="/dashboard")

    def invite(self, name, email, role="member"):
        """Add member, signed in as an owner or admin: the invitation link's path."""
        r = self.post(
            "/settings/team/add",
            {"name": name, "email": email, "role": role},
            page="/settings/team/add",
        )
        return re.search(r'id="invitation-link"[^>]*>http://localhost([^<]+)<', r.text).group(1)


@pytest.fixture
def browser(app, clock):
    return Browser(app.test_client(), clock)


@pytest.fixture
def make_browser(app, clock):
    return lambda: Browser(app.test_client(), clock)


@pytest.fixture
def factory(app):
    return Factory(app)


class Factory:
    """Accounts and users straight into the database (services have their own tests)."""

    def __init__(self, app):
        self.app = app
        self.n = 0

    def account(self, kind="trades", name=None, **kw):
        with self.app.app_context():
            self.n += 1
            account = Account(name=name or f"Practice {self.n}", kind=kind, **kw)
            db.session.add(account)
            db.session.commit()
            return account.id

    def user(self, account_id=None, role="owner", email=None, mfa=False, kind="trades", **kw):
        with self.app.app_context():
            if account_id is None:
                account_id = self.account(kind=kind)
            self.n += 1
            user = User(
                account_id=account_id,
                email=email or f"user{self.n}@example.com",
                name=kw.pop("name", f"User {self.n}"),
                role=role,
                password_hash=passwords.hash_password(kw.pop("password", PASSWORD)),
                **kw,
            )
            if mfa:
                user.totp_secret = seal(SECRET)
                user.recovery_key_hash = recovery.hash_key(RECOVERY_KEY)
            db.session.add(user)
            db.session.commit()
            return _Ref(user.id, user.email, account_id)

    def get(self, ref):
        return db.session.get(User, ref.id)


class _Ref:
    """A user's id and email, safe to use outside an app context."""

    def __init__(self, id, email, account_id):
        self.id, self.email, self.account_id = id, email, account_id


# --- mail -------------------------------------------------------------------------------


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


@pytest.fixture
def smtp():
    """A real SMTP server on loopback; (its inbox, its port)."""
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def mail_app(app, smtp):
    """The app, sending its notices to `smtp`."""
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp[1], MAIL_FROM="ozyops@example.com")
    return app
