"""Password hashing (argon2id via argon2-cffi), the minimum rules for a new password, and
`check`: the one place a person's password is checked, with the pause that follows too
many wrong passwords in a row.

N.B. argon2 is meant to be expensive: about 0.15 s of CPU and 64 MiB of memory per hash.
Each worker process hashes on one thread of its own, one hash at a time: a worker never
holds more than 64 MiB for hashing however many sign-ins arrive at once, and a request
gives its turn away while it waits (admission.py). A burst of sign-ins, or someone
spraying passwords, then queues for the hashing thread instead of crowding out the pages
and code steps of the people already past their password.
"""

import re
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, or_, select, update

from . import admission, audit, clock, devices, notify
from .extensions import db
from .models import AuditEvent, User

MIN_LENGTH = 10
MAX_LENGTH = 256
# NIST SP 800-63B §5.2.2 allows at most 100 failures in a row per account. Codes lock after
# 10 (security/mfa.py), but a password is mistyped more often, and a pause on it can be
# started by anyone who knows the email: 20, for 15 minutes, is at most 80 guesses an hour.
MAX_FAILURES = 20
PAUSE_MINUTES = 15

# RFC 9106's second recommended cost (argon2id, 64 MiB, 3 passes) on one lane instead of
# its four. Lanes only let one hash use several cores: its cost to someone guessing is the
# same. Here several processes hash at once, and four lanes each meant four threads per
# hash crowding the cores, which doubled the code step's wait for people already past
# their password during a burst of sign-ins (bench/README.md, the eighth session). OWASP's
# argon2id settings all have one lane too.
COST = {"time_cost": 3, "memory_cost": 64 * 1024, "parallelism": 1}
_hasher = PasswordHasher(**COST)
# N.B. verified against when the email is unknown, so both cases cost one argon2 verify.
_DUMMY_HASH = _hasher.hash("ozyops-dummy-password-for-timing")


# Its thread starts on first use, in each worker process (none exists before gunicorn forks).
_hashing = ThreadPoolExecutor(1, thread_name_prefix="argon2")


def on_hashing_thread(fn, *args):
    """`fn(*args)` on this process's hashing thread, after any hash queued before it; this
    request's turn goes to the next request meanwhile."""
    admission.give_way()
    return _hashing.submit(fn, *args).result()


def normal(password):
    """`password` in Unicode's NFKC form (NIST SP 800-63B §5.1.1.2), before it is judged or
    hashed: "é" typed as one character or as "e" and an accent, or a full-width "Ａ" from an
    Asian keyboard, is the same password on every computer and phone."""
    return unicodedata.normalize("NFKC", password)


def hash_password(password):
    return on_hashing_thread(_hasher.hash, normal(password))


def verify_password(password_hash, password):
    """True when `password` matches; a missing hash still spends the time of a verify."""
    return _matching_form(password_hash, password) is not None


def _matching_form(password_hash, password):
    """The form of `password` that `password_hash` is of, or None: its normal form, or the
    form it was typed in (a password chosen before passwords were normalised)."""
    forms = list(dict.fromkeys((normal(password), password)))
    matched = on_hashing_thread(_first_verified, password_hash or _DUMMY_HASH, forms)
    return matched if password_hash else None


def _first_verified(password_hash, forms):
    """N.B. every form is verified, even after one matched: the time taken then depends
    only on what was typed, never on whether it was right (a paused password answers
    PAUSED either way, and must not tell by its speed)."""
    matched = None
    for form in forms:
        try:
            _hasher.verify(password_hash, form)
        except (VerificationError, InvalidHashError):
            continue
        if matched is None:
            matched = form
    return matched


def problem_with(password, about=()):
    """Why `password` cannot be used, or None.

    Length is what matters (NIST SP 800-63B §5.1.1.2), with no rules on its make-up; but it
    must not be on the blocklist NIST asks for: a common or breached password, a word with
    simple changes, a run or a repeat, or something made of `about` (the person's email and
    name, the practice's name) or the name of the service. zxcvbn judges that, from its
    lists of the most common passwords, words and names; what it would find in fewer than
    10^8 guesses is refused (its scores 0 to 2: "Password2024!", "Welcome2024!" and a name
    and a year all are).
    """
    if not password or not password.strip():
        return "Enter a password."
    password = normal(password)
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    # N.B. imported here, on the first new password: its word lists cost a worker 13 MB,
    # which sign-ins never need.
    from zxcvbn import zxcvbn

    context = ["ozyops"]
    for text in about:
        context += [text, *(w for w in re.split(r"[\W_]+", text or "") if len(w) >= 3)]
    # zxcvbn's time grows fast with length; a strong start is strong enough.
    verdict = zxcvbn(password[:64], user_inputs=[c.lower() for c in context if c])
    if verdict["guesses"] < GUESSABLE:
        hint = verdict["feedback"]["warning"]
        return (
            f"That password is too easy to guess.{' ' + hint if hint else ''} Try three or "
            f"four words that have nothing to do with each other, or you, or the practice."
        )
    return None


def problem_for(user, password):
    """`problem_with` for `user`'s own new password: nothing made of their email, their
    name or their practice's name."""
    return problem_with(password, (user.email, user.name, user.account.name))


GUESSABLE = 10**8  # zxcvbn's scores 0-2; from 3, "safely unguessable" (Dropbox, its author)


class Verdict(StrEnum):
    RIGHT = "right"
    WRONG = "wrong"
    PAUSED = "paused"


def check(user, password, now, failed_event, replacing=False, by=None):
    """`user`'s password against `password` (None: an unknown email, always WRONG), typed
    `by` the signed-in user (sudo mode, Change password) or, at sign-in, by someone not yet
    known to be them (None): the audit entry's actor.

    A wrong one is audited as `failed_event` and counted; the MAX_FAILURES-th in a row
    pauses the user's password for PAUSE_MINUTES, and while paused even the right one is
    PAUSED, except in a browser where the user has signed in before (devices.py). Someone
    with no password to guess (invited, SSO only) is never counted. A deactivated person
    is, like anyone: the caller says they are deactivated only once the password is RIGHT,
    so their password is no easier to guess than anyone's, for the day they come back.

    N.B. the hash is verified first whatever the state, so the time taken tells nothing,
    and the verdict is then taken from the row as it is after the hash, which may have
    waited its turn while another process paused it or changed the password. The count
    and the pause are conditional UPDATEs, so they hold across processes. What a verdict
    changes is committed here. A right password stored at an older cost is hashed again,
    unless the caller is `replacing` it (Change password): that would be a second hash
    for nothing.
    """
    typed = password or ""
    checked = user.password_hash if user else None
    form = _matching_form(checked, typed)
    if user is None or checked is None:
        audit.record(failed_event, actor=by, target=user)
        db.session.commit()
        return Verdict.WRONG
    db.session.refresh(user, _AFTER_THE_HASH)
    if form is not None and user.password_hash != checked:
        # Changed meanwhile: a new password, which ended every session and which the old
        # one must not start another, or the same one hashed again by a sign-in elsewhere
        # (_hash_again). The hash now stored decides: a second hash, in this race only,
        # with no database connection held while it waits its turn.
        checked = user.password_hash
        db.session.commit()
        form = _matching_form(checked, typed)
        db.session.refresh(user, _AFTER_THE_HASH)
        form = form if user.password_hash == checked else None
    matched = form is not None
    exempt = devices.known(user)
    if paused_until(user, now) and not exempt:
        audit.record(failed_event, actor=by, target=user, reason="paused")
        db.session.commit()
        return Verdict.PAUSED
    if matched:
        if user.password_failures:
            user.password_failures = 0
        stale = form != normal(typed) or _hasher.check_needs_rehash(user.password_hash)
        if stale and not replacing:
            _hash_again(user, typed)
        elif db.session.dirty:
            db.session.commit()
        return Verdict.RIGHT
    audit.record(failed_event, actor=by, target=user)
    # N.B. not counted while paused, from any browser: guesses do not lengthen a pause.
    count = update(User).where(User.id == user.id, _not_paused(now))
    if exempt:
        devices.wrong_password(user)
    failures = db.session.execute(
        count.values(password_failures=User.password_failures + 1).returning(User.password_failures)
    ).scalar_one_or_none()
    paused = failures is None or (failures >= MAX_FAILURES and _pause(user, now))
    db.session.commit()  # N.B. expires `user`: a paused_message after this reads the pause
    return Verdict.PAUSED if paused and not exempt else Verdict.WRONG


_AFTER_THE_HASH = ["password_hash", "password_failures", "password_paused_until"]


def _hash_again(user, typed):
    """Store `typed`, the right password, hashed again: it was hashed as typed (before
    passwords were normalised) or at an older cost; from now on, normal and at `COST`.

    N.B. the request holds no database connection while it waits for the hashing thread,
    and the new hash is written only over the one just checked: a password changed
    meanwhile (a link, Change password) stays changed.
    """
    checked = user.password_hash
    db.session.commit()
    again = hash_password(typed)
    db.session.execute(
        update(User)
        .where(User.id == user.id, User.password_hash == checked)
        .values(password_hash=again)
    )
    db.session.commit()


def _not_paused(now):
    until = User.password_paused_until
    return or_(until.is_(None), until <= clock.naive(now))


def _pause(user, now):
    """The MAX_FAILURES-th wrong password in a row: pause, exactly once across processes
    (returns whether this call did), and tell the person and the owner, at most once a day
    (anyone who knows the email can start a pause every 15 minutes)."""
    until = clock.naive(now) + timedelta(minutes=PAUSE_MINUTES)
    if not db.session.execute(
        update(User)
        .where(User.id == user.id, User.password_failures >= MAX_FAILURES)
        .values(password_paused_until=until, password_failures=0)
    ).rowcount:
        return False  # another process's wrong password did it
    told_today = db.session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.target_id == user.id,
            AuditEvent.event == "password_paused",
            AuditEvent.created_at > clock.naive(now) - timedelta(days=1),
        )
    )
    audit.record("password_paused", target=user, minutes=PAUSE_MINUTES)
    if not told_today:
        # N.B. after the response: mailing takes time, which must not tell the person
        # guessing that this email has an account.
        notify.send_after_response(user, "password_paused")
    return True


def set_new(user, password_hash):
    """Give `user` a new password; a pause on the old one ends with it."""
    user.password_hash = password_hash
    user.password_failures, user.password_paused_until = 0, None


def paused_until(user, now):
    """When `user`'s password pause ends, or None when it is not paused."""
    until = user.password_paused_until
    return until if until is not None and until > clock.naive(now) else None


def paused_message(user, now):
    """For someone signed in (sudo mode, Change password); the sign-in page says only that
    email and password don't match, so that it tells no one whether an email exists."""
    until = paused_until(user, now)
    if until:
        until = clock.local(until, user.account.time_zone)  # the practice's clock says when
    when = f"until {until:%H:%M %Z}" if until else f"for up to {PAUSE_MINUTES} minutes"
    return f"Too many wrong passwords in a row: your password is paused {when}."
