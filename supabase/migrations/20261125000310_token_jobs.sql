-- Token maintenance on a schedule (pg_cron):
--   tokens-refresh-due   every minute: POST /functions/v1/tokens/refresh-due through pg_net,
--                        with the project URL and service_role key read from Vault, the
--                        pattern Supabase documents for scheduling Edge Functions.
--   oauth-cleanup        daily: expired states, old refresh logs and revoked rows past
--                        retention, in SQL.
-- Also the dashboard's token views (admin.token_health, admin.token_refresh_failures).
-- Vault must hold `project_url` (e.g. https://<ref>.supabase.co) and `service_role_key`;
-- until it does, the refresh job fails visibly in cron.job_run_details.

create extension if not exists pg_cron;
-- pg_net is a platform extension on Supabase; a database without it (the local
-- stack provides a stand-in `net` schema) keeps what it has.
do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'pg_net') then
    create extension if not exists pg_net with schema extensions;
  end if;
end $$;

-- The command pg_cron runs; a function so the job stays one short line and
-- tests can run exactly what the schedule runs.
create or replace function private.enqueue_token_refresh() returns bigint
language sql volatile security definer set search_path = '' as $$
  select net.http_post(
    url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url')
           || '/functions/v1/tokens/refresh-due',
    headers := jsonb_build_object(
      'Content-Type', 'application/json',
      'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets
                                      where name = 'service_role_key')),
    body := jsonb_build_object('source', 'pg_cron'),
    timeout_milliseconds := 55000
  )
$$;
revoke all on function private.enqueue_token_refresh() from public, anon, authenticated, service_role;
comment on function private.enqueue_token_refresh() is
  'Queues POST <project_url>/functions/v1/tokens/refresh-due with the service_role key from Vault.';

select cron.schedule('tokens-refresh-due', '* * * * *', 'select private.enqueue_token_refresh()');
select cron.schedule('oauth-cleanup', '17 3 * * *', 'select private.cleanup_oauth_data()');

-- Dashboard views (schema admin: not exposed to the API, no client role may use it).
create schema if not exists admin;
revoke all on schema admin from public, anon, authenticated;

create or replace view admin.token_health as
  select provider,
         status,
         count(*) as connections,
         count(*) filter (where status = 'active' and expires_at <= now()) as access_token_expired,
         count(*) filter (where refresh_failures > 0) as failing_refresh,
         count(*) filter (where status = 'active' and not has_refresh_token) as without_refresh_token,
         max(last_refreshed_at) as last_refresh_at
    from public.service_tokens
   group by provider, status;
comment on view admin.token_health is
  'Connections per provider and status, with expired access tokens (refresh lagging), failing '
  'refreshes and the last successful refresh.';

create or replace view admin.token_refresh_failures as
  select l.created_at, l.provider, l.refresh_type, l.status, l.error_code, l.error_message,
         l.retry_count, l.duration_ms, l.token_id, l.user_id
    from public.token_refresh_logs l
   where l.status <> 'success';
comment on view admin.token_refresh_failures is 'Failed and needs_reauth refresh attempts, newest via ORDER BY created_at DESC.';
