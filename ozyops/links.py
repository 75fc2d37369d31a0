"""One-time links that let a person set a password: invitations (72 hours) and password
resets (24 hours). Only a hash of the token is stored; using a link is decided by one
conditional UPDATE, so a double submit sets the password once.

N.B. a link sets a password and nothing more: the person then logs in at /login like
everyone else, through the same code step and enrolment guard.
"""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import func, select, update

from . import audit, clock, notify, passwords, sessions
from .extensions import db
from .models import User, UserToken
from .team.permissions import can

LIFETIME = {"invite": timedelta(hours=72), "reset": timedelta(hours=24)}


class LinkError(ValueError):
    """A link that cannot be used, or a password it cannot set, with the message to show;
    `field` is "password" for the latter (the page shows it at that field)."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def newest(user):
    """The id of `user`'s latest link (0 for none): a form that makes a new one carries it,
    so a resubmitted form (a reload) is told apart from a new request. Of either kind: the
    kind a new link is depends on whether they have joined, which may change meanwhile."""
    return (
        db.session.scalar(select(func.max(UserToken.id)).where(UserToken.user_id == user.id)) or 0
    )


def end_unused(user, now):
    """`user`'s unused links stop working: a new link replaces the older ones, and a new
    password or a deactivation ends them all, so a link left in a mailbox cannot set a
    password over the one chosen since, or come back to life when the person is
    reactivated."""
    db.session.execute(
        update(UserToken)
        .where(UserToken.user_id == user.id, UserToken.used_at.is_(None))
        .values(used_at=clock.naive(now))
    )


def issue(user, purpose, created_by, now):
    """A new link token for `user`; their earlier unused links stop working, of either kind:
    the newest link is the one that works."""
    end_unused(user, now)
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=_hash(token),
            created_by_id=created_by.id if created_by else None,
            created_at=clock.naive(now),
            expires_at=clock.naive(now + LIFETIME[purpose]),
        )
    )
    return token


def find(token, now):
    """The unused, unexpired link for `token`, or LinkError."""
    link = db.session.scalar(select(UserToken).where(UserToken.token_hash == _hash(token or "")))
    if link is not None and not link.user.active:
        raise LinkError("This account has been deactivated.")
    if link is None or link.used_at is not None:
        raise LinkError(
            "This link no longer works: it was used, a newer link replaced it, or a password "
            "was set since. If you still need to set a password, ask your practice's owner "
            "or an admin for a new link."
        )
    if link.expires_at <= clock.naive(now):
        raise LinkError(
            "This link has expired. Ask your practice's owner or an admin for a new one."
        )
    if not _maker_still_may(link):
        raise LinkError(
            "This link no longer works: whoever made it may no longer set this account's "
            "password. "
            + (
                "Ask whoever runs OzyOps for your practice for a new link."
                if link.user.role == "owner"
                else "Ask your practice's owner or an admin for a new link."
            )
        )
    return link


def _maker_still_may(link):
    """A link made on the team page works only while its maker could still make it.

    N.B. roles change after a link is made: an admin who kept a link to a member who then
    became the owner could otherwise set the owner's password, and a link made by an admin
    since deactivated or made a member would outlive their say. Links made by the operator
    (the CLI, no maker) are the operator's."""
    if link.created_by_id is None:
        return True
    return can(db.session.get(User, link.created_by_id), "send_password_reset", link.user)


def set_password(token, password, now):
    """Use the link: set the password (ending every session of that person). Returns the user."""
    link = find(token, now)
    user = link.user
    if problem := passwords.problem_for(user, password):
        raise LinkError(problem, "password")
    # Hashed before the link is marked used: the hash may wait for the hashing thread, and
    # must not hold a write (on SQLite, the database's one write lock) meanwhile.
    password_hash = passwords.hash_password(password)
    won = db.session.execute(
        update(UserToken)
        .where(UserToken.id == link.id, UserToken.used_at.is_(None))
        .values(used_at=clock.naive(now))
    ).rowcount
    if not won:
        db.session.rollback()
        raise LinkError("This link has already been used.")
    passwords.set_new(user, password_hash)
    end_unused(user, now)  # one made while this one was being used
    event = "invitation_accepted" if link.purpose == "invite" else "password_reset"
    audit.record(event, actor=user, target=user)
    db.session.commit()
    sessions.end_all_for(user.id)
    if link.purpose == "reset":  # an invitation's first password is no news to anyone
        notify.send(user, "password_reset")
    return user
