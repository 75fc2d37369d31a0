"""Display names (accounts.clean_name): what a person may be called."""

import pytest

from ozyops.accounts import AccountError, clean_name


@pytest.mark.parametrize(
    "name",
    [
        "محمد علی",  # right to left: the browser orders it, with no control characters
        "مهر\u200cناز",  # Persian with a zero-width non-joiner, part of how it is spelt
        "Zoë O'Brien-Núñez",
        "李小龍",
    ],
)
def test_names_in_any_script_are_taken_as_typed(name):
    assert clean_name(f"  {name} ") == name


@pytest.mark.parametrize("name", ["Sam \u202eMA", "a\u2066b\u2069", "x\u202ay\u202c", "Tab\tx"])
def test_characters_that_reorder_or_break_what_is_shown_are_refused(name):
    with pytest.raises(AccountError, match="without control characters"):
        clean_name(name)
