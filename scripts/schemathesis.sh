#!/usr/bin/env bash
# Schema-driven API testing: starts payrail on a fresh SQLite database and runs Schemathesis (from
# PyPI, installed into target/schemathesis-venv) against GET /api/v1/openapi.json, with every check
# (`--checks all`, positive_data_acceptance included).
#
#   scripts/schemathesis.sh                  # all checks, 100 examples per operation
#   MAX_EXAMPLES=20 scripts/schemathesis.sh  # quicker
#   scripts/schemathesis.sh --phases fuzzing # extra arguments go to `st run`
#
# openapi/schemathesis_hooks.py is loaded for the few rules JSON Schema cannot express (Luhn, expiry
# relative to today, configured providers, single-use idempotency keys, cursors and amounts that
# depend on stored payments). The document states each of them with the error the API answers;
# the hooks file says, rule by rule, why and how narrowly it steps in. Nothing else is excused.
#
# It exits non-zero when Schemathesis finds a failure (a 5xx, a response that violates the schema,
# an undocumented status code, a schema-valid request refused, ...). The report lands in
# target/schemathesis-report/. Not part of .ci/run: it takes a minute or two. Rate limiting is
# disabled for the run (Schemathesis would otherwise spend its budget on 429s); everything else is
# the production code path.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=target/schemathesis-venv
SCHEMATHESIS_VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
# Python 3.12 or later where there is one: with several workers, 3.11's `ast.parse` can fail with
# "AST constructor recursion depth mismatch" (CPython gh-106905), which Schemathesis reports as an error.
if [ -z "${PYTHON:-}" ]; then
  PYTHON=python3
  for candidate in python3.12 python3.13 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[2-9]*/bin/python3; do
    if "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      PYTHON=$candidate
    fi
  done
fi
if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
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

status=0
SCHEMATHESIS_HOOKS="${SCHEMATHESIS_HOOKS:-openapi/schemathesis_hooks.py}" "$VENV/bin/st" run "http://127.0.0.1:$PORT/api/v1/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --checks all \
  --max-examples "${MAX_EXAMPLES:-100}" \
  --workers 4 \
  --report junit \
  --report-dir target/schemathesis-report \
  "$@" || status=$?

if grep '"level":"ERROR"' "$WORK/payrail.log" | grep -qv '"target":"actix_http'; then
  echo "--- payrail logged errors during the run:"
  grep '"level":"ERROR"' "$WORK/payrail.log" | head -20
fi
exit "$status"
