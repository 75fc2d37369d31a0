"""Password hashing (argon2id via argon2-cffi) and the minimum rules for a new password.

N.B. argon2 is meant to be expensive: about 0.2 s of CPU and 64 MiB of memory per hash.
Each worker process hashes on one thread of its own, one hash at a time: a worker never
holds more than 64 MiB for hashing however many sign-ins arrive at once, and a request
gives its turn away while it waits (admission.py). A burst of sign-ins, or someone
spraying passwords, then queues for the hashing thread instead of crowding out the pages
and code steps of the people already past their password.
"""

from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from . import admission

MIN_LENGTH = 10
MAX_LENGTH = 256

_hasher = PasswordHasher()
# N.B. verified against when the email is unknown, so both cases cost one argon2 verify.
_DUMMY_HASH = _hasher.hash("ozyops-dummy-password-for-timing")


# Its thread starts on first use, in each worker process (none exists before gunicorn forks).
_hashing = ThreadPoolExecutor(1, thread_name_prefix="argon2")


def on_hashing_thread(fn, *args):
    """`fn(*args)` on this process's hashing thread, after any hash queued before it; this
    request's turn goes to the next request meanwhile."""
    admission.give_way()
    return _hashing.submit(fn, *args).result()


def hash_password(password):
    return on_hashing_thread(_hasher.hash, password)


def verify_password(password_hash, password):
    """True when `password` matches; a missing hash still spends the time of one verify."""
    try:
        matched = on_hashing_thread(_hasher.verify, password_hash or _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and bool(password_hash)


def problem_with(password):
    """Why `password` cannot be used, or None. Length is what matters (NIST SP 800-63B)."""
    if not password or not password.strip():
        return "Enter a password."
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    return None
