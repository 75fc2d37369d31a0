"""A PostgreSQL restart costs at most one failed request (SPEC §7); here, once the server
is back, none: a pooled connection is checked before use (`extensions._check_connection`).
The restart test restarts this machine's PostgreSQL cluster, so it runs as root in the
PostgreSQL pass, where `.ci/run` has made sure the cluster is there."""

import os
import select
import subprocess
import time

import psycopg
import pytest
from sqlalchemy import exc, func
from sqlalchemy import select as sql_select

from ozyops import extensions
from ozyops.extensions import db
from tests.conftest import PG_URL
from tests.servers import Client, running, seed, shared_settings, throwaway_database

pytestmark = pytest.mark.postgres


def restart_postgresql():
    version = os.listdir("/etc/postgresql")[0]
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    deadline = time.monotonic() + 30
    while subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode != 0:
        assert time.monotonic() < deadline, "PostgreSQL did not come back"
        time.sleep(0.2)  # waiting for the server to come back, not for a test step


def test_once_a_restarted_server_is_back_no_request_fails():
    with throwaway_database() as url:
        settings = shared_settings(url, OZYOPS_WORKERS="1", OZYOPS_THREADS="1")
        seed(url, settings, {"owner@example.com": ("owner", True)})
        with running(settings) as app:
            browser = Client()
            browser.login(app.url, "owner@example.com")
            assert browser.code(app.url).headers["Location"] == "/dashboard"
            assert browser.get(f"{app.url}/dashboard").status_code == 200
            restart_postgresql()
            statuses = [browser.get(f"{app.url}/dashboard").status_code for _ in range(5)]
    # The server closed every connection as it stopped: the pool saw it and made new ones.
    assert statuses == [200] * 5, statuses


def backend_pid(on=None):
    """The server process behind `on` (a connection; the ORM session's by default)."""
    return (on or db.session).scalar(sql_select(func.pg_backend_pid()))


@pytest.fixture
def pings(app, monkeypatch):
    """The pings before use, counted. Each takes an error from the list if one is there:
    a lost connection (the host gone) ends it first, as psycopg would find it."""
    assert PG_URL, "needs OZYOPS_TEST_DATABASE_URL (the PostgreSQL pass of .ci/run)"
    seen, errors = [], []
    with app.app_context():
        dialect = db.engine.dialect

    def ping(dbapi_connection):
        seen.append(dbapi_connection)
        if errors:
            error = errors.pop()
            if "lost" in str(error):
                dbapi_connection.close()
            raise error
        return type(dialect).do_ping(dialect, dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", ping)
    # However slow the machine, the connections here count as in steady use unless a test
    # says otherwise.
    monkeypatch.setattr(extensions, "PING_AFTER_IDLE", 60.0)
    return seen, errors


def test_a_connection_in_steady_use_is_not_pinged(app, pings):
    seen, _ = pings
    with app.app_context():
        first = backend_pid()
        db.session.commit()  # the connection goes back to the pool
        assert backend_pid() == first
    assert seen == []


def test_the_pool_lends_the_connection_returned_last(app, pings):
    """So a connection in use stays in use, and the ping falls on the ones left idle."""
    with app.app_context():
        with db.engine.connect() as first, db.engine.connect() as second:
            pids = [backend_pid(c) for c in (first, second)]
        # `second` went back first, `first` last.
        with db.engine.connect() as again:
            assert backend_pid(again) == pids[0]


def used_and_left_idle(monkeypatch):
    """A connection's backend, the connection back in the pool and, from now on, idle past
    the limit."""
    pid = backend_pid()
    db.session.commit()
    monkeypatch.setattr(extensions, "PING_AFTER_IDLE", 0.0)
    return pid


def test_a_connection_idle_past_the_limit_is_pinged_before_use(app, pings, monkeypatch):
    seen, _ = pings
    with app.app_context():
        first = used_and_left_idle(monkeypatch)
        assert backend_pid() == first
    assert len(seen) == 1


def test_a_connection_whose_ping_fails_is_replaced_and_the_query_runs(app, pings, monkeypatch):
    seen, errors = pings
    with app.app_context():
        first = used_and_left_idle(monkeypatch)
        errors.append(psycopg.OperationalError("the connection is lost"))
        assert backend_pid() != first
    assert len(seen) == 1  # the new connection is not pinged


def test_a_ping_that_fails_on_a_live_connection_fails_the_request(app, pings, monkeypatch):
    """Only a lost connection is replaced: any other error is the request's, as with
    SQLAlchemy's own pre-ping."""
    _, errors = pings
    with app.app_context():
        used_and_left_idle(monkeypatch)
        errors.append(psycopg.errors.QueryCanceled("canceling statement due to statement timeout"))
        with pytest.raises(exc.OperationalError, match="statement timeout"):
            backend_pid()


def test_a_connection_the_server_ended_is_replaced_alone_without_a_ping(app, pings):
    """Ended while idle in the pool, as a restart ends them all: its socket says so, and
    the pool's other connections stay."""
    seen, _ = pings
    with app.app_context():
        with db.engine.connect() as one, db.engine.connect() as other:
            ended, kept = (backend_pid(c) for c in (one, other))
            raw = one.connection.dbapi_connection
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [ended])
        # Waits for the server's goodbye to arrive (an event, not a step).
        assert select.select([raw.fileno()], [], [], 10)[0]
        rounds = []
        for _ in range(2):  # whichever the pool lends first, each is lent again once
            with db.engine.connect() as one, db.engine.connect() as other:
                rounds.append({backend_pid(c) for c in (one, other)})
    assert all(kept in pids and ended not in pids for pids in rounds), (kept, ended, rounds)
    assert seen == []
