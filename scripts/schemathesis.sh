#!/usr/bin/env bash
# Schema-driven API testing: starts payrail on a fresh SQLite database and runs Schemathesis (from
# PyPI, installed into target/schemathesis-venv) against GET /api/v1/openapi.json.
#
#   scripts/schemathesis.sh                  # default checks, 100 examples per operation
#   MAX_EXAMPLES=20 scripts/schemathesis.sh  # quicker
#   EXCLUDE_CHECKS= scripts/schemathesis.sh  # also run positive_data_acceptance (see below)
#   scripts/schemathesis.sh --phases fuzzing # extra arguments go to `st run`
#
# positive_data_acceptance is excluded by default: it expects every schema-valid request to
# succeed, but some rules cannot be written in JSON Schema — a card number must pass Luhn and
# not be expired, a `provider` must be one this deployment configured, a cursor must name an
# existing item — so schema-valid requests still get well-formed 400s there.
#
# It exits non-zero when Schemathesis finds a failure (a 5xx, a response that violates the schema,
# an undocumented status code, ...). The report lands in target/schemathesis-report/.
# Not part of .ci/run: it takes minutes. Rate limiting is disabled for the run (Schemathesis would
# otherwise spend its budget on 429s); everything else is the production code path.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/schemathesis-venv
SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet --bin payrail
WORK=$(mktemp -d)
PORT="${PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
export ENVIRONMENT=development
export DATABASE_URL="sqlite://$WORK/payrail.db"
export HOST=127.0.0.1 PORT
export JWT_SECRET="schemathesis-$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
export RATE_LIMIT_ENABLED=false
export LOG_LEVEL="${LOG_LEVEL:-warn}"

target/debug/payrail serve >"$WORK/payrail.log" 2>&1 &
SERVER_PID=$!
cleanup() {
  kill "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break
  sleep 0.2
done
TOKEN=$(target/debug/payrail token --merchant merchant_schemathesis --ttl-secs 3600)

EXCLUDE="${EXCLUDE_CHECKS-positive_data_acceptance}"
exclude=()
if [ -n "$EXCLUDE" ]; then exclude=(--exclude-checks "$EXCLUDE"); fi

status=0
"$VENV/bin/st" run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --max-examples "${MAX_EXAMPLES:-100}" \
  --workers 4 \
  --report junit \
  "${exclude[@]}" \
  --report-dir target/schemathesis-report \
  "$@" || status=$?

if grep '"level":"ERROR"' "$WORK/payrail.log" | grep -qv '"target":"actix_http'; then
  echo "--- payrail logged errors during the run:"
  grep '"level":"ERROR"' "$WORK/payrail.log" | head -20
fi
exit "$status"
