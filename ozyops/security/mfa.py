"""MFA for one user: enrolment, the code check, recovery keys, disable, reset.

N.B. this is the one place a code or recovery key is checked. Every rule that must hold
across processes is decided by a conditional UPDATE whose row count is the verdict:
single-use codes (`totp_last_step < step`), the lockout counter, a consumed recovery key
and a finished enrolment. Two requests racing on two workers cannot both win.
"""

import hashlib
import hmac
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from cryptography.fernet import InvalidToken
from flask import current_app
from sqlalchemy import bindparam, case, func, or_, update

from .. import audit, clock, notify, sessions
from ..extensions import db, outside_transaction
from ..models import User
from . import recovery, totp
from .secretbox import open_, seal

MAX_FAILURES = 10
LOCK_MINUTES = 15
# From the third wrong code or key in a row, the first typed at sign-in (after a correct
# password): someone else probably has the password. N.B. the count is the lock's, so
# wrong codes typed while signed in add to it too, and the warning goes once per run of
# failures (`users.mfa_warned`), decided by one conditional UPDATE across processes.
WARN_AFTER_FAILURES = 3


# What to do with neither phone nor recovery key (help/mfa.md). No one in the practice can
# reset the owner's MFA, so the owner is told otherwise; but only once signed in: before
# the second factor, the page must not tell a password thief whose account it is.
LOST_BOTH = {
    "member": "Ask your practice's owner or an admin to reset your MFA (they do it under "
    "Settings > Team).",
    "owner": "As the owner, contact support@ozyops.com (or whoever runs OzyOps for your "
    "practice) to verify who you are and recover your account.",
    None: "Ask your practice's owner or an admin to reset your MFA (they do it under "
    "Settings > Team). If you are the owner, contact support@ozyops.com (or whoever runs "
    "OzyOps for your practice) to verify who you are and recover your account.",
}


def lost_both(signed_in_user=None):
    """Who can help when phone and recovery key are gone: for `signed_in_user`, or for
    someone not yet past the second factor (None)."""
    if signed_in_user is None:
        return LOST_BOTH[None]
    return LOST_BOTH["owner" if signed_in_user.role == "owner" else "member"]


class MfaError(ValueError):
    """An MFA action that is not allowed, with a message fit to show as it is."""


class Outcome(StrEnum):
    OK = "ok"
    INVALID = "invalid"
    CLOCK_OFF = "clock_off"
    LOCKED = "locked"
    # Not six digits (spaces and dashes aside): it could never match, so it is not counted.
    MALFORMED = "malformed"


NOT_A_CODE = "Enter the 6-digit code from your app."
LAST_TRY = {
    "code": f"One more wrong code or recovery key locks both for {LOCK_MINUTES} minutes.",
    "recovery_key": f"One more wrong recovery key or code locks both for {LOCK_MINUTES} minutes.",
    "setup": f"One more wrong code locks setting up MFA for {LOCK_MINUTES} minutes.",
}


@dataclass(frozen=True)
class Check:
    """The verdict on one code or recovery key, with the sentence to show for it."""

    outcome: Outcome
    minutes_off: int | None = None
    locked_until: datetime | None = None
    kind: str = "code"
    lost_both: str = LOST_BOTH[None]  # who can help (see `lost_both`)
    # Counted (not a lock, not the same wrong one again): how many wrong codes and keys the
    # person has had, ever, this one included (`users.mfa_failures_total`).
    total: int | None = None
    hinted_step: int | None = None  # CLOCK_OFF ahead: the step the hint gave away
    left: int | None = None  # counted: wrong codes and keys left before the lock

    @property
    def ok(self):
        return self.outcome is Outcome.OK

    @property
    def message(self):
        return f"{self._verdict()} {self.last_try}".rstrip()

    @property
    def last_try(self):
        """On the last wrong one before the lock, that the next locks; else "".

        N.B. said so that someone whose codes keep failing stops to check the clock (or
        asks for help) instead of locking themself out. It tells someone guessing nothing:
        the count only ends at a lock or a right code, so stopping short gains no guesses."""
        return LAST_TRY[self.kind] if self.left == 1 else ""

    def _verdict(self):
        if self.outcome is Outcome.MALFORMED:
            return NOT_A_CODE
        if self.outcome is Outcome.LOCKED:
            until = f"until {self.locked_until:%H:%M %Z} (at most {LOCK_MINUTES} minutes)"
            if self.kind == "setup":  # someone with no MFA yet has no codes or key to lose
                # N.B. by then the setup has run out too (both last 15 minutes by default).
                return (
                    f"Too many wrong codes. For your security, setting up MFA is locked "
                    f"{until}. Then click Enable MFA to start again, with a new QR code."
                )
            locked = (
                f"Too many wrong attempts. For your security, codes and recovery keys for "
                f"this account are locked {until}."
            )
            if self.kind == "recovery_key":  # that page says who can help, below its form
                return locked
            return f"{locked} Lost your phone and your recovery key? {self.lost_both}"
        if self.outcome is Outcome.CLOCK_OFF and self.minutes_off < 0:
            # N.B. a code read, then typed minutes later (the phone rang), looks just like a
            # slow clock: the article's advice, to enter the code shown now, comes first.
            # One minute behind, the step just before the accepted ones, it is most likely.
            late = -self.minutes_off
            clock_off = f", or your phone's clock looks about {late} minutes behind"
            behind = "" if late == 1 else clock_off
            return (
                f"That code has expired{behind}. Enter the code your authenticator app shows "
                "now. If this keeps happening, set your phone's date and time to automatic."
            )
        if self.outcome is Outcome.CLOCK_OFF:
            minutes = self.minutes_off
            return (
                f"That code didn't work: your phone's clock looks about {minutes} "
                f"minute{'s' if minutes != 1 else ''} ahead. Set your phone's date and "
                f"time to automatic, then enter the new code."
            )
        if self.kind == "recovery_key":
            return "That recovery key didn't work. Check it and try again."
        wrong = (
            "That code didn't work. Enter the current 6-digit code from your authenticator "
            "app; if it has just changed, wait for the next one and try again."
        )
        if self.kind == "setup":
            # N.B. Enable MFA clicked twice leaves the app an entry whose codes never work.
            return f"{wrong} If the app has more than one OzyOps entry, use the one added last."
        return wrong


# --- enrolment -------------------------------------------------------------------------


def start_enrolment(user, now):
    """A new pending secret for `user`, replacing any earlier one; kept on the server only."""
    secret = totp.new_secret()
    user.pending_totp_secret = seal(secret)
    user.pending_totp_created_at = clock.naive(now)
    user.totp_hinted_steps = None  # another secret's
    db.session.commit()
    return secret


def setup_of(user, secret=None):
    """Which setup is pending, or None: a page names the setup it is for, so one replaced
    since (Enable MFA clicked again) is told apart. A digest of the sealed secret, which
    differs at every click and tells nothing of the secret. With `secret`, the name only a
    page showing its QR code has (a digest of the secret itself): a wrong code shows the
    QR code again to that page alone, never to one that was only given the code field."""
    sealed = user.pending_totp_secret
    if not sealed:
        return None
    named = f"seen:{secret}" if secret is not None else sealed
    return hashlib.sha256(named.encode()).hexdigest()[:16]


def pending_secret(user, now):
    """The secret being enrolled, or None when there is none or it is over 15 minutes old."""
    if not user.pending_totp_secret or setup_over(user.pending_totp_created_at, now):
        return None
    try:
        return open_(user.pending_totp_secret)
    except InvalidToken:
        return None


def setup_over(begun, now):
    """Whether an MFA setup begun at `begun` (None: unknown) can no longer be finished: it
    lasts PENDING_ENROLMENT_MIN."""
    limit = timedelta(minutes=current_app.config["PENDING_ENROLMENT_MIN"])
    return begun is None or begun + limit <= clock.naive(now)


def enable(user, code, now):
    """Finish enrolment with a code from the new authenticator.

    Returns (Check, recovery key to show once); the key is None unless the check passed.
    Raises MfaError when there is nothing pending (expired, or a double submit already won).
    Wrong codes count towards the lock as anywhere else: someone holding a copy of the
    session must not be free to guess the pending code and be shown the recovery key.
    """
    secret = pending_secret(user, now)
    if secret is None:
        raise MfaError(
            "This setup has expired or was already completed. Click Enable MFA to start again."
        )
    if lock := locked(user, now, kind="setup", signed_in=True):
        return lock, None
    if (code := totp.clean(code)) is None:
        return Check(Outcome.MALFORMED), None
    step = _usable_step(user, secret, code, now)
    if step is None:
        return _failure(user, _miss(secret, code, now, kind="setup"), now, code, user), None
    key = recovery.new_key()
    won = db.session.execute(
        update(User)
        .where(User.id == user.id, User.pending_totp_secret == user.pending_totp_secret)
        .values(
            totp_secret=seal(secret),
            totp_last_step=step,
            pending_totp_secret=None,
            pending_totp_created_at=None,
            recovery_key_hash=recovery.hash_key(key),
            mfa_failures=0,
            mfa_warned=False,
            mfa_last_wrong=None,
            mfa_locked_until=None,
        )
    ).rowcount
    if not won:
        db.session.rollback()
        raise MfaError("MFA is already on for your account.")
    audit.record("mfa_enabled", actor=user, target=user)
    db.session.commit()
    notify.send(user, "mfa_enabled")
    return Check(Outcome.OK), key


def _usable_step(user, secret, code, now):
    """The step within ±1 whose code `code` is, unless a clock hint gave it away."""
    step = totp.matching_step(secret, code, now.timestamp())
    return None if step is None or step in _hinted(user) else step


def _hinted(user):
    return {int(step) for step in (user.totp_hinted_steps or "").split()}


def _spoil(user, step, now):
    """The hinted steps' new value, with `step`: the ones this request read, less those past
    use (one step after their own). N.B. if another request wrote them meanwhile (two hints
    at once), `step` is added to what it wrote instead, in the same UPDATE: none is lost."""
    oldest = totp.step_at(now.timestamp()) - totp.SKEW_STEPS
    kept = " ".join(str(s) for s in sorted({s for s in _hinted(user) if s >= oldest} | {step}))
    column = User.totp_hinted_steps
    return case(
        (column.is_not_distinct_from(user.totp_hinted_steps), kept),
        else_=func.coalesce(column + " ", "") + str(step),
    )


# N.B. a code two steps ahead (a phone under a minute fast) comes into the window next:
# typed again moments later, as anyone would, it must work. So the hint spoils only steps
# further ahead, which gives a guess one step more than the window's three, not twenty.
SPOILED_FROM = totp.SKEW_STEPS + 2


def _miss(secret, code, now, kind="code"):
    """Why `code` failed. N.B. SPEC §5's clock hint tells whoever typed it that the code will
    work N minutes from now; `_failure` then spoils that step, so it never will: without
    that, each guess would try twenty-odd steps instead of three."""
    timestamp = now.timestamp()
    step = totp.hinted_step(secret, code, timestamp)
    if step is None:
        return Check(Outcome.INVALID, kind=kind)
    ahead = step if step - totp.step_at(timestamp) >= SPOILED_FROM else None
    return Check(
        Outcome.CLOCK_OFF,
        minutes_off=totp.minutes_off(step, timestamp),
        kind=kind,
        hinted_step=ahead,
    )


# --- the second step -------------------------------------------------------------------


def locked_until(user, now):
    """When `user`'s lock on codes and recovery keys ends, or None when not locked."""
    until = user.mfa_locked_until
    return until if until is not None and until > clock.naive(now) else None


def locked(user, now, kind="code", signed_in=False):
    """The LOCKED verdict, with its message, while `user` is locked out; else None."""
    until = locked_until(user, now)
    return _lock(user, until, kind, signed_in) if until else None


def _lock(user, until, kind, signed_in):
    help_ = lost_both(user if signed_in else None)
    until = clock.local(until, user.account.time_zone)  # the practice's clock says when
    return Check(Outcome.LOCKED, locked_until=until, kind=kind, lost_both=help_)


def verify_code(user, code, now, signs_in=False, provider=None):
    """Check a sign-in (or confirmation) code: lockout, ±1 step, single use, failure count.

    N.B. an accepted code's single-use mark is left in the caller's transaction, to be
    committed with what the code allowed (one commit per sign-in); every caller commits
    on success. Failures are committed here. With `signs_in`, the same UPDATE records the
    user's last sign-in (signin.finish_with_code, signin.complete): one statement fewer.
    `provider`: the sign-in's first step was Google or Microsoft (its name), not a password.
    """
    if lock := locked(user, now, signed_in=not signs_in):
        return lock
    if not user.mfa_enabled:
        return Check(Outcome.INVALID)  # reset meanwhile: nothing can match
    if (code := totp.clean(code)) is None:
        return Check(Outcome.MALFORMED)
    secret = open_(user.totp_secret)
    # Who typed it, for the audit log: someone at the sign-in's code step is not yet known
    # to be the user; anywhere else the user is signed in.
    by = None if signs_in else user
    step = _usable_step(user, secret, code, now)
    if step is not None:
        stmt, params = _USE_STEP, {"uid": user.id, "step": step}
        if signs_in:
            stmt, params = _USE_STEP_SIGNING_IN, {**params, "at": clock.naive(now)}
        won = db.session.connection().execute(stmt, params).rowcount
        if won:
            return Check(Outcome.OK)
        # N.B. a replayed code gets the ordinary message: it tells an attacker nothing.
        audit.record("code_reused", actor=by, target=user)
        return _failure(user, Check(Outcome.INVALID), now, code, by, provider)
    return _failure(user, _miss(secret, code, now), now, code, by, provider)


# The single-use rule, built once (it runs on every sign-in). N.B. a plain statement on
# the transaction's connection: the loaded `user` keeps its old step, which nothing reads.
_users = User.__table__
_USE_STEP = (
    update(_users)
    .where(
        _users.c.id == bindparam("uid"),
        _users.c.totp_secret.is_not(None),
        or_(_users.c.totp_last_step.is_(None), _users.c.totp_last_step < bindparam("step")),
    )
    .values(totp_last_step=bindparam("step"), mfa_failures=0, mfa_warned=False, mfa_last_wrong=None)
)
_USE_STEP_SIGNING_IN = _USE_STEP.values(last_login_at=bindparam("at"))


def use_recovery_key(user, typed, now, keep_sid=None, provider=None):
    """Consume `user`'s recovery key: it then never works again, and MFA is off until they
    set it up on their new device. The row count of one UPDATE decides, so it works once;
    the same UPDATE records the sign-in. Every session of the user ends but `keep_sid`'s
    (the sign-in using the key)."""
    if lock := locked(user, now, kind="recovery_key"):
        return lock
    won = 0
    if recovery.looks_like_key(typed):
        won = db.session.execute(
            update(User)
            .where(User.id == user.id, User.recovery_key_hash == recovery.hash_key(typed))
            .values(**RESET_VALUES, last_login_at=clock.naive(now))
        ).rowcount
    if not won:
        check = Check(Outcome.INVALID, kind="recovery_key")
        return _failure(user, check, now, typed, provider=provider)
    audit.record("recovery_key_used", actor=user, target=user)
    db.session.commit()
    # N.B. whoever has the lost phone may also have a signed-in browser: end them all.
    sessions.end_all_for(user.id, keep_sid=keep_sid)
    notify.send(user, "recovery_key_used")
    return Check(Outcome.OK, kind="recovery_key")


def _failure(user, check, now, typed, by=None, provider=None):
    """Count a failed code or key (`typed` `by` a signed-in user, or None at sign-in); from
    the third in a row, the first typed at sign-in warns the user that their password is
    probably known, and the tenth locks the user for 15 minutes. The count is the user's,
    across sign-ins and processes, until a right code or a lock.

    N.B. the same wrong code or key as the last one is not counted again: it is the page
    that said "wrong" reloaded (the browser sends its form again), or a double submit, and
    it tells someone guessing nothing new. For a code, only within the same 30-second
    step: a code wrong now may be right later, so one guess sent every step must count
    every time. One conditional UPDATE decides."""
    wrong = _digest(user, check.kind, typed, now)
    spoiled = {}
    if check.hinted_step is not None:
        spoiled["totp_hinted_steps"] = _spoil(user, check.hinted_step, now)
    counted = db.session.execute(
        update(User)
        .where(
            User.id == user.id,
            or_(User.mfa_last_wrong.is_(None), User.mfa_last_wrong != wrong),
        )
        .values(
            mfa_failures=User.mfa_failures + 1,
            mfa_failures_total=User.mfa_failures_total + 1,
            mfa_last_wrong=wrong,
            **spoiled,
        )
        .returning(User.mfa_failures, User.mfa_failures_total)
    ).one_or_none()
    failures, total = counted or (None, None)
    audit.record(
        "mfa_failed",
        actor=by,
        target=user,
        reason=check.outcome.value,
        kind=check.kind,
        **({"repeated": True} if failures is None else {}),
    )
    if failures is None:
        db.session.commit()
        return check
    if failures >= MAX_FAILURES:
        until = clock.naive(now) + timedelta(minutes=LOCK_MINUTES)
        locked = db.session.execute(
            update(User)
            .where(User.id == user.id, User.mfa_failures >= MAX_FAILURES)
            .values(mfa_locked_until=until, mfa_failures=0, mfa_warned=False, mfa_last_wrong=None)
        ).rowcount
        if locked:
            audit.record("mfa_locked", target=user, minutes=LOCK_MINUTES, kind=check.kind)
            db.session.commit()
            notify.send(user, "mfa_setup_locked" if check.kind == "setup" else "mfa_locked")
            return _lock(user, until, check.kind, signed_in=by is not None)
    warn = by is None and failures >= WARN_AFTER_FAILURES and _first_warning(user)
    db.session.commit()
    if warn and provider:  # their password was not typed: their provider account is known
        notify.send(user, "provider_probably_known", provider=provider)
    elif warn:
        notify.send(user, "password_probably_known")
    return replace(check, total=total, left=MAX_FAILURES - failures)


def _first_warning(user):
    """True once per run of failures, in whichever process gets there first.

    N.B. "at least", not "exactly": wrong codes typed while signed in count towards the
    lock too, and a run they began must still warn at its first failure at sign-in."""
    return bool(
        db.session.execute(
            update(User).where(User.id == user.id, ~User.mfa_warned).values(mfa_warned=True)
        ).rowcount
    )


def _digest(user, kind, typed, now):
    """What `_failure` keeps of a wrong code (with its time step) or key: keyed, so the
    database holds nothing a six-digit search could turn back into the code; in the form it
    is checked in, so "123 456" again is the same code."""
    if kind in ("code", "setup"):
        value = f"{totp.step_at(now.timestamp())}:{totp.clean(typed) or typed}"
    else:
        value = recovery.normalize(typed)
    message = f"{user.id}:{kind}:{value}".encode()
    return hmac.new(current_app.config["SECRET_KEY"].encode(), message, "sha256").hexdigest()


# --- changes to an enrolled user --------------------------------------------------------


def disable(user, code, now):
    """Turn MFA off with a current code, where the account does not require it."""
    if user.account.mfa_required:
        raise MfaError("Your practice requires MFA, so it cannot be turned off.")
    if not user.mfa_enabled:
        raise MfaError("MFA is already off.")
    check = verify_code(user, code, now)
    if check.ok:
        for column, value in RESET_VALUES.items():
            setattr(user, column, value)
        audit.record("mfa_disabled", actor=user, target=user)
        db.session.commit()
        notify.send(user, "mfa_disabled")
    return check


def regenerate_recovery_key(user, code, now):
    """Replace the recovery key after a current code; returns (Check, new key or None)."""
    if not user.mfa_enabled:
        raise MfaError("Turn MFA on first.")
    check = verify_code(user, code, now)
    if not check.ok:
        return check, None
    key = recovery.new_key()
    user.recovery_key_hash = recovery.hash_key(key)
    audit.record("recovery_key_regenerated", actor=user, target=user)
    db.session.commit()
    notify.send(user, "recovery_key_regenerated")
    return check, key


RESET_VALUES = {
    "totp_secret": None,
    "totp_last_step": None,
    "totp_hinted_steps": None,
    "pending_totp_secret": None,
    "pending_totp_created_at": None,
    "recovery_key_hash": None,
    "mfa_failures": 0,
    "mfa_warned": False,
    "mfa_last_wrong": None,
    "mfa_locked_until": None,
}


def standing_reset(user):
    """The audit entry of the reset that turned `user`'s MFA off, when nothing has changed
    it since, else None: the Security page says who did it and when. N.B. after a reset
    the person's sessions end and they find their codes refused with no word why; where
    no mail server is set up, this is the only place they learn it."""
    if user.mfa_enabled:
        return None
    with outside_transaction():  # N.B. the dashboard of someone without MFA: no BEGIN for it
        entry = audit.latest(user, _MFA_CHANGES)
    return entry if entry is not None and entry.event == "mfa_reset" else None


_MFA_CHANGES = ("mfa_enabled", "mfa_disabled", "mfa_reset", "recovery_key_used")


def reset(target, actor, reason=None, via="team"):
    """Clear `target`'s authenticator, recovery key and lock, and end their sessions.

    Exactly once: a double-clicked Confirm finds nothing left to clear, so it writes no
    second audit entry and sends no second notice. Returns whether this call did it.
    """
    won = db.session.execute(
        update(User).where(User.id == target.id, User.has_mfa_to_reset).values(**RESET_VALUES)
    ).rowcount
    if not won:
        db.session.rollback()
        return False
    audit.record("mfa_reset", actor=actor, target=target, via=via, reason=reason)
    db.session.commit()
    sessions.end_all_for(target.id)
    notify.send(target, "mfa_reset", actor=actor)
    return True
