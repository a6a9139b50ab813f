-- Quota per owner (migration 20261130000500): private.rate_limit_take_owner
-- (costly classes per owner, the key's own bucket, a deleted owner), the cap
-- on live API keys (private.api_keys_cap) and anonymous users creating keys.
begin;
select plan(35);

select set_config('tests.dana', tests.create_user('quota-dana@example.test')::text, true);
select set_config('tests.erin', tests.create_user('quota-erin@example.test')::text, true);
select set_config('tests.quinn', tests.create_user('quota-quinn@example.test')::text, true);
select set_config('tests.bob', tests.create_user('quota-bob@example.test')::text, true);
select set_config('tests.k1', gen_random_uuid()::text, true);
select set_config('tests.k2', gen_random_uuid()::text, true);

-- private.rate_limit_take_owner ----------------------------------------------------------
-- One-hour windows (see 080); a limit of 3 for the owner across credentials.

select results_eq(
  $$ select rate_limit, granted, remaining, owner_exists
       from private.rate_limit_take_owner(current_setting('tests.dana')::uuid, null, 'heygen', 3, 3600) $$,
  $$ values (3, 1, 2, true) $$,
  'the owner''s JWT: granted, 2 left in the owner''s window'
);
select results_eq(
  $$ select granted, remaining
       from private.rate_limit_take_owner(current_setting('tests.dana')::uuid, current_setting('tests.k1')::uuid, 'heygen', 3, 3600) $$,
  $$ values (1, 1) $$,
  'a key of the owner takes from the same window: 1 left'
);
select results_eq(
  $$ select granted, remaining
       from private.rate_limit_take_owner(current_setting('tests.dana')::uuid, current_setting('tests.k2')::uuid, 'heygen', 3, 3600) $$,
  $$ values (1, 0) $$,
  'a second key takes the last hit'
);
select results_eq(
  $$ select granted, remaining, owner_exists
       from private.rate_limit_take_owner(current_setting('tests.dana')::uuid, current_setting('tests.k1')::uuid, 'heygen', 3, 3600) $$,
  $$ values (0, 0, true) $$,
  'the owner''s window is exhausted: the first key, with hits left in its own bucket, is refused'
);
select results_eq(
  $$ select granted, remaining
       from private.rate_limit_take_owner(current_setting('tests.dana')::uuid, null, 'heygen', 3, 3600) $$,
  $$ values (0, 0) $$,
  'and so is the JWT'
);
select results_eq(
  $$ select bucket, hits from private.rate_limits
      where class = 'heygen' and bucket in ('user:' || current_setting('tests.dana'),
            'key:' || current_setting('tests.k1'), 'key:' || current_setting('tests.k2'))
      order by hits $$,
  $$ values ('key:' || current_setting('tests.k2'), 1), ('key:' || current_setting('tests.k1'), 2),
            ('user:' || current_setting('tests.dana'), 5) $$,
  'each key counts its own hits; the owner''s row counts every credential''s'
);
select results_eq(
  $$ select granted, remaining
       from private.rate_limit_take_owner(current_setting('tests.erin')::uuid, null, 'heygen', 3, 3600) $$,
  $$ values (1, 2) $$,
  'another owner has a window of their own'
);
select results_eq(
  $$ select granted from private.rate_limit_take_owner(current_setting('tests.dana')::uuid, null, 'chat', 3, 3600) $$,
  array[1],
  'another class of the same owner is counted separately'
);

-- A key whose own bucket is used up is refused without taking the owner's quota.
insert into private.rate_limits (bucket, class, window_start, hits)
values ('key:' || current_setting('tests.k1'), 'auth', to_timestamp(floor(extract(epoch from now()) / 3600) * 3600), 3);
select results_eq(
  $$ select granted, remaining
       from private.rate_limit_take_owner(current_setting('tests.dana')::uuid, current_setting('tests.k1')::uuid, 'auth', 3, 3600) $$,
  $$ values (0, 0) $$,
  'a key over its own limit is refused'
);
select is_empty(
  $$ select 1 from private.rate_limits where bucket = 'user:' || current_setting('tests.dana') and class = 'auth' $$,
  'the refusal left the owner''s window untouched'
);

-- A user who no longer exists.
select set_config('tests.ghost', gen_random_uuid()::text, true);
select results_eq(
  $$ select granted, remaining, owner_exists
       from private.rate_limit_take_owner(current_setting('tests.ghost')::uuid, null, 'heygen', 3, 3600) $$,
  $$ values (0, 0, false) $$,
  'an owner without an auth.users row: owner_exists is false, nothing granted'
);
select is_empty(
  $$ select 1 from private.rate_limits where bucket = 'user:' || current_setting('tests.ghost') $$,
  'and no bucket is written for it'
);
update auth.users set deleted_at = now() where id = current_setting('tests.erin')::uuid;
select results_eq(
  $$ select granted, owner_exists
       from private.rate_limit_take_owner(current_setting('tests.erin')::uuid, null, 'heygen', 3, 3600) $$,
  $$ values (0, false) $$,
  'a soft-deleted user (deleted_at set) no longer exists either'
);

select throws_ok(
  $$ select * from private.rate_limit_take_owner(current_setting('tests.dana')::uuid, null, 'chat', 0, 3600) $$,
  '22023', null, 'a limit of nothing is refused'
);
select ok(
  (select current_setting('synchronous_commit') = 'off'
     from private.rate_limit_take_owner(current_setting('tests.dana')::uuid, null, 'default', 3, 3600)),
  'a take does not wait for the WAL flush'
);
select ok(
  not has_function_privilege('anon', 'private.rate_limit_take_owner(uuid, uuid, text, integer, integer)', 'execute')
    and not has_function_privilege('authenticated', 'private.rate_limit_take_owner(uuid, uuid, text, integer, integer)', 'execute')
    and has_function_privilege('service_role', 'private.rate_limit_take_owner(uuid, uuid, text, integer, integer)', 'execute'),
  'private.rate_limit_take_owner: service_role only'
);
select is_empty(
  $$ select 1
       from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
      where p.oid in ('private.rate_limit_take_owner(uuid, uuid, text, integer, integer)'::regprocedure,
                      'private.api_keys_cap()'::regprocedure)
        and a.grantee = 0 and a.privilege_type = 'EXECUTE' $$,
  'PUBLIC has no EXECUTE on the new functions'
);

-- The cap on live API keys ----------------------------------------------------------------

select tests.authenticate_as_api(current_setting('tests.quinn')::uuid);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     select 'burst ' || i, 'opr_burst' || translate(lpad(i::text, 3, '0'), '0123456789', 'abcdefghij'), sha256(('quinn-burst-' || i)::bytea), array['sessions:read']
       from generate_series(1, 26) i $$,
  'AK409', 'the user has 25 live API keys, the most allowed',
  'one statement of 26 keys is refused whole: the cap counts rows of the same statement'
);
select lives_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     select 'key ' || i, 'opr_quinn' || translate(lpad(i::text, 3, '0'), '0123456789', 'abcdefghij'), sha256(('quinn-' || i)::bytea), array['sessions:read']
       from generate_series(1, 25) i $$,
  '25 live keys are allowed (no cap passed: the default)'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('key 26', 'opr_quinnacg', sha256('quinn-26'::bytea), array['sessions:read']) $$,
  'AK409', 'the user has 25 live API keys, the most allowed',
  'the 26th live key is refused with SQLSTATE AK409'
);
-- A key that expires after its creation but is expired now (an operator's
-- import, as postgres: the API cannot set created_at).
select tests.clear_authentication();
select lives_ok(
  $$ insert into public.api_keys (user_id, name, prefix, key_hash, scopes, created_at, expires_at)
     values (current_setting('tests.quinn')::uuid, 'born expired', 'opr_quinnexp',
             sha256('quinn-expired'::bytea), array['sessions:read'],
             now() - interval '1 day', now() - interval '1 second') $$,
  'a key that is already expired takes no slot'
);
select tests.authenticate_as_api(current_setting('tests.quinn')::uuid);
update public.api_keys set revoked_at = now() where name = 'key 1';
select lives_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('key 26', 'opr_quinnacg', sha256('quinn-26'::bytea), array['sessions:read']) $$,
  'revoking a key frees its slot'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('key 27', 'opr_quinnach', sha256('quinn-27'::bytea), array['sessions:read']) $$,
  'AK409', null, 'and the cap holds again'
);
select tests.clear_authentication();
update public.api_keys set created_at = now() - interval '1 day',
                           expires_at = now() - interval '1 second'
 where name = 'key 2' and user_id = current_setting('tests.quinn')::uuid;
select tests.authenticate_as_api(current_setting('tests.quinn')::uuid);
select lives_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('key 27', 'opr_quinnach', sha256('quinn-27'::bytea), array['sessions:read']) $$,
  'an expired key frees its slot'
);
select tests.clear_authentication();
select results_eq(
  $$ select count(*)::int from public.api_keys where user_id = current_setting('tests.quinn')::uuid
        and revoked_at is null and (expires_at is null or expires_at > now()) $$,
  array[25],
  'quinn holds exactly 25 live keys'
);

select tests.authenticate_as_api(current_setting('tests.bob')::uuid);
select lives_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('bob 1', 'opr_bobaaaab', sha256('quota-bob-1'::bytea), array['sessions:read']) $$,
  'another user is not held by quinn''s cap'
);
-- What the account API does: pass its configured cap for the transaction.
select set_config('app.api_keys_max_live', '2', true);
select lives_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('bob 2', 'opr_bobaaaac', sha256('quota-bob-2'::bytea), array['sessions:read']) $$,
  'with app.api_keys_max_live = 2, a second key is allowed'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('bob 3', 'opr_bobaaaad', sha256('quota-bob-3'::bytea), array['sessions:read']) $$,
  'AK409', 'the user has 2 live API keys, the most allowed',
  'and a third is refused'
);
select set_config('app.api_keys_max_live', '', true);
select tests.clear_authentication();

select has_trigger('public', 'api_keys', 'api_keys_cap', 'the cap is a trigger on public.api_keys');

-- Anonymous users -----------------------------------------------------------------------

select set_config('tests.anon_user', tests.create_user('quota-anonymous@example.test')::text, true);
select tests.authenticate_as_api(current_setting('tests.anon_user')::uuid);
select set_config('request.jwt.claims',
  (current_setting('request.jwt.claims')::jsonb || '{"is_anonymous": true}')::text, true);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('anonymous', 'opr_anonaaab', sha256('quota-anon-1'::bytea), array['sessions:read']) $$,
  '42501', null, 'an anonymous sign-in (is_anonymous: true) cannot create a key'
);
select set_config('request.jwt.claims',
  (current_setting('request.jwt.claims')::jsonb || '{"is_anonymous": false}')::text, true);
select lives_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('permanent', 'opr_anonaaac', sha256('quota-anon-2'::bytea), array['sessions:read']) $$,
  'the same user with is_anonymous: false can (as after converting to a permanent user)'
);
select tests.clear_authentication();

-- A key of an anonymous owner, made before the policy (here: by postgres).
insert into public.api_keys (user_id, name, prefix, key_hash, scopes)
values (current_setting('tests.anon_user')::uuid, 'legacy', 'opr_anonaaad', sha256('quota-anon-3'::bytea),
        array['sessions:read']);
update auth.users set is_anonymous = true where id = current_setting('tests.anon_user')::uuid;
select tests.authenticate_as_service_role();
select is_empty(
  $$ select * from private.resolve_api_key(sha256('quota-anon-3'::bytea)) $$,
  'a key whose owner is anonymous resolves to nothing'
);
select tests.clear_authentication();
update auth.users set is_anonymous = false where id = current_setting('tests.anon_user')::uuid;
select tests.authenticate_as_service_role();
select results_eq(
  $$ select user_id from private.resolve_api_key(sha256('quota-anon-3'::bytea)) $$,
  $$ values (current_setting('tests.anon_user')::uuid) $$,
  'once the owner is a permanent user, the key resolves'
);
select tests.clear_authentication();
select ok(
  has_function_privilege('service_role', 'private.resolve_api_key(bytea)', 'execute')
    and not has_function_privilege('authenticated', 'private.resolve_api_key(bytea)', 'execute'),
  'replacing private.resolve_api_key kept its grants'
);

select is(
  (select string_agg(policyname::text, ', ') from pg_policies
    where schemaname = 'public' and tablename = 'api_keys' and cmd = 'INSERT'),
  'api_keys: owner creates, unless anonymous',
  'one insert policy on api_keys, the one that refuses anonymous users'
);

select * from finish();
rollback;
