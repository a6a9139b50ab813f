-- GET /sessions/{id} as four statements, one round trip each (-M extended:
-- unnamed Parse/Bind/Execute per statement, like postgres.js with prepare: false).
begin;
select set_config('role', 'oprina_api_user', true),
       set_config('request.jwt.claims', :claims, true);
select "id", "user_id", "title", "status", "is_archived", "archived_at", "agent_type",
       "agent_config", "context_data", "message_count", "total_tokens_used", "estimated_cost",
       "last_activity_at", "created_at", "updated_at"
  from public.chat_sessions where id = :sid;
commit;
