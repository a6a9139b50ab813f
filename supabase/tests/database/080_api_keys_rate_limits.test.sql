-- API keys (column grants, RLS, constraints, audit), private.resolve_api_key,
-- private.rate_limit_take, retention (private.purge_expired and its cron job),
-- the account.updated audit, private.delete_user and the admin views.
begin;
select plan(109);

select set_config('tests.alice', tests.create_user('keys-alice@example.test')::text, true);
select set_config('tests.bob', tests.create_user('keys-bob@example.test')::text, true);

-- Creating keys -------------------------------------------------------------------

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);

select lives_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('Alice CI', 'opr_alice2ab', sha256('opr_alice_one'::bytea), array['sessions:read', 'chat:write']) $$,
  'alice creates an API key (without user_id)'
);
select set_config('tests.a1', (select id::text from public.api_keys where name = 'Alice CI'), true);

select results_eq(
  $$ select user_id, name, prefix, scopes, expires_at, revoked_at, last_used_at, created_at
       from public.api_keys where id = current_setting('tests.a1')::uuid $$,
  $$ values (current_setting('tests.alice')::uuid, 'Alice CI'::text, 'opr_alice2ab'::text,
             array['sessions:read', 'chat:write']::text[], null::timestamptz, null::timestamptz,
             null::timestamptz, now()) $$,
  'alice reads every column but key_hash of her new key; user_id defaulted to auth.uid()'
);
-- What the account API does: insert and return the listed fields (no key_hash).
select results_eq(
  $$ with i as (
       insert into public.api_keys (name, prefix, key_hash, scopes, expires_at)
       values ('Alice app', 'opr_alice3cd', sha256('opr_alice_two'::bytea), array['account:read'], now() + interval '30 days')
       returning name, scopes, expires_at,
                 case when revoked_at is not null then 'revoked'
                      when expires_at <= now() then 'expired' else 'active' end as status)
     select * from i $$,
  $$ values ('Alice app'::text, array['account:read']::text[], now() + interval '30 days', 'active'::text) $$,
  'insert ... returning the non-secret columns works (as the account API does it)'
);
select set_config('tests.a2', (select id::text from public.api_keys where name = 'Alice app'), true);

-- key_hash is never readable by a client.
select throws_ok(
  $$ select key_hash from public.api_keys $$,
  '42501', null, 'alice cannot select key_hash, not even of her own keys'
);
select throws_ok(
  $$ select * from public.api_keys $$,
  '42501', null, 'select * fails for alice (key_hash is not granted)'
);
select throws_ok(
  $$ select id from public.api_keys where key_hash = sha256('opr_alice_one'::bytea) $$,
  '42501', null, 'alice cannot probe key_hash in a WHERE clause either'
);

-- Columns a client may not supply.
select throws_ok(
  $$ insert into public.api_keys (user_id, name, prefix, key_hash, scopes)
     values (current_setting('tests.bob')::uuid, 'For bob', 'opr_forbobx2', sha256('opr_for_bob'::bytea), array['chat:write']) $$,
  '42501', null, 'alice cannot create a key with user_id of bob'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes, last_used_at)
     values ('Forged use', 'opr_forgedus', sha256('opr_forged_use'::bytea), array['chat:write'], now()) $$,
  '42501', null, 'alice cannot insert last_used_at'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes, revoked_at)
     values ('Pre-revoked', 'opr_forgedrv', sha256('opr_forged_rev'::bytea), array['chat:write'], now()) $$,
  '42501', null, 'alice cannot insert revoked_at'
);

-- Check and unique constraints.
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('No scopes', 'opr_scopenon', sha256('opr_scope_none'::bytea), array[]::text[]) $$,
  '23514', null, 'scopes cannot be empty'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('Root', 'opr_scoperoo', sha256('opr_scope_root'::bytea), array['admin']) $$,
  '23514', null, 'an unknown scope is rejected'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('Mixed', 'opr_scopemix', sha256('opr_scope_mixed'::bytea), array['sessions:read', 'sessions:delete']) $$,
  '23514', null, 'a known scope does not excuse an unknown one next to it'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('Short hash', 'opr_hashshrt', substring(sha256('opr_short'::bytea) from 1 for 31), array['chat:write']) $$,
  '23514', null, 'key_hash of 31 bytes is rejected'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('Long hash', 'opr_hashlong', sha256('opr_long'::bytea) || '\x00'::bytea, array['chat:write']) $$,
  '23514', null, 'key_hash of 33 bytes is rejected'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('Same hash', 'opr_dupekey2', sha256('opr_alice_one'::bytea), array['chat:write']) $$,
  '23505', null, 'key_hash is unique'
);

-- Other users -------------------------------------------------------------------------

select tests.authenticate_as_api(current_setting('tests.bob')::uuid);

select lives_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('Bob key', 'opr_bob2abcd', sha256('opr_bob_one'::bytea), array['sessions:write', 'tokens:read']) $$,
  'bob creates his own key'
);
select set_config('tests.b1', (select id::text from public.api_keys where name = 'Bob key'), true);

select results_eq(
  $$ select name, user_id from public.api_keys $$,
  $$ values ('Bob key'::text, current_setting('tests.bob')::uuid) $$,
  'bob sees only his own key'
);
select is_empty(
  $$ select 1 from public.api_keys where id = current_setting('tests.a1')::uuid $$,
  'bob cannot read alice''s key by id'
);
select results_eq(
  $$ with u as (
       update public.api_keys set revoked_at = now()
        where id in (current_setting('tests.a1')::uuid, current_setting('tests.a2')::uuid)
       returning 1)
     select count(*)::int from u $$,
  array[0],
  'bob''s revoke of alice''s keys affects 0 rows'
);
select throws_ok(
  $$ delete from public.api_keys where id = current_setting('tests.a1')::uuid $$,
  '42501', null, 'bob cannot delete alice''s key (no client deletes keys)'
);

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);

select results_eq(
  $$ select name from public.api_keys order by name $$,
  $$ values ('Alice CI'::text), ('Alice app') $$,
  'alice sees exactly her two keys, not bob''s'
);

select tests.clear_authentication();
select results_eq(
  $$ select revoked_at from public.api_keys where user_id = current_setting('tests.alice')::uuid $$,
  $$ values (null::timestamptz), (null::timestamptz) $$,
  'alice''s keys are still unrevoked after bob''s attempt (checked as postgres)'
);

-- Updating: the Data API changes nothing; the API changes what PATCH and reroll
-- change (200_api_keys_v2.test.sql), never the owner or last_used_at ---------------------

select tests.authenticate_as(current_setting('tests.alice')::uuid);

select throws_ok(
  $$ update public.api_keys set name = 'Renamed' where id = current_setting('tests.a1')::uuid $$,
  '42501', null, 'alice cannot rename her key through the Data API'
);
select throws_ok(
  $$ update public.api_keys set scopes = array['account:write'] where id = current_setting('tests.a1')::uuid $$,
  '42501', null, 'alice cannot change the scopes of her key through the Data API'
);
select throws_ok(
  $$ update public.api_keys set key_hash = sha256('opr_other'::bytea) where id = current_setting('tests.a1')::uuid $$,
  '42501', null, 'alice cannot replace key_hash through the Data API'
);

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select throws_ok(
  $$ update public.api_keys set user_id = current_setting('tests.bob')::uuid where id = current_setting('tests.a1')::uuid $$,
  '42501', null, 'alice cannot move her key to bob'
);
select tests.authenticate_as(current_setting('tests.alice')::uuid);
select throws_ok(
  $$ update public.api_keys set expires_at = now() + interval '10 years' where id = current_setting('tests.a2')::uuid $$,
  '42501', null, 'alice cannot extend expires_at through the Data API'
);
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select throws_ok(
  $$ update public.api_keys set last_used_at = null where id = current_setting('tests.a1')::uuid $$,
  '42501', null, 'alice cannot write last_used_at'
);

select results_eq(
  $$ with u as (
       update public.api_keys set revoked_at = now() where id = current_setting('tests.a1')::uuid
       returning revoked_at)
     select * from u $$,
  $$ values (now()) $$,
  'alice revokes her own key (one row, revoked_at set)'
);
select results_eq(
  $$ with u as (
       update public.api_keys set revoked_at = now() where id = current_setting('tests.a1')::uuid
       returning 1)
     select count(*)::int from u $$,
  array[1],
  'a second revoke update of the same key is allowed'
);

-- Audit trail ----------------------------------------------------------------------

select tests.clear_authentication();

select results_eq(
  $$ select activity_type, user_id from public.user_activities
      where details ->> 'api_key_id' = current_setting('tests.a1') order by id $$,
  $$ values ('api_key.created'::text, current_setting('tests.alice')::uuid),
            ('api_key.revoked', current_setting('tests.alice')::uuid) $$,
  'api_key.created once and api_key.revoked once (not again on the second revoke update)'
);
select results_eq(
  $$ select details from public.user_activities
      where details ->> 'api_key_id' = current_setting('tests.a1') and activity_type = 'api_key.created' $$,
  $$ values (jsonb_build_object('api_key_id', current_setting('tests.a1'), 'name', 'Alice CI',
                                'prefix', 'opr_alice2ab', 'scopes', array['sessions:read', 'chat:write'])) $$,
  'api_key.created details hold id, name, prefix and scopes (and nothing secret)'
);
select is(
  (select count(*)::int from public.user_activities
    where details ->> 'api_key_id' = current_setting('tests.b1') and activity_type = 'api_key.revoked'),
  0,
  'bob''s key has no api_key.revoked activity'
);

-- private.resolve_api_key -------------------------------------------------------------

-- As postgres: an expired key, a key expiring later, and a revoked one of bob's.
-- Created an hour ago: a key always expires after it was created.
insert into public.api_keys (user_id, name, prefix, key_hash, scopes, expires_at, created_at) values
  (current_setting('tests.alice')::uuid, 'Alice expired', 'opr_alice4ef', sha256('opr_alice_expired'::bytea),
   array['tokens:read'], now() - interval '1 second', now() - interval '1 hour'),
  (current_setting('tests.alice')::uuid, 'Alice expires at now', 'opr_alice5gh', sha256('opr_alice_now'::bytea),
   array['tokens:read'], now(), now() - interval '1 hour');

select tests.authenticate_as_service_role();

select results_eq(
  $$ select id, user_id, scopes, email from private.resolve_api_key(sha256('opr_bob_one'::bytea)) $$,
  $$ values (current_setting('tests.b1')::uuid, current_setting('tests.bob')::uuid,
             array['sessions:write', 'tokens:read']::text[], 'keys-bob@example.test'::text) $$,
  'a valid key resolves to its id, owner, scopes and owner''s email'
);
select results_eq(
  $$ select id, user_id from private.resolve_api_key(sha256('opr_alice_two'::bytea)) $$,
  $$ values (current_setting('tests.a2')::uuid, current_setting('tests.alice')::uuid) $$,
  'a key with a future expiry resolves'
);
select is_empty(
  $$ select * from private.resolve_api_key(sha256('opr_alice_one'::bytea)) $$,
  'a revoked key resolves to nothing'
);
select is_empty(
  $$ select * from private.resolve_api_key(sha256('opr_alice_expired'::bytea)) $$,
  'an expired key resolves to nothing'
);
select is_empty(
  $$ select * from private.resolve_api_key(sha256('opr_alice_now'::bytea)) $$,
  'a key whose expires_at is now resolves to nothing'
);
select is_empty(
  $$ select * from private.resolve_api_key(sha256('opr_nobody'::bytea)) $$,
  'an unknown hash resolves to nothing'
);

select tests.clear_authentication();

select results_eq(
  $$ select name, last_used_at from public.api_keys
      where user_id in (current_setting('tests.alice')::uuid, current_setting('tests.bob')::uuid)
      order by name $$,
  $$ values ('Alice CI'::text, null::timestamptz), ('Alice app', now()), ('Alice expired', null),
            ('Alice expires at now', null), ('Bob key', now()) $$,
  'resolving sets last_used_at on the valid keys only (not on revoked or expired ones)'
);

-- now() is fixed for the transaction: backdate last_used_at to see whether a
-- resolve moves it.
update public.api_keys set last_used_at = now() - interval '30 seconds' where id = current_setting('tests.b1')::uuid;
select tests.authenticate_as_service_role();
select isnt_empty(
  $$ select * from private.resolve_api_key(sha256('opr_bob_one'::bytea)) $$,
  'bob''s key resolves again 30 seconds after its last use'
);
select tests.clear_authentication();
select is(
  (select last_used_at from public.api_keys where id = current_setting('tests.b1')::uuid),
  now() - interval '30 seconds',
  'last_used_at is not moved again within a minute'
);

update public.api_keys set last_used_at = now() - interval '2 minutes' where id = current_setting('tests.b1')::uuid;
select tests.authenticate_as_service_role();
select isnt_empty(
  $$ select * from private.resolve_api_key(sha256('opr_bob_one'::bytea)) $$,
  'bob''s key resolves 2 minutes after its last use'
);
select tests.clear_authentication();
select is(
  (select last_used_at from public.api_keys where id = current_setting('tests.b1')::uuid),
  now(),
  'last_used_at moves to now() once it is older than a minute'
);
select is(
  (select count(*)::int from public.user_activities
    where details ->> 'api_key_id' = current_setting('tests.b1') and activity_type <> 'api_key.created'),
  0,
  'resolving (and touching last_used_at) records no activity'
);

select ok(
  not has_function_privilege('anon', 'private.resolve_api_key(bytea)', 'execute'),
  'anon may not execute private.resolve_api_key'
);
select ok(
  not has_function_privilege('authenticated', 'private.resolve_api_key(bytea)', 'execute'),
  'authenticated may not execute private.resolve_api_key'
);
select ok(
  has_function_privilege('service_role', 'private.resolve_api_key(bytea)', 'execute'),
  'service_role may execute private.resolve_api_key'
);
select is_empty(
  $$ select 1
       from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
      where p.oid = 'private.resolve_api_key(bytea)'::regprocedure
        and a.grantee = 0 and a.privilege_type = 'EXECUTE' $$,
  'PUBLIC has no EXECUTE on private.resolve_api_key'
);
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select throws_ok(
  $$ select * from private.resolve_api_key(sha256('opr_bob_one'::bytea)) $$,
  '42501', null, 'alice cannot call private.resolve_api_key'
);
select tests.clear_authentication();

-- private.rate_limit_take -----------------------------------------------------------------

-- A one-hour window: the test cannot straddle a window boundary unless it runs
-- exactly on the hour, and now() is fixed for the transaction anyway.
select results_eq(
  $$ select rate_limit, granted, remaining from private.rate_limit_take('test:alpha', 'default', 10, 3600, 1) $$,
  $$ values (10, 1, 9) $$,
  'first hit: limit 10, granted 1, remaining 9'
);
select results_eq(
  $$ select granted, remaining from private.rate_limit_take('test:alpha', 'default', 10, 3600, 4) $$,
  $$ values (4, 5) $$,
  'a lease of 4: all granted, 5 left'
);
select set_config('tests.rl_reset',
  (select reset_ms::text from private.rate_limit_take('test:alpha', 'default', 10, 3600, 3)), true);
select ok(
  current_setting('tests.rl_reset')::int between 1 and 3600 * 1000
    and abs(extract(epoch from now()) * 1000 + current_setting('tests.rl_reset')::int
        - (floor(extract(epoch from now()) / 3600) + 1) * 3600 * 1000) <= 1,
  'reset_ms counts to the end of the current fixed window'
);
select results_eq(
  $$ select granted, remaining, reset_ms from private.rate_limit_take('test:alpha', 'default', 10, 3600, 5) $$,
  $$ values (2, 0, current_setting('tests.rl_reset')::int) $$,
  'a lease larger than what is left gets the rest: 2 of 5, remaining 0, same reset'
);
select results_eq(
  $$ select granted, remaining from private.rate_limit_take('test:alpha', 'default', 10, 3600, 1) $$,
  $$ values (0, 0) $$,
  'an exhausted window grants nothing'
);
select results_eq(
  $$ select window_start, hits from private.rate_limits where bucket = 'test:alpha' and class = 'default' $$,
  $$ values (to_timestamp(floor(extract(epoch from now()) / 3600) * 3600), 14) $$,
  'one row for the current fixed window; refused demand is counted beyond the limit'
);
select results_eq(
  $$ select granted, remaining from private.rate_limit_take('test:beta', 'default', 10, 3600, 1) $$,
  $$ values (1, 9) $$,
  'another bucket in the same class is counted separately'
);
select results_eq(
  $$ select granted, remaining from private.rate_limit_take('test:alpha', 'chat', 10, 3600, 1) $$,
  $$ values (1, 9) $$,
  'another class of the exhausted bucket is counted separately'
);
select throws_ok(
  $$ select * from private.rate_limit_take('test:alpha', 'chat', 10, 3600, 0) $$,
  '22023', null, 'a lease of nothing is refused'
);
select ok(
  (select current_setting('synchronous_commit') = 'off'
     from private.rate_limit_take('test:epsilon', 'default', 10, 3600, 1)),
  'a take does not wait for the WAL flush'
);

-- A full previous window does not count against the current one.
insert into private.rate_limits (bucket, class, window_start, hits)
values ('test:gamma', 'default', to_timestamp((floor(extract(epoch from now()) / 3600) - 1) * 3600), 100);
select results_eq(
  $$ select granted, remaining from private.rate_limit_take('test:gamma', 'default', 3, 3600, 1) $$,
  $$ values (1, 2) $$,
  'hits of the previous window are not counted in the current one'
);

select tests.authenticate_as_service_role();
select results_eq(
  $$ select remaining from private.rate_limit_take('test:delta', 'auth', 5, 60, 1) $$,
  array[4],
  'service_role can take hits'
);
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select throws_ok(
  $$ select * from private.rate_limit_take('user:' || current_setting('tests.alice'), 'default', 1000000, 60, 1) $$,
  '42501', null, 'alice cannot call private.rate_limit_take'
);
select throws_ok(
  $$ select * from private.rate_limits $$,
  '42501', null, 'alice cannot read private.rate_limits'
);
select tests.clear_authentication();

select ok(
  not has_function_privilege('authenticated', 'private.rate_limit_take(text, text, integer, integer, integer)', 'execute')
    and not has_function_privilege('anon', 'private.rate_limit_take(text, text, integer, integer, integer)', 'execute'),
  'neither authenticated nor anon may execute private.rate_limit_take'
);
select ok(
  has_function_privilege('service_role', 'private.rate_limit_take(text, text, integer, integer, integer)', 'execute'),
  'service_role may execute private.rate_limit_take'
);
select hasnt_function('private', 'rate_limit_hit', 'the per-transaction counter is gone');

-- account.updated ------------------------------------------------------------------------

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select lives_ok(
  $$ update public.profiles set display_name = 'Alice K', timezone = 'Europe/Berlin'
      where id = current_setting('tests.alice')::uuid $$,
  'alice updates her display name and time zone'
);
select lives_ok(
  $$ update public.profiles set display_name = 'Alice K', avatar_url = null
      where id = current_setting('tests.alice')::uuid $$,
  'alice writes the same values again'
);
select lives_ok(
  $$ update public.profiles set preferences = '{"voice": "nova"}' where id = current_setting('tests.alice')::uuid $$,
  'alice changes her preferences'
);
select tests.clear_authentication();
update public.profiles set email = 'keys-alice-2@example.test' where id = current_setting('tests.alice')::uuid;

select results_eq(
  $$ select details from public.user_activities
      where user_id = current_setting('tests.alice')::uuid and activity_type = 'account.updated' order by id $$,
  $$ values ('{"fields": ["display_name", "timezone"]}'::jsonb), ('{"fields": ["preferences"]}'::jsonb) $$,
  'account.updated lists the changed fields; no row for a no-op update or an untracked column'
);
select is(
  (select count(*)::int from public.user_activities
    where user_id = current_setting('tests.bob')::uuid and activity_type = 'account.updated'),
  0,
  'bob has no account.updated activity'
);

-- private.delete_user ----------------------------------------------------------------------

select set_config('tests.carol', tests.create_user('keys-carol@example.test')::text, true);
select tests.authenticate_as_api(current_setting('tests.carol')::uuid);
insert into public.chat_sessions (title) values ('Carol''s');
insert into public.messages (session_id, role, content)
  values ((select id from public.chat_sessions where title = 'Carol''s'), 'user', 'hello from carol');
insert into public.api_keys (name, prefix, key_hash, scopes)
  values ('Carol key', 'opr_carol2ab', sha256('opr_carol_one'::bytea), array['chat:write']);
update public.profiles set display_name = 'Carol' where id = current_setting('tests.carol')::uuid;
select tests.clear_authentication();
select set_config('tests.c1', (select id::text from public.api_keys where name = 'Carol key'), true);

select private.rate_limit_take('user:' || current_setting('tests.carol'), 'default', 10, 60, 1);
select private.rate_limit_take('user:' || current_setting('tests.carol'), 'chat', 10, 60, 1);
select private.rate_limit_take('key:' || current_setting('tests.c1'), 'chat', 10, 60, 1);
select private.rate_limit_take('user:' || current_setting('tests.alice'), 'default', 10, 60, 1);
select private.rate_limit_take('key:' || current_setting('tests.b1'), 'default', 10, 60, 1);

select results_eq(
  $$ select (select count(*) from public.profiles where id = current_setting('tests.carol')::uuid),
            (select count(*) from public.chat_sessions where user_id = current_setting('tests.carol')::uuid),
            (select count(*) from public.messages where user_id = current_setting('tests.carol')::uuid),
            (select count(*) from public.api_keys where user_id = current_setting('tests.carol')::uuid),
            (select count(*) from private.rate_limits
              where bucket in ('user:' || current_setting('tests.carol'), 'key:' || current_setting('tests.c1'))),
            (select count(*) > 0 from public.user_activities where user_id = current_setting('tests.carol')::uuid)::int::bigint $$,
  $$ values (1::bigint, 1::bigint, 1::bigint, 1::bigint, 3::bigint, 1::bigint) $$,
  'setup: carol has a profile, a session, a message, a key, three rate-limit rows and activities'
);

select tests.authenticate_as_api(current_setting('tests.carol')::uuid);
select throws_ok(
  $$ select private.delete_user(current_setting('tests.carol')::uuid) $$,
  '42501', null, 'carol cannot call private.delete_user herself'
);
select tests.authenticate_as_anon();
select throws_ok(
  $$ select private.delete_user(current_setting('tests.carol')::uuid) $$,
  '42501', null, 'anon cannot call private.delete_user'
);
select tests.clear_authentication();
select ok(
  not has_function_privilege('authenticated', 'private.delete_user(uuid)', 'execute')
    and not has_function_privilege('anon', 'private.delete_user(uuid)', 'execute')
    and has_function_privilege('service_role', 'private.delete_user(uuid)', 'execute'),
  'private.delete_user: service_role only'
);

select tests.authenticate_as_service_role();
select is(
  private.delete_user(current_setting('tests.carol')::uuid),
  true,
  'delete_user returns true for an existing user'
);
select tests.clear_authentication();

select is_empty(
  $$ select 1 from auth.users where id = current_setting('tests.carol')::uuid $$,
  'the auth user is gone'
);
select is_empty(
  $$ select 1 from public.profiles where id = current_setting('tests.carol')::uuid $$,
  'her profile is gone'
);
select is_empty(
  $$ select 1 from public.chat_sessions where user_id = current_setting('tests.carol')::uuid $$,
  'her sessions are gone'
);
select is_empty(
  $$ select 1 from public.messages where user_id = current_setting('tests.carol')::uuid $$,
  'her messages are gone'
);
select is_empty(
  $$ select 1 from public.user_activities where user_id = current_setting('tests.carol')::uuid $$,
  'her activities are gone (and the cascade recorded none)'
);
select is_empty(
  $$ select 1 from public.api_keys where user_id = current_setting('tests.carol')::uuid $$,
  'her API keys are gone'
);
select is_empty(
  $$ select 1 from private.rate_limits where bucket = 'user:' || current_setting('tests.carol') $$,
  'her user:<id> rate-limit rows are gone'
);
select is_empty(
  $$ select 1 from private.rate_limits where bucket = 'key:' || current_setting('tests.c1') $$,
  'her key:<key id> rate-limit rows are gone'
);
select results_eq(
  $$ select bucket from private.rate_limits
      where bucket in ('user:' || current_setting('tests.alice'), 'key:' || current_setting('tests.b1'))
      order by bucket $$,
  $$ values ('key:' || current_setting('tests.b1')), ('user:' || current_setting('tests.alice')) $$,
  'other users'' rate-limit rows are kept'
);
select results_eq(
  $$ select count(*)::int from public.api_keys
      where user_id in (current_setting('tests.alice')::uuid, current_setting('tests.bob')::uuid) $$,
  array[5],
  'other users'' keys are kept'
);

select tests.authenticate_as_service_role();
select is(
  private.delete_user(current_setting('tests.carol')::uuid),
  false,
  'delete_user returns false for a user that is already gone'
);
select is(
  private.delete_user('00000000-0000-0000-0000-000000000000'),
  false,
  'delete_user returns false for an unknown user'
);
select tests.clear_authentication();

-- admin schema ------------------------------------------------------------------------------

select ok(
  not has_schema_privilege('anon', 'admin', 'usage')
    and not has_schema_privilege('authenticated', 'admin', 'usage'),
  'neither anon nor authenticated has usage on schema admin'
);
select ok(
  has_schema_privilege('service_role', 'admin', 'usage')
    and has_table_privilege('service_role', 'admin.usage_per_day', 'select')
    and has_table_privilege('service_role', 'admin.api_keys_in_use', 'select'),
  'the server-side service_role reads the admin views (GET /account/admin/stats)'
);
select is_empty(
  $$ select 1
       from pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
      where n.nspname = 'admin' and a.grantee = 0 $$,
  'PUBLIC has no privileges on schema admin'
);

select tests.authenticate_as_anon();
select throws_ok(
  $$ select * from admin.usage_per_day $$,
  '42501', null, 'anon cannot select admin.usage_per_day'
);
select throws_ok(
  $$ select * from admin.api_keys_in_use $$,
  '42501', null, 'anon cannot select admin.api_keys_in_use'
);
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select throws_ok(
  $$ select * from admin.usage_per_day $$,
  '42501', null, 'authenticated cannot select admin.usage_per_day'
);
select throws_ok(
  $$ select * from admin.api_keys_in_use $$,
  '42501', null, 'authenticated cannot select admin.api_keys_in_use'
);
select tests.clear_authentication();

select has_view('admin', 'usage_per_day', 'admin.usage_per_day exists');
select has_view('admin', 'api_keys_in_use', 'admin.api_keys_in_use exists');

-- usage_per_day: compare today's row before and after a few messages, so data
-- committed by others does not matter.
select set_config('tests.usage_before', coalesce(
  (select to_jsonb(u) from admin.usage_per_day u where day = now()::date),
  '{"messages": 0, "agent_replies": 0, "failed": 0, "tokens": 0, "estimated_cost": 0, "active_users": 0}'::jsonb)::text, true);

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
insert into public.chat_sessions (title) values ('Usage');
select set_config('tests.usage_session', (select id::text from public.chat_sessions where title = 'Usage'), true);
insert into public.messages (session_id, role, content) values (current_setting('tests.usage_session')::uuid, 'user', 'count me');
select tests.authenticate_as_service_role();
insert into public.messages (session_id, user_id, role, content, status, total_tokens, estimated_cost)
values (current_setting('tests.usage_session')::uuid, current_setting('tests.alice')::uuid, 'assistant', 'reply', 'completed', 120, 0.002500),
       (current_setting('tests.usage_session')::uuid, current_setting('tests.alice')::uuid, 'assistant', '', 'failed', 30, 0.000500);
select tests.clear_authentication();

select results_eq(
  $$ select u.messages - (b ->> 'messages')::bigint,
            u.agent_replies - (b ->> 'agent_replies')::bigint,
            u.failed - (b ->> 'failed')::bigint,
            u.tokens - (b ->> 'tokens')::numeric,
            u.estimated_cost - (b ->> 'estimated_cost')::numeric,
            u.active_users - (b ->> 'active_users')::bigint
       from admin.usage_per_day u, (select current_setting('tests.usage_before')::jsonb) x(b)
      where u.day = now()::date $$,
  $$ values (3::bigint, 2::bigint, 1::bigint, 150::numeric, 0.003000::numeric, 1::bigint) $$,
  'usage_per_day counts today''s new messages, agent replies, failures, tokens, cost and the new active user'
);

select results_eq(
  $$ select name, email::text, prefix from admin.api_keys_in_use
      where user_id in (current_setting('tests.alice')::uuid, current_setting('tests.bob')::uuid)
      order by name $$,
  $$ values ('Alice app'::text, 'keys-alice@example.test'::text, 'opr_alice3cd'::text),
            ('Bob key', 'keys-bob@example.test', 'opr_bob2abcd') $$,
  'api_keys_in_use lists live keys with the owner''s email, not revoked or expired ones'
);
select ok(
  not exists (select 1 from information_schema.columns
               where table_schema = 'admin' and table_name = 'api_keys_in_use' and column_name = 'key_hash'),
  'api_keys_in_use does not expose key_hash'
);

-- Retention -----------------------------------------------------------------------------------

select results_eq(
  $$ select schedule, command from cron.job where jobname = 'purge-expired' $$,
  $$ values ('17 3 * * *'::text, 'select private.purge_expired(90)'::text) $$,
  'the cron job purge-expired runs private.purge_expired(90) daily at 03:17'
);
select ok(
  not has_function_privilege('anon', 'private.purge_expired(integer)', 'execute')
    and not has_function_privilege('authenticated', 'private.purge_expired(integer)', 'execute'),
  'neither anon nor authenticated may execute private.purge_expired'
);

insert into private.rate_limits (bucket, class, window_start, hits) values
  ('test:old', 'default', now() - interval '25 hours', 7),
  ('test:recent', 'default', now() - interval '23 hours', 7);
insert into public.user_activities (user_id, activity_type, details, created_at) values
  (current_setting('tests.bob')::uuid, 'test.old', '{}', now() - interval '91 days'),
  (current_setting('tests.bob')::uuid, 'test.recent', '{}', now() - interval '89 days');
select lives_ok(
  $$ select private.purge_expired(90) $$,
  'private.purge_expired(90) runs'
);
select results_eq(
  $$ select bucket from private.rate_limits where bucket in ('test:old', 'test:recent') $$,
  array['test:recent'],
  'purge_expired removes rate-limit windows older than a day and keeps newer ones'
);
select results_eq(
  $$ select activity_type from public.user_activities
      where user_id = current_setting('tests.bob')::uuid and activity_type like 'test.%' $$,
  array['test.recent'],
  'purge_expired removes activities older than 90 days and keeps newer ones'
);
select isnt_empty(
  $$ select 1 from private.rate_limits where bucket = 'test:alpha' $$,
  'purge_expired keeps the current window'
);

-- Revocation is final ---------------------------------------------------------------------

-- A revoked key must stay revoked: clearing revoked_at must not bring it back,
-- whether the attempt is refused with an error or simply changes nothing.
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
insert into public.api_keys (name, prefix, key_hash, scopes)
  values ('Alice retired', 'opr_alice6ij', sha256('opr_alice_retired'::bytea), array['chat:write']);
select set_config('tests.a5', (select id::text from public.api_keys where name = 'Alice retired'), true);
update public.api_keys set revoked_at = now() where id = current_setting('tests.a5')::uuid;
do $$
begin
  update public.api_keys set revoked_at = null where id = current_setting('tests.a5')::uuid;
exception when others then
  null;
end $$;
select tests.clear_authentication();

select isnt(
  (select revoked_at from public.api_keys where id = current_setting('tests.a5')::uuid),
  null,
  'the owner cannot un-revoke a key by setting revoked_at back to null'
);
select tests.authenticate_as_service_role();
select is_empty(
  $$ select * from private.resolve_api_key(sha256('opr_alice_retired'::bytea)) $$,
  'a key whose owner tried to un-revoke it still resolves to nothing'
);
select tests.clear_authentication();

select * from finish();
rollback;
