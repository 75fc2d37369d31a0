#!/usr/bin/env bash
# Install the test dependencies and run the whole suite: lint, then every test on SQLite
# (browser tests included) and, at the same time, the database-facing tests again on a
# throwaway PostgreSQL database. With CI=true a missing PostgreSQL, Redis or chromium is a failure, not a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet -e '.[test]'

# Debian packages the tests drive: chromium (browser tests), nginx (load balancer test) and
# systemd's checker (deploy/'s units).
missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
[ -x /usr/sbin/nginx ] || missing="$missing nginx"
[ -x /usr/bin/systemd-analyze ] || missing="$missing systemd"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    echo "The tests need Debian's$missing: sudo apt-get install$missing" >&2
    exit 1
  fi
fi

"$VENV/bin/ruff" check .
"$VENV/bin/ruff" format --check .

export OZYOPS_TEST_REDIS_URL=${OZYOPS_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}

# N.B. the two runs go side by side, one per core: one after the other they took over 15
# minutes on a slow 2-core machine. They share nothing but Redis, where every test keeps
# its own key prefix.
PG_ADMIN_URL=${OZYOPS_TEST_PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/test}
pg_pid=""
if "$VENV/bin/python" -c "import psycopg,sys; psycopg.connect(sys.argv[1]).close()" "$PG_ADMIN_URL" 2>/dev/null; then
  DB="ozyops_test_$$"
  PG_LOG=$(mktemp)
  psql_admin() { "$VENV/bin/python" -c "import psycopg,sys; c=psycopg.connect(sys.argv[1], autocommit=True); c.execute(sys.argv[2]); c.close()" "$PG_ADMIN_URL" "$1"; }
  psql_admin "CREATE DATABASE $DB"
  trap '[ -z "$pg_pid" ] || kill "$pg_pid" 2>/dev/null; psql_admin "DROP DATABASE IF EXISTS $DB WITH (FORCE)"; rm -f "$PG_LOG"' EXIT
  OZYOPS_TEST_DATABASE_URL="${PG_ADMIN_URL%/*}/$DB" "$VENV/bin/python" -m pytest -m "not browser" --durations=15 >"$PG_LOG" 2>&1 &
  pg_pid=$!
elif [ "${CI:-}" = true ]; then
  echo "PostgreSQL is not reachable at $PG_ADMIN_URL" >&2
  exit 1
fi

echo "== tests on SQLite (with browser tests) =="
sqlite_status=0
"$VENV/bin/python" -m pytest -m "not postgres" --durations=15 || sqlite_status=$?

if [ -z "$pg_pid" ]; then
  echo "PostgreSQL not reachable at $PG_ADMIN_URL: skipped the PostgreSQL run."
  exit "$sqlite_status"
fi
pg_status=0
wait "$pg_pid" || pg_status=$?
pg_pid=""
echo "== tests on PostgreSQL (with the across-process and load-balancer tests), run meanwhile =="
cat "$PG_LOG"
[ "$sqlite_status" = 0 ] && [ "$pg_status" = 0 ]
