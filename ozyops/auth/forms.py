"""Sign-in forms."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import InputRequired, Length


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
