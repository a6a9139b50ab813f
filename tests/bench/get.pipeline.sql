-- GET /sessions/{id} with the same round-trip shape as shared/db/client.ts
-- (-M extended): begin; then the role/claims setup pipelined with the query;
-- then commit. Three round trips.
begin;
\startpipeline
select set_config('role', 'authenticated', true),
       set_config('request.jwt.claims', :claims, true);
select "id", "user_id", "title", "status", "is_archived", "archived_at", "agent_type",
       "agent_config", "context_data", "message_count", "total_tokens_used", "estimated_cost",
       "last_activity_at", "created_at", "updated_at"
  from public.chat_sessions where id = :sid;
\endpipeline
commit;
