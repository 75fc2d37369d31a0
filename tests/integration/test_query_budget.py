"""The team page and the audit log issue a constant number of SQL statements, whatever
the number of members (SPEC: small practices, but nothing quadratic either)."""

from contextlib import contextmanager
from types import SimpleNamespace

import pytest
from sqlalchemy import event, insert

from ozyops import audit, clock, passwords, sessions
from ozyops.extensions import db
from ozyops.models import AuditEvent, User
from tests.conftest import PASSWORD

SWEEP_EVERY = 10**18  # never, in effect


@contextmanager
def counting(app):
    statements = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def add_members(app, account_id, start, n):
    digest = passwords.hash_password("x" * 12)
    with app.app_context():
        first = (
            db.session.execute(
                insert(User).returning(User.id),
                [
                    {
                        "account_id": account_id,
                        "email": f"m{i}-{account_id}@example.com",
                        "name": f"Member {i:04}",
                        "role": "member",
                        "password_hash": digest,
                        "active": True,
                        "mfa_failures": 0,
                    }
                    for i in range(start, start + n)
                ],
            )
            .scalars()
            .all()
        )
        db.session.execute(
            insert(AuditEvent),
            [
                {
                    "account_id": account_id,
                    "actor_id": uid,
                    "target_id": uid,
                    "event": "login",
                    "ip": "127.0.0.1",
                    "created_at": clock.utcnow(),
                }
                for uid in first
            ],
        )
        db.session.commit()


@pytest.mark.parametrize("url", ["/settings/team", "/settings/audit", "/settings/audit.csv"])
def test_statement_count_does_not_grow_with_members(browser, factory, app, url):
    account = factory.account(kind="law")
    owner = factory.user(account_id=account, email="boss@example.com")
    browser.login(owner.email)
    browser.get(url).close()  # the first page after login stores its CSRF token once
    counts, seen = [], []
    for start, n in ((0, 10), (10, 990)):
        add_members(app, account, start, n)
        with counting(app) as statements:
            r = browser.client.get(url)
            assert r.status_code == 200
            r.close()
        counts.append(len(statements))
        seen.append([s[:60] for s in statements])
    assert counts[0] == counts[1], (counts, seen)
    assert counts[0] <= 12, counts  # the audit page seals the chain first: a few fixed statements


def test_a_sign_in_is_one_commit_and_a_page_one_read(browser, factory, app, monkeypatch):
    """The hot path (bench/): the password step and the code step each write everything
    they record in one transaction (the password step's lookup ends before its hash), a
    signed-in page reads its session, user and account in one statement, and an anonymous
    visitor costs the database nothing."""
    # Not the 1 in 16 sign-ins after which the audit chain is sealed (its own commit), nor
    # the 1 in 64 new session rows that also sweep out dead ones (one statement more).
    monkeypatch.setattr(audit, "secrets", SimpleNamespace(randbelow=lambda n: 1))
    monkeypatch.setattr(sessions, "SWEEP_EVERY", SWEEP_EVERY)
    factory.user(email="pat@example.com", mfa=True)
    with counting(app) as statements:
        assert browser.get("/login").status_code == 200
    assert statements == []
    form = {"email": "pat@example.com", "password": PASSWORD}
    ended = []  # transactions, committed or rolled back
    with app.app_context():
        engine = db.engine

    def end(conn):
        ended.append(conn)

    event.listen(engine, "commit", end)
    event.listen(engine, "rollback", end)
    try:
        assert browser.post("/login", form).status_code == 303
        # the user's lookup, ended before the hash; then the pending sign-in's row
        assert len(ended) == 2
        browser.get("/login/mfa")
        ended.clear()
        with counting(app) as statements:
            r = browser.post("/login/mfa", {"code": browser.code()})
    finally:
        event.remove(engine, "commit", end)
        event.remove(engine, "rollback", end)
    assert r.status_code == 303 and r.headers["Location"] == "/dashboard"
    assert len(ended) == 1, statements
    assert sum(s.lstrip().startswith("SELECT") for s in statements) == 1, statements
    # the session read, the code's single-use mark with the last sign-in time, the audit
    # entry and the session row's move to its new id
    assert len(statements) == 4, statements
    # and none but the read asks for rows back (on PostgreSQL, which this checks: there an
    # insert returns its new id unless told not to; the audit entry's id is read by no one)
    assert not any("RETURNING" in s for s in statements), statements
    with counting(app) as statements:
        assert browser.get("/dashboard").status_code == 200
    assert len(statements) == 1, statements
