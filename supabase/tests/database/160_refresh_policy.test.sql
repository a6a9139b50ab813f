-- Refresh policy and connection health (migration 20261130001100): the
-- trigger keeps refresh_due_at from the row and private.token_refresh_policy
-- (proactive for recently used connections, keep-alive per provider for
-- dormant ones, backoff, null when not to be refreshed); the claim can walk
-- the partial index; the new states are constrained and each change of state
-- is an event that fans out to webhooks; the policy is no API role's.
begin;
select plan(37);

select set_config('tests.carol', tests.create_user('carol-160@example.test')::text, true);
insert into public.webhook_endpoints (id, user_id, url) values
  ('00000000-0000-0000-0000-0000000c0e01', current_setting('tests.carol')::uuid,
   'https://hooks.example.test/carol');

-- Schema ------------------------------------------------------------------------------------
select has_column('public', 'service_tokens', 'refresh_due_at', 'service_tokens has refresh_due_at');
select has_column('public', 'service_tokens', 'failing_since', 'service_tokens has failing_since');
select is(
  (select indexdef from pg_indexes where schemaname = 'public' and indexname = 'service_tokens_refresh_due'),
  'CREATE INDEX service_tokens_refresh_due ON public.service_tokens USING btree (refresh_due_at) WHERE (refresh_due_at IS NOT NULL)',
  'the claim''s index: refresh_due_at, only rows the scheduler may take'
);
select has_trigger('public', 'service_tokens', 'service_tokens_schedule', 'the due-time trigger exists');
select results_eq(
  $$ select provider, active_window, lead, keepalive from private.token_refresh_policy order by provider $$,
  $$ values ('*'::text, interval '24 hours', interval '10 minutes', interval '24 hours'),
            ('google', interval '24 hours', interval '10 minutes', interval '72 hours'),
            ('microsoft', interval '24 hours', interval '10 minutes', interval '7 days') $$,
  'the default policy: active within 24 h, 10 min lead, keep-alive 24 h / Google 72 h / Microsoft 7 days'
);

-- Connections: c1 google dormant, c2 microsoft dormant, c3 dev used recently,
-- c4 dev used 25 h ago, c5 dev without a refresh token, c6 dev short-lived token.
insert into public.service_tokens
  (id, user_id, provider, provider_account_id, has_refresh_token, issued_at, expires_at, last_used_at) values
  ('00000000-0000-0000-0000-0000000c0c01', current_setting('tests.carol')::uuid, 'google', 'c1', true,
   now(), now() + interval '1 hour', null),
  ('00000000-0000-0000-0000-0000000c0c02', current_setting('tests.carol')::uuid, 'microsoft', 'c2', true,
   now(), now() + interval '1 hour', now() - interval '30 days'),
  ('00000000-0000-0000-0000-0000000c0c03', current_setting('tests.carol')::uuid, 'dev', 'c3', true,
   now(), now() + interval '1 hour', now() - interval '1 hour'),
  ('00000000-0000-0000-0000-0000000c0c04', current_setting('tests.carol')::uuid, 'dev', 'c4', true,
   now(), now() + interval '1 hour', now() - interval '25 hours'),
  ('00000000-0000-0000-0000-0000000c0c05', current_setting('tests.carol')::uuid, 'dev', 'c5', false,
   now(), now() + interval '1 hour', now()),
  ('00000000-0000-0000-0000-0000000c0c06', current_setting('tests.carol')::uuid, 'dev', 'c6', true,
   now(), now() + interval '10 minutes', now());

create function pg_temp.plan_of(p_query text) returns setof text language plpgsql as $$
begin
  return query execute 'explain ' || p_query;
end $$;

create function pg_temp.due(p_id text) returns timestamptz language sql as $$
  select refresh_due_at from public.service_tokens where id = p_id::uuid $$;

-- The due rule ----------------------------------------------------------------------------
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c01'), now() + interval '72 hours',
  'a never-used Google connection: keep-alive 72 h after its token was issued');
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c02'), now() + interval '7 days',
  'a dormant Microsoft connection: keep-alive after 7 days');
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c03'), now() + interval '50 minutes',
  'a connection used within 24 h: proactive, 10 minutes before expiry');
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c04'), now() + interval '24 hours',
  'used 25 h ago: the refresh would fall outside the active window, keep-alive (24 h for dev)');
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c05'), now() + interval '1 hour',
  'no refresh token: taken once expired (to be marked needs_reauth)');
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c06'), now() + interval '5 minutes',
  'a 10-minute token: half its lifetime before expiry, not 10 minutes (every call)');

update public.service_tokens set last_used_at = now() - interval '23 hours 45 minutes'
 where id = '00000000-0000-0000-0000-0000000c0c03';
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c03'), now() + interval '24 hours',
  'the last use ages out of the window before the proactive time: keep-alive takes over');
update public.service_tokens set last_used_at = now() where id = '00000000-0000-0000-0000-0000000c0c03';
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c03'), now() + interval '50 minutes',
  'a use makes it proactive again');

update public.service_tokens set next_refresh_at = now() + interval '2 hours'
 where id = '00000000-0000-0000-0000-0000000c0c03';
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c03'), now() + interval '2 hours',
  'a backoff postpones the due time');
update public.service_tokens set next_refresh_at = null, refresh_due_at = now() - interval '1 year'
 where id = '00000000-0000-0000-0000-0000000c0c03';
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c03'), now() + interval '50 minutes',
  'refresh_due_at is derived: a write to it is recomputed');

update private.token_refresh_policy set keepalive = interval '5 days' where provider = 'google';
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c01'), now() + interval '72 hours',
  'a policy change does not rewrite rows by itself');
update public.service_tokens set refresh_due_at = null where provider = 'google'
   and id = '00000000-0000-0000-0000-0000000c0c01';
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c01'), now() + interval '5 days',
  'the next write of a row applies the new policy');
delete from private.token_refresh_policy where provider = 'google';
update public.service_tokens set refresh_due_at = null where id = '00000000-0000-0000-0000-0000000c0c01';
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c01'), now() + interval '24 hours',
  'a provider without a row follows the ''*'' row');

-- States ------------------------------------------------------------------------------------
select throws_ok(
  $$ update public.service_tokens set status = 'bogus' where id = '00000000-0000-0000-0000-0000000c0c03' $$,
  '23514', null, 'the status is one of the five states');
select throws_ok(
  $$ update public.service_tokens set status = 'refresh_failing' where id = '00000000-0000-0000-0000-0000000c0c03' $$,
  '23514', null, 'refresh_failing needs failing_since');
select throws_ok(
  $$ update public.service_tokens set failing_since = now() where id = '00000000-0000-0000-0000-0000000c0c03' $$,
  '23514', null, 'an active connection has no failing_since');

-- A failure, then failing for too long, then a refresh that works.
update public.service_tokens set status = 'refresh_failing', failing_since = now(), refresh_failures = 1,
       last_error_code = 'server_error', next_refresh_at = now() + interval '1 minute'
 where id = '00000000-0000-0000-0000-0000000c0c03';
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c03'), now() + interval '50 minutes',
  'refresh_failing is still scheduled (the later of its due time and its backoff)');
update public.service_tokens set status = 'exhausted', refresh_failures = 9
 where id = '00000000-0000-0000-0000-0000000c0c03';
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c03'), null, 'exhausted is never due');
update public.service_tokens set status = 'active', failing_since = null, refresh_failures = 0,
       last_error_code = null, next_refresh_at = null
 where id = '00000000-0000-0000-0000-0000000c0c03';
select isnt(pg_temp.due('00000000-0000-0000-0000-0000000c0c03'), null, 'recovered is due again');

-- refresh_failing, then needs_reauth, then a reconnect.
update public.service_tokens set status = 'refresh_failing', failing_since = now(), refresh_failures = 1,
       last_error_code = 'timeout'
 where id = '00000000-0000-0000-0000-0000000c0c04';
update public.service_tokens set status = 'needs_reauth', failing_since = null, last_error_code = 'invalid_grant'
 where id = '00000000-0000-0000-0000-0000000c0c04';
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c04'), null, 'needs_reauth is never due');
update public.service_tokens set status = 'active', refresh_failures = 0, last_error_code = null,
       connected_at = now() + interval '1 second'
 where id = '00000000-0000-0000-0000-0000000c0c04';
update public.service_tokens set status = 'revoked', revoked_at = now() where id = '00000000-0000-0000-0000-0000000c0c06';
select is(pg_temp.due('00000000-0000-0000-0000-0000000c0c06'), null, 'revoked is never due');

-- Events --------------------------------------------------------------------------------------
select results_eq(
  $$ select type, data ->> 'previous_status', data ->> 'status', data ->> 'error_code',
            data ->> 'refresh_failures'
       from public.connection_events
      where connection_id = '00000000-0000-0000-0000-0000000c0c03' order by created_at $$,
  $$ values ('connection.connected'::text, null::text, 'active'::text, null::text, null::text),
            ('connection.refresh_failing', 'active', 'refresh_failing', 'server_error', '1'),
            ('connection.exhausted', 'refresh_failing', 'exhausted', 'server_error', '9'),
            ('connection.recovered', 'exhausted', 'active', null, null) $$,
  'failing, exhausted and recovered are events, with the error and the count'
);
select is(
  (select data -> 'failing_since' from public.connection_events
    where connection_id = '00000000-0000-0000-0000-0000000c0c03' and type = 'connection.exhausted'),
  to_jsonb(now()), 'exhausted says since when it failed');
select is(
  (select data -> 'reconnected' from public.connection_events
    where connection_id = '00000000-0000-0000-0000-0000000c0c03' and type = 'connection.recovered'),
  'false'::jsonb, 'recovered by a refresh is not a reconnect');
select results_eq(
  $$ select type, data ->> 'previous_status', data -> 'reconnected'
       from public.connection_events
      where connection_id = '00000000-0000-0000-0000-0000000c0c04' order by created_at $$,
  $$ values ('connection.connected'::text, null::text, null::jsonb),
            ('connection.refresh_failing', 'active', null),
            ('connection.needs_reauth', 'refresh_failing', null),
            ('connection.recovered', 'needs_reauth', 'true'::jsonb) $$,
  'refresh_failing -> needs_reauth -> reconnected is failing, needs_reauth, recovered'
);
select is(
  (select count(*)::int from public.connection_events
    where connection_id = '00000000-0000-0000-0000-0000000c0c03' and type = 'connection.refresh_failing'),
  1, 'one refresh_failing event per run of failures, not one per failure');
select is(
  (select count(*)::int from public.webhook_deliveries d
     join public.connection_events e on e.id = d.event_id
    where d.endpoint_id = '00000000-0000-0000-0000-0000000c0e01'
      and e.type in ('connection.refresh_failing', 'connection.exhausted', 'connection.recovered')),
  5, 'each of them fans out to the owner''s endpoint');

-- The claim walks the index -----------------------------------------------------------------
-- Planner costs on a table this small prefer a scan or a bitmap; what counts
-- is that the index serves the claim's filter and order (the bench shows the
-- plan on a million rows).
set local enable_seqscan = off;
set local enable_bitmapscan = off;
select matches(
  (select string_agg(line, E'\n') from (
     select * from pg_temp.plan_of($$ select id from public.service_tokens where refresh_due_at <= now()
                                       order by refresh_due_at limit 500 for update skip locked $$)) p(line)),
  'Index Scan using service_tokens_refresh_due',
  'the claim is an index scan in due order');
reset enable_seqscan;
reset enable_bitmapscan;

-- Grants --------------------------------------------------------------------------------------
select is_empty(
  $$ select r.rolname from pg_class c cross join aclexplode(c.relacl) a join pg_roles r on r.oid = a.grantee
      where c.oid = 'private.token_refresh_policy'::regclass
        and r.rolname in ('anon', 'authenticated', 'service_role', 'oprina_api_user') $$,
  'no API role may touch the policy');
select ok(
  not has_function_privilege('service_role', 'private.service_tokens_schedule()', 'execute')
  and not has_function_privilege('authenticated', 'private.service_tokens_schedule()', 'execute')
  and not has_function_privilege('anon', 'private.service_tokens_schedule()', 'execute'),
  'the trigger function is no API role''s to call');
select tests.authenticate_as_service_role();
select throws_ok($$ select * from private.token_refresh_policy $$, '42501', null,
  'the service cannot read the policy either');
select tests.clear_authentication();
select tests.authenticate_as(current_setting('tests.carol')::uuid);
select is(
  (select count(*)::int from public.service_tokens where refresh_due_at is not null or failing_since is null),
  6, 'the owner reads the new columns of their connections');
select tests.clear_authentication();

select * from finish();
rollback;
