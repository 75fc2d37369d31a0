"""Browsers a person has finished signing in from before, remembered in a signed cookie.

A pause on someone's password (passwords.check) can be started by anyone who knows their
email; this keeps it from locking them out of the computers they use every day (OWASP's
"device cookies"). N.B. the cookie only proves that this browser once finished a sign-in
as them, under a signature of SECRET_KEY: it skips the pause and nothing else. The
password, and the code, are still needed.

As OWASP's scheme asks, the cookie has a lockout of its own: after WRONG_PASSWORDS for
someone, it no longer skips their pause. Else whoever sits at a shared computer, or holds
a copy of its cookie, could guess a colleague's password without end. The count is kept
per cookie in the rate limiter's storage, so copies of one cookie count together, and
with REDIS_URL across processes.
"""

import hashlib

from flask import after_this_request, current_app, has_request_context, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from limits import parse

from .extensions import limiter
from .sessions import cookie_name

COOKIE = "ozyops_device"
REMEMBER_DAYS = 90
MAX_PEOPLE = 5  # a shared front-desk computer: the last few people who signed in there
WRONG_PASSWORDS = parse("20 per 15 minutes")  # as the pause itself (passwords.py)


def known(user):
    """True when this request's browser has finished a sign-in as `user` before, and has
    not sent WRONG_PASSWORDS for them since."""
    return (
        has_request_context()
        and user.id in _known_ids()
        and limiter.limiter.test(WRONG_PASSWORDS, *_count_key(user))
    )


def wrong_password(user):
    """Count a wrong password for `user` against this browser's cookie (see `known`)."""
    if has_request_context() and user.id in _known_ids():
        limiter.limiter.hit(WRONG_PASSWORDS, *_count_key(user))


def _count_key(user):
    raw = request.cookies.get(_cookie()[0], "")
    return "device", hashlib.sha256(raw.encode()).hexdigest(), str(user.id)


def remember(user):
    """After a finished sign-in: this browser knows `user` from now on (for 90 days)."""
    ids = [user.id] + [i for i in _known_ids() if i != user.id]
    value = _serializer().dumps(ids[:MAX_PEOPLE])

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


def _known_ids():
    raw = request.cookies.get(_cookie()[0])
    if not raw or len(raw) > 500:
        return []
    try:
        ids = _serializer().loads(raw, max_age=REMEMBER_DAYS * 24 * 3600)
    except BadSignature:  # altered, made up or expired
        return []
    return [i for i in ids if type(i) is int] if isinstance(ids, list) else []


def _cookie():
    """The cookie's name for this request, and whether it is Secure: as the session's."""
    secure = current_app.session_interface.get_cookie_secure(current_app)
    return cookie_name(COOKIE, secure), secure


def _serializer():
    return URLSafeTimedSerializer(current_app.secret_key, salt="ozyops-device")
