"""The Flask extensions, created once and bound to an app in `init_app`."""

import ipaddress
import os
import select
import threading
import time
from contextlib import contextmanager

from flask import current_app, flash, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, login_url
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect
from limits.storage import MemoryStorage
from psycopg import Connection as PostgresConnection
from psycopg import OperationalError
from psycopg.pq import TransactionStatus
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, InvalidatePoolError
from sqlalchemy.orm import DeclarativeBase

from . import htmx

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class InProcessLimits(MemoryStorage):
    """limits' in-process storage (the embedded default), its expired counts swept by a
    limited post at most once a second instead of by a timer thread.

    N.B. limits 5.8 starts a thread to sweep 10 ms after a hit whenever its last one has
    ended: a thread started for nearly every sign-in step, about 2% of a busy worker's time
    (bench/README.md). And it starts it with no lock, so two posts on two threads of one
    worker could start the same thread: a RuntimeError, a 500 on a sign-in (seen under
    load; alisaifee/limits#352). A count is checked against its expiry whenever it is
    read, so the sweep only frees memory, and a second's delay costs nothing.
    """

    STORAGE_SCHEME = ["ozyops-memory"]
    SWEEP_EVERY = 1.0  # seconds

    def __init__(self, *args, **kwargs):
        self._swept_at = time.monotonic()
        self._sweeping = threading.Lock()
        super().__init__(*args, **kwargs)

    def _MemoryStorage__schedule_expiry(self):
        if time.monotonic() - self._swept_at < self.SWEEP_EVERY:
            return
        if self._sweeping.acquire(blocking=False):  # another thread is sweeping: enough
            try:
                self._swept_at = time.monotonic()
                self._MemoryStorage__expire_events()
            except LookupError:
                # N.B. a hit on another thread removed an expired count the sweep had listed
                # (limits reads expirations[key] of its snapshot); the next sweep goes on.
                pass
            finally:
                self._sweeping.release()


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()


def client_network():
    """Whose budget a rate-limited post spends: the client's address, or for IPv6 its /64.

    N.B. one IPv6 host or customer is usually given a whole /64, and may send each post
    from a new address in it: counted per address, every post would get a budget of its
    own. The audit log and the sessions list keep the whole address."""
    address = get_remote_address()
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:  # no address (a test client, a socket): counted under what it is
        return address
    if ip.version == 4:
        return address
    if ip.ipv4_mapped:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network((ip, 64), strict=False))


limiter = Limiter(key_func=client_network)
# N.B. one per-address budget (LOGIN_RATE_LIMIT) for every post that carries a password,
# a code or a recovery key: sign-in steps, MFA changes and sudo-mode confirmations alike.
credential_limit = limiter.shared_limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT"], scope="credentials", methods=["POST"]
)


@limiter.request_filter
def _not_a_post():
    """N.B. every limit here is on POSTs: other requests skip the limiter's bookkeeping,
    which costs as much as a query. A limit on GETs would need this filter changed."""
    return request.method != "POST"


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """WAL and a busy timeout let readers and one writer share the embedded SQLite file.

    N.B. synchronous=NORMAL is SQLite's recommended setting with WAL: a commit no longer
    waits for the disk while holding the one write lock, which let sign-ins queue behind
    each other. The database stays consistent; only a power cut (not a crash of the app)
    can undo the last moments' commits.
    """
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=5000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()
        # N.B. SQLite's own lower() changes only A to Z: "ÉCLAT" and "éclat" were two practices,
        # and a search for "élodie" did not find "Élodie". PostgreSQL's follows the database's
        # locale (Unicode in C.UTF-8 or a language's; A to Z in plain C).
        dbapi_connection.create_function("lower", 1, _lower, deterministic=True)


def _lower(value):
    return None if value is None else str(value).lower()


# A pooled PostgreSQL connection idle longer than this is pinged before use (as pgx's pool
# does by default); one in steady use is only looked at.
PING_AFTER_IDLE = 1.0  # seconds


def _check_connection(engine):
    """Before a pooled connection is used, make sure the server has not dropped it: once a
    restarted PostgreSQL is back, no request fails on a connection it ended (SPEC §7).

    An idle connection has nothing to read, so a socket with bytes waiting or closed by
    the server (a restart ends every connection with a message and a close) is replaced
    without a round trip; the others are looked at in turn. A connection idle for more
    than a second is also pinged, for a server host that went away without closing
    anything; its failure makes the pool replace every connection made before it, as
    SQLAlchemy's own pre-ping does. The pool lends the connection used last (LIFO), so
    under load one is rarely idle that long and a page that only reads its session costs
    one round trip, not two. go-sql-driver/mysql, pgx and pgdog look at the socket the
    same way.
    """

    def checkout(dbapi_connection, record, _proxy):
        if dbapi_connection.closed:
            raise DisconnectionError("the connection is closed")
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN)
        if poller.poll(0):
            raise DisconnectionError("the server closed the connection, or sent unasked")
        # No stamp: the connection is new, made for this checkout.
        checked_in = record.info.get("checked_in")
        if checked_in is not None and time.monotonic() - checked_in > PING_AFTER_IDLE:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except OperationalError as error:
                if not engine.dialect.is_disconnect(error, dbapi_connection, None):
                    raise
                raise InvalidatePoolError("the ping before use failed") from error

    def checkin(_dbapi_connection, record):
        record.info["checked_in"] = time.monotonic()

    event.listen(engine, "checkout", checkout)
    event.listen(engine, "checkin", checkin)


@contextmanager
def outside_transaction():
    """Statements in this block each stand alone, as SQLite's driver already runs a lone
    SELECT. On PostgreSQL a read that needs no transaction then costs no BEGIN and no
    ROLLBACK: two round trips fewer for a page that only reads its session.
    Each statement sees every commit made before it either way (READ COMMITTED).

    N.B. for reads at the start of a request's work. Inside a transaction already begun,
    or with changes waiting to be flushed (a query would write them, each on its own), the
    block runs in a transaction as usual.
    """
    session = db.session()
    raw = session.connection().connection.dbapi_connection
    alone = (
        isinstance(raw, PostgresConnection)
        and raw.info.transaction_status == TransactionStatus.IDLE
        and not (session.new or session.dirty or session.deleted)
    )
    if alone:
        raw.autocommit = True
    try:
        yield
    finally:
        if alone and not raw.closed:
            raw.autocommit = False


def _sign_in_first():
    """Flask-Login's answer to a signed-out request for a signed-in page (its notice, then
    the login page, which comes back afterwards), made for htmx too: a part of a page asked
    for after the session ended (a team row, a search) sends the whole tab to the login page
    and back to the page it was on, instead of the login page appearing inside the part.
    N.B. a session that has just ended says why itself ("signed out after 15 minutes…"):
    one notice is enough."""
    if not session.get("_flashes"):
        flash(login_manager.login_message, login_manager.login_message_category)
    return htmx.redirect_to(login_url(login_manager.login_view, htmx.page_url()), code=302)


def init_app(app):
    """Bind every extension to `app`."""
    # A SQLite file cannot go away like a server connection can.
    server = not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite")
    if server:
        app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"pool_use_lifo": True})
    db.init_app(app)
    if server:
        with app.app_context():
            _check_connection(db.engine)
    migrate.init_app(
        app, db, directory=os.path.join(app.root_path, "migrations"), render_as_batch=True
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"  # styled as a notice, like every other
    login_manager.session_protection = None  # N.B. sessions live on the server; see sessions.py
    login_manager.unauthorized_handler(_sign_in_first)
    limiter.init_app(app)

    from .models import WITH_ACCOUNT, User

    @login_manager.user_loader
    def load_user(user_id):
        # The account comes along: the guard reads it on every request.
        user = db.session.get(User, int(user_id), options=WITH_ACCOUNT)
        return user if user is not None and user.active else None
