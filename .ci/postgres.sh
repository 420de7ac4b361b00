#!/usr/bin/env bash
# A throwaway PostgreSQL server for the store's tests: Debian's `postgresql` package (installed if missing),
# a fresh cluster in a temporary directory, listening on 127.0.0.1 only, trust authentication (loopback, test
# data only). Sourced by .ci/run: sets OPTADVISOR_TEST_POSTGRES_URL and a trap that stops the server.
set -euo pipefail

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
fi
pg_bin=$(dirname "$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)")
pg_dir=$(mktemp -d /tmp/optadvisor-pg.XXXXXX)
chown postgres "$pg_dir"
pg_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# initdb refuses to run as root: the cluster belongs to the postgres user the package created.
su postgres -s /bin/sh -c "'$pg_bin/initdb' -D '$pg_dir/data' -A trust -U postgres -E UTF8 >/dev/null"
su postgres -s /bin/sh -c "'$pg_bin/pg_ctl' -D '$pg_dir/data' -l '$pg_dir/log' -w -o \"-c listen_addresses=127.0.0.1 -p $pg_port -k $pg_dir -c max_connections=200 -c fsync=on\" start >/dev/null"
stop_postgres() {
    su postgres -s /bin/sh -c "'$pg_bin/pg_ctl' -D '$pg_dir/data' -m fast stop >/dev/null" || true
    rm -rf "$pg_dir"
}
trap stop_postgres EXIT
export OPTADVISOR_TEST_POSTGRES_URL="postgresql+psycopg://postgres@127.0.0.1:$pg_port/postgres"
echo "PostgreSQL for the store tests at 127.0.0.1:$pg_port" >&2
