"""Password hashing (argon2id via argon2-cffi) and the minimum rules for a new password."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 256

_hasher = PasswordHasher()
# N.B. verified against when the email is unknown, so both cases cost one argon2 verify.
_DUMMY_HASH = _hasher.hash("ozyops-dummy-password-for-timing")


def hash_password(password):
    return _hasher.hash(password)


def verify_password(password_hash, password):
    """True when `password` matches; a missing hash still spends the time of one verify."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def problem_with(password):
    """Why `password` cannot be used, or None. Length is what matters (NIST SP 800-63B)."""
    if not password or not password.strip():
        return "Enter a password."
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    return None
