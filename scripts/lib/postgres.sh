# A PostgreSQL server for the tests and the API fuzz, sourced by
# scripts/test and scripts/api-fuzz (needs bash, `set -u` safe).
#
# test_postgres: unless TEST_DATABASE_URL is already set, uses the server
# on 127.0.0.1:5432 when it lets the postgres user in without a password,
# or else starts a private cluster with trust auth on a free port. Exports
# TEST_DATABASE_URL (an admin URL, database `postgres`) and PG_PSQL (the
# psql to reach it with). stop_test_postgres stops a private cluster and
# removes its files; call it from the caller's cleanup. `install` (apt-get)
# must be defined by the caller.

pg_dir=""
pg_ctl=""
as_pg=()

test_postgres() {
  PG_PSQL=psql
  if [[ -n "${TEST_DATABASE_URL:-}" ]]; then
    command -v psql >/dev/null || PG_PSQL="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)/psql"
    export PG_PSQL
    return
  fi
  local shared_pg="postgres://postgres@127.0.0.1:5432/postgres"
  if command -v psql >/dev/null && psql "$shared_pg" -Atqc 'SELECT 1' >/dev/null 2>&1; then
    export TEST_DATABASE_URL="$shared_pg" PG_PSQL
    return
  fi
  ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || install postgresql
  local pg_bin
  pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  pg_ctl="$pg_bin/pg_ctl"
  pg_dir=$(mktemp -d)
  if [[ $(id -u) -eq 0 ]]; then
    chown postgres "$pg_dir"
    as_pg=(runuser -u postgres --)
  fi
  local pg_port=$(( 20000 + RANDOM % 20000 ))
  "${as_pg[@]}" "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust >/dev/null
  "${as_pg[@]}" "$pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w \
    -o "-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$pg_port/postgres"
  export PG_PSQL="$pg_bin/psql"
}

stop_test_postgres() {
  if [[ -n "$pg_dir" ]]; then
    "${as_pg[@]}" "$pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
    pg_dir=""
  fi
}
