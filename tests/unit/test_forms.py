"""Form rendering: the attributes OzyOps writes are the ones WTForms would."""

import pytest
from markupsafe import Markup
from wtforms.widgets.core import html_params as wtforms_html_params

from ozyops.forms import html_attributes


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"name": "email", "id": "email", "type": "email", "value": ""},
        {"autofocus": True, "required": True, "aria_invalid": False, "value": "a@b.example"},
        {"aria_describedby": "code-hint code-error", "data_hx_post": "/x", "class_": "wide"},
        {"value": '"><script>alert(1)</script>', "title": "Tom & Jerry's <b>"},
        {"value": Markup('<a href="#">safe</a>'), "title": Markup("&amp; already")},
        {"maxlength": 20, "min": 0, "step": 1.5, "pattern": r"[0-9 \-]*"},
        {"for_": "x", "odd<key": "v", "spellcheck": "false"},
    ],
)
def test_html_attributes_are_what_wtforms_writes(attributes):
    ours = html_attributes(**attributes)
    assert isinstance(ours, Markup)
    assert ours == wtforms_html_params(**attributes)


def test_every_input_renders_through_it(app):
    from wtforms.widgets import Input, PasswordInput, TextInput

    assert TextInput.html_params is html_attributes
    assert PasswordInput.html_params is html_attributes
    assert Input.html_params is html_attributes
