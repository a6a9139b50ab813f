-- The sessions store's read queries (shared/sessions/store.ts: getSession,
-- listSessions, listMessages, sessionStats), explained as scripts/bench.sh's
-- row-scaling user: as the API's role (oprina_api_user) with the user's claims, so the
-- row-level security predicates are part of the plan, as in a request.
-- psql variables: claims, sid, lim. Each plan follows a line "@@ <endpoint>".
begin;
set local role oprina_api_user;
set local "request.jwt.claims" to :'claims';
\echo @@ get
explain (analyze, costs off)
select "id", "user_id", "title", "status", "is_archived", "archived_at", "agent_type",
       "agent_config", "context_data", "message_count", "total_tokens_used", "estimated_cost",
       "last_activity_at", "created_at", "updated_at"
  from public.chat_sessions where id = :'sid';
\echo @@ list
explain (analyze, costs off)
select "id", "user_id", "title", "status", "is_archived", "archived_at", "agent_type",
       "agent_config", "context_data", "message_count", "total_tokens_used", "estimated_cost",
       "last_activity_at", "created_at", "updated_at",
       (extract(epoch from last_activity_at) * 1000000)::int8::text as activity_us
  from public.chat_sessions
 where user_id = (select auth.uid()) and status <> 'archived'
 order by last_activity_at desc, id desc
 limit :lim;
\echo @@ messages
explain (analyze, costs off)
select "id", "session_id", "message_index", "role", "content", "content_type",
       "parent_message_id", "status", "error_code", "error_message", "agent_response_data",
       "processing_time_ms", "prompt_tokens", "completion_tokens", "total_tokens",
       "estimated_cost", "has_voice_response", "voice_response_url", "has_avatar_response",
       "avatar_session_id", "metadata", "created_at", "updated_at"
  from public.messages
 where session_id = :'sid'
 order by message_index asc
 limit :lim;
\echo @@ stats
explain (analyze, costs off)
select "total", "messages", "tokens", "estimated_cost", "last_activity_at",
       "active", "paused", "ended", "archived"
  from public.session_totals
 where user_id = (select auth.uid());
rollback;
