-- Scope choices (20261130001200_scope_choices.sql): access maps hold to their
-- shape; owners read their own connection's coverage and nobody else's; what
-- an authorization asks for, and the connection it extends, stay the
-- service's; a parked grant keeps the access asked for.
begin;
select plan(16);

select set_config('tests.alice', tests.create_user('alice-170@example.test')::text, true);
select set_config('tests.bob', tests.create_user('bob-170@example.test')::text, true);
select vault.create_secret(repeat('k', 48), 'token_encryption_key')
 where not exists (select 1 from vault.decrypted_secrets where name = 'token_encryption_key');

insert into public.service_tokens
  (id, user_id, provider, services, provider_account_id, expires_at, service_access, missing_access)
values ('00000000-0000-0000-0000-00000000a170', current_setting('tests.alice')::uuid, 'google',
        '{gmail}', 'alice-170', now() + interval '1 hour', '{"gmail": "read"}', '{"calendar": "write"}'),
       ('00000000-0000-0000-0000-00000000b170', current_setting('tests.bob')::uuid, 'dev',
        '{gmail}', 'bob-170', now() + interval '1 hour', '{"gmail": "write"}', '{}');

-- Shape --------------------------------------------------------------------------------
select is(
  (select service_access from public.service_tokens where id = '00000000-0000-0000-0000-00000000a170'),
  '{"gmail": "read"}'::jsonb,
  'a connection stores its coverage per service'
);
select throws_ok(
  $$ update public.service_tokens set service_access = '{"gmail": "admin"}'
      where id = '00000000-0000-0000-0000-00000000a170' $$,
  '23514', null, 'a level other than read or write is refused'
);
select throws_ok(
  $$ update public.service_tokens set service_access = '{"drive": "read"}'
      where id = '00000000-0000-0000-0000-00000000a170' $$,
  '23514', null, 'a service nobody offers is refused'
);
select throws_ok(
  $$ update public.service_tokens set missing_access = '["gmail"]'
      where id = '00000000-0000-0000-0000-00000000a170' $$,
  '23514', null, 'missing_access must be an object'
);
select throws_ok(
  $$ insert into public.oauth_states (state_hash, user_id, provider, scopes, code_verifier, access)
     values (repeat('e', 64), current_setting('tests.alice')::uuid, 'dev', '{openid}',
             repeat('v', 43), '{"gmail": "none"}') $$,
  '23514', null, 'an authorization asks for read or write only'
);

-- Owners read their own coverage (RLS) ------------------------------------------------------
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select results_eq(
  $$ select service_access, missing_access from public.service_tokens $$,
  $$ values ('{"gmail": "read"}'::jsonb, '{"calendar": "write"}'::jsonb) $$,
  'alice reads her connection''s coverage and what is missing, and only hers'
);
select tests.authenticate_as(current_setting('tests.bob')::uuid);
select is_empty(
  $$ select 1 from public.service_tokens where id = '00000000-0000-0000-0000-00000000a170' $$,
  'bob cannot read alice''s connection'
);
select throws_ok(
  $$ update public.service_tokens set service_access = '{"gmail": "write"}'
      where id = '00000000-0000-0000-0000-00000000b170' $$,
  '42501', null, 'an owner cannot raise their own coverage'
);
select tests.clear_authentication();

-- What an authorization asks for stays the service's ----------------------------------------
insert into public.oauth_states
  (state_hash, user_id, provider, scopes, code_verifier, access, connection_id)
values (repeat('f', 64), current_setting('tests.alice')::uuid, 'google', '{openid}', repeat('v', 43),
        '{"calendar": "read"}', '00000000-0000-0000-0000-00000000a170');
select ok(
  not has_column_privilege('authenticated', 'public.oauth_states', 'access', 'select')
    and not has_column_privilege('authenticated', 'public.oauth_states', 'connection_id', 'select'),
  'clients cannot read what a pending authorization asks for, nor which connection it extends'
);
delete from public.service_tokens where id = '00000000-0000-0000-0000-00000000a170';
select is_empty(
  $$ select 1 from public.oauth_states where state_hash = repeat('f', 64) $$,
  'an authorization extending a deleted connection goes with it'
);

-- Parked grants keep the access asked for ------------------------------------------------------
select ok(
  not has_function_privilege('authenticated',
    'private.park_grant(text, uuid, text, text[], text, text, text[], timestamptz, text, text, jsonb)', 'execute')
    and not has_function_privilege('anon',
    'private.park_grant(text, uuid, text, text[], text, text, text[], timestamptz, text, text, jsonb)', 'execute'),
  'clients cannot park a grant'
);
select tests.authenticate_as_service_role();
select isnt(
  private.park_grant(repeat('1', 64), current_setting('tests.alice')::uuid, 'dev', '{gmail}',
                     'acct-170', null, '{dev.mail.readonly}', now() + interval '1 hour', 'AT-170',
                     'RT-170', '{"gmail": "read", "calendar": "write"}'),
  null,
  'the service parks a grant with the access it asked for'
);
select results_eq(
  $$ select access, granted_scopes, access_token from private.take_parked_grant(repeat('1', 64)) $$,
  $$ values ('{"gmail": "read", "calendar": "write"}'::jsonb, '{dev.mail.readonly}'::text[], 'AT-170'::text) $$,
  'taking it returns the access asked for with the grant'
);
select is(
  private.park_grant(repeat('2', 64), gen_random_uuid(), 'dev', '{}', 'acct-x', null, '{}', now(),
                     'AT-x', null, '{}'),
  null,
  'nothing is parked for a user who does not exist'
);
select throws_ok(
  $$ select private.park_grant(repeat('3', 64), current_setting('tests.alice')::uuid, 'dev', '{}',
                               'acct-y', null, '{}', now(), 'AT-y', null, '{"gmail": 1}') $$,
  '23514', null, 'a malformed access map is refused at parking'
);
select is(
  (select access from private.take_parked_grant(repeat('4', 64))),
  null,
  'an unknown completion takes nothing'
);
select tests.clear_authentication();

select * from finish();
rollback;
