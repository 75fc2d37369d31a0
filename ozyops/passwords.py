"""Password hashing (argon2id via argon2-cffi), the minimum rules for a new password, and
`check`: the one place a person's password is checked, with the pause that follows too
many wrong passwords in a row.

N.B. argon2 is meant to be expensive: about 0.2 s of CPU and 64 MiB of memory per hash.
Each worker process hashes on one thread of its own, one hash at a time: a worker never
holds more than 64 MiB for hashing however many sign-ins arrive at once, and a request
gives its turn away while it waits (admission.py). A burst of sign-ins, or someone
spraying passwords, then queues for the hashing thread instead of crowding out the pages
and code steps of the people already past their password.
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import update

from . import admission, audit, clock, notify
from .extensions import db
from .models import User

MIN_LENGTH = 10
MAX_LENGTH = 256
# NIST SP 800-63B §5.2.2 allows at most 100 failures in a row per account. Codes lock after
# 10 (security/mfa.py), but a password is mistyped more often, and a pause on it can be
# started by anyone who knows the email: 20, for 15 minutes, is at most 80 guesses an hour.
MAX_FAILURES = 20
PAUSE_MINUTES = 15

_hasher = PasswordHasher()
# N.B. verified against when the email is unknown, so both cases cost one argon2 verify.
_DUMMY_HASH = _hasher.hash("ozyops-dummy-password-for-timing")


# Its thread starts on first use, in each worker process (none exists before gunicorn forks).
_hashing = ThreadPoolExecutor(1, thread_name_prefix="argon2")


def on_hashing_thread(fn, *args):
    """`fn(*args)` on this process's hashing thread, after any hash queued before it; this
    request's turn goes to the next request meanwhile."""
    admission.give_way()
    return _hashing.submit(fn, *args).result()


def hash_password(password):
    return on_hashing_thread(_hasher.hash, password)


def verify_password(password_hash, password):
    """True when `password` matches; a missing hash still spends the time of one verify."""
    try:
        matched = on_hashing_thread(_hasher.verify, password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and bool(password_hash)


def problem_with(password):
    """Why `password` cannot be used, or None. Length is what matters (NIST SP 800-63B)."""
    if not password or not password.strip():
        return "Enter a password."
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    return None


class Verdict(StrEnum):
    RIGHT = "right"
    WRONG = "wrong"
    PAUSED = "paused"


def check(user, password, now, failed_event):
    """`user`'s password against `password` (None: an unknown email, always WRONG).

    A wrong one is audited as `failed_event` and counted; the MAX_FAILURES-th in a row
    pauses the user's password for PAUSE_MINUTES, and while paused even the right one is
    PAUSED. N.B. the hash is verified first whatever the state, so the time taken tells
    nothing. The count and the pause are conditional UPDATEs (their row counts decide), so
    they hold across processes. A right password clears the count in the caller's
    transaction; failures are committed here.
    """
    matched = verify_password(user.password_hash if user else None, password or "")
    if user is None:
        audit.record(failed_event)
        db.session.commit()
        return Verdict.WRONG
    if paused_until(user, now):
        return Verdict.PAUSED
    if matched:
        if user.password_failures:
            user.password_failures = 0
        return Verdict.RIGHT
    audit.record(failed_event, target=user)
    failures = db.session.execute(
        update(User)
        .where(User.id == user.id)
        .values(password_failures=User.password_failures + 1)
        .returning(User.password_failures)
    ).scalar_one()
    paused = 0
    if failures >= MAX_FAILURES:
        until = clock.naive(now) + timedelta(minutes=PAUSE_MINUTES)
        paused = db.session.execute(
            update(User)
            .where(User.id == user.id, User.password_failures >= MAX_FAILURES)
            .values(password_paused_until=until, password_failures=0)
        ).rowcount
        if paused:
            audit.record("password_paused", target=user, minutes=PAUSE_MINUTES)
    db.session.commit()
    if paused:
        notify.send(user, "password_paused")
        return Verdict.PAUSED
    return Verdict.WRONG


def paused_until(user, now):
    """When `user`'s password pause ends, or None when it is not paused."""
    until = user.password_paused_until
    return until if until is not None and until > clock.naive(now) else None


def paused_message(user, now):
    """For someone signed in (sudo mode, Change password); the sign-in page says only that
    email and password don't match, so that it tells no one whether an email exists."""
    until = paused_until(user, now)
    return (
        f"Too many wrong passwords in a row: your password is paused for {PAUSE_MINUTES} "
        f"minutes, until {until:%H:%M} UTC."
    )
