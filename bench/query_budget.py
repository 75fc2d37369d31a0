"""Query budget: Settings > Team and Settings > Audit log at 1,000 members.

    .venv/bin/python bench/query_budget.py [--backend sqlite|postgres] [--members 1000]
                                           [--entries 1000] [--runs 20]

Seeds a "law" account with --members members (the owner included, half of them with MFA)
and --entries audit entries (sealed into the hash chain), plus a second account with 10
members and 10 entries, then, signed in as each owner through Flask's test client, times
GET /settings/team and GET /settings/audit (median of --runs, after two untimed requests)
and counts the SQL statements per request with a `before_cursor_execute` listener on
db.engine. Target (issue 7): under 200 ms each at 1,000 members, and the same number of
statements at 10 members as at 1,000.
"""

import argparse
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402 (bench/run.py: throwaway database, schema, helpers)

PAGES = ("/settings/team", "/settings/audit")
TARGET_MS = 200
EVENTS = ("login", "logout", "mfa_enabled", "mfa_failed", "login_failed", "mfa_reset", "user_added")


def seed_account(app, name, members, entries):
    """An account with an owner (no MFA, so a password signs them in) and members-1 others;
    `entries` audit entries among them. Returns the owner's email."""
    import pyotp
    from sqlalchemy import insert, select

    from ozyops import audit
    from ozyops.extensions import db
    from ozyops.models import Account, AuditEvent, User
    from ozyops.passwords import hash_password
    from ozyops.security.secretbox import seal

    now = datetime.now(UTC).replace(tzinfo=None)
    slug = name.lower().replace(" ", "-")
    with app.app_context():
        pw = hash_password(run.PASSWORD)
        account_id = db.session.execute(
            insert(Account).values(name=name, kind="law").returning(Account.id)
        ).scalar_one()
        sealed = seal(pyotp.random_base32(32))
        rows = [
            {
                "account_id": account_id,
                "email": f"m{i:05d}@{slug}.example",
                "name": f"Member {i:05d}",
                "role": "owner" if i == 0 else ("admin" if i % 50 == 0 else "member"),
                "active": i == 0 or i % 97 != 0,
                "password_hash": pw,
                "totp_secret": sealed if i % 2 else None,
                "mfa_failures": 0,
                "last_login_at": now - timedelta(hours=i) if i % 3 else None,
            }
            for i in range(members)
        ]
        db.session.execute(insert(User), rows)
        ids = db.session.scalars(
            select(User.id).where(User.account_id == account_id).order_by(User.id)
        ).all()
        db.session.execute(
            insert(AuditEvent),
            [
                {
                    "account_id": account_id,
                    "actor_id": ids[i % len(ids)] if i % 4 else None,
                    "target_id": ids[(i * 7) % len(ids)],
                    "event": EVENTS[i % len(EVENTS)],
                    "ip": "192.0.2.10",
                    "user_agent": run.USER_AGENT,
                    "created_at": now - timedelta(minutes=entries - i),
                    "details": '{"reason": "bench"}' if i % 5 == 0 else None,
                }
                for i in range(entries)
            ],
        )
        db.session.commit()
        audit.seal(account_id)  # chain them, as the app would have
    return rows[0]["email"]


def signed_in_client(app, email):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "127.0.0.1"
    token = run.csrf_token(client.get("/login").text)
    r = client.post("/login", data={"email": email, "password": run.PASSWORD, "csrf_token": token})
    if r.status_code != 303 or not r.location.endswith("/dashboard"):
        raise SystemExit(f"could not sign in {email}: {r.status_code} {r.location}")
    return client


def measure(client, counter, path, runs):
    times, counts, size = [], set(), 0
    for i in range(runs + 2):
        counter["n"] = 0
        t = time.perf_counter()
        r = client.get(path)
        ms = (time.perf_counter() - t) * 1000
        if r.status_code != 200:
            raise SystemExit(f"GET {path}: {r.status_code}")
        if i >= 2:
            times.append(ms)
            counts.add(counter["n"])
            size = len(r.data)
    return statistics.median(times), min(times), max(times), sorted(counts), size


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--backend", choices=("sqlite", "postgres"), default="sqlite")
    ap.add_argument("--members", type=int, default=1000)
    ap.add_argument("--entries", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args(argv)

    from sqlalchemy import event

    from ozyops.extensions import db

    with run.fresh_app(args.backend, "qb") as (app, database):
        big = seed_account(app, "Big Law LLP", args.members, args.entries)
        small = seed_account(app, "Small Law LLP", 10, 10)
        counter = {"n": 0}
        with app.app_context():

            @event.listens_for(db.engine, "before_cursor_execute")
            def _count(*_a, **_k):
                counter["n"] += 1

        print(f"{database.version()}; {run.machine()}")
        print(
            f"  {'page':<16} {'members':>7} {'median ms':>9} {'min':>7} {'max':>7} "
            f"{'SQL/request':>11} {'size':>7}"
        )
        results = {}
        for label, email, members in (("big", big, args.members), ("small", small, 10)):
            client = signed_in_client(app, email)
            for path in PAGES:
                med, lo, hi, counts, size = measure(client, counter, path, args.runs)
                results[(label, path)] = (med, counts)
                print(
                    f"  {path:<16} {members:7d} {med:9.1f} {lo:7.1f} {hi:7.1f} "
                    f"{','.join(map(str, counts)):>11} {size / 1024:6.0f}k"
                )
        ok = True
        print("\n  targets:")
        for path in PAGES:
            med, counts = results[("big", path)]
            small_counts = results[("small", path)][1]
            for label, passed, value in (
                (
                    f"GET {path} < {TARGET_MS} ms at {args.members} members",
                    med < TARGET_MS,
                    f"{med:.1f} ms",
                ),
                (
                    f"GET {path} statements constant (10 vs {args.members} members)",
                    counts == small_counts,
                    f"{small_counts} vs {counts}",
                ),
            ):
                ok &= passed
                print(f"    {'PASS' if passed else 'FAIL'}  {label}: {value}")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
