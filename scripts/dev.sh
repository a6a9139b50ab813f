#!/usr/bin/env bash
# The local stack for development, without Docker:
#   bash scripts/dev.sh          install what is missing, start, print a dev token
#   bash scripts/dev.sh stop     stop Postgres and the gateway
#   bash scripts/dev.sh token [email] [--admin]   print a token for another user
source "$(dirname "$0")/lib.sh"

API_PORT=54321
DB_PORT=54322

case "${1:-up}" in
stop)
  stack_down dev "$API_PORT" "$DB_PORT"
  log "stopped"
  ;;
token)
  stack_env dev "$API_PORT" "$DB_PORT"
  shift
  "$DENO" run -A "$ROOT/scripts/local/dev-user.ts" "$@"
  ;;
up)
  ensure_tools
  stack_up dev "$API_PORT" "$DB_PORT"
  token=$("$DENO" run -A "$ROOT/scripts/local/dev-user.ts" dev@example.com)
  cat <<MSG

  Oprina local stack is up (no Docker).
    API        $SUPABASE_URL/functions/v1/<fn>   (sessions, chat, oauth, tokens, webhooks, account, unified)
    Database   $SUPABASE_DB_URL
    Logs       .local/dev/gateway.log, .local/dev/pg/log
    OAuth      $DEV_OAUTH_URL   (the local dev provider)
    Webhooks   $LOCAL_WEBHOOK_RECEIVER_URL/hooks/<name>   (the local receiver: webhooks in README)
    Agent      $AGENT_URL   ($([ "$AGENT_URL" = "http://127.0.0.1:$LOCAL_AGENT_PORT/v1" ] && echo "the local development agent, not a real model: .local/dev/agent.log; chat in README" || echo "model $AGENT_MODEL"))
    Keys       publishable $(sed -E 's/.*"default":"([^"]+)".*/\1/' <<<"$SUPABASE_PUBLISHABLE_KEYS")
               secret      $(sed -E 's/.*"default":"([^"]+)".*/\1/' <<<"$SUPABASE_SECRET_KEYS")   (service callers)
    Platform   as strict as hosted: postgres is not a superuser, no default grants, ES256 tokens

  Dev user dev@example.com, ES256 token valid 24 h:
    export TOKEN=$token

  Try it:
    curl -s -X POST $SUPABASE_URL/functions/v1/sessions \\
      -H "Authorization: Bearer \$TOKEN" -H 'Content-Type: application/json' -d '{"title":"Hello"}'
    curl -s $SUPABASE_URL/functions/v1/sessions -H "Authorization: Bearer \$TOKEN"

  Connect an account with the local OAuth provider ($DEV_OAUTH_URL), from a browser:
    curl -s -X POST $SUPABASE_URL/functions/v1/oauth/authorize -H "Authorization: Bearer \$TOKEN" \\
      -H 'Content-Type: application/json' -d '{"provider":"dev","services":["gmail","calendar"]}'
    then open authorization_url, sign in with any e-mail and click Allow; afterwards
    curl -s -X POST $SUPABASE_URL/functions/v1/tokens/dev/access-token -H "Authorization: Bearer \$TOKEN"
    Logs: .local/dev/oauth-server.log. Real Google/Microsoft: set GOOGLE_CLIENT_ID/_SECRET (README).

  Stop with: bash scripts/dev.sh stop
MSG
  ;;
*)
  echo "usage: bash scripts/dev.sh [up|stop|token [email] [--admin]]" >&2
  exit 2
  ;;
esac
