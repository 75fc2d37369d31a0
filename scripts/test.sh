#!/usr/bin/env bash
# Install the test dependencies and run the whole suite: lint, then, at the same time, every
# test on SQLite (browser tests in a run of their own) and the database-facing tests again
# on a throwaway PostgreSQL database. With CI=true a missing PostgreSQL, Redis or chromium
# is a failure, not a skip.
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

# N.B. three runs at once: one after the other they would have taken over 15 minutes on a
# slow 2-core machine, where at once they took 12 (2026-12-08). They share nothing but
# Redis, where every test keeps its own key prefix. The first run's output comes as it
# goes, the others' when they are done.
PG_ADMIN_URL=${OZYOPS_TEST_PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/test}
LOGS=$(mktemp -d)
names=() pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -z "${DB:-}" ] || psql_admin "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
  rm -rf "$LOGS"
}
trap cleanup EXIT
meanwhile() {  # meanwhile NAME COMMAND...: run in the background, its output kept for later
  local name=$1
  shift
  "$@" >"$LOGS/${#names[@]}" 2>&1 &
  names+=("$name") pids+=($!)
}
psql_admin() { "$VENV/bin/python" -c "import psycopg,sys; c=psycopg.connect(sys.argv[1], autocommit=True); c.execute(sys.argv[2]); c.close()" "$PG_ADMIN_URL" "$1"; }

if "$VENV/bin/python" -c "import psycopg,sys; psycopg.connect(sys.argv[1]).close()" "$PG_ADMIN_URL" 2>/dev/null; then
  DB="ozyops_test_$$"
  psql_admin "CREATE DATABASE $DB"
  # N.B. the longest run: without the tests that never touch its database (the unit tests,
  # and deploy/'s units, which run on SQLite whatever the run), which the SQLite run has.
  meanwhile "tests on PostgreSQL (with the across-process and load-balancer tests)" \
    env OZYOPS_TEST_DATABASE_URL="${PG_ADMIN_URL%/*}/$DB" "$VENV/bin/python" -m pytest -m "not browser" \
    --ignore=tests/unit --ignore=tests/integration/test_systemd_units.py --durations=15
elif [ "${CI:-}" = true ]; then
  echo "PostgreSQL is not reachable at $PG_ADMIN_URL" >&2
  exit 1
else
  echo "PostgreSQL not reachable at $PG_ADMIN_URL: skipping the PostgreSQL run."
fi
meanwhile "browser tests on SQLite" "$VENV/bin/python" -m pytest -m "browser and not postgres" --durations=15

echo "== tests on SQLite (unit and test-client) =="
status=0
"$VENV/bin/python" -m pytest -m "not postgres and not browser" --durations=15 || status=$?
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || status=1
  echo "== ${names[$i]}, run meanwhile =="
  cat "$LOGS/$i"
done
pids=()
exit "$status"
