#!/usr/bin/env bash
# A local pg_auto_failover formation for the failover tests (issue 16): a monitor and two
# PostgreSQL 15 nodes on loopback, synchronous replication (replication quorum), tuned so a dead
# primary is replaced within seconds instead of pg_auto_failover's default ~50 s.
#
#   scripts/failover-formation.sh start     # create (first time) and run; prints nothing else
#   scripts/failover-formation.sh uri       # the multi-host DATABASE_URL of the formation
#   scripts/failover-formation.sh state     # pg_autoctl show state
#   scripts/failover-formation.sh kill-primary   # kill -9 the primary's keeper and postmaster
#   scripts/failover-formation.sh wait-primary   # until some node is primary with a secondary
#   scripts/failover-formation.sh restart-node1  # (or node2) bring a killed node back as a standby
#   scripts/failover-formation.sh port-node1     # (or node2) the node's port
#   scripts/failover-formation.sh stop      # stop every process; data is kept
#   scripts/failover-formation.sh destroy   # stop and delete the data
#
# Runs as root and drops to the `postgres` user (pg_autoctl refuses root). Ports:
# FAILOVER_MONITOR_PORT (5600), FAILOVER_NODE1_PORT (5601), FAILOVER_NODE2_PORT (5602). Data and
# logs under FAILOVER_DIR (/var/tmp/payrail-failover).
set -euo pipefail

# `pg_autoctl config set` makes the running keeper reload, and its supervisor then broadcasts SIGHUP
# to every service pid it remembers, stale ones included; in a small pid space a one-shot command
# (this script, psql, the `config set` itself) can hold such a pid and die with 129 (128 + SIGHUP).
# Upstream fixed it in pg_auto_failover #1127 by ignoring SIGHUP in its one-shot commands, which
# Debian's 2.0 predates; ignoring it here does the same for everything this script runs (the
# daemons install their own SIGHUP handlers, so a reload still reaches them).
trap '' HUP

DIR="${FAILOVER_DIR:-/var/tmp/payrail-failover}"
MONITOR_PORT="${FAILOVER_MONITOR_PORT:-5600}"
NODE_PORTS=("${FAILOVER_NODE1_PORT:-5601}" "${FAILOVER_NODE2_PORT:-5602}")
PGBIN="${PGBIN:-/usr/lib/postgresql/15/bin}"
MONITOR_URI="postgres://autoctl_node@127.0.0.1:${MONITOR_PORT}/pg_auto_failover?sslmode=disable"

as_postgres() { runuser -u postgres -- env PATH="$PGBIN:$PATH" "$@"; }
psql_at() { psql -X -q -At -h 127.0.0.1 -U postgres -p "$1" -d "$2" -c "$3"; }

# Starts `pg_autoctl <args>` detached in its own session, logging to $DIR/<name>.log.
run_detached() {
  local name=$1
  shift
  as_postgres setsid nohup pg_autoctl "$@" >>"$DIR/$name.log" 2>&1 </dev/null &
}

# Whether pid is a live postgres serving pgdata (a postmaster runs in its data directory). A pid
# from a pid file left by a dead run may belong to anything by now, so nothing is signalled on
# the strength of the file alone.
is_postmaster_of() {
  local pgdata=$1 pid=$2
  [ -n "$pid" ] && [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$pgdata" ] &&
    grep -q postgres "/proc/$pid/comm" 2>/dev/null
}

# Removes what a kill -9'd member leaves behind, so it can start again: the postmaster's lock file
# and socket, and pg_autoctl's own pid file (whose pid `pg_autoctl run` would take for a running
# keeper, and `config set` would signal).
clear_stale() {
  local pgdata=$1 port=$2 keeper_pidfile="/tmp/pg_autoctl$1/pg_autoctl.pid" pid
  pid=$(head -n1 "$keeper_pidfile" 2>/dev/null || true)
  if [ -n "$pid" ] && ! grep -qx pg_autoctl "/proc/$pid/comm" 2>/dev/null; then
    rm -f "$keeper_pidfile"
  fi
  if [ -f "$pgdata/postmaster.pid" ] && ! is_postmaster_of "$pgdata" "$(head -n1 "$pgdata/postmaster.pid")"; then
    rm -f "$pgdata/postmaster.pid"
  fi
  if ! ss -ltn "sport = :$port" | grep -q LISTEN; then
    rm -f "/tmp/.s.PGSQL.$port" "/tmp/.s.PGSQL.$port.lock" \
      "/var/run/postgresql/.s.PGSQL.$port" "/var/run/postgresql/.s.PGSQL.$port.lock"
  fi
}

# The machine dies: every process of a member (node1, node2, monitor) at once — its keeper, the keeper's services (the
# "start/stop postgres" one would restart PostgreSQL if left alive) and the postmaster with its
# backends. They share one session (run_detached starts each node under setsid), found from the
# postmaster's pid file, or from the keeper when PostgreSQL is already down.
kill_member() {
  local pgdata="$DIR/$1" pid sid
  pid=$(head -n1 "$pgdata/postmaster.pid" 2>/dev/null || true)
  is_postmaster_of "$pgdata" "$pid" || pid=$(pgrep -of "pg_autoctl (run|create postgres|create monitor) --pgdata $pgdata( |\$)" || true)
  sid=$(ps -o sid= -p "$pid" 2>/dev/null | tr -d ' ' || true)
  if [ -n "$sid" ] && [ "$sid" -gt 1 ] && [ "$sid" != "$(ps -o sid= -p $$ | tr -d ' ')" ]; then
    pkill -9 -s "$sid" || true
  fi
  pkill -9 -f "pg_autoctl (run|create postgres|create monitor) --pgdata $pgdata( |\$)" || true
  if [ -n "$pid" ]; then kill -9 "$pid" 2>/dev/null || true; fi
}

wait_for() { # seconds, then a command that succeeds when ready
  local seconds=$1
  shift
  for _ in $(seq 1 $((seconds * 5))); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "failover-formation: timed out after ${seconds}s waiting for: $*" >&2
  return 1
}

states() { psql_at "$MONITOR_PORT" pg_auto_failover "SELECT string_agg(reportedstate::text, ',' ORDER BY reportedstate::text) FROM pgautofailover.node"; }
healthy() { [ "$(states)" = "primary,secondary" ]; }

# A standby's pg_basebackup waits for the primary's next checkpoint; ask for one until it is done.
checkpoint_until_healthy() {
  for _ in $(seq 1 300); do
    healthy && return 0
    for port in "${NODE_PORTS[@]}"; do psql_at "$port" postgres "CHECKPOINT" >/dev/null 2>&1 || true; done
    sleep 0.3
  done
  echo "failover-formation: the formation did not become primary + secondary: $(states)" >&2
  return 1
}

start_monitor() {
  local pgdata="$DIR/monitor"
  clear_stale "$pgdata" "$MONITOR_PORT"
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    as_postgres pg_autoctl create monitor --pgdata "$pgdata" --pgport "$MONITOR_PORT" \
      --hostname 127.0.0.1 --auth trust --no-ssl --pgctl "$PGBIN/pg_ctl" >>"$DIR/monitor.log" 2>&1
    # Listen on loopback only, and fail over in seconds: check every second, call a node
    # unhealthy after 2 s, and wait 6 s (longer than the nodes' 4 s network_partition_timeout,
    # after which a cut-off primary demotes itself) before promoting.
    cat >>"$pgdata/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 1000
pgautofailover.health_check_max_retries = 1
pgautofailover.health_check_retry_delay = 500
pgautofailover.node_considered_unhealthy_timeout = 2000
pgautofailover.primary_demote_timeout = 6000
CONF
  fi
  run_detached monitor run --pgdata "$pgdata"
  wait_for 30 psql_at "$MONITOR_PORT" pg_auto_failover "SELECT 1"
}

start_node() {
  local n=$1 port=${NODE_PORTS[$(($1 - 1))]}
  local pgdata="$DIR/node$n"
  clear_stale "$pgdata" "$port"
  if [ ! -f "$pgdata/pg_autoctl.cfg" ] && [ ! -f "$DIR/node$n.created" ]; then
    run_detached "node$n" create postgres --pgdata "$pgdata" --pgport "$port" --hostname 127.0.0.1 \
      --name "node$n" --auth trust --no-ssl --replication-quorum true --pgctl "$PGBIN/pg_ctl" \
      --monitor "$MONITOR_URI" --run
    touch "$DIR/node$n.created"
  else
    run_detached "node$n" run --pgdata "$pgdata"
  fi
}

# A node's config file lives under the postgres user's XDG dirs, keyed by pgdata.
tune_nodes() {
  for n in 1 2; do
    as_postgres pg_autoctl config set --pgdata "$DIR/node$n" timeout.network_partition_timeout 4 >/dev/null 2>&1 || true
  done
}

case "${1:-}" in
  start)
    mkdir -p "$DIR"
    chown postgres: "$DIR"
    start_monitor
    start_node 1
    wait_for 60 bash -c "[ \"\$(psql -X -At -h 127.0.0.1 -U postgres -p $MONITOR_PORT -d pg_auto_failover -c \"SELECT count(*) FROM pgautofailover.node WHERE reportedstate IN ('single','primary','wait_primary')\")\" -ge 1 ]"
    start_node 2
    checkpoint_until_healthy
    tune_nodes
    ;;
  uri)
    # `pg_autoctl show uri` names localhost and no user; payrail connects as postgres.
    echo "postgres://postgres@127.0.0.1:${NODE_PORTS[0]},127.0.0.1:${NODE_PORTS[1]}/postgres?target_session_attrs=read-write"
    ;;
  state) as_postgres pg_autoctl show state --pgdata "$DIR/monitor" ;;
  wait-primary) checkpoint_until_healthy ;;
  kill-primary)
    port=$(psql_at "$MONITOR_PORT" pg_auto_failover "SELECT nodeport FROM pgautofailover.node WHERE reportedstate IN ('primary','wait_primary') LIMIT 1")
    [ -n "$port" ] || { echo "failover-formation: no primary" >&2; exit 1; }
    for n in 1 2; do
      if [ "${NODE_PORTS[$((n - 1))]}" = "$port" ]; then
        kill_member "node$n"
        echo "node$n"
      fi
    done
    ;;
  port-node1 | port-node2) echo "${NODE_PORTS[$((${1#port-node} - 1))]}" ;;
  restart-node1 | restart-node2) start_node "${1#restart-node}" ;; # after kill-primary
  stop)
    for name in node1 node2 monitor; do
      pkill -TERM -f "pg_autoctl (run|create postgres|create monitor) --pgdata $DIR/$name( |\$)" || true
    done
    sleep 2
    for name in node1 node2 monitor; do kill_member "$name"; done
    pkill -9 -f "pg_autoctl.*$DIR" || true
    ;;
  destroy)
    "$0" stop
    rm -rf "$DIR"
    rm -rf ~postgres/.config/pg_autoctl"$DIR" ~postgres/.local/share/pg_autoctl"$DIR" /tmp/pg_autoctl"$DIR"
    ;;
  *)
    sed -n '2,18p' "$0"
    exit 2
    ;;
esac
