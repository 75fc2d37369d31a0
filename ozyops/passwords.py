"""Password hashing (argon2id via argon2-cffi) and the minimum rules for a new password.

N.B. argon2 is meant to be expensive: about 0.2 s of CPU and 64 MiB of memory per hash.
Hashes run on HASHING_THREADS threads per process, so a worker never holds more than
128 MiB for them; on Linux those threads run at a lower CPU priority (nice +10, which
argon2's own threads inherit), and the request gives its turn away while it waits
(admission.py). A burst of sign-ins, or someone spraying passwords, then slows down
sign-ins, not the pages and code steps of the people already past their password.
"""

import contextlib
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from . import admission

MIN_LENGTH = 10
MAX_LENGTH = 256
HASHING_THREADS = 2
LOWER_PRIORITY_BY = 10

_hasher = PasswordHasher()
# N.B. verified against when the email is unknown, so both cases cost one argon2 verify.
_DUMMY_HASH = _hasher.hash("ozyops-dummy-password-for-timing")


def _lower_this_thread():
    # Only on Linux does a thread id name one thread; elsewhere it names a whole process.
    # A sandbox may forbid it: hashing is then merely not deprioritised.
    if sys.platform != "linux":
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):
        nice = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, nice + LOWER_PRIORITY_BY)


# Its threads start on first use, in each worker process (none exist before gunicorn forks).
_hashing = ThreadPoolExecutor(
    HASHING_THREADS, thread_name_prefix="argon2", initializer=_lower_this_thread
)


def on_hashing_threads(fn, *args):
    """`fn(*args)` on one of the hashing threads; this request's turn goes to the next."""
    admission.give_way()
    return _hashing.submit(fn, *args).result()


def hash_password(password):
    return on_hashing_threads(_hasher.hash, password)


def verify_password(password_hash, password):
    """True when `password` matches; a missing hash still spends the time of one verify."""
    try:
        matched = on_hashing_threads(_hasher.verify, password_hash or _DUMMY_HASH, password)
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
