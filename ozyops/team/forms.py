"""Team forms. Every sensitive one carries `credential`: a current code, or the password for
someone without MFA, asked only when the last proof of identity is over 10 minutes old."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

ROLE_CHOICES = [SelectChoice("member", "Member"), SelectChoice("admin", "Admin")]


class SudoForm(FlaskForm):
    credential = PasswordField("Authentication code", validators=[Optional(), Length(max=256)])


class RoleForm(SudoForm):
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[InputRequired()])


class AddMemberForm(FlaskForm):
    name = StringField("Name", validators=[InputRequired("Enter their name."), Length(max=120)])
    email = EmailField(
        "Email",
        validators=[InputRequired("Enter their email."), Length(max=254)],
        render_kw={"autocomplete": "off"},
    )
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[InputRequired()])
