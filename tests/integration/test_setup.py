"""First run: `/` leads to `/setup` until an account exists; then `/setup` is a 404."""

import pytest
from sqlalchemy import select

from ozyops.extensions import db
from ozyops.models import Account, User
from tests.conftest import PG_URL

GOOD = {
    "account_name": "Bright Smile Dental",
    "kind": "healthcare",
    "name": "Dana Owner",
    "email": "Dana@Example.com",
    "password": "a long enough password",
}


def test_index_leads_to_setup_on_first_run(browser):
    r = browser.get("/")
    assert r.status_code == 302
    assert r.headers["Location"].endswith("/setup")


def test_setup_creates_account_and_owner_then_disappears(browser, app):
    assert browser.get("/setup").status_code == 200
    r = browser.post("/setup", GOOD)
    assert r.status_code == 303
    assert r.headers["Location"].endswith("/login")
    with app.app_context():
        account = db.session.scalar(select(Account))
        owner = db.session.scalar(select(User))
        assert (account.name, account.kind) == ("Bright Smile Dental", "healthcare")
        assert (owner.email, owner.role, owner.account_id) == (
            "dana@example.com",
            "owner",
            account.id,
        )
        assert owner.password_hash.startswith("$argon2id$")
    assert browser.get("/setup").status_code == 404
    assert browser.post("/setup", GOOD).status_code == 404
    assert browser.get("/").headers["Location"].endswith("/dashboard")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"account_name": ""}, "This field is required."),
        ({"kind": "bakery"}, "Not a valid choice."),
        ({"email": "not-an-email"}, "Enter a valid email address."),
        ({"password": "short"}, "Use at least 10 characters."),
        ({"password": "Password2024!"}, "That password is too easy to guess."),
        ({"name": "   "}, "Enter a name"),
    ],
)
def test_setup_rejects_bad_input_with_a_message(browser, app, change, message):
    browser.get("/setup")
    r = browser.post("/setup", {**GOOD, **change})
    assert r.status_code == 422
    assert message in r.text
    with app.app_context():
        assert db.session.scalar(select(Account)) is None


def test_setup_asks_where_the_practice_is(browser, app):
    page = browser.get("/setup").text
    assert '<option selected value="UTC">UTC</option>' in page
    assert browser.post("/setup", {**GOOD, "time_zone": "America/Chicago"}).status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Account)).time_zone == "America/Chicago"


def test_setup_refuses_a_time_zone_not_on_the_list(browser, app):
    r = browser.post("/setup", {**GOOD, "time_zone": "US/Central"})
    assert r.status_code == 422 and "Not a valid choice" in r.text
    with app.app_context():
        assert db.session.scalar(select(Account)) is None


def test_a_setup_finished_meanwhile_elsewhere_leaves_one_practice(
    browser, app, factory, monkeypatch
):
    """Two first-run setups at once both passed the page's check, made before the password's
    long hash, and two practices were made (found by a review). The last word is with the
    write: here the other setup finished just after this one's check."""
    from ozyops import main

    first = factory.user(email="first@example.com")
    monkeypatch.setattr(main, "any_account_exists", lambda: False)
    r = browser.post("/setup", GOOD)
    assert r.status_code == 422 and "OzyOps was set up meanwhile" in r.text
    with app.app_context():
        assert db.session.scalars(select(Account.id)).all() == [first.account_id]
        assert db.session.scalar(select(User).filter_by(email="dana@example.com")) is None


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL's lock: SQLite has one writer at a time")
def test_on_postgresql_two_setups_at_once_take_turns(browser, app):
    """PostgreSQL lets two setups INSERT at once, each seeing only its own practice until the
    other commits: they count in turn, under an advisory lock. Here another setup has made
    its practice and holds the lock; this one must wait, then find it (a review found the
    test above passes without the lock)."""
    import threading
    import time

    import psycopg

    from ozyops.accounts import _SETUP_LOCK

    other = psycopg.connect(PG_URL)
    try:
        other.execute(
            "INSERT INTO accounts (name, kind, require_mfa) VALUES ('Other', 'law', false)"
        )
        other.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
        answer = {}
        setup = threading.Thread(target=lambda: answer.update(r=browser.post("/setup", GOOD)))
        setup.start()
        waiting = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        deadline = time.monotonic() + 20
        with psycopg.connect(PG_URL, autocommit=True) as watcher:
            while watcher.execute(waiting).fetchone()[0] == 0:  # until it waits its turn
                assert time.monotonic() < deadline and setup.is_alive(), "it did not wait"
                time.sleep(0.01)
        other.commit()
        setup.join(20)
    finally:
        other.close()
    assert answer["r"].status_code == 422 and "OzyOps was set up meanwhile" in answer["r"].text
    with app.app_context():
        assert db.session.scalars(select(Account.name)).all() == ["Other"]
