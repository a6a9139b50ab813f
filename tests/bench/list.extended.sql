-- GET /sessions?limit=20 as four statements, one round trip each (-M extended:
-- unnamed Parse/Bind/Execute per statement, like postgres.js with prepare: false).
-- The route asks for limit + 1 rows to learn whether another page exists.
begin;
select set_config('role', 'oprina_api_user', true),
       set_config('request.jwt.claims', :claims, true);
select "id", "user_id", "title", "status", "is_archived", "archived_at", "agent_type",
       "agent_config", "context_data", "message_count", "total_tokens_used", "estimated_cost",
       "last_activity_at", "created_at", "updated_at",
       (extract(epoch from last_activity_at) * 1000000)::int8::text as activity_us
  from public.chat_sessions
 where user_id = (select auth.uid()) and status <> 'archived'
 order by last_activity_at desc, id desc
 limit :lim;
commit;
