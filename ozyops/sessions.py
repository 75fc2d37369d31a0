"""Server-side sessions: the cookie carries only a random id; the data lives in `sessions`.

Deleting a row really ends a session, even for someone holding a copied cookie. Rows are
written with SQLAlchemy Core on their own short transactions after the response, so that
a view's ORM transaction is never committed or rolled back by the session machinery;
only a sign-in writes its new row inside its own transaction (`store_now`). The row is read
through the ORM together with its user and account, so the request that follows needs no
second query to know who is signed in.

N.B. an anonymous visitor (the login page, a bot) gets no row at all until their session
holds more than its CSRF token: the token is derived from the id with SECRET_KEY (an HMAC,
OWASP's "signed double submit"), so nothing needs storing to check it. Anonymous ids start
with "a." so that the id of a session ended on the server (logout elsewhere, an MFA reset)
is never mistaken for one of these: it finds no row and starts afresh.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app, g, request
from flask.json.tag import TaggedJSONSerializer
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.orm import joinedload
from werkzeug.datastructures import CallbackDict

from . import clock
from .extensions import db, outside_transaction
from .models import ServerSession, User

ANONYMOUS = "a."  # the prefix of an anonymous session's id
ANONYMOUS_IDLE_MIN = 60
CSRF_KEY = "csrf_token"  # where Flask-WTF looks for the session's token
TOUCH_EVERY = timedelta(seconds=30)  # how stale last_seen may get, to spare a write per request
SWEEP_EVERY = 64  # one session insert in this many also deletes expired rows
_serializer = TaggedJSONSerializer()
_table = ServerSession.__table__


def cookie_name(name, secure, domain=None, path="/"):
    """`name`, with the `__Host-` prefix whenever the cookie can carry it (ASVS 3.4.4).

    N.B. a browser then takes the cookie only over HTTPS, from this very host, for the
    whole site: neither a plain-HTTP page (a network in the middle) nor a sibling subdomain
    can plant an id of its choosing, whose CSRF token its planter would know. Over plain
    HTTP (the embedded default on a private network) the name stays bare, as it must.
    """
    if name.startswith("__Host-") or not (secure and domain is None and path == "/"):
        return name
    return f"__Host-{name}"


def _hash(sid):
    return hashlib.sha256(sid.encode()).hexdigest()


def _csrf_token(sid):
    key = current_app.secret_key.encode()
    return hmac.new(key, b"ozyops-csrf:" + sid.encode(), hashlib.sha256).hexdigest()


class Session(CallbackDict, SessionMixin):
    """The dict views see as `flask.session`, plus the row's columns in `meta`."""

    def __init__(self, initial=None, sid=None, meta=None, stored=False, user=None):
        def on_update(self):
            self.modified = True

        super().__init__(initial, on_update)
        self.sid = sid
        self.meta = meta or {}
        self.stored = stored  # whether `sid` has a row
        # N.B. the row's user, read with it. The ORM's identity map holds objects weakly:
        # this reference keeps the user there, so loading them again costs no query.
        self.user = user
        self.replaced = None  # a stored id that `rotate` replaced: its row goes at save
        self.modified = False

    @classmethod
    def anonymous(cls, initial=None):
        """A new anonymous session: an id and its CSRF token, no row yet."""
        sid = ANONYMOUS + secrets.token_urlsafe(32)
        return cls({**(initial or {}), CSRF_KEY: _csrf_token(sid)}, sid=sid)

    def rotate(self, anonymous=False):
        """A new id now (login, logout, privilege change): no session fixation. The new id
        comes with a new CSRF token, so the page rendered next already carries it."""
        if self.stored:
            self.replaced = self.sid
        self.sid = (ANONYMOUS if anonymous else "") + secrets.token_urlsafe(32)
        self.stored = False
        self[CSRF_KEY] = _csrf_token(self.sid)
        g.pop("csrf_token", None)  # Flask-WTF's per-request copy of the old token

    def needs_row(self):
        return bool(self.meta.get("user_id")) or any(k != CSRF_KEY for k in self)


def init_app(app):
    app.session_interface = ServerSessionInterface()
    # For base.html's warning before the session ends.
    app.add_template_global(seconds_to_end)
    app.add_template_global(spoken_minutes)


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
    session.rotate(anonymous=True)


def store_now(session):
    """Write `session`'s row in the current ORM transaction instead of after the response:
    a sign-in then commits its session with everything else it records, in one go."""
    conn = db.session.connection()
    for stmt, params in _writes(session, clock.utcnow()):
        conn.execute(stmt, params)
    session.replaced = None
    session.modified = False


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


def seconds_to_end(session):
    """How long `session` has until its absolute end (12 hours after signing in), for the
    warning before it (base.html); 0 when it has no row yet."""
    ends = session.meta.get("expires_at")
    return max(0, int((ends - clock.utcnow()).total_seconds())) if ends else 0


def sid_hash(session):
    return _hash(session.sid) if session.sid else None


def end_one(user_id, id_hash):
    """End one of `user_id`'s sessions by its stored hash."""
    with db.engine.begin() as conn:
        conn.execute(delete(_table).where(_table.c.user_id == user_id, _table.c.id_hash == id_hash))


def spoken_minutes(minutes):
    """15 → "15 minutes", 720 (the default outside healthcare) → "12 hours", 1 → "1 minute"."""
    count, unit = (
        (minutes // 60, "hour") if minutes >= 60 and minutes % 60 == 0 else (minutes, "minute")
    )
    return f"{count} {unit}{'' if count == 1 else 's'}"


def _ended(message):
    """A new anonymous session that tells the person why their last one ended; a single
    notice: Flask-Login's "Please log in" is then not added (extensions._sign_in_first)."""
    return Session.anonymous({"_flashes": [("info", message)]})


def _idle_expired(row, now):
    """N.B. last_seen_at may be up to TOUCH_EVERY older than the last request (the write
    it spares): counted from it alone, the logoff could come before the idle time was up.
    So it comes between the idle time and TOUCH_EVERY more, never before."""
    return row.last_seen_at + timedelta(minutes=row.idle_minutes) + TOUCH_EVERY <= now


class ServerSessionInterface(SessionInterface):
    """Flask's session hooks, backed by the `sessions` table."""

    def get_cookie_secure(self, app):
        """Secure whenever the page came over HTTPS (directly or via a trusted proxy), or
        SESSION_COOKIE_SECURE says so; for every cookie OzyOps sets (devices.py too)."""
        return super().get_cookie_secure(app) or request.is_secure

    def get_cookie_name(self, app):
        secure, domain, path = (
            self.get_cookie_secure(app),
            self.get_cookie_domain(app),
            self.get_cookie_path(app),
        )
        return cookie_name(super().get_cookie_name(app), secure, domain, path)

    def open_session(self, app, request):
        sid = request.cookies.get(self.get_cookie_name(app))
        if not sid or len(sid) > 100:
            return Session.anonymous()
        now = clock.utcnow()
        with outside_transaction():
            row = db.session.scalar(_READ, {"h": _hash(sid)})
        if row is None:
            if sid.startswith(ANONYMOUS):
                return Session({CSRF_KEY: _csrf_token(sid)}, sid=sid)
            # N.B. only a sign-in's id has no prefix: its row was deleted, by a sign-out
            # elsewhere, an MFA reset, a deactivation, a password change or the sweep.
            return _ended("You were signed out. Log in again to continue.")
        if row.expires_at <= now or _idle_expired(row, now):
            with db.engine.begin() as conn:
                conn.execute(_DELETE, {"h": row.id_hash})
            if row.user_id is None:
                return Session.anonymous()
            if row.expires_at > now:
                idle = spoken_minutes(row.idle_minutes)
                return _ended(f"You were signed out after {idle} of inactivity.")
            if row.authenticated_at is not None:  # not a sign-in left at the code step
                lasted = spoken_minutes((row.expires_at - row.created_at) // timedelta(minutes=1))
                return _ended(f"You were signed out {lasted} after you signed in.")
            return Session.anonymous()
        meta = {
            "user_id": row.user_id,
            "authenticated_at": row.authenticated_at,
            "created_at": row.created_at,
            "idle_minutes": row.idle_minutes,
            "last_seen_at": row.last_seen_at,
            "expires_at": row.expires_at,
        }
        data = _serializer.loads(row.data)
        return Session(data, sid=sid, meta=meta, stored=True, user=row.user)

    def save_session(self, app, session, response):
        response.vary.add("Cookie")
        writes = _writes(session, clock.utcnow())
        if writes:
            with db.engine.begin() as conn:
                for stmt, params in writes:
                    conn.execute(stmt, params)
        # The cookie goes out when the id is new to the browser and there is something to
        # come back to: a row, a CSRF token handed out, or an old session replaced. A bare
        # request (a probe, a static file) gets no cookie.
        name = self.get_cookie_name(app)
        if request.cookies.get(name) == session.sid:
            return
        if not (session.stored or session.replaced or "csrf_token" in g):
            return
        response.set_cookie(
            name,
            session.sid,
            domain=self.get_cookie_domain(app),
            path=self.get_cookie_path(app),
            httponly=self.get_cookie_httponly(app),
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
        )


def _writes(session, now):
    """The (statement, parameters) pairs that bring the table in line with `session`, for
    one transaction."""
    writes = []
    this_row = {"h": _hash(session.sid)}
    if not session.needs_row():
        if session.replaced:
            writes.append((_DELETE, {"h": _hash(session.replaced)}))
        if session.stored:  # e.g. the message it held has been shown
            writes.append((_DELETE, this_row))
            session.stored = False
    elif not session.stored:
        row = _new_row(session, now)
        if session.replaced:
            # The old row becomes the new one: the old id is dead at once. N.B. if it was
            # ended meanwhile (a reset, a sign-out elsewhere), nothing is written: ended
            # stays ended.
            writes.append((_MOVE, {**row, "old": _hash(session.replaced)}))
        else:
            writes.append((_INSERT, row))
        if secrets.randbelow(SWEEP_EVERY) == 0:  # now and then, clear out dead rows
            writes.append((_SWEEP, {"now": now}))
    elif session.modified:
        data = _serializer.dumps(dict(session))
        auth = session.meta.get("authenticated_at")
        writes.append((_SAVE, {**this_row, "d": data, "seen": now, "auth": auth}))
    elif now - session.meta["last_seen_at"] >= TOUCH_EVERY:
        writes.append((_TOUCH, {**this_row, "seen": now}))
    return writes


# Built once: these run on nearly every request.
_READ = (
    select(ServerSession)
    .where(ServerSession.id_hash == bindparam("h"))
    .options(joinedload(ServerSession.user).joinedload(User.account))
)
_THIS_ROW = _table.c.id_hash == bindparam("h")
_INSERT = insert(_table)
# N.B. the new values are SET from the parameters' keys; "old" is the replaced id's hash.
_MOVE = update(_table).where(_table.c.id_hash == bindparam("old"))
_DELETE = delete(_table).where(_THIS_ROW)
_SWEEP = delete(_table).where(_table.c.expires_at <= bindparam("now"))
_TOUCH = update(_table).where(_THIS_ROW).values(last_seen_at=bindparam("seen"))
_SAVE = (
    update(_table)
    .where(_THIS_ROW)
    .values(data=bindparam("d"), last_seen_at=bindparam("seen"), authenticated_at=bindparam("auth"))
)


def _new_row(session, now):
    session.stored = True
    session.meta["last_seen_at"] = now
    created = session.meta.get("created_at") or now
    if session.meta.get("user_id"):
        expires = created + timedelta(minutes=current_app.config["SESSION_MAX_AGE_MIN"])
    else:  # a message or a provider's state: short-lived
        expires = created + timedelta(minutes=ANONYMOUS_IDLE_MIN)
    return {
        "id_hash": _hash(session.sid),
        "user_id": session.meta.get("user_id"),
        "data": _serializer.dumps(dict(session)),
        "created_at": created,
        "last_seen_at": now,
        "authenticated_at": session.meta.get("authenticated_at"),
        "idle_minutes": session.meta.get("idle_minutes") or ANONYMOUS_IDLE_MIN,
        "expires_at": expires,
        "ip": _client_ip(),
        "user_agent": _user_agent(),
    }


def _client_ip():
    return (request.remote_addr or "")[:64]


def _user_agent():
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
