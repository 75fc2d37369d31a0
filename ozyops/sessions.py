"""Server-side sessions: the cookie carries only a random id; the data lives in `sessions`.

Deleting a row really ends a session, even for someone holding a copied cookie. Rows are
read and written with SQLAlchemy Core on their own short transactions so that a view's
ORM transaction is never committed or rolled back by the session machinery.
"""

import hashlib
import secrets
from datetime import timedelta

from flask import g
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from flask_wtf.csrf import generate_csrf
from sqlalchemy import delete, insert, select, update
from werkzeug.datastructures import CallbackDict

from . import clock
from .extensions import db
from .models import ServerSession

ANONYMOUS_IDLE_MIN = 60
TOUCH_EVERY = timedelta(seconds=30)  # how stale last_seen may get, to spare a write per request
SWEEP_EVERY = 64  # one session insert in this many also deletes expired rows
_serializer = TaggedJSONSerializer()
_table = ServerSession.__table__


def _hash(sid):
    return hashlib.sha256(sid.encode()).hexdigest()


class Session(CallbackDict, SessionMixin):
    """The dict views see as `flask.session`, plus the row's columns in `meta`."""

    def __init__(self, initial=None, sid=None, meta=None):
        def on_update(self):
            self.modified = True

        super().__init__(initial, on_update)
        self.sid = sid
        self.meta = meta or {}
        self.modified = False
        self.rotate_requested = False

    def rotate(self):
        """Issue a new id at the next save (login, privilege change): no session fixation.
        The new session gets a new CSRF token at once, so the next page need not write one."""
        self.rotate_requested = True
        self.modified = True
        g.pop("csrf_token", None)
        generate_csrf()


def authenticate(session, user, idle_minutes, now):
    """Turn `session` into a fresh signed-in session for `user`, with a new id."""
    session.clear()
    session.rotate()
    session.meta = {
        "user_id": user.id,
        "authenticated_at": now,
        "created_at": now,
        "idle_minutes": idle_minutes,
    }


def forget(session):
    """Empty the session and drop its row at the end of this request; a message flashed
    afterwards travels in a new, anonymous session."""
    session.clear()
    session.meta = {}
    session.rotate()


def mark_reauthenticated(session, now):
    """Record a fresh proof of identity (code or password) for sudo-mode checks."""
    session.meta["authenticated_at"] = now
    session.modified = True


def end_all_for(user_id, keep_sid=None):
    """End every session of `user_id` (but `keep_sid`'s): reset, deactivation, password change."""
    stmt = delete(_table).where(_table.c.user_id == user_id)
    if keep_sid is not None:
        stmt = stmt.where(_table.c.id_hash != _hash(keep_sid))
    with db.engine.begin() as conn:
        conn.execute(stmt)


def active_for(user_id, now):
    """The user's live sessions, newest activity first, as rows (for the security page)."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(_table)
            .where(
                _table.c.user_id == user_id,
                _table.c.authenticated_at.is_not(None),  # not half-logins at the code step
                _table.c.expires_at > clock.naive(now),
            )
            .order_by(_table.c.last_seen_at.desc())
        ).all()
    return [r for r in rows if not _idle_expired(r, clock.naive(now))]


def sid_hash(session):
    return _hash(session.sid) if session.sid else None


def end_one(user_id, id_hash):
    """End one of `user_id`'s sessions by its stored hash."""
    with db.engine.begin() as conn:
        conn.execute(delete(_table).where(_table.c.user_id == user_id, _table.c.id_hash == id_hash))


def _idle_expired(row, now):
    return row.last_seen_at + timedelta(minutes=row.idle_minutes) <= now


class ServerSessionInterface(SessionInterface):
    """Flask's session hooks, backed by the `sessions` table."""

    def open_session(self, app, request):
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) > 100:
            return Session()
        now = clock.utcnow()
        with db.engine.connect() as conn:
            row = conn.execute(select(_table).where(_table.c.id_hash == _hash(sid))).first()
        if row is None:
            return Session()
        if row.expires_at <= now or _idle_expired(row, now):
            with db.engine.begin() as conn:
                conn.execute(delete(_table).where(_table.c.id_hash == row.id_hash))
            fresh = Session()
            if row.user_id is not None and row.expires_at > now:
                fresh["_flashes"] = [
                    (
                        "info",
                        f"You were signed out after {row.idle_minutes} minutes of inactivity.",
                    )
                ]
            return fresh
        meta = {
            "user_id": row.user_id,
            "authenticated_at": row.authenticated_at,
            "created_at": row.created_at,
            "idle_minutes": row.idle_minutes,
            "last_seen_at": row.last_seen_at,
            "expires_at": row.expires_at,
        }
        return Session(_serializer.loads(row.data), sid=sid, meta=meta)

    def save_session(self, app, session, response):
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        response.vary.add("Cookie")
        now = clock.utcnow()

        if not session and not session.meta.get("user_id"):
            if session.sid:
                with db.engine.begin() as conn:
                    conn.execute(delete(_table).where(_table.c.id_hash == _hash(session.sid)))
                response.delete_cookie(name, domain=domain, path=path)
            return

        if session.rotate_requested or session.sid is None:
            old = session.sid
            session.sid = secrets.token_urlsafe(32)
            max_age = timedelta(minutes=app.config["SESSION_MAX_AGE_MIN"])
            created = session.meta.get("created_at") or now
            values = {
                "id_hash": _hash(session.sid),
                "user_id": session.meta.get("user_id"),
                "data": _serializer.dumps(dict(session)),
                "created_at": created,
                "last_seen_at": now,
                "authenticated_at": session.meta.get("authenticated_at"),
                "idle_minutes": session.meta.get("idle_minutes") or ANONYMOUS_IDLE_MIN,
                "expires_at": created + max_age,
                "ip": _client_ip(),
                "user_agent": _user_agent(),
            }
            with db.engine.begin() as conn:
                if old:
                    conn.execute(delete(_table).where(_table.c.id_hash == _hash(old)))
                conn.execute(insert(_table).values(**values))
                if secrets.randbelow(SWEEP_EVERY) == 0:  # now and then, clear out dead rows
                    conn.execute(delete(_table).where(_table.c.expires_at <= now))
        elif session.modified:
            with db.engine.begin() as conn:
                conn.execute(
                    update(_table)
                    .where(_table.c.id_hash == _hash(session.sid))
                    .values(
                        data=_serializer.dumps(dict(session)),
                        last_seen_at=now,
                        authenticated_at=session.meta.get("authenticated_at"),
                    )
                )
        elif now - session.meta["last_seen_at"] >= TOUCH_EVERY:
            with db.engine.begin() as conn:
                conn.execute(
                    update(_table)
                    .where(_table.c.id_hash == _hash(session.sid))
                    .values(last_seen_at=now)
                )
        else:
            return

        response.set_cookie(
            name,
            session.sid,
            domain=domain,
            path=path,
            httponly=self.get_cookie_httponly(app),
            # Secure whenever the page came over HTTPS (directly or via a trusted proxy).
            secure=self.get_cookie_secure(app) or _is_secure(),
            samesite=self.get_cookie_samesite(app),
        )


def _is_secure():
    from flask import request

    return request.is_secure


def _client_ip():
    from flask import request

    return (request.remote_addr or "")[:64]


def _user_agent():
    from flask import request

    return (request.user_agent.string or "")[:255]


_BROWSERS = (
    ("Edg/", "Edge"),
    ("Firefox/", "Firefox"),
    ("Chrome/", "Chrome"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "Mac"),
    ("Linux", "Linux"),
)


def describe_device(user_agent):
    """ "Chrome on Windows", good enough for a person to recognise their own device."""
    ua = user_agent or ""
    browser = next((name for key, name in _BROWSERS if key in ua), "A browser")
    system = next((name for key, name in _SYSTEMS if key in ua), None)
    return f"{browser} on {system}" if system else browser
