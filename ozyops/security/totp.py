"""TOTP per RFC 6238 (SHA1, 6 digits, 30-second steps), on pyotp. Pure functions: time is
always passed in, as a Unix timestamp, so tests never depend on the wall clock."""

import hmac
import re

import pyotp

STEP_SECONDS = 30
DIGITS = 6
SKEW_STEPS = 1  # a code from the previous or the next step is still accepted
HINT_STEPS = 20  # ±10 minutes: how far we look to tell someone their phone's clock is off


def new_secret():
    """160 random bits (RFC 4226's recommended length), base32 as authenticator apps expect."""
    return pyotp.random_base32(32)


def provisioning_uri(secret, email, issuer):
    """`otpauth://totp/<issuer>:<email>?secret=…&issuer=…`, what the QR code encodes."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=email, issuer_name=issuer
    )


def grouped(secret):
    """The setup key in groups of four, for reading aloud or typing."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def step_at(timestamp):
    return int(timestamp // STEP_SECONDS)


def code_at(secret, timestamp, digits=DIGITS):
    """The code an authenticator shows at `timestamp`."""
    return pyotp.TOTP(secret, digits=digits).generate_otp(step_at(timestamp))


def clean(code):
    """Digits only, so a pasted "123 456" or "123-456" works; None when it cannot be a code."""
    digits = re.sub(r"[\s-]", "", code or "")
    return digits if re.fullmatch(rf"[0-9]{{{DIGITS}}}", digits) else None


def matching_step(secret, code, timestamp, reach=SKEW_STEPS):
    """The step within ±`reach` of now whose code equals `code`, or None.

    N.B. every candidate is compared, each in constant time, so timing does not reveal
    which step (if any) matched.
    """
    code = clean(code)
    if code is None:
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS)
    now_step = step_at(timestamp)
    found = None
    for step in range(now_step - reach, now_step + reach + 1):
        if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
            found = step
    return found


def hinted_step(secret, code, timestamp):
    """The step up to ±10 minutes away, but outside the accepted window, whose code equals
    `code`: the phone's clock is off by that much. None when there is none."""
    step = matching_step(secret, code, timestamp, reach=HINT_STEPS)
    if step is None or abs(step - step_at(timestamp)) <= SKEW_STEPS:
        return None
    return step


def minutes_off(step, timestamp):
    """How many minutes ahead (or, negative, behind) a phone showing `step`'s code is."""
    offset = step - step_at(timestamp)
    return round(offset * STEP_SECONDS / 60) or (1 if offset > 0 else -1)
