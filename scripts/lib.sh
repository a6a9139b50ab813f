# Shared by the stack scripts: tool installation and the project-owned
# Postgres cluster. Sourced, never run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DENO_VERSION=2.1.4
PG_BIN=/usr/lib/postgresql/15/bin
# The binary itself, not npm's .bin/deno: since the npm package's launcher is a
# node script, a pid taken from it would not be Deno's (services outlived stops).
DENO="$ROOT/.tools/node_modules/deno/deno"
export DENO_NO_UPDATE_CHECK=1
# Deno 2.1.4 reaches the npm registry here only through the system CA store.
export DENO_TLS_CA_STORE=system

log() { printf '\033[1m[oprina]\033[0m %s\n' "$*" >&2; }

# Installs what the stack needs when it is missing; never touches what exists.
ensure_tools() {
  local missing=()
  [ -x "$PG_BIN/postgres" ] || missing+=(postgresql-15)
  [ -f /usr/share/postgresql/15/extension/pg_cron.control ] || missing+=(postgresql-15-cron)
  [ -f /usr/share/postgresql/15/extension/pgtap.control ] || missing+=(postgresql-15-pgtap)
  command -v pg_prove >/dev/null || missing+=(postgresql-15-pgtap)
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]} with apt"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if ! "$DENO" --version 2>/dev/null | grep -q "deno $DENO_VERSION"; then
    log "installing deno $DENO_VERSION into .tools/"
    npm install --silent --no-audit --no-fund --prefix "$ROOT/.tools" "deno@$DENO_VERSION" >/dev/null
  fi
  (cd "$ROOT" && "$DENO" install --quiet >/dev/null)
}

# The browser tests' Chromium (tests/browser/): Debian's package, driven by
# playwright-core, since Playwright's own browser download cannot reach its
# host. Only scripts/test.sh asks for it: the install takes about a minute.
ensure_browser() {
  [ -x /usr/bin/chromium ] && return 0
  log "installing chromium with apt (for tests/browser)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
  [ -x /usr/bin/chromium ] || { log "apt installed no /usr/bin/chromium"; return 1; }
}

# The cluster layout version: a cluster made by an older layout (postgres as
# its superuser) is rebuilt, since the strict platform needs another initdb.
PG_LAYOUT=strict-platform-1

# pg_start DIR PORT: creates (once) and starts a cluster listening on
# 127.0.0.1:PORT with its socket inside DIR. Its only superuser is
# supabase_admin, as on a Supabase project; scripts/local/platform.sql then
# creates `postgres` without superuser rights.
pg_start() {
  local dir="$1" port="$2"
  mkdir -p "$dir"
  # The postgres OS user must be able to reach the cluster directory.
  local d="$dir"
  while [ "$d" != "/" ]; do chmod o+x "$d" 2>/dev/null || true; d="$(dirname "$d")"; done
  if [ -f "$dir/data/PG_VERSION" ] && [ "$(cat "$dir/layout" 2>/dev/null)" != "$PG_LAYOUT" ]; then
    log "rebuilding the database in $dir for the strict platform (its data is dropped)"
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir/data" "$dir/sock"
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    mkdir -p "$dir/data" "$dir/sock"
    chown -R postgres:postgres "$dir"
    runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" -U supabase_admin --auth=trust \
      -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/sock'
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
max_connections = 200
${PG_EXTRA_CONF:-}
CONF
    echo "$PG_LAYOUT" >"$dir/layout"
  fi
  # The dev ports (54321/54322) lie in Linux's ephemeral range, so a client
  # socket can hold the port for a moment: retry a failed start a few times.
  local attempt
  for attempt in 1 2 3 4 5; do
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1 && break
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start \
      >/dev/null && break
    [ "$attempt" -lt 5 ] || return 1
    sleep 1
  done
}

pg_stop() {
  local dir="$1"
  [ -f "$dir/data/PG_VERSION" ] || return 0
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
}

# wait_http URL: waits up to 30 s for a 200.
wait_http() {
  for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.2
  done
  log "timed out waiting for $1"
  return 1
}

# stack_env NAME API_PORT DB_PORT: the environment the functions read, with
# the same well-known local values as `supabase start`.
stack_env() {
  STACK_DIR="$ROOT/.local/$1"
  export SUPABASE_URL="http://127.0.0.1:$2"
  export SUPABASE_DB_URL="postgresql://postgres:postgres@127.0.0.1:$3/postgres"
  # The platform's superuser: only the stand-in itself (platform.sql, pg_net's
  # worker) and operator tools (benchmark data) use it; functions never see it.
  export PLATFORM_DB_URL="postgresql://supabase_admin@127.0.0.1:$3/postgres"
  # The API keys as `supabase start` prints them: the new publishable and
  # secret keys, and the legacy anon and service_role JWTs (HS256, signed
  # with the CLI's demo secret, which no function is given).
  export SUPABASE_PUBLISHABLE_KEYS='{"default":"sb_publishable_ACJWlzQHlZjBrEguHvfOxg_3BJgxAaH"}'
  export SUPABASE_SECRET_KEYS='{"default":"sb_secret_N7UND0UgjKTVK-Uodkm0Hg_xSvEMPvz"}'
  export SUPABASE_ANON_KEY="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0"
  export SUPABASE_SERVICE_ROLE_KEY="eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6InNlcnZpY2Vfcm9sZSIsImV4cCI6MTk4MzgxMjk5Nn0.EGIM96RAZx35lJzdJsyH-qQwv8Hdp7fsn3W0YpN81IU"
  export GATEWAY_PORT="$2"
  export SIGNING_KEY_FILE="$STACK_DIR/signing-key.json"
  # Chat: the local development agent (scripts/local/agent.ts, also HeyGen's
  # token API stand-in) on API_PORT+7. The dev stack keeps a real agent or
  # HeyGen key the caller configured (AGENT_URL=... bash scripts/dev.sh); other
  # stacks (tests, benchmarks) always talk to the local agent.
  export LOCAL_AGENT_PORT=$(($2 + 7))
  export LOCAL_AGENT_KEY=local-development-agent-key LOCAL_HEYGEN_KEY=local-heygen-key
  if [ "$1" != dev ] || [ -z "${AGENT_URL:-}" ]; then
    export AGENT_URL="http://127.0.0.1:$LOCAL_AGENT_PORT/v1" AGENT_API_KEY="$LOCAL_AGENT_KEY"
    export AGENT_MODEL=oprina-local-dev AGENT_PRICES='{"oprina-local-dev":{"prompt":0.5,"completion":1.5}}'
  fi
  if [ "$1" != dev ] || [ -z "${HEYGEN_API_KEY:-}" ]; then
    export HEYGEN_API_KEY="$LOCAL_HEYGEN_KEY" HEYGEN_BASE_URL="http://127.0.0.1:$LOCAL_AGENT_PORT"
  fi
  [ "$1" = dev ] || export LOCAL_AGENT_CHUNK_DELAY_MS=2 # streams visibly on dev, quickly in tests
  # The browser tests' app page (tests/browser/) runs on an origin of the
  # stack's own, API_PORT+9, allow-listed like an app's: :3000 may be a
  # developer's app, or another worktree's test stack running at the same time.
  if [ "$1" != dev ]; then
    export LOCAL_APP_ORIGIN="http://127.0.0.1:$(($2 + 9))"
    export CORS_ORIGINS="http://localhost:3000,http://127.0.0.1:3000,$LOCAL_APP_ORIGIN"
  fi
  # Webhooks: the local receiver (scripts/local/webhook-receiver.ts) on
  # API_PORT+10 is an http loopback target, which only local stacks allow.
  export LOCAL_WEBHOOK_RECEIVER_PORT=$(($2 + 10))
  export LOCAL_WEBHOOK_RECEIVER_URL="http://127.0.0.1:$LOCAL_WEBHOOK_RECEIVER_PORT"
  export WEBHOOK_ALLOW_LOOPBACK=1
  stack_oauth_env "$@"
}

# The local OAuth provider (scripts/local/oauth-server.ts) on API_PORT+8 is the
# `dev` provider. Stacks other than dev (tests, benchmarks) also point google
# and microsoft at it, with their own local clients, so the full flows run
# offline; on dev set OAUTH_LOCAL_PROVIDERS=1 for the same, or set real
# GOOGLE_*/MICROSOFT_* credentials in the shell.
stack_oauth_env() {
  export OAUTH_SERVER_PORT=$(($2 + 8))
  export DEV_OAUTH_URL="http://127.0.0.1:$OAUTH_SERVER_PORT"
  export DEV_OAUTH_CLIENT_ID="oprina-local"
  export DEV_OAUTH_CLIENT_SECRET="local-dev-client-secret-not-for-production"
  export OAUTH_HTTP_TIMEOUT_MS="${OAUTH_HTTP_TIMEOUT_MS:-3000}"
  export OAUTH_SERVER_REDIRECT_PREFIXES="$SUPABASE_URL/functions/v1/oauth/callback/"
  export OAUTH_SERVER_CLIENTS="oprina-local:$DEV_OAUTH_CLIENT_SECRET,local-google:local-google-secret,local-microsoft:local-microsoft-secret:rotate"
  if [ "$1" = dev ] && [ "${OAUTH_LOCAL_PROVIDERS:-}" != 1 ]; then
    export OAUTH_REDIRECT_ALLOWLIST="${OAUTH_REDIRECT_ALLOWLIST:-http://localhost:3000,http://127.0.0.1:3000}"
    return 0
  fi
  # Plus a native app's private-use scheme (RFC 8252), for the mobile flow's tests.
  export OAUTH_REDIRECT_ALLOWLIST="http://localhost:3000,http://127.0.0.1:3000,com.oprina.test:/oauth${LOCAL_APP_ORIGIN:+,$LOCAL_APP_ORIGIN}"
  export GOOGLE_CLIENT_ID=local-google GOOGLE_CLIENT_SECRET=local-google-secret
  export GOOGLE_AUTHORIZATION_URL="$DEV_OAUTH_URL/authorize" GOOGLE_TOKEN_URL="$DEV_OAUTH_URL/token"
  export GOOGLE_USERINFO_URL="$DEV_OAUTH_URL/userinfo" GOOGLE_REVOCATION_URL="$DEV_OAUTH_URL/revoke"
  export MICROSOFT_CLIENT_ID=local-microsoft MICROSOFT_CLIENT_SECRET=local-microsoft-secret
  export MICROSOFT_AUTHORIZATION_URL="$DEV_OAUTH_URL/authorize" MICROSOFT_TOKEN_URL="$DEV_OAUTH_URL/token"
  export MICROSOFT_USERINFO_URL="$DEV_OAUTH_URL/userinfo"
  unset MICROSOFT_REVOCATION_URL # Microsoft has no revocation endpoint
  # Their APIs too: the local OAuth server serves Calendar v3, Gmail v1 and
  # Graph v1.0 for the tokens it issues (scripts/local/provider-apis/).
  export GOOGLE_API_URL="$DEV_OAUTH_URL" GRAPH_API_URL="$DEV_OAUTH_URL"
  export UNIFIED_HTTP_TIMEOUT_MS="${UNIFIED_HTTP_TIMEOUT_MS:-3000}"
}


# service_start NAME HEALTH_URL CMD...: runs CMD in the background with its
# log and pid file in the stack directory, replacing an earlier instance, and
# waits until HEALTH_URL answers.
service_start() {
  local name="$1" health="$2"
  shift 2
  service_stop "$name"
  nohup "$@" >"$STACK_DIR/$name.log" 2>&1 &
  echo $! >"$STACK_DIR/$name.pid"
  wait_http "$health"
  # The health check may have been answered by something else on the port
  # (a stale instance): the one just started must be the one running.
  if ! kill -0 "$(cat "$STACK_DIR/$name.pid")" 2>/dev/null; then
    log "$name exited at start; see $STACK_DIR/$name.log"
    tail -3 "$STACK_DIR/$name.log" >&2
    return 1
  fi
}

service_stop() {
  if [ -f "$STACK_DIR/$1.pid" ]; then
    kill "$(cat "$STACK_DIR/$1.pid")" 2>/dev/null || true
    rm -f "$STACK_DIR/$1.pid"
  fi
}

# stack_up NAME API_PORT DB_PORT: Postgres with the platform stand-in, all
# migrations and the local Vault secrets; then the local OAuth provider, the
# local development agent, the local webhook receiver and the gateway in the
# background.
stack_up() {
  stack_env "$@"
  mkdir -p "$STACK_DIR"
  pg_start "$STACK_DIR/pg" "$3"
  DB_URL="$SUPABASE_DB_URL" "$DENO" run -A "$ROOT/scripts/migrate.ts" --platform
  "$DENO" run -A "$ROOT/scripts/local/secrets.ts"
  # pg_cron's launcher did not pick up jobs created after it started when the
  # database came under load right away (seen repeatedly in the test run);
  # started after the migrations, it runs them. Cheap, and before any client.
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$STACK_DIR/pg/data" -m fast -w restart \
    -l "$STACK_DIR/pg/log" >/dev/null
  service_start oauth-server "$DEV_OAUTH_URL/_control/health" \
    "$DENO" run -A "$ROOT/scripts/local/oauth-server.ts"
  service_start agent "http://127.0.0.1:$LOCAL_AGENT_PORT/health" \
    "$DENO" run --allow-net=127.0.0.1 --allow-env "$ROOT/scripts/local/agent.ts"
  service_start webhook-receiver "$LOCAL_WEBHOOK_RECEIVER_URL/_control/health" \
    "$DENO" run --allow-net=127.0.0.1 --allow-env "$ROOT/scripts/local/webhook-receiver.ts"
  service_start gateway "$SUPABASE_URL/health" "$DENO" run -A "$ROOT/scripts/gateway.ts"
}

stack_down() {
  stack_env "$@"
  for service in gateway webhook-receiver agent oauth-server; do service_stop "$service"; done
  pg_stop "$STACK_DIR/pg"
}
