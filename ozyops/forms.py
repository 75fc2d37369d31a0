"""Forms shared across blueprints."""

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length, Optional


class EmptyForm(FlaskForm):
    """A POST button with nothing but a CSRF token."""


class CodeForm(FlaskForm):
    """One authentication code. Format is judged by the TOTP module, so that a pasted
    "123 456" works and every wrong input gets the same explanation."""

    code = StringField(
        "Authentication code",
        validators=[InputRequired("Enter the 6-digit code from your app."), Length(max=20)],
        render_kw={
            "inputmode": "numeric",
            "autocomplete": "one-time-code",
            "pattern": r"[0-9 \-]*",
            # What a browser adds to its own "match the requested format" for letters.
            "title": "The 6 digits your authenticator app shows",
            "maxlength": 20,
            "spellcheck": "false",
        },
    )


class SudoForm(FlaskForm):
    """A sensitive action's form. `credential` (a current code, or the password for someone
    without MFA) is asked only when sudo mode has lapsed: see security/sudo.py."""

    credential = PasswordField(
        "Authentication code",
        validators=[
            Optional(),
            Length(max=256, message="That is too long to be a code or a password."),
        ],
    )
