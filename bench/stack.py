"""The stack's own floor: the code step and the dashboard built from OzyOps's core packages
at their lightest, to tell what of the app's gap to bench/floor.py is the app's and what
is the packages' (issue 7's throughput targets).

    .venv/bin/python bench/stack.py [--backend sqlite|postgres|both] [--rounds 3] [--turns]

The app here (`create()`, served under the repo's gunicorn.conf.py) has the floor's routes,
templates and cookie, and does the least a sign-in product on these packages can:
Flask-WTF's CSRF check and token, Flask-Login's user from Flask's signed cookie session
(no session row: less than OzyOps reads), one primary-key SELECT of the user through
Flask-SQLAlchemy's session, and at the code step pyotp's check, Flask-Limiter's count, one
single-use UPDATE, one audit INSERT and one COMMIT, on the same database settings as
OzyOps; every statement a lambda statement on a table, SQLAlchemy's leanest. No password
step: argon2 is apart from both targets.

The driver runs bench/run.py's load client (one process per core) against OzyOps, this
app and bench/floor.py in turn, for the code step and the dashboard, a few rounds in
alternating order, and prints each one's requests a second and server CPU per request,
and the ratios to the floor. If this app cannot reach half the floor, neither can OzyOps
on these packages on this machine.
"""

import argparse
import os
import secrets
import shutil
import statistics
import tempfile
import time

import pyotp
import run
from cryptography.fernet import Fernet
from flask import Flask, abort, redirect, render_template, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_required, login_user
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect, generate_csrf
from floor import COOKIE, TEMPLATES
from jinja2 import DictLoader
from sqlalchemy import ForeignKey, String, insert, lambda_stmt, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ozyops import extensions  # noqa: F401 (its connect hook: OzyOps's SQLite settings)
from ozyops.config import database_uri


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class Member(Base):
    __tablename__ = "stack_member"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    totp_secret: Mapped[str] = mapped_column(String(64))
    last_step: Mapped[int] = mapped_column(default=0)
    last_sign_in: Mapped[float | None]


class Entry(Base):
    __tablename__ = "stack_audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("stack_member.id"))
    at: Mapped[float]
    event: Mapped[str] = mapped_column(String(40))


# N.B. the requests read and write through the tables, not the classes, in lambda
# statements: no ORM objects, and SQLAlchemy's cache key made once, not at every request.
# Through the ORM this app cost 9.9 ms per code step under load; with only its writes so,
# 7.6 ms (bench/README.md, the twenty-third session).
_members, _entries = Member.__table__, Entry.__table__


class Signed:
    """A member as Flask-Login needs one."""

    is_active = is_authenticated = True
    is_anonymous = False

    def __init__(self, row):
        self.id, self.name, self.totp_secret = row

    def get_id(self):
        return str(self.id)


def member(member_id):
    row = db.session.execute(
        lambda_stmt(
            lambda: select(_members.c.id, _members.c.name, _members.c.totp_secret).where(
                _members.c.id == member_id
            )
        )
    ).first()
    return Signed(row) if row else None


def create(database_url=None):
    url = database_url or os.environ["STACK_DATABASE_URL"]
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=os.environ.get("STACK_SECRET_KEY", "stack-bench"),
        SESSION_COOKIE_NAME=COOKIE,
        SQLALCHEMY_DATABASE_URI=database_uri(url),
        SQLALCHEMY_ENGINE_OPTIONS={"pool_use_lifo": True},
        RATELIMIT_STORAGE_URI=os.environ.get("STACK_REDIS_URL") or "memory://",
    )
    app.jinja_loader = DictLoader(TEMPLATES)
    db.init_app(app)
    if os.environ.get("STACK_TURNS"):  # OzyOps's own: at most four requests run at once
        from ozyops.admission import in_turns

        app.wsgi_app = in_turns(app.wsgi_app)
    CSRFProtect(app)
    limiter = Limiter(get_remote_address, app=app)
    logins = LoginManager(app)

    @logins.user_loader
    def load(member_id):
        return member(int(member_id))

    def page(template, **context):
        response = app.make_response(render_template(template, token=generate_csrf(), **context))
        response.headers["Cache-Control"] = "no-store"
        return response

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.post("/login/mfa")
    @limiter.limit("1000000 per minute")
    def code_step():
        pending = member(session.get("pending", 0))
        if pending is None:
            abort(400)
        now = time.time()
        step = int(now // 30)
        if not pyotp.TOTP(pending.totp_secret).verify(
            request.form.get("code", ""), for_time=now, valid_window=1
        ):
            return page("mfa.html"), 422
        mid = pending.id
        used = db.session.execute(
            lambda_stmt(
                lambda: (
                    update(_members)
                    .where(_members.c.id == mid, _members.c.last_step < step)
                    .values(last_step=step, last_sign_in=now)
                )
            )
        )
        if used.rowcount != 1:
            db.session.rollback()
            return page("mfa.html"), 422
        db.session.execute(
            lambda_stmt(lambda: insert(_entries).values(member_id=mid, at=now, event="signed_in"))
        )
        db.session.commit()
        session.pop("pending")
        login_user(pending)
        return redirect("/dashboard", code=303)

    @app.get("/dashboard")
    @login_required
    def dashboard():
        return page(
            "dashboard.html", signed_in=True, account="Bench Law LLP", name=current_user.name
        )

    return app


# --- the driver -------------------------------------------------------------------------


def seed(app, count):
    """`count` members with MFA: bench/run.py's users, for its load client."""
    with app.app_context():
        db.create_all()
        rows = [
            {"name": f"Stack User {i}", "totp_secret": pyotp.random_base32(32)}
            for i in range(count)
        ]
        db.session.execute(insert(Member), rows)
        db.session.commit()
        found = db.session.execute(select(Member.id, Member.totp_secret)).all()
    return [run.BenchUser(i, f"stack{i}@bench.example", pyotp.TOTP(s)) for i, s in found]


def prepare(app, users):
    """Pending code steps, as a first factor would leave them: (signed session cookie, the
    form's CSRF token, user)."""
    items = []
    signer = app.session_interface.get_signing_serializer(app)
    for user in users:
        with app.test_request_context("/login/mfa"):
            session["pending"] = user.id
            token = generate_csrf()
            items.append((signer.dumps(dict(session)), token, user))
    return items


def free_users(users, limit):
    """Up to `limit` users who have not signed in during this 30 s step."""
    step = run.current_step()
    return [u for u in users if u.last_step < step][:limit]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--users", type=int, default=40, help="concurrent virtual users")
    ap.add_argument("--seconds", type=float, default=10, help="length of each phase")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seed", type=int, default=20000, help="members each of OzyOps and stack")
    ap.add_argument("--client-processes", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--redis", default=None, help="Redis URL for both apps' limits (optional)")
    ap.add_argument(
        "--turns", action="store_true", help="this app in OzyOps's turns (ozyops/admission.py)"
    )
    args = ap.parse_args(argv)
    print(run.machine())
    print(f"OzyOps at {run.revision()}")
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    tmp = tempfile.mkdtemp(prefix="ozyops-stack-")
    try:
        for backend in backends:
            compare(backend, args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def compare(backend, args, tmp):
    db_ = run.Database(backend, tmp)
    servers = []
    try:
        keys = {"secret": secrets.token_hex(32), "fernet": Fernet.generate_key().decode()}
        env = run.app_env(keys, db_.url, args.redis)
        run.upgrade(env)
        ozy_app = run.make_app(keys, db_.url)
        ozy_users, _ = run.seed(ozy_app, args.seed, 0)
        stack_app = create(db_.url)
        stack_users = seed(stack_app, args.seed)
        stack_env = {"STACK_DATABASE_URL": db_.url, "STACK_SECRET_KEY": "stack-bench"}
        if args.redis:
            stack_env["STACK_REDIS_URL"] = args.redis
        if args.turns:
            stack_env["STACK_TURNS"] = "1"
        bench = run.ROOT / "bench"
        targets = {
            "ozyops": run.Server(f"ozyops-{backend}", "wsgi:app", run.ROOT, env, tmp),
            "stack": run.Server(f"stack-{backend}", "stack:create()", bench, stack_env, tmp),
            "floor": run.Server(f"floor-{backend}", "floor:app", bench, {}, tmp),
        }
        servers.extend(targets.values())
        for srv in servers:
            srv.wait_healthy()
        print(f"[{backend}] {db_.version()}; {args.seed} members each", flush=True)
        with_pg = backend == "postgres"
        cookies = {}

        code_rates = {}

        def items_for(name, seconds):
            """As many pending sign-ins as the last code phase could use, and a third more."""
            if name == "floor":
                return None
            limit = int(code_rates.get(name, 1500) * seconds * 4 / 3) + 100
            app, users = (ozy_app, ozy_users) if name == "ozyops" else (stack_app, stack_users)
            chosen = free_users(users, limit)
            if not chosen:
                raise SystemExit("no member is free in this 30 s step: raise --seed")
            return run.prepare_pending(app, chosen) if name == "ozyops" else prepare(app, chosen)

        def measure(phase, name, seconds):
            srv = targets[name]
            items = items_for(name, seconds) if phase == "code" else None
            before = run.CpuSnap.take(srv.proc.pid, with_pg)
            if phase == "code":
                recs, t0, t1, signed_in = run.spread_code(
                    srv.url, args.users, seconds, items, run.UserPool([]), args.client_processes
                )
                cookies[name] = signed_in
                step = run.current_step()
                for _sid, _token, user in items or ():
                    user.last_step = step  # used or not: no reuse within this step
            else:
                recs, t0, t1 = run.spread_dashboard(
                    srv.url, args.users, seconds, cookies[name], args.client_processes
                )
            cpu = run.CpuSnap.take(srv.proc.pid, with_pg).minus(before)
            steps, errors = run.summarize(recs, t0, t1)
            n = sum(len(r.samples) for r in recs)
            stats = steps.get(run.CODE_STEP if phase == "code" else run.DASH_STEP)
            if phase == "code" and stats:
                code_rates[name] = stats.rate
            return {
                "rate": stats.rate if stats else 0.0,
                "p50": stats.p50 if stats else float("nan"),
                "server": cpu["server"] * 1000 / max(n, 1),
                "pg": (cpu["pg"] or 0.0) * 1000 / max(n, 1),
                "client": cpu["client"] * 1000 / max(n, 1),
                "other": cpu["other"] / (t1 - t0),
                "errors": len(errors),
                "kinds": sorted({e[1] for e in errors})[:3],
            }

        for name in targets:  # warm every worker
            measure("code", name, 3)
            measure("dashboard", name, 3)
        results = {(phase, name): [] for phase in ("code", "dashboard") for name in targets}
        order = list(targets)
        for r in range(args.rounds):
            for phase in ("code", "dashboard"):
                for name in order if r % 2 == 0 else order[::-1]:
                    m = measure(phase, name, args.seconds)
                    results[phase, name].append(m)
                    print(
                        f"[{backend}] round {r + 1} {phase:<9} {name:<6}: {m['rate']:7.1f} req/s, "
                        f"p50 {m['p50']:6.1f} ms; ms per request: server {m['server']:.2f}, "
                        f"postgres {m['pg']:.2f}, client {m['client']:.2f}; other processes "
                        f"{m['other']:.2f} cores; errors {m['errors']} {m['kinds'] or ''}",
                        flush=True,
                    )
        print(
            f"\n===== {backend}: medians of {args.rounds} rounds, {args.users} virtual users ====="
        )
        for phase in ("code", "dashboard"):
            floor_rate = statistics.median(m["rate"] for m in results[phase, "floor"])
            print(f"  {phase}:")
            for name in targets:
                ms = results[phase, name]
                rate = statistics.median(m["rate"] for m in ms)
                server = statistics.median(m["server"] for m in ms)
                pg = statistics.median(m["pg"] for m in ms)
                print(
                    f"    {name:<6} {rate:7.1f} req/s = {rate / floor_rate:4.0%} of the floor; "
                    f"server {server:.2f} ms per request"
                    + (f", postgres {pg:.2f}" if with_pg else "")
                    + f"; errors {sum(m['errors'] for m in ms)}"
                )
        for name, srv in targets.items():
            errors = [line for line in srv.log_path.read_text().splitlines() if "Error:" in line]
            print(f"  {name} server log: {srv.log_notes()}; {errors[-1] if errors else ''}")
    finally:
        for srv in servers:
            srv.stop()
        db_.drop()


if __name__ == "__main__":
    main()
