"""On PostgreSQL, reads that need no transaction run outside one
(`extensions.outside_transaction`): no BEGIN and no ROLLBACK, two round trips fewer for a
page that only reads its session. Runs in the PostgreSQL pass."""

import pytest
from psycopg.pq import TransactionStatus
from sqlalchemy import select, update

from ozyops import main
from ozyops.auth import signin
from ozyops.extensions import db, outside_transaction
from ozyops.models import User
from tests.conftest import PG_URL

pytestmark = pytest.mark.postgres


def connection():
    assert PG_URL, "needs OZYOPS_TEST_DATABASE_URL (the PostgreSQL pass of .ci/run)"
    return db.session.connection().connection.dbapi_connection


def test_a_signed_in_page_reads_its_session_outside_a_transaction(browser, factory, monkeypatch):
    factory.user(kind="trades", email="pat@example.com")
    browser.login("pat@example.com")
    seen, render = [], main.render_template

    def spy(*args, **kwargs):
        seen.append(connection().info.transaction_status)
        return render(*args, **kwargs)

    monkeypatch.setattr(main, "render_template", spy)
    assert browser.get("/dashboard").status_code == 200
    assert seen == [TransactionStatus.IDLE]  # no BEGIN was sent, so no ROLLBACK follows


def test_a_dashboard_saying_who_reset_mfa_reads_outside_a_transaction(
    browser, factory, app, monkeypatch
):
    """Who reset it, and their name, come with the session's reads: no BEGIN for them,
    before the page or while it renders."""
    from ozyops.security import mfa

    lee = factory.user(kind="trades", email="lee@example.com", name="Lee Hartley", mfa=True)
    pat = factory.user(lee.account_id, role="member", email="pat@example.com", mfa=True)
    with app.app_context():
        mfa.reset(db.session.get(User, pat.id), actor=db.session.get(User, lee.id))
    browser.login("pat@example.com")
    seen, render = [], main.render_template

    def spy(*args, **kwargs):
        seen.append(connection().info.transaction_status)
        page = render(*args, **kwargs)
        seen.append(connection().info.transaction_status)
        return page

    monkeypatch.setattr(main, "render_template", spy)
    page = browser.get("/dashboard")
    assert page.status_code == 200 and "Lee Hartley reset your MFA" in page.text
    assert seen == [TransactionStatus.IDLE, TransactionStatus.IDLE]


def test_the_password_steps_lookup_runs_alone(browser, factory, monkeypatch):
    factory.user(kind="trades", email="pat@example.com")
    seen, lookup = [], signin.find_user_by_email

    def spy(email):
        user = lookup(email)
        seen.append((connection(), connection().autocommit, connection().info.transaction_status))
        return user

    monkeypatch.setattr(signin, "find_user_by_email", spy)
    assert browser.login("pat@example.com").headers["Location"] == "/dashboard"
    [(used, autocommit, status)] = seen
    assert (autocommit, status) == (True, TransactionStatus.IDLE)
    assert used.autocommit is False  # the pool has it back as it lent it


def test_with_changes_waiting_the_block_runs_in_a_transaction(app, factory):
    """A query flushes what is waiting: outside a transaction it would stay written."""
    owner = factory.user(kind="trades", email="pat@example.com")
    new = {"email": "new@example.com", "name": "New", "role": "member", "active": True}
    with app.app_context():
        db.session.add(User(account_id=owner.account_id, mfa_failures=0, **new))
        with outside_transaction():
            assert connection().autocommit is False
            assert db.session.scalar(select(User.id).where(User.email == new["email"]))
        db.session.rollback()
        assert db.session.scalar(select(User.id).where(User.email == new["email"])) is None


def test_inside_a_transaction_already_begun_the_block_runs_in_it(app, factory):
    user = factory.user(kind="trades", email="pat@example.com")
    with app.app_context():
        db.session.execute(update(User).where(User.id == user.id).values(name="Not yet saved"))
        with outside_transaction():
            name = db.session.scalar(select(User.name).where(User.id == user.id))
            assert connection().autocommit is False
        assert name == "Not yet saved"
        assert connection().info.transaction_status == TransactionStatus.INTRANS
        db.session.rollback()
