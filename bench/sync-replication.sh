#!/usr/bin/env bash
# Scenario 1 on the local pg_auto_failover formation (scripts/failover-formation.sh, issue 16)
# with synchronous replication (the formation's default: every commit flushed on the standby
# before it returns) and without it (`synchronous_commit = local` on that database only), rounds
# alternating, each on a fresh database, in one run so the ratio is fair on a noisy machine.
#
#   bench/sync-replication.sh [rounds] [seconds]     # default: 2 rounds of 8 s
#   PROFILE=debug bench/sync-replication.sh          # with debug builds (default: release)
#
# Needs: the formation running, cargo build [--release] -p payrail -p payrail-bench; psql.
set -euo pipefail
export PGOPTIONS="-c client_min_messages=warning"
cd "$(dirname "$0")/.."
ROUNDS="${1:-2}"
SECS="${2:-8}"
PROFILE="${PROFILE:-release}"
BENCH="target/$PROFILE/payrail-bench"
PAYRAIL="target/$PROFILE/payrail"
URI=$(bash scripts/failover-formation.sh uri) # postgres://postgres@h1,h2/postgres?target_session_attrs=…
HOSTS=${URI#postgres://postgres@}
HOSTS=${HOSTS%%/*}
QUERY=${URI#*\?}

primary_port() {
  psql -X -At -h 127.0.0.1 -U postgres -p "${FAILOVER_MONITOR_PORT:-5600}" -d pg_auto_failover \
    -c "SELECT nodeport FROM pgautofailover.node WHERE reportedstate = 'primary'"
}

# A fresh database on the primary; `local` turns synchronous replication off for it alone.
fresh() {
  local name=$1 commit=$2 port
  port=$(primary_port)
  [ -n "$port" ] || { echo "no primary with a secondary: bash scripts/failover-formation.sh state" >&2; exit 1; }
  psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "DROP DATABASE IF EXISTS $name WITH (FORCE)"
  psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "CREATE DATABASE $name"
  psql -X -q -h 127.0.0.1 -p "$port" -U postgres -d postgres -c "ALTER DATABASE $name SET synchronous_commit = $commit"
  echo "postgres://postgres@$HOSTS/$name?$QUERY"
}

echo "formation: $(bash scripts/failover-formation.sh state | awk -F'|' 'NR>2 && NF>5 { printf "%s%s=%s", sep, $1, $6; sep="," }' | tr -s ' ')"
for round in $(seq 1 "$ROUNDS"); do
  for commit in on local; do
    url=$(fresh "payrail_bench_sync_$commit" "$commit")
    DATABASE_URL="$url" "$PAYRAIL" migrate >/dev/null
    printf 'round %s, synchronous_commit=%-5s ' "$round" "$commit"
    "$BENCH" create-capture --server "$PAYRAIL" --database-url "$url" --duration "$SECS" | grep '^create-capture'
  done
done
