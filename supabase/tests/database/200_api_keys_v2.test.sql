-- API keys v2 (migration 20261130001500): roles (RLS, grants, built-ins),
-- usage (RLS, grants, the batches, the rollup), the events table closed to
-- every API role, the new key columns' checks, reroll's trigger, and
-- private.verify_api_key: refusals with their codes, scopes from the role,
-- claims for RLS, credits (spent, refilled), named limits, the previous
-- secret's grace period.
begin;
select plan(51);

select set_config('tests.alice', tests.create_user('v2-alice@example.test')::text, true);
select set_config('tests.bob', tests.create_user('v2-bob@example.test')::text, true);

-- Fixtures, written as postgres (ids chosen here; the API's role cannot).
insert into public.api_key_roles (id, user_id, name, scopes) values
  ('00000000-0000-0000-0000-00000000a001', current_setting('tests.alice')::uuid, 'alice-reads', '{sessions:read}'),
  ('00000000-0000-0000-0000-00000000b001', current_setting('tests.bob')::uuid, 'bob-role', '{account:read}');
insert into public.api_keys (id, user_id, name, prefix, key_hash, scopes, role_id)
values ('00000000-0000-0000-0000-00000000a011', current_setting('tests.alice')::uuid, 'by role',
        'opr_aaaaaaaa', sha256('v2-alice-role'::bytea), '{}', '00000000-0000-0000-0000-00000000a001');
insert into public.api_keys (id, user_id, name, prefix, key_hash, scopes, credits_remaining,
                             credits_refill_interval, credits_refill_amount)
values ('00000000-0000-0000-0000-00000000a012', current_setting('tests.alice')::uuid, 'credits',
        'opr_aaaaaaab', sha256('v2-alice-credits'::bytea), '{chat:write}', 2, 'daily', 3);
insert into public.api_keys (id, user_id, name, prefix, key_hash, scopes, limits)
values ('00000000-0000-0000-0000-00000000a013', current_setting('tests.alice')::uuid, 'limited',
        'opr_aaaaaaac', sha256('v2-alice-limited'::bytea), '{sessions:read}',
        '[{"name": "all", "limit": 2, "window": 3600}]');

-- Roles ------------------------------------------------------------------------------------

select tests.authenticate_as(current_setting('tests.alice')::uuid);
select results_eq(
  $$ select name from public.api_key_roles order by name $$,
  $$ values ('alice-reads'), ('assistant'), ('reader') $$,
  'alice reads the built-in roles and her own, not bob''s'
);
select throws_ok(
  $$ insert into public.api_key_roles (name, scopes) values ('via-data-api', '{sessions:read}') $$,
  '42501', null, 'the Data API cannot create roles'
);
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select is_empty(
  $$ update public.api_key_roles set scopes = '{account:write}' where name = 'reader' returning id $$,
  'the API cannot change a built-in role'
);
select is_empty(
  $$ update public.api_key_roles set scopes = '{account:write}'
      where id = '00000000-0000-0000-0000-00000000b001' returning id $$,
  'alice cannot change bob''s role'
);
select is_empty(
  $$ delete from public.api_key_roles where id = '00000000-0000-0000-0000-00000000b001' returning id $$,
  'alice cannot delete bob''s role'
);
select throws_ok(
  $$ insert into public.api_key_roles (name, scopes, user_id)
     values ('for-bob', '{sessions:read}', current_setting('tests.bob')::uuid) $$,
  '42501', null, 'alice cannot create a role for bob'
);
select throws_ok(
  $$ insert into public.api_key_roles (name, scopes) values ('alice-reads', '{sessions:read}') $$,
  '23505', null, 'role names are unique per owner'
);
select throws_ok(
  $$ insert into public.api_key_roles (name, scopes) values ('Bad Name', '{sessions:read}') $$,
  '23514', null, 'a role name has a shape'
);
select throws_ok(
  $$ insert into public.api_key_roles (name, scopes) values ('nope', '{admin:all}') $$,
  '23514', null, 'a role holds known scopes only'
);
select throws_ok(
  $$ delete from public.api_key_roles where id = '00000000-0000-0000-0000-00000000a001' $$,
  '23503', null, 'a role keys reference cannot be deleted'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes, role_id)
     values ('bob''s role', 'opr_aaaaaaad', sha256('v2-x'::bytea), '{}',
             '00000000-0000-0000-0000-00000000b001') $$,
  '23503', null, 'a key cannot reference another user''s role'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('nothing', 'opr_aaaaaaae', sha256('v2-y'::bytea), '{}') $$,
  '23514', null, 'a key without a role holds at least one scope'
);
update public.api_key_roles set description = 'changed' where id = '00000000-0000-0000-0000-00000000a001';
select tests.clear_authentication();
select results_eq(
  $$ select activity_type from public.user_activities
      where user_id = current_setting('tests.alice')::uuid and activity_type like 'api_key_role.%'
      order by id $$,
  $$ values ('api_key_role.created'), ('api_key_role.updated') $$,
  'role changes are activities'
);

-- The new columns' checks --------------------------------------------------------------------

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select throws_ok(
  $$ update public.api_keys set meta = '[1]' where id = '00000000-0000-0000-0000-00000000a013' $$,
  '23514', null, 'meta is an object'
);
select throws_ok(
  $$ update public.api_keys set meta = jsonb_build_object('x', repeat('y', 5000))
      where id = '00000000-0000-0000-0000-00000000a013' $$,
  '23514', null, 'meta is at most 4 KiB'
);
select throws_ok(
  $$ update public.api_keys set limits = '[{"name": "sessions", "limit": 1, "window": 60}]'
      where id = '00000000-0000-0000-0000-00000000a013' $$,
  '23514', null, 'a limit names a route class or all'
);
select throws_ok(
  $$ update public.api_keys set credits_remaining = -1 where id = '00000000-0000-0000-0000-00000000a012' $$,
  '23514', null, 'credits are never negative'
);
select throws_ok(
  $$ update public.api_keys set credits_refill_day = 3 where id = '00000000-0000-0000-0000-00000000a012' $$,
  '23514', null, 'a refill day belongs to monthly refills'
);
select throws_ok(
  $$ update public.api_keys set last_used_at = now() where id = '00000000-0000-0000-0000-00000000a013' $$,
  '42501', null, 'the API still cannot write last_used_at'
);
select tests.clear_authentication();

-- Usage and events: closed to writes; each owner reads their own ----------------------------

insert into public.api_key_usage (key_id, user_id, day, outcome, requests) values
  ('00000000-0000-0000-0000-00000000a013', current_setting('tests.alice')::uuid, current_date, 'valid', 2);
select tests.authenticate_as(current_setting('tests.bob')::uuid);
select is_empty($$ select 1 from public.api_key_usage $$, 'bob reads none of alice''s usage');
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select results_eq($$ select requests::int from public.api_key_usage $$, $$ values (2) $$,
  'alice reads her usage');
select throws_ok(
  $$ update public.api_key_usage set requests = 0 $$, '42501', null, 'the API cannot write usage'
);
select throws_ok(
  $$ select 1 from private.api_key_events $$, '42501', null, 'the API cannot read usage events'
);
select tests.authenticate_as_service_role();
select throws_ok(
  $$ insert into public.api_key_usage (key_id, user_id, day, outcome, requests)
     values ('00000000-0000-0000-0000-00000000a013', current_setting('tests.alice')::uuid,
             current_date, 'revoked', 1) $$,
  '42501', null, 'service_role reads usage but does not write it'
);
select tests.clear_authentication();

select ok(
  not has_function_privilege('authenticated', 'private.verify_api_key(bytea, text, text, integer, integer, integer, integer, integer, integer, uuid)', 'execute')
  and not has_function_privilege('anon', 'private.api_key_record_usage(jsonb)', 'execute')
  and not has_function_privilege('oprina_api_user', 'private.api_key_usage_rollup()', 'execute'),
  'no client role runs the verification or the rollup'
);

-- private.verify_api_key ----------------------------------------------------------------------

create function pg_temp.verify(p_key text, p_scope text, p_class text, p_cost integer)
returns jsonb language sql as $$
  select private.verify_api_key(sha256(p_key::bytea), p_scope, p_class, p_cost,
                                null, null, 100, 60, 0, null)
$$;
-- The outcome of a verification: 'valid', or the refusal's outcome, and each
-- refusal is checked against its SQLSTATE.
create function pg_temp.outcome(p_key text, p_scope text, p_class text, p_cost integer)
returns text language plpgsql as $$
declare
  state text;
  detail text;
begin
  perform pg_temp.verify(p_key, p_scope, p_class, p_cost);
  return 'valid';
exception when others then
  get stacked diagnostics state = returned_sqlstate, detail = pg_exception_detail;
  return state || ' ' || (detail::jsonb ->> 'outcome');
end $$;

select is(pg_temp.outcome('v2-unknown', 'sessions:read', 'default', 0), 'AK401 invalid',
  'an unknown key is AK401');
select is(pg_temp.outcome('v2-alice-role', 'sessions:read', 'default', 0), 'valid',
  'a key holds its role''s scopes');
select is(pg_temp.outcome('v2-alice-role', 'account:read', 'default', 0), 'AK403 insufficient_scope',
  'and not more: AK403');
update public.api_key_roles set scopes = '{account:read}' where id = '00000000-0000-0000-0000-00000000a001';
select is(pg_temp.outcome('v2-alice-role', 'account:read', 'default', 0), 'valid',
  'a changed role changes its keys at the next verification');
select is(pg_temp.verify('v2-alice-role', 'account:read', 'default', 0) -> 'claims' ->> 'sub',
  current_setting('tests.alice'), 'a valid key gives its owner''s claims');
select is(auth.uid(), current_setting('tests.alice')::uuid, 'and sets them for RLS');

select is(pg_temp.verify('v2-alice-credits', 'chat:write', 'chat', 1) ->> 'credits', '1',
  'a costed request spends one credit');
select is(pg_temp.verify('v2-alice-credits', 'chat:write', 'chat', 1) ->> 'credits', '0',
  'and another');
select is(pg_temp.outcome('v2-alice-credits', 'chat:write', 'chat', 1), 'AKU29 usage_exceeded',
  'at zero the request is refused: AKU29');
select is(pg_temp.outcome('v2-alice-credits', 'chat:write', 'chat', 0), 'valid',
  'an uncosted request is not refused at zero');
select is(pg_temp.verify('v2-alice-credits', 'chat:write', 'chat', 0) ->> 'refill_at',
  to_jsonb(date_trunc('day', now() at time zone 'UTC') at time zone 'UTC' + interval '1 day') #>> '{}',
  'the next refill is the next UTC midnight');
update public.api_keys set credits_refilled_at = now() - interval '2 days'
 where id = '00000000-0000-0000-0000-00000000a012';
select is(pg_temp.verify('v2-alice-credits', 'chat:write', 'chat', 1) ->> 'credits', '2',
  'a due refill resets the credits to the amount, then spends');

select is(pg_temp.verify('v2-alice-limited', 'sessions:read', 'default', 0) -> 'named' ->> 'remaining',
  '1', 'a named limit counts the request');
select is(pg_temp.outcome('v2-alice-limited', 'sessions:read', 'default', 0), 'valid',
  'up to its limit');
select is(pg_temp.outcome('v2-alice-limited', 'sessions:read', 'default', 0), 'AKR29 rate_limited',
  'then refuses: AKR29');
select is(pg_temp.outcome('v2-alice-limited', 'sessions:read', 'default', 0), 'AKR29 rate_limited',
  'a refused request took no hit, and it stays refused');

update public.api_keys set revoked_at = now() where id = '00000000-0000-0000-0000-00000000a011';
select is(pg_temp.outcome('v2-alice-role', 'account:read', 'default', 0), 'AK401 revoked',
  'a revoked key is AK401');

-- Usage batches ----------------------------------------------------------------------------------

select is(
  private.api_key_record_usage(jsonb_build_array(
    jsonb_build_object('key_id', '00000000-0000-0000-0000-00000000a013',
                       'user_id', current_setting('tests.alice'), 'outcome', 'valid', 'requests', 7),
    jsonb_build_object('key_id', '00000000-0000-0000-0000-00000000a013',
                       'user_id', current_setting('tests.bob'), 'outcome', 'valid', 'requests', 5),
    jsonb_build_object('key_id', gen_random_uuid(),
                       'user_id', current_setting('tests.alice'), 'outcome', 'valid', 'requests', 5))),
  1,
  'a usage batch keeps the rows of existing keys with their true owner only'
);

-- Reroll's trigger: the old hash moves for the grace period only ------------------------------
-- (Each verification marks its own transaction; this test is one transaction, so unmark it.)
select set_config('oprina.api_key_verifying', '', true);

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
update public.api_keys set key_hash = sha256('v2-alice-limited-2'::bytea), prefix = 'opr_aaaaaaaf',
       previous_expires_at = now() + interval '1 hour'
 where id = '00000000-0000-0000-0000-00000000a013';
select tests.clear_authentication();
select isnt(pg_temp.outcome('v2-alice-limited', 'sessions:read', 'auth', 0), 'AK401 invalid',
  'the old secret finds its key in the grace period (refused only by its used-up limit)');
update public.api_keys set previous_expires_at = now() + interval '10 hours'
 where id = '00000000-0000-0000-0000-00000000a013';
select ok(
  (select previous_expires_at < now() + interval '2 hours' from public.api_keys
    where id = '00000000-0000-0000-0000-00000000a013'),
  'a grace period can end sooner, never later'
);
update public.api_keys set previous_expires_at = now() - interval '1 second'
 where id = '00000000-0000-0000-0000-00000000a013';
select is(pg_temp.outcome('v2-alice-limited', 'sessions:read', 'auth', 0), 'AK401 invalid',
  'after it the old secret is unknown');
select set_config('oprina.api_key_verifying', '', true);
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
update public.api_keys set key_hash = sha256('v2-alice-limited-3'::bytea), prefix = 'opr_aaaaaaag'
 where id = '00000000-0000-0000-0000-00000000a013';
select tests.clear_authentication();
select results_eq(
  $$ select previous_key_hash is null and previous_expires_at is null from public.api_keys
      where id = '00000000-0000-0000-0000-00000000a013' $$,
  $$ values (true) $$,
  'a reroll without a grace period keeps no old hash'
);
select results_eq(
  $$ select count(*)::int from public.user_activities
      where user_id = current_setting('tests.alice')::uuid and activity_type = 'api_key.rerolled' $$,
  $$ values (2) $$,
  'each reroll is an activity'
);

-- The rollup ------------------------------------------------------------------------------------

select is(private.api_key_usage_rollup(), 7::bigint, 'the rollup folds the counted requests');
select results_eq(
  $$ select outcome, requests::int from public.api_key_usage
      where key_id = '00000000-0000-0000-0000-00000000a013' and day = current_date $$,
  $$ values ('valid', 9) $$,
  'into the day''s row per outcome (2 before, 7 now)'
);
select is_empty(
  $$ select 1 from private.api_key_events where user_id = current_setting('tests.alice')::uuid $$,
  'and removes them'
);

select * from finish();
rollback;
