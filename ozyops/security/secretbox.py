"""Encryption of TOTP secrets at rest with cryptography's MultiFernet.

`ENCRYPTION_KEYS` is a comma-separated list: the first key encrypts, every key decrypts,
so an operator rotates by putting a new key first and keeping the old ones after it.
"""

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app


def box(keys_text):
    """The MultiFernet for an `ENCRYPTION_KEYS` value, or ValueError naming the setting
    (config.load calls it at start-up, so a mistyped key stops the server there and not
    at someone's first sign-in)."""
    keys = [k.strip() for k in (keys_text or "").split(",") if k.strip()]
    try:
        return MultiFernet([Fernet(k) for k in keys])
    except ValueError:
        raise ValueError(
            "ENCRYPTION_KEYS must be one or more Fernet keys separated by commas; make one "
            'with: python -c "from cryptography.fernet import Fernet; '
            'print(Fernet.generate_key().decode())"'
        ) from None


def _box():
    return box(current_app.config["ENCRYPTION_KEYS"])


def seal(plaintext: str) -> str:
    return _box().encrypt(plaintext.encode()).decode()


def open_(token: str) -> str:
    return _box().decrypt(token.encode()).decode()
