#!/usr/bin/env bash
# Runs the benchmark scenarios against PostgreSQL on this machine, interleaving scenario 1 with
# pgbench running the same SQL (bench/pgbench/naive_payment.sql). Each run gets a fresh database.
#
#   bench/run.sh [rounds] [seconds]          # default: 3 rounds of 10 s
#   HALF_RATE=1100 bench/run.sh              # also scenario 1 paced at 1100 payments/s (p99 target)
#   HALF_RATE=auto bench/run.sh              # ... paced at half of the round's scenario 1 rate
#
# Needs: cargo build --release -p payrail -p payrail-bench; psql and pgbench on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
PG="${PG:-postgres://postgres@127.0.0.1:5432}"
ROUNDS="${1:-3}"
SECS="${2:-10}"
BENCH=target/release/payrail-bench
PAYRAIL=target/release/payrail

fresh() {
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $1" >/dev/null
  psql "$PG/postgres" -qc "CREATE DATABASE $1" >/dev/null
  DATABASE_URL="$PG/$1" "$PAYRAIL" migrate >/dev/null
}

echo "# $(date -u +%FT%TZ) $(nproc) cores, rounds=$ROUNDS seconds=$SECS"
for round in $(seq "$ROUNDS"); do
  echo "## round $round"
  fresh payrail_bench
  first=$("$BENCH" create-capture --database-url "$PG/payrail_bench" --duration "$SECS")
  echo "$first"
  rate="${HALF_RATE:-}"
  if [ "$rate" = auto ]; then
    # Half of this round's maximum, as the p99 target is stated.
    rate=$(echo "$first" | sed -n 's/^create-capture: \([0-9]*\) ok\/s.*/\1/p' | awk '{ printf "%d", $1 / 2 }')
  fi
  fresh payrail_pgbench
  pgbench -n -M prepared -c 32 -j 2 -T "$SECS" -f bench/pgbench/naive_payment.sql "$PG/payrail_pgbench" 2>/dev/null |
    grep -E "^(tps|latency average)" | sed 's/^/pgbench naive: /'
  if [ -n "$rate" ]; then
    fresh payrail_bench
    "$BENCH" create-capture --database-url "$PG/payrail_bench" --duration "$SECS" --rate "$rate" |
      sed "s/^create-capture/create-capture at half rate/"
  fi
  fresh payrail_bench
  "$BENCH" slow-provider --database-url "$PG/payrail_bench" --duration "$SECS"
  fresh payrail_bench
  "$BENCH" hot-payment --database-url "$PG/payrail_bench" --duration "$SECS"
done
fresh payrail_bench
"$BENCH" idle-actors --database-url "$PG/payrail_bench"
