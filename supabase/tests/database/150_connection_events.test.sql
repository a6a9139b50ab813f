-- Connection events and webhooks (migration 20261130000800): the trigger on
-- service_tokens writes one event per change, owners read their own events,
-- endpoints and deliveries and nobody writes an event; endpoints are the
-- API's to write (oprina_api_user, own rows, not anonymous, https or loopback
-- http, at most 10); signing secrets are ciphertext no role reads, set by the
-- owner's claims and read by the service only; fan-out follows owners,
-- filters and enabled; the worker's claim leases; the schedules exist.
begin;
select plan(69);

select set_config('tests.alice', tests.create_user('alice-150@example.test')::text, true);
select set_config('tests.bob', tests.create_user('bob-150@example.test')::text, true);

-- Endpoints first, so the events below fan out to them (as the API and the
-- service write them; the secrets come later).
insert into public.webhook_endpoints (id, user_id, url, event_types) values
  ('00000000-0000-0000-0000-0000000a0e01', current_setting('tests.alice')::uuid,
   'https://hooks.example.test/alice', '{}'),
  ('00000000-0000-0000-0000-0000000a0e02', current_setting('tests.alice')::uuid,
   'https://hooks.example.test/alice-revoked-only', '{connection.revoked}'),
  ('00000000-0000-0000-0000-0000000b0e01', current_setting('tests.bob')::uuid,
   'https://hooks.example.test/bob', '{}'),
  ('00000000-0000-0000-0000-00000000fe01', null, 'https://ops.example.test/all', '{}');
insert into public.webhook_endpoints (id, user_id, url, enabled, disabled_reason) values
  ('00000000-0000-0000-0000-0000000a0e03', current_setting('tests.alice')::uuid,
   'https://hooks.example.test/alice-off', false, 'user');

insert into public.service_tokens (id, user_id, provider, services, provider_account_id, expires_at) values
  ('00000000-0000-0000-0000-0000000a0c01', current_setting('tests.alice')::uuid, 'google', '{gmail}',
   'alice-150', now() + interval '1 hour'),
  ('00000000-0000-0000-0000-0000000b0c01', current_setting('tests.bob')::uuid, 'google', '{gmail}',
   'bob-150', now() + interval '1 hour');

-- The trigger ---------------------------------------------------------------------------
select results_eq(
  $$ select type, data from public.connection_events
      where connection_id = '00000000-0000-0000-0000-0000000a0c01' $$,
  $$ values ('connection.connected'::text, jsonb_build_object(
       'connection_id', '00000000-0000-0000-0000-0000000a0c01', 'provider', 'google',
       'services', '["gmail"]'::jsonb, 'status', 'active', 'previous_status', null)) $$,
  'a new connection is a connection.connected event with metadata only'
);

update public.service_tokens set use_count = use_count + 1, last_used_at = now(), expires_at = now() + interval '2 hours'
 where id = '00000000-0000-0000-0000-0000000a0c01';
update public.service_tokens set status = 'active' where id = '00000000-0000-0000-0000-0000000a0c01';
select is(
  (select count(*)::int from public.connection_events where connection_id = '00000000-0000-0000-0000-0000000a0c01'),
  1, 'a use, a refresh, or a status set to what it was is no event'
);

update public.service_tokens set status = 'needs_reauth', last_error_code = 'invalid_grant'
 where id = '00000000-0000-0000-0000-0000000a0c01';
update public.service_tokens set status = 'active', connected_at = now() + interval '1 second'
 where id = '00000000-0000-0000-0000-0000000a0c01';
update public.service_tokens set connected_at = now() + interval '2 seconds'
 where id = '00000000-0000-0000-0000-0000000a0c01';
update public.service_tokens set status = 'revoked', revoked_at = now(), revoked_reason = 'user_request',
       provider_revocation = 'revoked'
 where id = '00000000-0000-0000-0000-0000000a0c01';
update public.service_tokens set status = 'active', revoked_at = null, revoked_reason = null,
       connected_at = now() + interval '3 seconds'
 where id = '00000000-0000-0000-0000-0000000a0c01';

select results_eq(
  $$ select type, data ->> 'previous_status', data ->> 'status' from public.connection_events
      where connection_id = '00000000-0000-0000-0000-0000000a0c01' order by created_at, id $$,
  $$ values ('connection.connected'::text, null::text, 'active'::text),
            ('connection.needs_reauth', 'active', 'needs_reauth'),
            ('connection.recovered', 'needs_reauth', 'active'),
            ('connection.reconnected', 'active', 'active'),
            ('connection.revoked', 'active', 'revoked'),
            ('connection.reconnected', 'revoked', 'active') $$,
  'each connect, change of status and reconnect is one event, in order'
);
select is(
  (select data ->> 'error_code' from public.connection_events
    where connection_id = '00000000-0000-0000-0000-0000000a0c01' and type = 'connection.needs_reauth'),
  'invalid_grant', 'needs_reauth carries the error code'
);
select is(
  (select data -> 'reconnected' from public.connection_events
    where connection_id = '00000000-0000-0000-0000-0000000a0c01' and type = 'connection.recovered'),
  'true'::jsonb, 'recovered says it came from a reconnect'
);
select is(
  (select data - 'connection_id' - 'services' from public.connection_events
    where connection_id = '00000000-0000-0000-0000-0000000a0c01' and type = 'connection.revoked'),
  jsonb_build_object('provider', 'google', 'status', 'revoked', 'previous_status', 'active',
                     'reason', 'user_request', 'provider_revocation', 'revoked'),
  'revoked carries the reason and what the provider said'
);
select is_empty(
  $$ select 1 from public.connection_events e, jsonb_each_text(e.data) kv
      where e.user_id = current_setting('tests.alice')::uuid
        and (kv.key ~* 'token|secret|code_verifier|email' or kv.value ~ 'plain-') $$,
  'no event holds a token, secret or e-mail'
);

-- A user being deleted gets no event (the cascade never fails on one).
select is(
  private.record_connection_event(gen_random_uuid(), gen_random_uuid(), 'connection.connected', '{}'),
  null, 'no event for a user that does not exist'
);

-- Reading events ------------------------------------------------------------------------
select tests.authenticate_as(current_setting('tests.alice')::uuid);
select is(
  (select count(*)::int from public.connection_events),
  6, 'alice (Data API) reads her own events'
);
select is_empty(
  $$ select 1 from public.connection_events where user_id <> auth.uid() $$,
  'alice reads no one else''s events'
);
select throws_ok(
  $$ insert into public.connection_events (user_id, connection_id, type)
     values (auth.uid(), gen_random_uuid(), 'connection.connected') $$,
  '42501', null, 'the Data API cannot write an event'
);
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select throws_ok(
  $$ insert into public.connection_events (user_id, connection_id, type)
     values (auth.uid(), gen_random_uuid(), 'connection.connected') $$,
  '42501', null, 'the API role cannot write an event either'
);
select throws_ok(
  $$ delete from public.connection_events $$,
  '42501', null, 'nor delete one'
);
select throws_ok(
  $$ select private.record_connection_event(auth.uid(), gen_random_uuid(), 'connection.connected', '{}') $$,
  '42501', null, 'nor call the writer'
);
select tests.authenticate_as_service_role();
select throws_ok(
  $$ insert into public.connection_events (user_id, connection_id, type)
     values (current_setting('tests.alice')::uuid, gen_random_uuid(), 'connection.connected') $$,
  '42501', null, 'service_role writes no event directly: only the trigger does'
);
select tests.clear_authentication();
select throws_ok(
  $$ insert into public.connection_events (user_id, connection_id, type)
     values (current_setting('tests.alice')::uuid, gen_random_uuid(), 'connection.renamed') $$,
  '23514', null, 'an unknown event type is refused'
);

-- Fan-out -------------------------------------------------------------------------------
select results_eq(
  $$ select e.type, count(*)::int from public.webhook_deliveries d
       join public.connection_events e on e.id = d.event_id
      where d.endpoint_id = '00000000-0000-0000-0000-0000000a0e01'
      group by e.type order by 1 $$,
  $$ values ('connection.connected'::text, 1), ('connection.needs_reauth', 1), ('connection.reconnected', 2),
            ('connection.recovered', 1), ('connection.revoked', 1) $$,
  'alice''s unfiltered endpoint gets a delivery for each of her events'
);
select results_eq(
  $$ select e.type from public.webhook_deliveries d join public.connection_events e on e.id = d.event_id
      where d.endpoint_id = '00000000-0000-0000-0000-0000000a0e02' $$,
  $$ values ('connection.revoked'::text) $$,
  'a filtered endpoint gets only the types it asked for'
);
select is_empty(
  $$ select 1 from public.webhook_deliveries where endpoint_id = '00000000-0000-0000-0000-0000000a0e03' $$,
  'a disabled endpoint gets nothing'
);
select is(
  (select count(*)::int from public.webhook_deliveries d join public.connection_events e on e.id = d.event_id
    where d.endpoint_id = '00000000-0000-0000-0000-0000000b0e01' and e.user_id <> current_setting('tests.bob')::uuid),
  0, 'bob''s endpoint gets none of alice''s events'
);
select results_eq(
  $$ select count(*)::int, count(*) filter (where d.user_id is null)::int
       from public.webhook_deliveries d join public.connection_events e on e.id = d.event_id
      where d.endpoint_id = '00000000-0000-0000-0000-00000000fe01'
        and e.user_id in (current_setting('tests.alice')::uuid, current_setting('tests.bob')::uuid) $$,
  $$ values (7, 7) $$,
  'the service''s endpoint gets every user''s events, as deliveries of no user'
);
select is(
  (select count(*)::int from public.webhook_deliveries
    where status = 'pending' and attempts = 0 and next_attempt_at <= now()
      and endpoint_id = '00000000-0000-0000-0000-0000000a0e01'),
  6, 'deliveries start pending and due'
);

-- Endpoints and deliveries: who reads and who writes -----------------------------------------
select tests.authenticate_as(current_setting('tests.alice')::uuid);
select results_eq(
  $$ select id from public.webhook_endpoints order by id $$,
  $$ values ('00000000-0000-0000-0000-0000000a0e01'::uuid), ('00000000-0000-0000-0000-0000000a0e02'),
            ('00000000-0000-0000-0000-0000000a0e03') $$,
  'alice reads her own endpoints, not bob''s nor the service''s'
);
select is(
  (select count(*)::int from public.webhook_deliveries where user_id = auth.uid()),
  (select count(*)::int from public.webhook_deliveries),
  'alice reads only deliveries to her endpoints'
);
select is((select count(*)::int from public.webhook_deliveries), 7, '... all seven of them');
select throws_ok(
  $$ insert into public.webhook_endpoints (url) values ('https://hooks.example.test/data-api') $$,
  '42501', null, 'the Data API cannot register an endpoint'
);
select throws_ok(
  $$ update public.webhook_deliveries set status = 'delivered', delivered_at = now() $$,
  '42501', null, 'nor mark a delivery delivered'
);
select throws_ok(
  $$ select private.set_webhook_secret('00000000-0000-0000-0000-0000000a0e01', 'whsec_' || repeat('A', 43) || '=', 0) $$,
  '42501', null, 'nor set a secret'
);

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select lives_ok(
  $$ insert into public.webhook_endpoints (url, description, event_types)
     values ('https://hooks.example.test/alice-2', 'second', '{connection.needs_reauth}') $$,
  'the API registers an endpoint for alice'
);
select is(
  (select user_id from public.webhook_endpoints where url = 'https://hooks.example.test/alice-2'),
  current_setting('tests.alice')::uuid, 'the endpoint is alice''s'
);
select throws_ok(
  $$ insert into public.webhook_endpoints (id, url) values (gen_random_uuid(), 'https://x.example.test') $$,
  '42501', null, 'the API role cannot choose an endpoint''s id'
);
select throws_ok(
  $$ insert into public.webhook_endpoints (user_id, url) values (current_setting('tests.bob')::uuid, 'https://x.example.test') $$,
  '42501', null, 'the API role cannot choose an endpoint''s owner'
);
select results_eq(
  $$ with u as (update public.webhook_endpoints set description = 'pwned' where id = '00000000-0000-0000-0000-0000000b0e01' returning 1),
          d as (delete from public.webhook_endpoints where id in ('00000000-0000-0000-0000-0000000b0e01', '00000000-0000-0000-0000-00000000fe01') returning 1)
     select (select count(*) from u) + (select count(*) from d) $$,
  array[0::bigint],
  'as the API for alice, bob''s and the service''s endpoints are untouchable (0 rows)'
);
select throws_ok(
  $$ update public.webhook_endpoints set url = 'https://elsewhere.example.test' where id = '00000000-0000-0000-0000-0000000a0e01' $$,
  '42501', null, 'an endpoint''s URL cannot change (delete and register again)'
);
select throws_ok(
  $$ insert into public.webhook_endpoints (url) values ('http://hooks.example.test/plain') $$,
  '23514', null, 'http is refused outside loopback'
);
select throws_ok(
  $$ insert into public.webhook_endpoints (url) values ('javascript:alert(1)') $$,
  '23514', null, 'javascript: is refused'
);
select throws_ok(
  $$ insert into public.webhook_endpoints (url) values ('http://127.0.0.1.evil.example/x') $$,
  '23514', null, 'a host that starts like loopback is not loopback'
);
select lives_ok(
  $$ insert into public.webhook_endpoints (url) values ('http://127.0.0.1:24331/hooks/x') $$,
  'http to loopback is stored (the functions allow it only on the local stack)'
);
select throws_ok(
  $$ insert into public.webhook_endpoints (url, event_types) values ('https://x.example.test', '{connection.renamed}') $$,
  '23514', null, 'an unknown event type in a filter is refused'
);
select throws_ok(
  $$ update public.webhook_endpoints set enabled = false where id = '00000000-0000-0000-0000-0000000a0e01' $$,
  '23514', null, 'disabled needs a reason'
);
-- Up to ten per owner: alice has five.
select lives_ok(
  $$ insert into public.webhook_endpoints (url) select 'https://hooks.example.test/n' || n from generate_series(1, 5) n $$,
  'alice registers up to ten endpoints'
);
select throws_ok(
  $$ insert into public.webhook_endpoints (url) values ('https://hooks.example.test/eleventh') $$,
  'WH409', null, 'the eleventh is refused'
);

-- Secrets ---------------------------------------------------------------------------------
select set_config('tests.s1', 'whsec_' || encode(extensions.gen_random_bytes(32), 'base64'), true);
select set_config('tests.s2', 'whsec_' || encode(extensions.gen_random_bytes(32), 'base64'), true);
select set_config('tests.s3', 'whsec_' || encode(extensions.gen_random_bytes(32), 'base64'), true);
select throws_ok(
  $$ select private.set_webhook_secret('00000000-0000-0000-0000-0000000a0e01', auth.uid(), current_setting('tests.s1'), 0) $$,
  '42501', null, 'the API role does not set secrets itself (it switches to the service)'
);
select throws_ok(
  $$ select private.webhook_signing_secrets('00000000-0000-0000-0000-0000000a0e01') $$,
  '42501', null, 'nor reads one back'
);
select throws_ok(
  $$ select * from private.webhook_secrets $$,
  '42501', null, 'nor the ciphertext'
);

select tests.authenticate_as_service_role();
select is(
  private.set_webhook_secret('00000000-0000-0000-0000-0000000a0e01', current_setting('tests.alice')::uuid,
                             current_setting('tests.s1'), 0),
  null, 'the service sets the first secret of alice''s endpoint, naming alice'
);
select throws_ok(
  $$ select private.set_webhook_secret('00000000-0000-0000-0000-0000000b0e01', current_setting('tests.alice')::uuid,
                                       current_setting('tests.s1'), 0) $$,
  '02000', null, 'naming alice, not bob''s endpoint: as if it did not exist'
);
select throws_ok(
  $$ select private.set_webhook_secret('00000000-0000-0000-0000-00000000fe01', current_setting('tests.alice')::uuid,
                                       current_setting('tests.s1'), 0) $$,
  '02000', null, 'nor the service''s'
);
select throws_ok(
  $$ select private.set_webhook_secret('00000000-0000-0000-0000-0000000a0e02', current_setting('tests.alice')::uuid,
                                       'not-a-secret', 0) $$,
  '22023', null, 'a secret must look like whsec_<base64>'
);
select cmp_ok(
  private.set_webhook_secret('00000000-0000-0000-0000-0000000a0e01', current_setting('tests.alice')::uuid,
                             current_setting('tests.s2'), 3600),
  '>', now() + interval '59 minutes', 'a rotation with an hour of grace says when the old secret stops'
);
select is(
  private.webhook_signing_secrets('00000000-0000-0000-0000-0000000a0e01'),
  array[current_setting('tests.s2'), current_setting('tests.s1')],
  'during the grace both secrets sign, the new one first'
);
select ok(
  (select previous_secret_expires_at > now() and secret_rotated_at = now() from public.webhook_endpoints
    where id = '00000000-0000-0000-0000-0000000a0e01'),
  'the endpoint shows when it was rotated and when the old secret stops'
);
select throws_ok($$ select * from private.webhook_secrets $$, '42501', null,
  'service_role cannot read the ciphertext table either');
select is(
  private.set_webhook_secret('00000000-0000-0000-0000-00000000fe01', null, current_setting('tests.s1'), 0),
  null, 'the service''s own endpoint is the one of no owner'
);
select tests.clear_authentication();
select ok(
  (select position(convert_to(current_setting('tests.s2'), 'UTF8') in secret) = 0
      and position(convert_to(current_setting('tests.s1'), 'UTF8') in previous_secret) = 0
     from private.webhook_secrets where endpoint_id = '00000000-0000-0000-0000-0000000a0e01'),
  'both secrets are ciphertext'
);
select tests.authenticate_as_service_role();
select is(
  private.set_webhook_secret('00000000-0000-0000-0000-0000000a0e01', current_setting('tests.alice')::uuid,
                             current_setting('tests.s3'), 0),
  null, 'a rotation without grace drops the old secret at once'
);
select is(
  private.webhook_signing_secrets('00000000-0000-0000-0000-0000000a0e01'),
  array[current_setting('tests.s3')], '... so only the new one signs'
);

-- The worker's claim ------------------------------------------------------------------------
select is(
  (select pg_get_indexdef(indexrelid) from pg_index where indexrelid = 'public.webhook_deliveries_due'::regclass),
  'CREATE INDEX webhook_deliveries_due ON public.webhook_deliveries USING btree (next_attempt_at, id) WHERE (status = ''pending''::text)',
  'due deliveries are found through a partial index in claim order'
);
select set_config('tests.claimed', (
  select string_agg(delivery_id::text || ':' || attempt || ':' || array_length(secrets, 1), ',')
    from private.claim_webhook_deliveries(1000, 60)
   where endpoint_id = '00000000-0000-0000-0000-0000000a0e01'), true);
select is(
  current_setting('tests.claimed') ~ '^([0-9a-f-]{36}:1:1,){5}[0-9a-f-]{36}:1:1$',
  true, 'the claim takes alice''s six due deliveries, as first attempts, with their secret'
);
select is_empty(
  $$ select 1 from private.claim_webhook_deliveries(1000, 60)
      where endpoint_id = '00000000-0000-0000-0000-0000000a0e01' $$,
  'a claimed delivery is leased: not due again until the lease ends'
);
select is(
  (select count(*)::int from public.webhook_deliveries
    where endpoint_id = '00000000-0000-0000-0000-0000000a0e01'
      and next_attempt_at between now() + interval '59 seconds' and now() + interval '61 seconds'
      and attempts = 1 and last_attempt_at = now()),
  6, 'the lease and the attempt are recorded'
);
select is_empty(
  $$ select 1 from private.claim_webhook_deliveries(1000, 60) where endpoint_id = '00000000-0000-0000-0000-0000000a0e03' $$,
  'nothing of a disabled endpoint is claimed'
);
select tests.clear_authentication();
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select throws_ok(
  $$ select * from private.claim_webhook_deliveries(1, 60) $$,
  '42501', null, 'only the service claims'
);

-- Deleting ------------------------------------------------------------------------------------
select results_eq(
  $$ with d as (delete from public.webhook_endpoints where id = '00000000-0000-0000-0000-0000000a0e01' returning 1)
     select count(*)::int from d $$,
  array[1], 'the API deletes alice''s endpoint'
);
select tests.clear_authentication();
select is_empty(
  $$ select 1 from public.webhook_deliveries where endpoint_id = '00000000-0000-0000-0000-0000000a0e01'
     union all select 1 from private.webhook_secrets where endpoint_id = '00000000-0000-0000-0000-0000000a0e01' $$,
  'its deliveries and secret go with it'
);

-- Anonymous sign-ins register nothing.
select set_config('tests.anon_user', tests.create_user('anon-150@example.test')::text, true);
select tests.authenticate_as_api(current_setting('tests.anon_user')::uuid);
select set_config('request.jwt.claims',
  (current_setting('request.jwt.claims')::jsonb || '{"is_anonymous": true}')::text, true);
select throws_ok(
  $$ insert into public.webhook_endpoints (url) values ('https://hooks.example.test/anon') $$,
  '42501', null, 'an anonymous sign-in cannot register an endpoint'
);
select tests.clear_authentication();

-- Schedules -----------------------------------------------------------------------------------
select results_eq(
  $$ select schedule, command from cron.job where jobname = 'webhooks-deliver' $$,
  $$ values ('* * * * *'::text, 'select private.enqueue_service_call(''/functions/v1/webhooks/deliver'')'::text) $$,
  'pg_cron queues the delivery worker every minute'
);
update public.connection_events set created_at = now() - interval '91 days'
 where connection_id = '00000000-0000-0000-0000-0000000b0c01';
select cmp_ok(private.purge_connection_events(90), '>=', 1, 'events past retention are purged');
select is_empty(
  $$ select 1 from public.connection_events where connection_id = '00000000-0000-0000-0000-0000000b0c01'
     union all select 1 from public.webhook_deliveries d join public.connection_events e on e.id = d.event_id
      where e.connection_id = '00000000-0000-0000-0000-0000000b0c01' $$,
  '... with their deliveries'
);

select * from finish();
rollback;
