"""Security notifications to the person affected: by SMTP when `MAIL_SERVER` is set,
otherwise to the app log. A failure to send never breaks the action that caused it."""

import smtplib
from email.message import EmailMessage

from flask import current_app

MESSAGES = {
    "mfa_enabled": "Multi-factor authentication was turned on for your OzyOps sign-in.",
    "mfa_disabled": "Multi-factor authentication was turned off for your OzyOps sign-in.",
    "mfa_reset": "Your OzyOps authenticator was reset. Set MFA up again when you next log in.",
    "recovery_key_used": "Your OzyOps recovery key was used to sign in. It no longer works; "
    "set MFA up on your new device.",
    "mfa_locked": "Sign-in codes for your OzyOps account were locked for 15 minutes after too "
    "many wrong attempts.",
    "password_probably_known": "Someone entered your correct OzyOps password but then several "
    "wrong authentication codes. Your password is probably known to someone else: change it.",
}


def send(user, what):
    """Tell `user` about security event `what` (a key of MESSAGES)."""
    body = MESSAGES[what] + "\n\nIf this was not you, contact your practice's OzyOps owner."
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        current_app.logger.info("notification %s to user %s: %s", what, user.id, MESSAGES[what])
        return
    msg = EmailMessage()
    msg["Subject"] = "OzyOps security notice"
    msg["From"] = config["MAIL_FROM"]
    msg["To"] = user.email
    msg.set_content(body)
    try:
        with smtplib.SMTP(config["MAIL_SERVER"], int(config["MAIL_PORT"]), timeout=10) as smtp:
            if config.get("MAIL_USE_TLS"):
                smtp.starttls()
            if config.get("MAIL_USERNAME"):
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException):
        current_app.logger.warning("could not send notification %s to user %s", what, user.id)
