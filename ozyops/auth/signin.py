"""Where login happens. Every way of starting a session (password now; SSO and links later)
ends in `after_first_factor`, which either completes the login or leaves a pending
second step, so none of them can skip MFA.

Between the two steps the session holds only `mfa_pending`: the user id, when it expires
and where the person's count of wrong codes stood when it began. It authenticates nothing
(see security/guard.py).
"""

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app, session, url_for
from flask_login import login_user, logout_user
from sqlalchemy import bindparam, update

from .. import audit, clock, devices, passwords, sessions
from ..accounts import find_user_by_email
from ..extensions import db, outside_transaction
from ..models import WITH_ACCOUNT, User
from ..security import mfa

PENDING_KEY = "mfa_pending"
MAX_PENDING_FAILURES = 5

WRONG_CREDENTIALS = "That email and password don't match. Check them and try again."
DEACTIVATED = "This account has been deactivated. Ask your practice's owner or an admin."


class SignInError(ValueError):
    """A failed first factor, with the message to show."""


def check_password(email, password):
    """The active user with this email and password, or SignInError.

    N.B. an unknown email costs the same argon2 verify as a wrong password and gets the
    same message, so neither timing nor wording tells whether an address has an account.
    So does a paused password (passwords.check), even the right one: the person is told by
    a notice instead.
    """
    with outside_transaction():
        user = find_user_by_email(email)
    # N.B. the hash may wait its turn for the hashing thread (passwords.py). Meanwhile this
    # request's database connection goes back to the pool, so sign-ins queued there hold
    # none; `close` keeps what is loaded, and the user is attached again afterwards.
    db.session.close()
    if user is not None:
        db.session.add(user)
    verdict = passwords.check(user, password, clock.utcnow(), failed_event="login_failed")
    if verdict is not passwords.Verdict.RIGHT:
        raise SignInError(WRONG_CREDENTIALS)
    if not user.active:
        audit.record("login_failed", target=user, reason="deactivated")
        db.session.commit()
        raise SignInError(DEACTIVATED)
    return user


def after_first_factor(user, next_url, method="password"):
    """Log `user` in, or, when they have MFA, start the pending code step.

    Returns the URL to go to next: the code step, or the page the user asked for.
    """
    now = clock.utcnow()
    if user.mfa_enabled:
        session.clear()
        session.rotate()
        # N.B. the row (not the cookie data) names the user, so ending that person's
        # sessions (password change, MFA reset, recovery key) ends this half-login too.
        # authenticated_at stays empty: the row authenticates nothing.
        session.meta = {"user_id": user.id, "created_at": now}
        limit = timedelta(minutes=current_app.config["PENDING_LOGIN_MIN"])
        session[PENDING_KEY] = {
            "user_id": user.id,
            "until": (now + limit).isoformat(),
            "failures_before": user.mfa_failures_total,
            "next": safe_next(next_url),
            "method": method,
        }
        # Written now, with whatever the first factor recorded: one commit.
        sessions.store_now(session)
        db.session.commit()
        return url_for("auth.login_mfa")
    complete(user, method=method)
    return safe_next(next_url) or url_for("main.dashboard")


def pending_user():
    """The user waiting at the code step, or None when there is none or it expired."""
    pending = session.get(PENDING_KEY)
    if not pending:
        return None
    if datetime.fromisoformat(pending["until"]) <= clock.utcnow():
        return None
    # Usually already loaded with the session row (sessions.py): no query.
    user = db.session.get(User, pending["user_id"], options=WITH_ACCOUNT)
    # Deactivated, or MFA reset meanwhile (by an admin, or a recovery key elsewhere):
    # this half-login is over; the password step decides again.
    return user if user is not None and user.active and user.mfa_enabled else None


def pending_expired():
    """True when a pending code step exists but its 10 minutes are over."""
    pending = session.get(PENDING_KEY)
    return bool(pending) and datetime.fromisoformat(pending["until"]) <= clock.utcnow()


def abandon_pending():
    """Forget the half-login: the session row goes (see sessions.forget)."""
    session.pop(PENDING_KEY, None)
    sessions.forget(session)


def pending_failures_over(total):
    """Whether this pending login has seen MAX_PENDING_FAILURES wrong codes or keys, now
    that the person has had `total` (mfa.Check.total); if so, it is over.

    N.B. counted on the person, from where their never-reset count stood when this login
    began: wrong codes sent at once in one pending login each count, in whichever
    process, where a count in the session's data would keep only the last write. Wrong
    codes typed meanwhile in another session of theirs count too: the stricter way.
    """
    pending = session[PENDING_KEY]
    if "failures_before" not in pending:
        # Begun before this count existed, it kept its own in the session: worked out once,
        # from this wrong code, the start is kept as any other login's.
        before = total - 1 - pending.get("failures", 0)
        session[PENDING_KEY] = pending = {**pending, "failures_before": before}
    if total - pending["failures_before"] < MAX_PENDING_FAILURES:
        return False
    abandon_pending()
    return True


def first_step():
    """How this pending login's first step was taken: "password", or a provider's key."""
    return (session.get(PENDING_KEY) or {}).get("method", "password")


def finish_with_code(user, code, now, provider=None):
    """The code step: check `code` and, when it is right, complete the login in the same
    transaction. Returns the check and where to go next (None when the code is wrong).
    `provider`: the name of the provider the first step was taken with, if any."""
    check = mfa.verify_code(user, code, now, signs_in=True, provider=provider)
    if not check.ok:
        return check, None
    return check, finish_pending(user, via="code")


def finish_pending(user, via):
    """The second factor passed: complete the login. Returns where to go next."""
    pending = session.get(PENDING_KEY) or {}
    complete(user, method=first_step(), second_factor=via)
    # N.B. checked again: a login begun before a fix to safe_next kept what it allowed.
    return safe_next(pending.get("next")) or url_for("main.dashboard")


def complete(user, method, second_factor=None):
    """Start a fresh authenticated session for `user` (new id: no fixation)."""
    now = clock.utcnow()
    idle = current_app.config[user.account.idle_timeout_key]
    sessions.authenticate(session, user, idle_minutes=idle, now=now)
    login_user(user)
    if second_factor is None:  # else the code's or key's own UPDATE recorded the sign-in
        db.session.connection().execute(_SIGNED_IN, {"uid": user.id, "at": now})
    audit.record("login", actor=user, target=user, method=method, second_factor=second_factor)
    devices.remember(user)  # a later pause on their password skips this browser
    # One commit for the sign-in: the session row, the code's single-use mark (see
    # mfa.verify_code), the last sign-in time and the audit entry.
    sessions.store_now(session)
    db.session.commit()


_users = User.__table__
_SIGNED_IN = (
    update(_users).where(_users.c.id == bindparam("uid")).values(last_login_at=bindparam("at"))
)


def logout(user):
    if user is not None:
        audit.record("logout", actor=user, target=user)
        db.session.commit()
    logout_user()
    sessions.forget(session)


def safe_next(url):
    """`url` when it is a path on this site, else None (no open redirects).

    N.B. urlsplit drops tabs and line breaks before it looks for a host, and a Location
    header cannot carry them: a URL with any control character is refused outright."""
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return None
    if any(c < " " or c == "\x7f" for c in url):
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        return None
    return url
