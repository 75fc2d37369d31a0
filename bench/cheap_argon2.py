"""OzyOps with argon2 made cheap (t=1, 8 KiB): what the server costs for everything else.

bench/run.py's cross-check serves `bench.cheap_argon2:create()` under gunicorn, and
bench/profile_steps.py calls `cheapen()` in its own process. Users seeded with a hash at
`COST` then sign in at that cost. (The app makes a hash at any cost but its own again at
sign-in, passwords.check: the plain app would hash them again at full cost.)
"""

from argon2 import PasswordHasher

from ozyops import passwords

COST = {"time_cost": 1, "memory_cost": 8, "parallelism": 1}


def cheapen():
    passwords._hasher = PasswordHasher(**COST)
    passwords._DUMMY_HASH = passwords._hasher.hash("ozyops-bench-dummy")


def create():
    """The app as wsgi.py serves it, argon2 made cheap (a gunicorn app factory)."""
    cheapen()
    from wsgi import app

    return app
