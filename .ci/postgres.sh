#!/usr/bin/env bash
# Install (if needed) and start PostgreSQL on loopback, with a database for the tests.
# Prints the SQLAlchemy URL of that database on its last line.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq postgresql >/dev/null
fi
if ! pg_lsclusters --no-header | grep -q online; then
  cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2}')
  if [ -z "$cluster" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -1)
    pg_createcluster "$version" main >/dev/null
    cluster="$version main"
  fi
  # shellcheck disable=SC2086
  pg_ctlcluster $cluster start -o "-c listen_addresses=127.0.0.1"
fi
su postgres -c "psql -q -tAc \"SELECT 1 FROM pg_roles WHERE rolname='matcher'\"" | grep -q 1 ||
  su postgres -c "psql -q -c \"CREATE ROLE matcher LOGIN PASSWORD 'matcher' CREATEDB\""
su postgres -c "psql -q -tAc \"SELECT 1 FROM pg_database WHERE datname='matcher_test'\"" | grep -q 1 ||
  su postgres -c "createdb -O matcher matcher_test"
echo "postgresql+psycopg://matcher:matcher@127.0.0.1:5432/matcher_test"
