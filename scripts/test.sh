#!/usr/bin/env bash
# Runs every test against a throwaway stack on its own ports and data
# directory (so it works while the dev stack is up), then removes it.
#   bash scripts/test.sh [deno test args, e.g. tests/sessions]
source "$(dirname "$0")/lib.sh"

# Below Linux's ephemeral port range, so client sockets in TIME_WAIT never hold them.
API_PORT=${TEST_API_PORT:-25321}
DB_PORT=${TEST_DB_PORT:-25322}
NAME=${TEST_STACK:-test}

ensure_tools
ensure_browser
stack_env "$NAME" "$API_PORT" "$DB_PORT"
# Limits high enough for the suites, low enough that the rate-limit test can
# exhaust one window quickly; the tests read them from here.
export RATE_LIMIT_DEFAULT=600/60 RATE_LIMIT_AUTH=300/60 RATE_LIMIT_CHAT=600/60 RATE_LIMIT_HEYGEN=60/60 RATE_LIMIT_PROVIDER=1200/60
# Every test speaks from 127.0.0.1, so its public routes share one address:
# out of the suites' way. tests/platform/public-limit.test.ts runs a gateway
# of its own with a small public limit.
export RATE_LIMIT_PUBLIC=100000/60
out="$ROOT/.local/$NAME-results"
cleanup() {
  stack_down "$NAME" "$API_PORT" "$DB_PORT"
  # Keep the services' logs with the results for a look after a failure.
  if [ -d "$out" ]; then
    cp "$STACK_DIR"/*.log "$out/" 2>/dev/null || true
    cp "$STACK_DIR/pg/log" "$out/postgres.log" 2>/dev/null || true
  fi
  rm -rf "$STACK_DIR"
}
trap cleanup EXIT
cleanup
PG_EXTRA_CONF="fsync = off
synchronous_commit = off
full_page_writes = off" stack_up "$NAME" "$API_PORT" "$DB_PORT"

rm -rf "$out" && mkdir -p "$out"

log "pgTAP: supabase/tests/database"
pg_prove --verbose -d "$SUPABASE_DB_URL" "$ROOT"/supabase/tests/database/*.sql >"$out/pgtap.txt" 2>&1 || true
tap_pass=$(grep -cE '^ok [0-9]+' "$out/pgtap.txt" || true)
tap_fail=$(grep -cE '^not ok [0-9]+' "$out/pgtap.txt" || true)
# A file that dies before its plan completes fails as a whole.
if ! grep -q '^Result: PASS' "$out/pgtap.txt"; then
  grep -E '^(not ok|#|.*Failed|.*Dubious|psql:)' "$out/pgtap.txt" | head -40 >&2 || true
  [ "$tap_fail" -gt 0 ] || tap_fail=1
fi
log "pgTAP: $tap_pass passed, $tap_fail failed"

export ERROR_RESPONSES_LOG="$STACK_DIR/error-responses.log"
log "deno: tests/"
set +e
(cd "$ROOT" && NO_COLOR=1 "$DENO" test -A --parallel "${@:-tests/}") 2>&1 | tee "$out/deno.txt"
set -e
summary=$(sed 's/\x1b\[[0-9;]*m//g' "$out/deno.txt" | grep -E '^(ok|FAILED) \| ' | tail -1 || true)
deno_pass=$(echo "$summary" | sed -nE 's/.*\| ([0-9]+) passed.*/\1/p')
deno_fail=$(echo "$summary" | sed -nE 's/.*\| ([0-9]+) failed.*/\1/p')
if [ -z "$summary" ]; then deno_pass=0; deno_fail=1; log "deno test produced no summary"; fi

# Secret hygiene over everything the functions logged in this run and every
# error answer the tests received.
scan_pass=0 scan_fail=0
touch "$ERROR_RESPONSES_LOG"
if "$DENO" run -A "$ROOT/scripts/local/secret-scan.ts" "$STACK_DIR/gateway.log" "$ERROR_RESPONSES_LOG" \
  >"$out/secret-scan.txt" 2>&1; then
  scan_pass=1
else
  scan_fail=1
  cat "$out/secret-scan.txt" >&2
fi
log "$(tail -1 "$out/secret-scan.txt")"

passed=$((tap_pass + ${deno_pass:-0} + scan_pass))
failed=$((tap_fail + ${deno_fail:-0} + scan_fail))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
