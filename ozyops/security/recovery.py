"""Recovery keys: one-time look-up secrets, shown once and stored only as a hash.

25 characters of Crockford base32 give 125 random bits: above NIST SP 800-63B's 112 bits,
so one SHA-256 is a sufficient one-way hash (a salted slow hash is needed only below that).
"""

import hashlib
import re
import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford: no I, L, O, U to misread
LENGTH = 25
GROUP = 5


def new_key():
    """A fresh key, grouped for reading: XXXXX-XXXXX-XXXXX-XXXXX-XXXXX."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return "-".join(raw[i : i + GROUP] for i in range(0, LENGTH, GROUP))


def normalize(typed):
    """Ignore case, spaces and dashes, and read O as 0 and I/L as 1, as Crockford intends."""
    text = re.sub(r"[\s-]", "", (typed or "").upper())
    return text.translate(str.maketrans("OIL", "011"))


def hash_key(typed):
    """The stored form of a key as typed or as issued."""
    return hashlib.sha256(normalize(typed).encode()).hexdigest()


def looks_like_key(typed):
    text = normalize(typed)
    return len(text) == LENGTH and all(c in ALPHABET for c in text)
