"""A password hash may wait for its worker's hashing thread (passwords.py): meanwhile the
request holds no database connection (sign-ins) and no write lock (password links)."""

import sqlite3

import pytest

from ozyops import links, passwords
from ozyops.extensions import db
from ozyops.models import User
from tests.conftest import PASSWORD, PG_URL


def while_hashing(monkeypatch, look):
    """Run `look()` inside every password hash or verify; returns what it saw."""
    seen = []
    real = passwords.on_hashing_thread

    def hashing(fn, *args):
        seen.append(look())
        return real(fn, *args)

    monkeypatch.setattr(passwords, "on_hashing_thread", hashing)
    return seen


def test_a_sign_in_holds_no_database_connection_while_it_hashes(app, browser, factory, monkeypatch):
    factory.user(email="pat@example.com", mfa=True)
    with app.app_context():
        pool = db.engine.pool
    browser.get("/login")
    seen = while_hashing(monkeypatch, pool.checkedout)
    r = browser.post("/login", {"email": "pat@example.com", "password": PASSWORD})
    assert r.status_code == 303 and r.headers["Location"] == "/login/mfa"
    assert seen == [0]
    assert browser.login("nobody@example.com").status_code == 422  # the dummy verify too
    assert seen == [0, 0]


@pytest.mark.skipif(bool(PG_URL), reason="SQLite's one write lock")
def test_a_password_link_holds_no_write_lock_while_it_hashes(app, factory, clock, monkeypatch):
    member = factory.user(email="sam@example.com")
    with app.app_context():
        token = links.issue(db.session.get(User, member.id), "invite", None, clock.now)
        db.session.commit()
        path = db.engine.url.database

    def can_write():
        other = sqlite3.connect(path, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails at once if a write is pending
            other.rollback()
            return True
        except sqlite3.OperationalError:
            return False
        finally:
            other.close()

    seen = while_hashing(monkeypatch, can_write)
    with app.app_context():
        links.set_password(token, "a brand new password", clock.now)
    assert seen == [True]
