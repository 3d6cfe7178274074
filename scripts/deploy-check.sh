#!/usr/bin/env bash
# Checks the files of deploy/ (issue 17) without a container engine:
#   1. deploy/docker-compose.yml against the Compose Specification's JSON schema (the copy that
#      check-jsonschema, from PyPI, ships), and every file it mounts exists;
#   2. Prometheus: `promtool check config` and `check rules`, and the alert rules' unit tests;
#   3. deploy/grafana/payrail.json: JSON with what a Grafana import needs;
#   4. every metric the dashboard and the alert rules query exists in payrail's /metrics: payrail
#      (debug build) starts on a temp SQLite database in development mode, gets a few payments, a
#      refund, a replay, a webhook and a provider that refuses connections (its circuit opens), and is
#      scraped. A renamed metric fails here.
# Installs what it needs when missing: check-jsonschema and PyYAML (pip), promtool (apt: prometheus).
# Any failure exits non-zero saying which check.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
deploy="$repo/deploy"
started=$SECONDS

fail() {
  echo "deploy-check: FAIL: $*" >&2
  exit 1
}
step() { echo "--- deploy-check: $* ($((SECONDS - started)) s)"; }

pip_install() {
  python3 -m pip install --quiet "$@" 2>/dev/null || python3 -m pip install --quiet --break-system-packages "$@"
}

step "tools"
if ! check-jsonschema --version 2>/dev/null | grep -q '0\.39\.0'; then
  pip_install check-jsonschema==0.39.0 || fail "could not install check-jsonschema from PyPI"
fi
python3 -c 'import yaml' 2>/dev/null || pip_install PyYAML || fail "could not install PyYAML"
if ! command -v promtool >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends prometheus >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends prometheus >/dev/null; } ||
    fail "could not install promtool (Debian package prometheus)"
fi
for tool in check-jsonschema promtool curl cargo; do
  command -v "$tool" >/dev/null || fail "$tool is required"
done

step "compose: deploy/docker-compose.yml against the Compose Specification"
check-jsonschema --builtin-schema vendor.compose-spec "$deploy/docker-compose.yml" ||
  fail "deploy/docker-compose.yml is not a valid Compose file"
# Bind mounts are relative to deploy/; a moved file would otherwise only show at `docker compose up`.
while IFS= read -r mount; do
  [[ -e $deploy/$mount ]] || fail "deploy/docker-compose.yml mounts ./$mount, which does not exist"
done < <(grep -oE '^\s+- \./[^:]+' "$deploy/docker-compose.yml" | sed -E 's/^\s+- \.\///')

step "prometheus: promtool check config, check rules, test rules"
promtool check config "$deploy/prometheus/prometheus.yml" || fail "deploy/prometheus/prometheus.yml"
promtool check rules "$deploy/prometheus/alerts.yml" || fail "deploy/prometheus/alerts.yml"
promtool test rules "$deploy/prometheus/alerts.test.yml" || fail "deploy/prometheus/alerts.test.yml"

step "grafana: deploy/grafana/payrail.json"
python3 "$deploy/check_metrics.py" dashboard "$deploy/grafana/payrail.json" || fail "deploy/grafana/payrail.json"

step "metrics: build payrail (debug)"
cargo build --quiet --locked --bin payrail || fail "cargo build --bin payrail"
binary="$repo/target/debug/payrail"

work="$(mktemp -d "${TMPDIR:-/tmp}/payrail-deploy-check.XXXXXX")"
server_pid=""
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then kill -TERM "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
port="$(free_port)"
# Nothing listens there: Stripe calls fail at once, which opens its circuit (threshold 1).
refused="$(free_port)"
export ENVIRONMENT=development DATABASE_URL="sqlite://$work/payrail.db" HOST=127.0.0.1 PORT="$port"
export JWT_SECRET=deploy-check-jwt-secret-0123456789abcdef RATE_LIMIT_ENABLED=false LOG_LEVEL=warn
export STRIPE_SECRET_KEY=sk_test_deploy_check STRIPE_API_BASE="http://127.0.0.1:$refused"
export PROVIDER_BREAKER_THRESHOLD=1 PROVIDER_MAX_ATTEMPTS=1
# The check runs from $work so that payrail's relative paths stay out of the repository.
(cd "$work" && exec "$binary" serve) >"$work/server.log" 2>&1 &
server_pid=$!
base="http://127.0.0.1:$port"
for _ in $(seq 1 150); do
  curl -fsS --max-time 2 "$base/health" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { tail -n 20 "$work/server.log" >&2; fail "payrail exited at start-up"; }
  sleep 0.2
done
curl -fsS "$base/health" >/dev/null || { tail -n 20 "$work/server.log" >&2; fail "payrail did not answer /health"; }

step "metrics: exercise payrail on port $port"
token="$(cd "$work" && "$binary" token --merchant merchant_deploy_check)"
api() {
  local method="$1" path="$2"
  shift 2
  curl -sS -o "$work/response.json" -w '%{http_code}' -X "$method" "$base$path" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' "$@"
}
expect() {
  local want="$1" got="$2" what="$3"
  [[ $got == "$want" ]] || fail "$what answered $got, expected $want: $(cat "$work/response.json")"
}
card='{"type": "card", "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}}'
create="{\"amount\": 10000, \"currency\": \"usd\", \"capture\": false, \"payment_method\": $card}"
expect 201 "$(api POST /api/v1/payments -d "$create")" "create (sandbox)"
payment="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["id"])' "$work/response.json")"
expect 200 "$(api POST "/api/v1/payments/$payment/capture" -d '{"amount": 8000}')" "capture"
expect 201 "$(api POST "/api/v1/payments/$payment/refund" -d '{"amount": 3000}')" "refund"
keyed="{\"amount\": 2500, \"currency\": \"usd\", \"payment_method\": $card}"
expect 201 "$(api POST /api/v1/payments -H 'Idempotency-Key: deploy-check-1' -d "$keyed")" "keyed create"
expect 201 "$(api POST /api/v1/payments -H 'Idempotency-Key: deploy-check-1' -d "$keyed")" "keyed create, replayed"
stripe="{\"amount\": 2500, \"currency\": \"usd\", \"provider\": \"stripe\", \"payment_method\": $card}"
api POST /api/v1/payments -d "$stripe" >/dev/null # any answer: the call to Stripe fails either way
api POST /api/v1/webhooks/stripe -d '{}' >/dev/null # unsigned: refused, and counted

step "metrics: scrape /metrics and compare"
curl -fsS "$base/metrics" >"$work/metrics.txt" || fail "GET /metrics"
python3 "$deploy/check_metrics.py" names "$work/metrics.txt" \
  "$deploy/grafana/payrail.json" "$deploy/prometheus/alerts.yml" ||
  fail "the dashboard or the alert rules query a metric payrail does not export (names above)"

kill -TERM "$server_pid"
wait "$server_pid" || fail "payrail did not shut down cleanly on SIGTERM"
server_pid=""
step "OK: compose file, Prometheus rules and config, Grafana dashboard and metric names"
