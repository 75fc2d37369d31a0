"""Sudo mode: sensitive actions need a proof of identity from the last 10 minutes.

N.B. the one place this rule lives. A session's `authenticated_at` is set at sign-in and
refreshed by `confirm`; actions check `is_recent` and otherwise ask for a current code
(or, for someone without MFA, their password) in the same form as the action.
"""

from datetime import timedelta

from flask import session

from .. import clock, passwords, sessions
from ..extensions import db
from . import mfa

WINDOW = timedelta(minutes=10)


def init_app(app):
    app.add_template_global(needed, "sudo_needed")


def needed():
    """For templates: whether a sensitive form must ask for a code (or password) now."""
    return not is_recent(clock.now())


def is_recent(now):
    """True when this session proved its identity within the last 10 minutes."""
    at = session.meta.get("authenticated_at") if hasattr(session, "meta") else None
    return at is not None and clock.naive(now) - at < WINDOW


def refusal(user, credential, now):
    """None when sudo mode holds (recent proof, or a good `credential` now, which renews
    it); else the message to show beside the form."""
    if is_recent(now):
        return None
    if not user.mfa_enabled and user.password_hash is None:  # signs in only with Google etc.
        return (
            "You have no password or MFA to confirm this with. Log out and sign in again, "
            "then do this within 10 minutes."
        )
    if not credential:
        asked = "authentication code" if user.mfa_enabled else "password"
        if credential is None:
            # N.B. the form had no field for it (shown within the 10 minutes): why it asks
            # now, so that it does not read as something done wrong.
            return f"More than 10 minutes have passed: to confirm it's you, enter your {asked}."
        return f"To confirm it's you, enter your {asked}."
    return confirm(user, credential, now)


def confirm(user, credential, now):
    """Check a fresh code (or password) and, when right, renew the window.

    Returns None on success, else the message to show.
    """
    if len(credential) > passwords.MAX_LENGTH:
        return "That is too long to be a code or a password."
    if user.mfa_enabled:
        check = mfa.verify_code(user, credential, now)
        if not check.ok:
            return check.message
        db.session.commit()  # the code is used up, whatever the action does next
    else:
        verdict = passwords.check(user, credential, now, failed_event="reauth_failed", by=user)
        if verdict is passwords.Verdict.PAUSED:
            return passwords.paused_message(user, now)
        if verdict is passwords.Verdict.WRONG:
            return "That password is not right."
    sessions.mark_reauthenticated(session, clock.naive(now))
    return None
