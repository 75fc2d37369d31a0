"""Forms shared across blueprints."""

from flask import g
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired
from wtforms.widgets import Input
from wtforms.widgets.core import clean_key

from .security.mfa import NOT_A_CODE


def init_app(app):
    app.add_template_global(focus_once)


def focus_once():
    """True the first time a page asks (the _macros.html `field` that takes the focus), then
    False: with several fields in error, the first has the focus and no other claims it too
    (HTML allows one `autofocus` per page)."""
    if "focus_taken" in g:
        return False
    g.focus_taken = True
    return True


def html_attributes(**attributes):
    """An input's attributes as WTForms 3.3's `html_params` writes them, byte for byte.

    N.B. 3.3 builds each attribute with `Markup.format`, which runs Python's
    string.Formatter and escapes its pieces one by one: a tenth of a whole sign-in's
    instructions went to the dozen attributes of the login and code forms (bench/README.md).
    `Input.html_params` is WTForms' hook for this; tests/unit/test_forms.py holds the output
    to WTForms' own. Drop this once a WTForms release writes attributes without it.
    """
    written = []
    for key, value in sorted(attributes.items()):
        # A keyword argument's name has nothing to escape; a key from a dict might.
        key = clean_key(key) if key.isidentifier() else escape(clean_key(key))
        if value is True:
            written.append(key)
        elif value is not False:
            value = escape(value)
            if '"' in value:  # left by a Markup value, which is not escaped again
                value = str.replace(value, '"', "&quot;")
            written.append(f'{key}="{value}"')
    return Markup(" ".join(written))  # noqa: S704 (every key and value is escaped above)


Input.html_params = staticmethod(html_attributes)


class EmptyForm(FlaskForm):
    """A POST button with nothing but a CSRF token."""


class CodeForm(FlaskForm):
    """One authentication code. Its format is judged where it is checked (mfa.verify_code),
    so that a pasted "123 456" works."""

    code = StringField(
        "Authentication code",
        validators=[InputRequired(NOT_A_CODE)],
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

    # N.B. its length is judged with what was typed, in sudo.confirm: a form error here was
    # shown by some pages and not others.
    credential = PasswordField("Your authentication code")
