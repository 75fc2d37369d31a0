"""Team forms. The sensitive ones extend SudoForm (ozyops/forms.py)."""

from wtforms import EmailField, SelectChoice, SelectField, StringField
from wtforms.validators import InputRequired, Length

from ..forms import SudoForm

ROLE_CHOICES = [SelectChoice("member", "Member"), SelectChoice("admin", "Admin")]


class RoleForm(SudoForm):
    role = SelectField("Role", choices=ROLE_CHOICES, validators=[InputRequired()])


class InvitationForm(SudoForm):
    """Who an invitation is for: Add member, and its correction before they join."""

    name = StringField("Name", validators=[InputRequired("Enter their name."), Length(max=120)])
    email = EmailField(
        "Email",
        validators=[InputRequired("Enter their email."), Length(max=254)],
        render_kw={"autocomplete": "off"},
    )


class AddMemberForm(InvitationForm):
    """N.B. a sudo form: adding an admin grants what a role change does, and a member too is
    a new way into the practice's data."""

    role = SelectField("Role", choices=ROLE_CHOICES, validators=[InputRequired()])
