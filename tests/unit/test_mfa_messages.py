"""What a failed code or key says (mfa.Check.message)."""

import pytest

from ozyops.security.mfa import Check, Outcome


@pytest.mark.parametrize(
    ("kind", "warning"),
    [
        ("code", "One more wrong code or recovery key locks both for 15 minutes."),
        ("recovery_key", "One more wrong recovery key or code locks both for 15 minutes."),
        ("setup", "One more wrong code locks setting up MFA for 15 minutes."),
    ],
)
def test_the_last_try_before_the_lock_is_said(kind, warning):
    """Found by a walk of the help article: the lock came with no word before it."""
    assert Check(Outcome.INVALID, kind=kind, left=1).message.endswith(" " + warning)
    assert warning not in Check(Outcome.INVALID, kind=kind, left=2).message
    assert warning not in Check(Outcome.INVALID, kind=kind).message  # not counted
    clock_off = Check(Outcome.CLOCK_OFF, minutes_off=-5, kind=kind, left=1).message
    assert clock_off.startswith("That code has expired") and clock_off.endswith(warning)
