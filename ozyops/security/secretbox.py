"""Encryption of TOTP secrets at rest with cryptography's MultiFernet.

`ENCRYPTION_KEYS` is a comma-separated list: the first key encrypts, every key decrypts,
so an operator rotates by putting a new key first and keeping the old ones after it.
"""

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app


def _box():
    keys = [k.strip() for k in current_app.config["ENCRYPTION_KEYS"].split(",") if k.strip()]
    return MultiFernet([Fernet(k) for k in keys])


def seal(plaintext: str) -> str:
    return _box().encrypt(plaintext.encode()).decode()


def open_(token: str) -> str:
    return _box().decrypt(token.encode()).decode()
