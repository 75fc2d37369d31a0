"""Instructions per sign-in under gunicorn, the app against the floor, counted by valgrind.

    .venv/bin/python bench/instructions.py [--flows 5 205] [--access-log PATH]

CPU time on these VMs drifts by 10% or more within a minute, more than most changes one
would compare; an instruction count does not. The app (argon2 made cheap, as run.py's
cross-check serves it) and bench/floor.py each run as one gunicorn worker under
cachegrind, with the repo's gunicorn.conf.py, and one client signs in serially: first
the smaller --flows, then, on a fresh server, the larger. The difference over the extra
flows is the server's instructions per flow, start-up and warm-up excluded. SQLite only;
about 2 minutes. Needs valgrind (Debian: `apt-get install -y valgrind`).

N.B. each count is of a fresh server, whose start-up and warm-up vary by millions of
instructions between two starts: divided over 20 extra flows (the old default, 5 and 25)
that put a spread of ±5% into the result, over 200 about ±1% (bench/README.md, the
eighteenth session).

It counts instructions, not time: a cache miss costs many times an instruction, and under
load the app's larger working set misses more, so this is for comparing two versions,
not for the targets (run.py measures those).
"""

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402 (bench/run.py: servers, database, seeding, the flow)


def count(which, flows, users, env, tmp):
    """Instructions (every process of the server) after `flows` serial sign-ins."""
    out = Path(tmp) / f"cg-{which}-{flows}"
    out.mkdir()
    valgrind = (
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        f"--cachegrind-out-file={out}/%p",
    )
    spec, cwd = {
        "app": ("bench.cheap_argon2:create()", run.ROOT),
        "floor": ("floor:app", run.ROOT / "bench"),
    }[which]
    # N.B. GUNICORN_CMD_ARGS overrides the config file: one worker, and a timeout that
    # allows for valgrind's slowness.
    # PYTHONHASHSEED: the same dict layouts every run, one source of spread fewer.
    env = {
        **env,
        "OZYOPS_WORKERS": "1",
        "GUNICORN_CMD_ARGS": "--timeout 600",
        "PYTHONHASHSEED": "0",
    }
    server = run.Server(f"{which}-{flows}", spec, cwd, env, tmp, prefix=valgrind)
    try:
        server.wait_healthy(timeout=600)
        s, rec = requests.Session(), run.Recorder()
        s.headers["User-Agent"] = run.USER_AGENT
        for user in users[:flows]:
            run.sign_in(s, rec, server.url, user)
    except run.Unexpected:
        tail = server.log_path.read_text(errors="replace")[-2000:]
        raise SystemExit(f"{which}: {rec.errors}; the server's log ends:\n{tail}") from None
    finally:
        server.stop()
    return sum(
        int(line.split()[1])
        for path in out.iterdir()
        for line in path.read_text().splitlines()
        if line.startswith("summary:")
    )


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--flows", type=int, nargs=2, default=(5, 205), metavar=("FEW", "MANY"))
    ap.add_argument("--access-log", default="/dev/null", help="gunicorn's access log ('' for none)")
    args = ap.parse_args(argv)
    few, many = sorted(args.flows)
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind is not installed (Debian: apt-get install -y valgrind)")
    from cryptography.fernet import Fernet

    keys = {"secret": "bench-instructions", "fernet": Fernet.generate_key().decode()}
    tmp = tempfile.mkdtemp(prefix="ozyops-instructions-")
    try:
        database = run.Database("sqlite", tmp)
        env = {**run.app_env(keys, database.url, None), "OZYOPS_ACCESS_LOG": args.access_log}
        run.upgrade(env)
        _, users = run.seed(run.make_app(keys, database.url), 0, 2 * many)
        print(run.machine())
        print(f"OzyOps at {run.revision()}; SQLite; access log {args.access_log or 'none'}")
        per_flow = {}
        for which in ("app", "floor"):
            # A code is single-use: the app's two servers get users of their own.
            first, second = (
                (users[many:], users[:many]) if which == "app" else ([run.FloorUser] * many,) * 2
            )
            a, b = count(which, few, first, env, tmp), count(which, many, second, env, tmp)
            per_flow[which] = (b - a) / (many - few)
            print(
                f"  {which:5}: {per_flow[which] / 1e6:6.2f} M instructions per sign-in", flush=True
            )
        print(f"  app / floor: {per_flow['app'] / per_flow['floor']:.2f}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
