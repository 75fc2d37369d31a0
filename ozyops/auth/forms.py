"""Sign-in forms."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import EqualTo, InputRequired, Length


class LoginForm(FlaskForm):
    email = StringField(
        "Email",
        validators=[InputRequired("Enter your email."), Length(max=254)],
        render_kw={"autocomplete": "username", "type": "email", "spellcheck": "false"},
    )
    password = PasswordField(
        "Password",
        validators=[InputRequired("Enter your password."), Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
    next = HiddenField()


class RecoveryForm(FlaskForm):
    recovery_key = StringField(
        "Recovery key",
        validators=[InputRequired("Enter your recovery key."), Length(max=64)],
        render_kw={"autocomplete": "off", "spellcheck": "false", "autocapitalize": "characters"},
    )


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password",
        validators=[InputRequired("Choose a password."), Length(max=256)],
        description="At least 10 characters. A few unrelated words are easy to remember "
        "and hard to guess.",
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Type it again",
        validators=[
            InputRequired("Type the password again."),
            EqualTo("password", "The two passwords are different: type both again."),
        ],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(SetPasswordForm):
    current = PasswordField(
        "Current password",
        validators=[Length(max=256)],
        render_kw={"autocomplete": "current-password"},
    )
