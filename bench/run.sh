#!/usr/bin/env bash
# Runs the benchmark scenarios on both backends on this machine. Per round: scenario 1 on SQLite,
# then the naive SQLite script writing the same rows (bench/sqlite_naive.py), then scenario 1 on
# PostgreSQL, then pgbench running the same SQL a naive service would (bench/pgbench/naive_payment.sql);
# then the paced, slow-provider and hot-payment runs. Each run gets a fresh database.
#
#   bench/run.sh [rounds] [seconds]          # default: 3 rounds of 10 s
#   HALF_RATE=1100 bench/run.sh              # also scenario 1 paced at 1100 payments/s (p99 target)
#   HALF_RATE=auto bench/run.sh              # ... paced at half of the round's scenario 1 rate, per backend
#   BACKENDS=sqlite bench/run.sh             # one backend only (sqlite, postgres; default both)
#
# Needs: cargo build --release -p payrail -p payrail-bench; psql, pgbench and python3 on PATH.
# SQLite files live under target/bench-sqlite/ (the same disk as the build; never tmpfs, where
# fsync would cost nothing).
set -euo pipefail
cd "$(dirname "$0")/.."
PG="${PG:-postgres://postgres@127.0.0.1:5432}"
ROUNDS="${1:-3}"
SECS="${2:-10}"
BACKENDS="${BACKENDS:-sqlite postgres}"
BENCH=target/release/payrail-bench
PAYRAIL=target/release/payrail
LITE_DIR=target/bench-sqlite
mkdir -p "$LITE_DIR"

fresh() {
  psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $1" >/dev/null
  psql "$PG/postgres" -qc "CREATE DATABASE $1" >/dev/null
  DATABASE_URL="$PG/$1" "$PAYRAIL" migrate >/dev/null
}

# A fresh SQLite file, migrated; prints its URL.
fresh_sqlite() {
  rm -f "$LITE_DIR/$1.db" "$LITE_DIR/$1.db-wal" "$LITE_DIR/$1.db-shm"
  DATABASE_URL="sqlite://$LITE_DIR/$1.db" "$PAYRAIL" migrate >/dev/null
  echo "sqlite://$LITE_DIR/$1.db"
}

half_of() {
  echo "$1" | sed -n 's/^create-capture: \([0-9]*\) ok\/s.*/\1/p' | awk '{ printf "%d", $1 / 2 }'
}

has() { [[ " $BACKENDS " == *" $1 "* ]]; }

echo "# $(date -u +%FT%TZ) $(nproc) cores, rounds=$ROUNDS seconds=$SECS"
for round in $(seq "$ROUNDS"); do
  echo "## round $round"
  lite_rate="${HALF_RATE:-}"
  if has sqlite; then
    url=$(fresh_sqlite payrail_bench)
    first=$("$BENCH" create-capture --database-url "$url" --duration "$SECS")
    echo "$first" | sed "s/^create-capture/sqlite create-capture/"
    [ "$lite_rate" = auto ] && lite_rate=$(half_of "$first")
    url=$(fresh_sqlite payrail_naive)
    python3 bench/sqlite_naive.py "${url#sqlite://}" "$SECS"
  fi
  rate="${HALF_RATE:-}"
  if has postgres; then
    fresh payrail_bench
    first=$("$BENCH" create-capture --database-url "$PG/payrail_bench" --duration "$SECS")
    echo "$first"
    # Half of this round's maximum, as the p99 target is stated.
    [ "$rate" = auto ] && rate=$(half_of "$first")
    fresh payrail_pgbench
    pgbench -n -M prepared -c 32 -j 2 -T "$SECS" -f bench/pgbench/naive_payment.sql "$PG/payrail_pgbench" 2>/dev/null |
      grep -E "^(tps|latency average)" | sed 's/^/pgbench naive: /'
  fi
  if has sqlite && [ -n "$lite_rate" ]; then
    url=$(fresh_sqlite payrail_bench)
    "$BENCH" create-capture --database-url "$url" --duration "$SECS" --rate "$lite_rate" |
      sed "s/^create-capture/sqlite create-capture at half rate/"
  fi
  has postgres || continue
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
if has postgres; then
  fresh payrail_bench
  "$BENCH" idle-actors --database-url "$PG/payrail_bench"
fi
