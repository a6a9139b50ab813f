-- OAuth connections and the token vault: owners read their own metadata and
-- nothing else; ciphertext is out of reach of every API role; the secret
-- functions are service_role's only; encryption needs the Vault key and never
-- invents one; rotation, cleanup, audit triggers, constraints and schedules.
begin;
select plan(80);

select set_config('tests.alice', tests.create_user('alice-070@example.test')::text, true);
select set_config('tests.bob', tests.create_user('bob-070@example.test')::text, true);

-- Fixtures, as the service writes them.
insert into public.service_tokens (id, user_id, provider, services, provider_account_id, provider_email, expires_at)
values ('00000000-0000-0000-0000-00000000a001', current_setting('tests.alice')::uuid, 'google', '{gmail}',
        'alice-google', 'alice@gmail.test', now() + interval '1 hour'),
       ('00000000-0000-0000-0000-00000000b001', current_setting('tests.bob')::uuid, 'microsoft', '{outlook}',
        'bob-ms', 'bob@outlook.test', now() + interval '1 hour');
select private.store_token_secrets('00000000-0000-0000-0000-00000000a001', 'plain-access-alice', 'plain-refresh-alice');
select private.store_token_secrets('00000000-0000-0000-0000-00000000b001', 'plain-access-bob', 'plain-refresh-bob');
insert into public.token_refresh_logs (token_id, user_id, provider, refresh_type, status)
values ('00000000-0000-0000-0000-00000000a001', current_setting('tests.alice')::uuid, 'google', 'scheduled', 'success'),
       ('00000000-0000-0000-0000-00000000b001', current_setting('tests.bob')::uuid, 'microsoft', 'scheduled', 'failed');
insert into public.oauth_states (state_hash, user_id, provider, services, scopes, code_verifier, redirect_to)
values (repeat('a', 64), current_setting('tests.alice')::uuid, 'google', '{gmail}', '{openid}', repeat('v', 43), null),
       (repeat('b', 64), current_setting('tests.bob')::uuid, 'dev', '{gmail}', '{openid}', repeat('w', 43), null);

-- RLS ----------------------------------------------------------------------------------
select ok((select relrowsecurity from pg_class where oid = 'public.service_tokens'::regclass), 'RLS on service_tokens');
select ok((select relrowsecurity from pg_class where oid = 'public.oauth_states'::regclass), 'RLS on oauth_states');
select ok((select relrowsecurity from pg_class where oid = 'public.token_refresh_logs'::regclass), 'RLS on token_refresh_logs');
select ok((select relrowsecurity from pg_class where oid = 'private.token_secrets'::regclass), 'RLS on private.token_secrets');

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select results_eq(
  $$ select id, provider, provider_email from public.service_tokens $$,
  $$ values ('00000000-0000-0000-0000-00000000a001'::uuid, 'google'::text, 'alice@gmail.test'::text) $$,
  'alice reads exactly her own connection'
);
select is_empty(
  $$ select 1 from public.service_tokens where id = '00000000-0000-0000-0000-00000000b001' $$,
  'alice cannot read bob''s connection by id'
);
select results_eq(
  $$ select user_id from public.token_refresh_logs $$,
  $$ values (current_setting('tests.alice')::uuid) $$,
  'alice reads only her own refresh log'
);
select results_eq(
  $$ select provider from public.oauth_states $$,
  $$ values ('google'::text) $$,
  'alice sees only her own pending authorization'
);
select throws_ok($$ select code_verifier from public.oauth_states $$, '42501', null,
  'alice cannot read a PKCE verifier, not even her own');
select throws_ok($$ select state_hash from public.oauth_states $$, '42501', null,
  'alice cannot read a state hash');
select throws_ok(
  $$ insert into public.oauth_states (state_hash, user_id, provider, scopes, code_verifier, redirect_to)
     values (repeat('c', 64), auth.uid(), 'dev', '{openid}', repeat('v', 43), 'https://evil.example') $$,
  '42501', null, 'alice cannot plant a state with her own redirect_to');
select throws_ok(
  $$ insert into public.service_tokens (user_id, provider, provider_account_id, expires_at)
     values (auth.uid(), 'google', 'forged', now()) $$,
  '42501', null, 'alice cannot create a connection');
select throws_ok(
  $$ update public.service_tokens set status = 'active', use_count = 0 $$,
  '42501', null, 'alice cannot change a connection');
select throws_ok($$ delete from public.service_tokens $$, '42501', null,
  'alice cannot delete a connection (revocation goes through the provider)');
select throws_ok(
  $$ insert into public.token_refresh_logs (token_id, user_id, provider, refresh_type, status)
     values ('00000000-0000-0000-0000-00000000a001', auth.uid(), 'google', 'manual', 'success') $$,
  '42501', null, 'alice cannot forge a refresh log');

-- Ciphertext is out of every API role's reach ------------------------------------------
select throws_ok($$ select * from private.token_secrets $$, '42501', null,
  'authenticated cannot read private.token_secrets');
select throws_ok($$ select * from private.read_token_secrets('00000000-0000-0000-0000-00000000a001', true) $$,
  '42501', null, 'authenticated cannot decrypt her own tokens');
select throws_ok($$ select private.store_token_secrets('00000000-0000-0000-0000-00000000a001', 'x', 'y') $$,
  '42501', null, 'authenticated cannot write tokens');
select throws_ok($$ select private.destroy_token_secrets('00000000-0000-0000-0000-00000000b001') $$,
  '42501', null, 'authenticated cannot destroy tokens');
select throws_ok($$ select private.token_key_version() $$, '42501', null,
  'authenticated cannot probe the key');
select throws_ok($$ select private.cleanup_oauth_data() $$, '42501', null,
  'authenticated cannot run the cleanup');

select tests.authenticate_as_anon();
select throws_ok($$ select count(*) from public.service_tokens $$, '42501', null, 'anon cannot read connections');
select throws_ok($$ select count(*) from public.oauth_states $$, '42501', null, 'anon cannot read states');
select throws_ok($$ select count(*) from public.token_refresh_logs $$, '42501', null, 'anon cannot read refresh logs');
select throws_ok($$ select * from private.read_token_secrets('00000000-0000-0000-0000-00000000a001', true) $$,
  '42501', null, 'anon cannot decrypt tokens');

-- Privileges of the secret functions, in the catalog.
select tests.clear_authentication();
select is_empty(
  $$ select p.oid::regprocedure::text || ' to ' || r.role
       from pg_proc p
       join pg_namespace n on n.oid = p.pronamespace
      cross join unnest(array['anon', 'authenticated', 'oprina_api_user', 'public']) as r(role)
      where n.nspname = 'private'
        and p.proname in ('token_key', 'token_key_version', 'token_encrypt', 'token_decrypt',
                          'store_token_secrets', 'read_token_secrets', 'destroy_token_secrets',
                          'reencrypt_token_secrets', 'cleanup_oauth_data', 'enqueue_token_refresh')
        and (r.role = 'public' and exists (
               select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                where a.grantee = 0 and a.privilege_type = 'EXECUTE')
             or r.role <> 'public' and has_function_privilege(r.role, p.oid, 'execute')) $$,
  'no secret function is executable by anon, authenticated, oprina_api_user or PUBLIC'
);
select ok(
  (select bool_and(prosecdef) from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'private' and p.proname in ('store_token_secrets', 'read_token_secrets',
      'destroy_token_secrets', 'token_key_version', 'reencrypt_token_secrets', 'cleanup_oauth_data')),
  'the secret functions are security definer'
);
select ok(
  not has_function_privilege('service_role', 'private.token_key(integer)', 'execute')
    and not has_function_privilege('service_role', 'private.token_decrypt(bytea, integer)', 'execute')
    and not has_function_privilege('service_role', 'private.token_encrypt(text, integer)', 'execute'),
  'not even service_role can fetch the key or decrypt arbitrary bytes'
);

-- service_role: through the functions only -----------------------------------------------
select tests.authenticate_as_service_role();
select throws_ok($$ select * from private.token_secrets $$, '42501', null,
  'service_role cannot select the ciphertext table directly');
select throws_ok($$ select private.token_key(1) $$, '42501', null, 'service_role cannot read the key');
select results_eq(
  $$ select access_token, refresh_token, key_version from private.read_token_secrets('00000000-0000-0000-0000-00000000a001', true) $$,
  $$ values ('plain-access-alice'::text, 'plain-refresh-alice'::text, 1) $$,
  'service_role decrypts through read_token_secrets'
);
select results_eq(
  $$ select access_token, refresh_token from private.read_token_secrets('00000000-0000-0000-0000-00000000a001') $$,
  $$ values ('plain-access-alice'::text, null::text) $$,
  'the refresh token is decrypted only when asked for'
);
select is(private.token_key_version(), 1, 'the current key version is 1');
select lives_ok(
  $$ select private.store_token_secrets('00000000-0000-0000-0000-00000000a001', 'new-access-alice', null) $$,
  'service_role stores a new access token without a new refresh token');
select results_eq(
  $$ select access_token, refresh_token from private.read_token_secrets('00000000-0000-0000-0000-00000000a001', true) $$,
  $$ values ('new-access-alice'::text, 'plain-refresh-alice'::text) $$,
  'a refresh that brings no refresh token keeps the stored one'
);
select lives_ok(
  $$ select private.store_token_secrets('00000000-0000-0000-0000-00000000a001', 'newer-access', 'rotated-refresh') $$,
  'a rotated refresh token is stored');
select results_eq(
  $$ select refresh_token from private.read_token_secrets('00000000-0000-0000-0000-00000000a001', true) $$,
  $$ values ('rotated-refresh'::text) $$,
  'the rotated refresh token replaces the old one'
);
select throws_ok($$ select private.store_token_secrets('00000000-0000-0000-0000-00000000a001', '', null) $$,
  '22023', null, 'an empty access token is refused');
select throws_ok($$ select private.store_token_secrets('00000000-0000-0000-0000-00000000a001', 'x', '') $$,
  '22023', null, 'an empty refresh token is refused');
select throws_ok($$ select private.store_token_secrets(gen_random_uuid(), 'x', 'y') $$,
  '23503', null, 'secrets need a connection');
select tests.clear_authentication();

-- What is stored is ciphertext -------------------------------------------------------------
select ok(
  (select position(convert_to('newer-access', 'UTF8') in access_token) = 0
      and position(convert_to('rotated-refresh', 'UTF8') in refresh_token) = 0
      and get_byte(access_token, 0) = 195 and get_byte(access_token, 3) = 9
     from private.token_secrets where token_id = '00000000-0000-0000-0000-00000000a001'),
  'the stored bytes are AES-256 PGP packets without the plaintext'
);
select is(
  (select extensions.pgp_sym_decrypt(s.access_token, v.decrypted_secret)
     from private.token_secrets s, vault.decrypted_secrets v
    where s.token_id = '00000000-0000-0000-0000-00000000a001' and v.name = 'token_encryption_key'),
  'newer-access',
  'they decrypt with the Vault key'
);
select ok(
  (select access_token <> (select access_token from private.token_secrets t2
                            where t2.token_id = '00000000-0000-0000-0000-00000000b001')
     from private.token_secrets where token_id = '00000000-0000-0000-0000-00000000a001'),
  'different tokens, different ciphertext'
);
select is((select has_refresh_token from public.service_tokens where id = '00000000-0000-0000-0000-00000000a001'),
  true, 'has_refresh_token follows the stored secrets');

-- Destroying -------------------------------------------------------------------------------
select tests.authenticate_as_service_role();
select is(private.destroy_token_secrets('00000000-0000-0000-0000-00000000b001'), true, 'destroy removes the ciphertext');
select is(private.destroy_token_secrets('00000000-0000-0000-0000-00000000b001'), false, 'destroying twice finds nothing');
select is_empty($$ select * from private.read_token_secrets('00000000-0000-0000-0000-00000000b001', true) $$,
  'nothing left to read');
select tests.clear_authentication();
select is((select has_refresh_token from public.service_tokens where id = '00000000-0000-0000-0000-00000000b001'),
  false, 'has_refresh_token is false once destroyed');

-- Key rotation ------------------------------------------------------------------------------
select vault.create_secret(repeat('k2', 20), 'token_encryption_key_v2');
select is(private.token_key_version(), 2, 'a v2 key in Vault becomes the current version');
select ok(private.reencrypt_token_secrets(100000) >= 1, 'rotation re-encrypts the rows still on v1');
select is(private.reencrypt_token_secrets(100000), 0, 'and then nothing is left to move');
select results_eq(
  $$ select access_token, refresh_token, key_version from private.read_token_secrets('00000000-0000-0000-0000-00000000a001', true) $$,
  $$ values ('newer-access'::text, 'rotated-refresh'::text, 2) $$,
  'rotated rows decrypt to the same tokens under v2'
);
select throws_ok(
  $$ select extensions.pgp_sym_decrypt(s.access_token, v.decrypted_secret)
       from private.token_secrets s, vault.decrypted_secrets v
      where s.token_id = '00000000-0000-0000-0000-00000000a001' and v.name = 'token_encryption_key' $$,
  '39000', null, 'the v1 key no longer opens the rotated row'
);

-- No key, no encryption ---------------------------------------------------------------------
delete from vault.secrets where name like 'token_encryption_key%';
select throws_ok($$ select private.token_key_version() $$, 'TK001', null, 'without a key, the version check fails loudly');
select throws_ok($$ select private.store_token_secrets('00000000-0000-0000-0000-00000000b001', 'a', 'r') $$,
  'TK001', null, 'without a key nothing is stored (no key is invented)');
select throws_ok($$ select * from private.read_token_secrets('00000000-0000-0000-0000-00000000a001', true) $$,
  'TK001', null, 'without a key nothing is read');
select is((select count(*)::int from vault.secrets where name like 'token_encryption_key%'), 0,
  'and no key appeared in Vault');
select vault.create_secret('too-short', 'token_encryption_key');
select throws_ok($$ select private.token_key_version() $$, 'TK001', null, 'a key shorter than 32 characters is refused');

-- Cleanup -----------------------------------------------------------------------------------
delete from vault.secrets where name like 'token_encryption_key%';
select vault.create_secret(repeat('k1', 20), 'token_encryption_key');
insert into public.service_tokens (id, user_id, provider, provider_account_id, expires_at, issued_at, status)
values ('00000000-0000-0000-0000-00000000a002', current_setting('tests.alice')::uuid, 'dev', 'expired-long-ago',
        now() - interval '90 days', now() - interval '91 days', 'active'),
       ('00000000-0000-0000-0000-00000000a003', current_setting('tests.alice')::uuid, 'dev', 'needs-reauth',
        now() - interval '90 days', now() - interval '91 days', 'needs_reauth');
select private.store_token_secrets('00000000-0000-0000-0000-00000000a002', 'old-access', 'live-refresh');
select private.store_token_secrets('00000000-0000-0000-0000-00000000a003', 'old-access-3', 'dead-refresh');
insert into public.service_tokens (id, user_id, provider, provider_account_id, expires_at, status, revoked_at)
values ('00000000-0000-0000-0000-00000000a004', current_setting('tests.alice')::uuid, 'dev', 'revoked-old',
        now() - interval '60 days', 'revoked', now() - interval '40 days'),
       ('00000000-0000-0000-0000-00000000a005', current_setting('tests.alice')::uuid, 'dev', 'revoked-recent',
        now() - interval '2 days', 'revoked', now() - interval '1 day');
insert into public.token_refresh_logs (token_id, user_id, provider, refresh_type, status, created_at)
values ('00000000-0000-0000-0000-00000000a002', current_setting('tests.alice')::uuid, 'dev', 'scheduled', 'success', now() - interval '40 days');
insert into public.oauth_states (state_hash, user_id, provider, scopes, code_verifier, created_at, expires_at)
values (repeat('d', 64), current_setting('tests.alice')::uuid, 'dev', '{openid}', repeat('v', 43),
        now() - interval '1 hour', now() - interval '50 minutes');

select tests.authenticate_as_service_role();
select throws_ok($$ select private.cleanup_oauth_data(interval '1 hour') $$, '22023', null,
  'a retention under a day is refused');
select ok(
  (select (r ->> 'expired_states')::int >= 1 and (r ->> 'old_refresh_logs')::int >= 1
          and (r ->> 'revoked_tokens')::int >= 1
     from private.cleanup_oauth_data() r),
  'cleanup reports what it removed'
);
select tests.clear_authentication();
select is_empty($$ select 1 from public.oauth_states where state_hash = repeat('d', 64) $$, 'expired states are gone');
select isnt_empty($$ select 1 from public.oauth_states where state_hash = repeat('a', 64) $$, 'live states stay');
select is_empty($$ select 1 from public.token_refresh_logs where created_at < now() - interval '30 days' $$,
  'refresh logs past retention are gone');
select is_empty($$ select 1 from public.service_tokens where id = '00000000-0000-0000-0000-00000000a004' $$,
  'revoked connections past retention are gone');
select isnt_empty($$ select 1 from public.service_tokens where id = '00000000-0000-0000-0000-00000000a005' $$,
  'recently revoked connections stay');
select results_eq(
  $$ select t.id, t.status, s.refresh_token is not null
       from public.service_tokens t join private.token_secrets s on s.token_id = t.id
      where t.id in ('00000000-0000-0000-0000-00000000a002', '00000000-0000-0000-0000-00000000a003')
      order by t.id $$,
  $$ values ('00000000-0000-0000-0000-00000000a002'::uuid, 'active'::text, true),
            ('00000000-0000-0000-0000-00000000a003'::uuid, 'needs_reauth'::text, true) $$,
  'an expired access token is routine: active and needs_reauth connections keep their refresh tokens'
);

-- Audit trail --------------------------------------------------------------------------------
select results_eq(
  $$ select activity_type from public.user_activities
      where user_id = current_setting('tests.alice')::uuid and details ->> 'token_id' = '00000000-0000-0000-0000-00000000a001'
      order by id $$,
  $$ values ('oauth.connected'::text) $$,
  'a new connection is recorded'
);
update public.service_tokens set status = 'needs_reauth', last_error_code = 'invalid_grant'
 where id = '00000000-0000-0000-0000-00000000a001';
update public.service_tokens set status = 'revoked', revoked_at = now(), revoked_reason = 'user_request'
 where id = '00000000-0000-0000-0000-00000000a001';
insert into public.token_refresh_logs (token_id, user_id, provider, refresh_type, status)
values ('00000000-0000-0000-0000-00000000a001', current_setting('tests.alice')::uuid, 'google', 'manual', 'success'),
       ('00000000-0000-0000-0000-00000000a001', current_setting('tests.alice')::uuid, 'google', 'automatic', 'success');
select results_eq(
  $$ select activity_type, coalesce(details ->> 'error_code', details ->> 'reason', details ->> 'refresh_type', '')
       from public.user_activities
      where user_id = current_setting('tests.alice')::uuid and details ->> 'token_id' = '00000000-0000-0000-0000-00000000a001'
      order by id $$,
  $$ values ('oauth.connected'::text, ''::text), ('oauth.needs_reauth', 'invalid_grant'),
            ('oauth.revoked', 'user_request'), ('oauth.refreshed', 'manual') $$,
  'needs_reauth, revocation and manual refreshes are recorded; routine refreshes are not'
);

-- Constraints ---------------------------------------------------------------------------------
select throws_ok(
  $$ update public.service_tokens set status = 'expired' where id = '00000000-0000-0000-0000-00000000b001' $$,
  '23514', null, 'status is active, needs_reauth or revoked');
select throws_ok(
  $$ update public.service_tokens set status = 'revoked' where id = '00000000-0000-0000-0000-00000000b001' $$,
  '23514', null, 'a revoked connection has revoked_at');
select throws_ok(
  $$ update public.service_tokens set services = '{drive}' where id = '00000000-0000-0000-0000-00000000b001' $$,
  '23514', null, 'services are gmail, calendar, outlook');
select throws_ok(
  $$ insert into public.service_tokens (user_id, provider, provider_account_id, expires_at)
     values (current_setting('tests.bob')::uuid, 'microsoft', 'bob-ms', now()) $$,
  '23505', null, 'one connection per (user, provider, provider account)');
select throws_ok(
  $$ insert into public.token_refresh_logs (token_id, user_id, provider, refresh_type, status)
     values ('00000000-0000-0000-0000-00000000b001', current_setting('tests.alice')::uuid, 'microsoft', 'manual', 'success') $$,
  '23503', null, 'a log row belongs to its token''s owner');
select throws_ok(
  $$ insert into public.oauth_states (state_hash, user_id, provider, scopes, code_verifier, expires_at)
     values (repeat('e', 64), current_setting('tests.bob')::uuid, 'dev', '{openid}', repeat('v', 43), now() + interval '1 hour') $$,
  '23514', null, 'a state lives ten minutes at most');
select throws_ok(
  $$ insert into public.oauth_states (state_hash, user_id, provider, scopes, code_verifier)
     values (repeat('f', 64), current_setting('tests.bob')::uuid, 'dev', '{openid}', 'short') $$,
  '23514', null, 'a PKCE verifier has 43 to 128 unreserved characters');
select throws_ok(
  $$ insert into public.oauth_states (state_hash, user_id, provider, scopes, code_verifier)
     values ('not-a-hash', current_setting('tests.bob')::uuid, 'dev', '{openid}', repeat('v', 43)) $$,
  '23514', null, 'a state is stored as its hex SHA-256');

-- Schedules -----------------------------------------------------------------------------------
select results_eq(
  $$ select jobname::text collate "default", schedule, active from cron.job
      where jobname in ('tokens-refresh-due', 'oauth-cleanup') order by jobname $$,
  $$ values ('oauth-cleanup'::text, '17 3 * * *'::text, true), ('tokens-refresh-due', '* * * * *', true) $$,
  'pg_cron runs refresh-due every minute and the cleanup daily'
);

-- Dashboard views ----------------------------------------------------------------------------
select isnt_empty($$ select 1 from admin.token_health where provider = 'microsoft' $$,
  'admin.token_health summarizes connections for the dashboard');
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select throws_ok($$ select * from admin.token_health $$, '42501', null, 'clients cannot read admin.token_health');
select throws_ok($$ select * from admin.token_refresh_failures $$, '42501', null,
  'clients cannot read admin.token_refresh_failures');
select tests.clear_authentication();

select * from finish();
rollback;
