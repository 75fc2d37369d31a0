"""Real app processes for the across-process tests: a throwaway PostgreSQL database,
gunicorn instances of the app sharing it and Redis, and an HTTP client that behaves like
a browser (cookies, CSRF tokens from the page). Used by tests marked `postgres`."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pyotp
import requests
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PG_URL = os.environ.get("OZYOPS_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("OZYOPS_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PASSWORD = "correct horse battery"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def throwaway_database():
    """A new PostgreSQL database next to OZYOPS_TEST_DATABASE_URL's, with the schema."""
    assert PG_URL, "across-process tests need OZYOPS_TEST_DATABASE_URL (PostgreSQL)"
    base = PG_URL.rsplit("/", 1)[0]
    name = f"ozyops_mp_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{base}/test", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    url = f"{base}/{name}"
    env = {**os.environ, "OZYOPS_DATABASE_URL": url}
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "ozyops", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    try:
        yield url
    finally:
        with psycopg.connect(f"{base}/test", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def shared_settings(database_url, **extra):
    """The settings every instance of one install shares."""
    return {
        "OZYOPS_DATABASE_URL": database_url,
        "OZYOPS_REDIS_URL": REDIS_URL,
        "OZYOPS_SECRET_KEY": uuid.uuid4().hex,
        "OZYOPS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "OZYOPS_RATELIMIT_KEY_PREFIX": f"mp-{uuid.uuid4().hex}",
        "OZYOPS_TRUSTED_PROXIES": "1",
        "OZYOPS_ACCESS_LOG": "",
        "OZYOPS_WORKERS": "2",
        "OZYOPS_THREADS": "2",
        **extra,
    }


class Instance:
    """One app instance under gunicorn (with the repo's gunicorn.conf.py)."""

    def __init__(self, settings):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, **settings, "OZYOPS_BIND": f"127.0.0.1:{self.port}"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(self.process.stderr.read().decode()[-2000:])
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)  # waiting for a server to start, not for a test step
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        self.process.stderr.close()


@contextmanager
def running(settings):
    """An instance for the length of a `with`, stopped however the block ends."""
    instance = Instance(settings)
    try:
        yield instance
    finally:
        instance.stop()


def seed(database_url, settings, users):
    """Create one healthcare account and `users` {email: (role, has_mfa)} in the database."""
    env = {**os.environ, **settings, "OZYOPS_DATABASE_URL": database_url}
    script = (
        "import json, sys\n"
        "from ozyops import create_app, passwords\n"
        "from ozyops.extensions import db\n"
        "from ozyops.models import Account, User\n"
        "from ozyops.security.secretbox import seal\n"
        "app = create_app()\n"
        "with app.app_context():\n"
        "    account = Account(name='Across', kind='healthcare')\n"
        "    db.session.add(account)\n"
        "    digest = passwords.hash_password(sys.argv[1])\n"
        "    for email, (role, mfa) in json.loads(sys.argv[3]).items():\n"
        "        u = User(account=account, email=email, name=email.split('@')[0], role=role,\n"
        "                 password_hash=digest)\n"
        "        if mfa:\n"
        "            u.totp_secret = seal(sys.argv[2])\n"
        "        db.session.add(u)\n"
        "    db.session.commit()\n"
    )
    import json

    subprocess.run(
        [sys.executable, "-c", script, PASSWORD, SECRET, json.dumps(users)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )


class Client:
    """A browser stand-in: one cookie jar across instances (cookies ignore ports), CSRF
    tokens read from each page, and its own client address via X-Forwarded-For."""

    def __init__(self, address=None, source=None, ca=None):
        self.http = requests.Session()
        # N.B. per request: a session's own `verify` loses to REQUESTS_CA_BUNDLE.
        self.verify = ca or True  # `ca`: a certificate made for the test
        if address:
            self.http.headers["X-Forwarded-For"] = address
        if source:
            adapter = _SourceAdapter(source)
            self.http.mount("http://", adapter)
        self.token = None

    def get(self, url):
        r = self.http.get(url, allow_redirects=False, timeout=10, verify=self.verify)
        match = re.search(r'<meta name="csrf-token" content="([^"]+)"', r.text)
        if match:
            self.token = match.group(1)
        return r

    def post(self, url, data=None, page=None):
        """Posted from `page` when given, with it as the Referer, as a browser does (over
        HTTPS the app's CSRF check wants a same-origin one)."""
        headers = {}
        if page:
            self.get(page)
            headers["Referer"] = page
        data = {**(data or {}), "csrf_token": self.token}
        return self.http.post(
            url, data=data, headers=headers, allow_redirects=False, timeout=10, verify=self.verify
        )

    def login(self, base, email):
        return self.post(
            f"{base}/login", {"email": email, "password": PASSWORD}, page=f"{base}/login"
        )

    def code(self, base, code=None):
        return self.post(
            f"{base}/login/mfa",
            {"code": code or pyotp.TOTP(SECRET).now()},
            page=f"{base}/login/mfa",
        )


class _SourceAdapter(requests.adapters.HTTPAdapter):
    """Connect from a chosen loopback address (e.g. 127.0.0.2), as a distinct client."""

    def __init__(self, source):
        self.source = source
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)
