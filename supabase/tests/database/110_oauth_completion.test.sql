-- Parked grants (20261130000400_oauth_completion.sql): closed to every API
-- role but through the service's functions; single use; refused for an
-- account being deleted; taken by deletion and by the cleanup.
begin;
select plan(14);

select set_config('tests.alice', tests.create_user('park-alice@example.test')::text, true);
select set_config('tests.bob', tests.create_user('park-bob@example.test')::text, true);
select vault.create_secret(repeat('k', 48), 'token_encryption_key')
 where not exists (select 1 from vault.decrypted_secrets where name = 'token_encryption_key');

select ok(
  (select relrowsecurity from pg_class where oid = 'private.parked_grants'::regclass),
  'RLS is enabled on private.parked_grants'
);
select ok(
  not has_table_privilege('authenticated', 'private.parked_grants', 'select')
    and not has_table_privilege('service_role', 'private.parked_grants', 'select')
    and not has_table_privilege('anon', 'private.parked_grants', 'select'),
  'no API role may read parked grants directly'
);
select ok(
  not has_function_privilege('authenticated', 'private.take_parked_grant(text)', 'execute')
    and not has_function_privilege('anon', 'private.take_parked_grant(text)', 'execute')
    and not has_function_privilege('authenticated', 'private.begin_account_deletion(uuid)', 'execute'),
  'clients cannot take grants or mark an account'
);

select tests.authenticate_as_service_role();
select isnt(
  private.park_grant(repeat('a', 64), current_setting('tests.alice')::uuid, 'dev', '{gmail}',
                     'acct-1', 'a@dev.local', '{openid}', now() + interval '1 hour', 'AT-1', 'RT-1'),
  null,
  'the service parks a grant for an existing user'
);
select is(
  private.park_grant(repeat('b', 64), gen_random_uuid(), 'dev', '{gmail}', 'acct-2', null, '{}',
                     now(), 'AT-2', null),
  null,
  'nothing is parked for a user who does not exist'
);
select results_eq(
  $$ select user_id, provider, access_token, refresh_token, expired
       from private.take_parked_grant(repeat('a', 64)) $$,
  $$ values (current_setting('tests.alice')::uuid, 'dev'::text, 'AT-1'::text, 'RT-1'::text, false) $$,
  'taking a grant returns it decrypted'
);
select is_empty(
  $$ select * from private.take_parked_grant(repeat('a', 64)) $$,
  'a grant is taken once'
);

select isnt(
  private.park_grant(repeat('c', 64), current_setting('tests.bob')::uuid, 'dev', '{gmail}',
                     'acct-3', null, '{}', now() + interval '1 hour', 'AT-3', null),
  null,
  'parked for bob'
);
select tests.clear_authentication();
select ok(
  (select position(convert_to('AT-3', 'UTF8') in access_token) = 0
     from private.parked_grants where completion_hash = repeat('c', 64)),
  'the stored access token is ciphertext'
);
update private.parked_grants set complete_by = now() - interval '1 second'
 where completion_hash = repeat('c', 64);
select tests.authenticate_as_service_role();
select results_eq(
  $$ select access_token, expired from private.take_expired_parked_grants(10)
      where user_id = current_setting('tests.bob')::uuid $$,
  $$ values ('AT-3'::text, true) $$,
  'the cleanup takes grants past their time'
);

-- Deletion ------------------------------------------------------------------------------
select isnt(
  private.park_grant(repeat('d', 64), current_setting('tests.alice')::uuid, 'dev', '{gmail}',
                     'acct-4', null, '{}', now() + interval '1 hour', 'AT-4', null),
  null,
  'parked for alice'
);
select private.begin_account_deletion(current_setting('tests.alice')::uuid);
select is(
  private.park_grant(repeat('e', 64), current_setting('tests.alice')::uuid, 'dev', '{gmail}',
                     'acct-5', null, '{}', now() + interval '1 hour', 'AT-5', null),
  null,
  'once deletion began, nothing more is parked for the account'
);
select is(private.may_connect(current_setting('tests.alice')::uuid), false,
          'once deletion began, no connection may be stored');
select results_eq(
  $$ select access_token from private.take_parked_grants_of(current_setting('tests.alice')::uuid) $$,
  $$ values ('AT-4'::text) $$,
  'deletion takes every grant parked for the account'
);

select * from finish();
rollback;
