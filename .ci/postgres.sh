#!/usr/bin/env bash
# Install PostgreSQL (Debian package) if missing, start a throw-away cluster on 127.0.0.1 and
# create the test database, for the test that runs two Optuna workers on one shared study.
#
# Use either way:
#   source .ci/postgres.sh                 # exports ROUTERLAB_TEST_POSTGRES_URL
#   eval "$(bash .ci/postgres.sh)"         # prints the export line on stdout
# Everything else goes to stderr. Re-running reuses a running cluster.
# Settings: ROUTERLAB_PG_PORT (default 55432), ROUTERLAB_PG_DIR (default /tmp/routerlab-pg).

_rl_pg_main() {
  local port="${ROUTERLAB_PG_PORT:-55432}"
  local dir="${ROUTERLAB_PG_DIR:-/tmp/routerlab-pg}"
  local bin

  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    echo "postgres.sh: installing postgresql (apt-get)" >&2
    if [ "$(id -u)" = 0 ]; then
      apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 || return 1
    else
      sudo apt-get update -qq >&2 && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 || return 1
    fi
  fi
  bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"

  # initdb and postgres refuse to run as root: run them as the postgres system user then.
  local as=()
  if [ "$(id -u)" = 0 ]; then
    as=(runuser -u postgres --)
    mkdir -p "$dir" && chown postgres:postgres "$dir" && chmod 700 "$dir"
  else
    mkdir -p "$dir" && chmod 700 "$dir"
  fi

  if [ ! -f "$dir/PG_VERSION" ]; then
    # trust auth on a loopback-only throw-away cluster: no password to leak into logs.
    "${as[@]}" "$bin/initdb" -D "$dir" -A trust -U routerlab >/dev/null || return 1
  fi
  if ! "${as[@]}" "$bin/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    "${as[@]}" "$bin/pg_ctl" -D "$dir" -l "$dir/server.log" -w \
      -o "-h 127.0.0.1 -p $port -k $dir" start >&2 || { cat "$dir/server.log" >&2; return 1; }
  fi
  if ! "${as[@]}" "$bin/psql" -h 127.0.0.1 -p "$port" -U routerlab -d postgres -tAc \
      "SELECT 1 FROM pg_database WHERE datname='routerlab_test'" | grep -q 1; then
    "${as[@]}" "$bin/createdb" -h 127.0.0.1 -p "$port" -U routerlab routerlab_test || return 1
  fi
  ROUTERLAB_TEST_POSTGRES_URL="postgresql+psycopg2://routerlab@127.0.0.1:$port/routerlab_test"
  export ROUTERLAB_TEST_POSTGRES_URL
  echo "export ROUTERLAB_TEST_POSTGRES_URL=$ROUTERLAB_TEST_POSTGRES_URL"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  _rl_pg_main
else
  _rl_pg_main >&2 || return 1
fi
