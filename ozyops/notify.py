"""Security notifications to the person affected: by SMTP when `MAIL_SERVER` is set,
otherwise to the app log. A failure to send never breaks the action that caused it."""

import smtplib
import ssl
from email.message import EmailMessage

from flask import after_this_request, current_app, has_request_context
from sqlalchemy import select

from . import admission
from .extensions import db
from .models import User

MESSAGES = {
    "mfa_enabled": "Multi-factor authentication was turned on for your OzyOps sign-in.",
    "mfa_disabled": "Multi-factor authentication was turned off for your OzyOps sign-in.",
    "mfa_reset": "Your OzyOps authenticator was reset. Set MFA up again when you next log in.",
    "recovery_key_used": "Your OzyOps recovery key was used to sign in. It no longer works; "
    "set MFA up on your new device.",
    "mfa_locked": "Sign-in codes for your OzyOps account were locked for 15 minutes after too "
    "many wrong attempts.",
    "mfa_setup_locked": "Setting up MFA on your OzyOps account was locked for 15 minutes "
    "after too many wrong codes. If that was not you, someone may be using a session of "
    "yours: change your password, which signs out every other session.",
    "password_probably_known": "Someone entered your correct OzyOps password but then several "
    "wrong authentication codes. Your password is probably known to someone else: change it.",
    "provider_probably_known": "Someone signed in to OzyOps as you with {provider} but then "
    "entered several wrong authentication codes. Your {provider} account is probably used by "
    "someone else: change its password.",
    "password_paused": "Your OzyOps password was paused for 15 minutes after 20 wrong "
    "passwords in a row: until then it is refused even when right, except on computers where "
    "you have signed in before. If that was not you, someone may be guessing it. (You are "
    "told of this at most once a day.)",
    "password_reset": "Your OzyOps password was set with a one-time link, and every session "
    "of yours was signed out.",
    "recovery_key_regenerated": "A new recovery key was made for your OzyOps sign-in; the "
    "old one no longer works.",
    "sso_linked": "{provider} was linked to your OzyOps sign-in: you can now sign in with it.",
    "sso_unlinked": "{provider} was unlinked from your OzyOps sign-in.",
    "role_changed": "Your role in your practice's OzyOps account was changed.",
    "password_changed": "Your OzyOps password was changed, and every other session of yours "
    "was signed out.",
}
# What the account's owner is told when one of these happens to someone else.
OWNER_COPIES = {
    "mfa_reset": "The MFA of {name} ({email}) was reset.",
    "mfa_locked": "Sign-in codes for {name} ({email}) were locked for 15 minutes after too many "
    "wrong attempts.",
    "mfa_setup_locked": "Setting up MFA for {name} ({email}) was locked for 15 minutes after "
    "too many wrong codes.",
    "password_paused": "The password of {name} ({email}) was paused for 15 minutes after 20 "
    "wrong passwords in a row.",
}


def send(user, what, actor=None, **facts):
    """Tell `user` about security event `what` (a key of MESSAGES, filled in from `facts`),
    and the account's owner too for the events in OWNER_COPIES, unless the owner is the one
    who did it."""
    footer = "\n\nIf you did not expect this, tell your practice's owner."
    _deliver(user, what, MESSAGES[what].format(**facts) + footer)
    if what in OWNER_COPIES and not (actor is not None and actor.role == "owner"):
        owner = db.session.scalar(
            select(User).where(User.account_id == user.account_id, User.role == "owner")
        )
        if owner is not None and owner.id != user.id:
            _deliver(owner, what, OWNER_COPIES[what].format(name=user.name, email=user.email))


def send_after_response(user, what):
    """As `send`, once the response has gone out: for a notice set off before anyone has
    signed in, whose time to send must not tell the person asking that the email exists."""
    if not has_request_context():
        send(user, what)
        return
    app, user_id = current_app._get_current_object(), user.id

    def deliver():
        with app.app_context():
            send(db.session.get(User, user_id), what)

    @after_this_request
    def _after(response):
        response.call_on_close(deliver)
        return response


def send_link(user, purpose, link):
    """Email an invitation or password-reset link, when mail is configured. The person who
    made it also sees it on screen, so a missing mail server costs nothing."""
    if not current_app.config.get("MAIL_SERVER"):
        return
    if purpose == "invite":
        body = (
            f"You have been added to {user.account.name} on OzyOps. Set your password with "
            f"this link (it works once, for 72 hours):\n\n{link}\n"
        )
    else:
        body = (
            f"Set a new OzyOps password with this link (it works once, for 24 hours):\n\n{link}\n"
        )
    _deliver(user, f"{purpose}_link", body)


def _deliver(user, what, body):
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        current_app.logger.info("notification %s to user %s: %s", what, user.id, body)
        return
    msg = EmailMessage()
    msg["Subject"] = "OzyOps security notice"
    msg["From"] = config["MAIL_FROM"]
    msg["To"] = user.email
    msg.set_content(body)
    admission.give_way()  # an email server may take seconds to answer
    try:
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
            if config.get("MAIL_USE_TLS"):
                smtp.starttls(context=ssl.create_default_context())  # verifies the server
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException):
        current_app.logger.warning("could not send notification %s to user %s", what, user.id)
