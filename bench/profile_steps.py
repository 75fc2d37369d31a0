"""Where a sign-in's CPU goes: each step of the flow, one at a time, in this process.

    .venv/bin/python bench/profile_steps.py [--backend sqlite|postgres] [--flows 200]
                                            [--profile STEP]

Runs --flows whole sign-in flows through Flask's test client (no HTTP, no gunicorn, no
concurrency) on a fresh database seeded like bench/run.py's, by default with argon2 made
cheap (so no subtraction is needed to see the rest), and prints per step the
median CPU time (process_time: every thread, so the hashing thread counts), the SQL statements
and transactions, and the median CPU time (this thread only, exclusive of the other parts
listed) of the app's parts that do database work. With --profile "POST /login/mfa" (or any
step) it also prints the cProfile top functions of that step over every flow.

N.B. this wraps a few of the app's functions by name at run time (nothing in ozyops/ is
changed); a part that no longer exists is left out.
"""

import argparse
import cProfile
import functools
import io
import pstats
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cheap_argon2  # noqa: E402
import run  # noqa: E402 (bench/run.py: database, seeding, helpers)

# (module, attribute path, label): the parts of a request timed separately.
PARTS = (
    ("ozyops.sessions", "ServerSessionInterface.open_session", "session: read row"),
    ("ozyops.sessions", "ServerSessionInterface.save_session", "session: write row(s)"),
    (
        "ozyops.auth.signin",
        "check_password",
        "check_password (this thread and the hashing thread)",
    ),
    ("ozyops.auth.signin", "pending_user", "pending_user (with the session row)"),
    ("ozyops.security.mfa", "verify_code", "verify_code (single-use UPDATE)"),
    (
        "ozyops.auth.signin",
        "complete",
        "complete (UPDATE last sign-in, audit INSERT, session row, COMMIT)",
    ),
    ("ozyops.audit", "seal", "audit.seal (after commit: lock account row, chain, COMMIT)"),
    ("ozyops.extensions", "login_manager._user_callback", "load_user (with the session row)"),
    ("jinja2", "Template.render", "template rendering"),
)


class Parts:
    """Exclusive thread CPU per (step, part): a part's time less the parts it calls."""

    def __init__(self):
        self.step = None
        self.times = {}
        self._stack = []

    def wrap(self, module_name, path, label):
        import importlib

        owner = importlib.import_module(module_name)
        *parents, name = path.split(".")
        for p in parents:
            owner = getattr(owner, p, None)
        orig = getattr(owner, name, None) if owner is not None else None
        if orig is None:
            return False

        @functools.wraps(orig)
        def timed(*a, **kw):
            t = time.thread_time()
            self._stack.append(0.0)
            try:
                return orig(*a, **kw)
            finally:
                spent = time.thread_time() - t
                inner = self._stack.pop()
                if self._stack:
                    self._stack[-1] += spent
                key = (self.step, label)
                self.times.setdefault(key, []).append(spent - inner)

        setattr(owner, name, timed)
        return True


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--flows", type=int, default=200)
    ap.add_argument("--profile", default=None, help="a step to cProfile, e.g. 'POST /login/mfa'")
    ap.add_argument(
        "--argon2",
        choices=("cheap", "production"),
        default="cheap",
        help="cheap (default): argon2 at t=1, 8 KiB, p=1, so POST /login shows everything "
        "else it costs, with no subtraction; production: the real cost",
    )
    args = ap.parse_args(argv)
    argon2_ms = run.time_argon2()[0]  # production cost, for the last line
    if args.argon2 == "cheap":
        cheap_argon2.cheapen()

    from sqlalchemy import event

    from ozyops.extensions import db as ozy_db

    with run.fresh_app(args.backend, "profile") as (app, database):
        users, _cheap = run.seed(app, args.flows)
        parts = Parts()
        wrapped = [label for m, p, label in PARTS if parts.wrap(m, p, label)]
        counter = {"sql": 0, "commits": 0}
        with app.app_context():

            @event.listens_for(ozy_db.engine, "before_cursor_execute")
            def _count(*_a, **_k):
                counter["sql"] += 1

            @event.listens_for(ozy_db.engine, "commit")
            def _commit(*_a, **_k):
                counter["commits"] += 1

        cpu, wall, sql, commits = ({s: [] for s in run.STEPS} for _ in range(4))
        prof = cProfile.Profile() if args.profile else None

        def step(client, name, expect, data=None):
            method, path = name.split(" ", 1)
            counter["sql"] = counter["commits"] = 0
            parts.step = name
            if prof and name == args.profile:
                prof.enable()
            c, w = time.process_time(), time.perf_counter()
            r = client.open(path, method=method, data=data)
            w, c = time.perf_counter() - w, time.process_time() - c
            if prof and name == args.profile:
                prof.disable()
            if r.status_code != expect:
                raise SystemExit(f"{name}: {r.status_code} {r.headers.get('Location')}")
            cpu[name].append(c * 1000)
            wall[name].append(w * 1000)
            sql[name].append(counter["sql"])
            commits[name].append(counter["commits"])
            return r

        for user in users:
            client = app.test_client()  # a fresh cookie jar per flow
            client.environ_base.update(
                {"REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": run.USER_AGENT}
            )
            r = step(client, "GET /login", 200)
            form = {"email": user.email, "password": run.PASSWORD}
            step(client, "POST /login", 303, {**form, "csrf_token": run.csrf_token(r.text)})
            r = step(client, "GET /login/mfa", 200)
            form = {"code": run.code_for(user), "csrf_token": run.csrf_token(r.text)}
            step(client, "POST /login/mfa", 303, form)
            step(client, "GET /dashboard", 200)

        med = statistics.median
        print(f"{database.version()}; {run.machine()}")
        print(f"{len(users)} flows through the test client (serial), medians per step:")
        print(f"  {'step':<16} {'CPU ms':>7} {'wall ms':>8} {'SQL':>4} {'COMMIT':>6}")
        total = 0.0
        for name in run.STEPS:
            c = med(cpu[name])
            total += c
            print(
                f"  {name:<16} {c:7.2f} {med(wall[name]):8.2f} {med(sql[name]):4.0f} "
                f"{med(commits[name]):6.0f}"
            )
            for label in wrapped:
                times = parts.times.get((name, label))
                if times:
                    share = f"{med(times) * 1000:5.2f} ms"
                    calls = len(times) / len(cpu[name])
                    per = f" x{calls:.2f} per request" if abs(calls - 1) > 0.005 else ""
                    print(f"      {label:<58} {share}{per}")
        if args.argon2 == "cheap":
            print(
                f"  whole flow {total:.1f} ms CPU with argon2 at t=1, 8 KiB (~0.05 ms) "
                f"(in-process: no HTTP, no gunicorn); one production argon2 verify "
                f"{argon2_ms:.1f} ms CPU on top"
            )
        else:
            print(
                f"  whole flow {total:.1f} ms CPU; one argon2 verify {argon2_ms:.1f} ms CPU; "
                f"flow less argon2 {total - argon2_ms:.1f} ms (in-process: no HTTP, no gunicorn)"
            )
        if prof:
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
            print(f"\ncProfile of {args.profile!r} over {len(users)} requests (tottime):")
            print(out.getvalue())


if __name__ == "__main__":
    main()
