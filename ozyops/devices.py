"""Browsers a person has finished signing in from before, remembered in a signed cookie.

A pause on someone's password (passwords.check) can be started by anyone who knows their
email; this keeps it from locking them out of the computers they use every day (OWASP's
"device cookies"). N.B. the cookie only proves that this browser once finished a sign-in
as them, under a signature of SECRET_KEY: it skips the pause and nothing else. The
password, and the code, are still needed.

As OWASP's scheme asks, the cookie has a lockout of its own: after as many wrong passwords
for someone as pause their password, it no longer skips that pause. Else whoever sits at
a shared computer, or holds a copy of its cookie, could guess a colleague's password
without end. The count is kept in the rate limiter's storage (with REDIS_URL, across
processes) under a random id signed into the cookie: every copy of the cookie counts
together, and a sign-in there keeps the id, so neither a re-encoded cookie nor a new
sign-in starts the count again.
"""

import functools
import secrets

from flask import after_this_request, current_app, has_request_context, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse

from .extensions import limiter
from .sessions import cookie_name

COOKIE = "ozyops_device"
REMEMBER_DAYS = 90
MAX_PEOPLE = 5  # a shared front-desk computer: the last few people who signed in there


def known(user):
    """True when this request's browser has finished a sign-in as `user` before, and has
    not sent as many wrong passwords for them since as pause a password."""
    browser, people = _read()
    if user.id not in people or not limiter.enabled:  # N.B. uncounted, it skips nothing
        return False
    return limiter.limiter.test(_wrong_passwords(), *_key(browser, user))


def wrong_password(user):
    """Count a wrong password for `user` against this browser (see `known`)."""
    browser, people = _read()
    if user.id in people and limiter.enabled:
        limiter.limiter.hit(_wrong_passwords(), *_key(browser, user))


def remember(user):
    """After a finished sign-in: this browser knows `user` from now on (for 90 days)."""
    browser, people = _read()
    people = [user.id] + [i for i in people if i != user.id]
    value = _serializer().dumps(
        {"browser": browser or secrets.token_urlsafe(16), "people": people[:MAX_PEOPLE]}
    )

    @after_this_request
    def _set_cookie(response):
        name, secure = _cookie()
        response.set_cookie(
            name,
            value,
            max_age=REMEMBER_DAYS * 24 * 3600,
            httponly=True,
            samesite="Lax",
            secure=secure,
        )
        return response


def _read():
    """(this browser's id, the ids of the people it knows), or (None, []) without a valid
    cookie."""
    raw = request.cookies.get(_cookie()[0]) if has_request_context() else None
    if not raw or len(raw) > 500:
        return None, []
    try:
        data = _serializer().loads(raw, max_age=REMEMBER_DAYS * 24 * 3600)
    except BadSignature:  # altered, made up or expired
        return None, []
    if not (isinstance(data, dict) and isinstance(data.get("browser"), str)):
        return None, []  # N.B. a cookie from before browsers had ids: known from the next sign-in
    people = data.get("people") if isinstance(data.get("people"), list) else []
    return data["browser"], [i for i in people if type(i) is int]


def _key(browser, user):
    return "device", browser, str(user.id)


@functools.cache
def _wrong_passwords():
    from .passwords import MAX_FAILURES, PAUSE_MINUTES  # N.B. passwords imports this module

    return parse(f"{MAX_FAILURES} per {PAUSE_MINUTES} minutes")


def _cookie():
    """The cookie's name for this request, and whether it is Secure: as the session's."""
    secure = current_app.session_interface.get_cookie_secure(current_app)
    return cookie_name(COOKIE, secure), secure


def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="ozyops-device")
