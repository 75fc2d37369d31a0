"""What owners and admins do to the people of their account. Permission is checked by the
views with `permissions.can` before any of these is called; these own the transaction."""

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError

from .. import audit, links, notify, sessions
from ..accounts import AccountError, clean_name, insert_new, normalize_email
from ..extensions import db
from ..models import SsoIdentity, User
from ..security import mfa
from .permissions import can


def invite(actor, email, name, role, now):
    """A new member with no password yet, and their invitation link token."""
    email = normalize_email(email)
    name = clean_name(name)
    if role not in ("admin", "member"):
        raise AccountError("Choose admin or member.")
    if existing := _email_in_use(email):
        message = _in_use(actor, existing)
        # Often the same form sent twice (a reload of the page showing the link).
        if existing.account_id == actor.account_id and can(actor, "send_password_reset", existing):
            if existing.active:
                message += " For a new link, click Manage on their row, then Create password link."
            else:
                message += (
                    " They are deactivated: click Manage on their row and reactivate them, "
                    "then Create password link."
                )
        raise AccountError(message, "email")
    user = User(account_id=actor.account_id, email=email, name=name, role=role)
    insert_new(user, _TAKEN.format(email=email), "email")
    token = links.issue(user, "invite", actor, now)
    audit.record("member_invited", actor=actor, target=user, role=role)
    db.session.commit()
    return user, token


_TAKEN = "Someone with the email {email} already has an OzyOps sign-in."


def _email_in_use(email):
    """The user who has `email` already, or None."""
    return db.session.scalar(select(User).where(User.email == email))


def _in_use(actor, existing):
    """Why `existing`'s email cannot be given again: said by name only to their practice."""
    if existing.account_id == actor.account_id:
        return f"{existing.name} ({existing.email}) is already on your team."
    return _TAKEN.format(email=existing.email)


def correct_invitation(actor, target, name, email, now):
    """The name and email of someone invited who has not joined, as they should have been
    typed. Returns whether anything changed.

    N.B. a new email ends every unused link of theirs: one may have gone to the mistyped
    address (a new one is made on the same page). Once they have joined, with a password
    or with Google or Microsoft, their email is how they sign in: not changed here."""
    email, name = normalize_email(email), clean_name(name)
    if (email, name) == (target.email, target.name):
        return False
    if email != target.email:
        if existing := _email_in_use(email):
            raise AccountError(_in_use(actor, existing), "email")
        # N.B. before the row: the order a link used at this moment locks them in
        # (links.set_password), so the two wait for each other rather than deadlock.
        links.end_unused(target, now)
    old = {"old_email": target.email, "old_name": target.name}
    not_joined = ~User.joined & ~exists().where(SsoIdentity.user_id == User.id)
    try:
        still = _still(target, not_joined, email=email, name=name)
    except IntegrityError:  # the same email added elsewhere at this very moment
        db.session.rollback()
        raise AccountError(_TAKEN.format(email=email), "email") from None
    if not still:
        raise AccountError(f"{target.name} has joined meanwhile, so nothing was changed.")
    audit.record("invitation_corrected", actor=actor, target=target, **old, email=email, name=name)
    db.session.commit()
    return True


def reset_mfa(actor, target):
    """Settings > Team > Reset MFA: they log in with their password and set MFA up again.
    Returns whether anything was reset: a second click, another admin first, or a page
    left open finds nothing to reset."""
    return mfa.reset(target, actor=actor, via="team")


def change_role(actor, target, role):
    """Returns whether anything changed (a form sent again changes nothing)."""
    if role not in ("admin", "member"):
        raise AccountError("Choose admin or member.")
    if role == target.role:
        return False
    old = target.role
    if not _still(target, User.role != "owner", role=role):
        raise AccountError(f"{target.name} is now the owner, so their role was not changed.")
    audit.record("role_changed", actor=actor, target=target, old=old, new=role)
    db.session.commit()
    notify.send(target, "role_changed")
    return True


def set_active(actor, target, active, now):
    """Deactivate (ending every session and unused password link at once) or reactivate a
    member."""
    if target.active == active:
        return
    if not active:  # N.B. before the row, as in correct_invitation
        links.end_unused(target, now)
    if not _still(target, User.role != "owner", active=active):
        raise AccountError(f"{target.name} is now the owner, so they were not deactivated.")
    event = "member_reactivated" if active else "member_deactivated"
    audit.record(event, actor=actor, target=target)
    db.session.commit()
    if not active:
        sessions.end_all_for(target.id)


def transfer_ownership(actor, target):
    """The owner hands the account over; they become an admin. Always exactly one owner."""
    if not _still(actor, User.role == "owner", role="admin"):
        raise AccountError("You are no longer the owner, so ownership was not transferred.")
    if not _still(
        target, User.active.is_(True) & User.joined & (User.role != "owner"), role="owner"
    ):
        raise AccountError(
            f"{target.name} was deactivated meanwhile, so ownership was not transferred."
        )
    audit.record("ownership_transferred", actor=actor, target=target)
    db.session.commit()
    notify.send(target, "role_changed")


def _still(user, condition, **values):
    """Write `values` to `user`'s row only if `condition` still holds there, in SQL.

    N.B. `can()` judged the copy loaded earlier in this request; another request (a second
    tab, another admin, a transfer of ownership) may have changed the row since, and
    "always exactly one owner" must hold whatever order they commit in. When it no longer
    holds, nothing of this transaction is kept and False is returned."""
    changed = db.session.execute(
        update(User).where(User.id == user.id, condition).values(**values)
    ).rowcount
    if not changed:
        db.session.rollback()
    return bool(changed)


def link_purpose(target):
    """What a password link made for `target` is: an invitation (72 hours, a welcome) for
    someone who has not joined yet, a password reset (24 hours) for someone who has."""
    return "reset" if target.joined else "invite"


def password_link(actor, target, now, replaces=None, **why):
    """A one-time link for `target` to set a password (`link_purpose`); `why` (via, reason)
    goes into the audit entry. With no `actor` it is the operator's (`password-link`).

    `replaces` is the newest link the page showing the button knew of (links.newest).
    When another was made since, the form was sent again (a reload) or someone was first:
    a new link would silently kill the one just handed over, so none is made. None for
    someone deactivated: it would not work (links.find) until they were reactivated."""
    if not target.active:
        raise AccountError(f"{target.name} is deactivated: reactivate them first.")
    purpose = link_purpose(target)
    if replaces is not None and replaces != links.newest(target):
        raise AccountError(
            f"A password link for {target.name} was made after this page was shown, so no "
            "other was made. If the one you have was lost, create another."
        )
    token = links.issue(target, purpose, actor, now)
    audit.record("password_link_created", actor=actor, target=target, **why)
    db.session.commit()
    return token
