-- private.verify_api_key made cheaper (migration 20261130001600): the same
-- verdicts with less work. The current hash and, on a miss, the previous one
-- in its grace period; a key without a role keeps its own scopes; no refill
-- time without a refill; the audit marker only before the verification's own
-- writes (which are still no activity); the claims as api_key_claims gives
-- them. The common case (a live key, nothing to write) answers from one
-- statement, the same verdict as the full path; whatever it does not cover
-- still gets the full path's answer. Grants unchanged.
begin;
select plan(17);

select set_config('tests.carol', tests.create_user('one-trip-carol@example.test')::text, true);

insert into public.api_keys (id, user_id, name, prefix, key_hash, scopes, last_used_at)
values ('00000000-0000-0000-0000-00000000c001', current_setting('tests.carol')::uuid, 'plain',
        'opr_cccccccc', sha256('one-trip-plain'::bytea), '{tokens:read,sessions:read}', now());
insert into public.api_keys (id, user_id, name, prefix, key_hash, scopes, previous_key_hash,
                             previous_expires_at)
values ('00000000-0000-0000-0000-00000000c002', current_setting('tests.carol')::uuid, 'rerolled',
        'opr_cccccccd', sha256('one-trip-new'::bytea), '{sessions:read}',
        sha256('one-trip-old'::bytea), now() + interval '1 hour');
insert into public.api_keys (id, user_id, name, prefix, key_hash, scopes, previous_key_hash,
                             previous_expires_at)
values ('00000000-0000-0000-0000-00000000c003', current_setting('tests.carol')::uuid, 'past grace',
        'opr_ccccccce', sha256('one-trip-newer'::bytea), '{sessions:read}',
        sha256('one-trip-older'::bytea), now() - interval '1 second');

create function pg_temp.verify(p_key text, p_scope text)
returns jsonb language sql as $$
  select private.verify_api_key(sha256(p_key::bytea), p_scope, 'default', 0,
                                null, null, 100, 60, 0, null)
$$;
create function pg_temp.outcome(p_key text, p_scope text)
returns text language plpgsql as $$
declare
  state text;
  detail text;
begin
  perform pg_temp.verify(p_key, p_scope);
  return 'valid';
exception when others then
  get stacked diagnostics state = returned_sqlstate, detail = pg_exception_detail;
  return state || ' ' || (detail::jsonb ->> 'outcome');
end $$;

select is(pg_temp.verify('one-trip-plain', 'tokens:read') -> 'scopes',
  '["tokens:read", "sessions:read"]'::jsonb, 'a key without a role answers its own scopes');
select is(pg_temp.outcome('one-trip-plain', 'account:read'), 'AK403 insufficient_scope',
  'and no other: AK403');
select is(pg_temp.verify('one-trip-plain', 'sessions:read') -> 'claims',
  private.api_key_claims('00000000-0000-0000-0000-00000000c001',
                         current_setting('tests.carol')::uuid, 'one-trip-carol@example.test'),
  'the claims are api_key_claims''s');
select is(current_setting('request.jwt.claims')::jsonb ->> 'api_key_id',
  '00000000-0000-0000-0000-00000000c001', 'and are set for the rest of the transaction');
select is(pg_temp.verify('one-trip-plain', 'sessions:read') -> 'refill_at', 'null'::jsonb,
  'a key without a refill has no refill time');
select ok(current_setting('oprina.api_key_verifying', true) is distinct from 'on',
  'a verification that writes nothing does not set the audit marker');

select is(pg_temp.verify('one-trip-new', 'sessions:read') ->> 'key_id',
  '00000000-0000-0000-0000-00000000c002', 'the current secret verifies');
select is(pg_temp.verify('one-trip-old', 'sessions:read') ->> 'key_id',
  '00000000-0000-0000-0000-00000000c002', 'the previous secret too, in its grace period');
select is(pg_temp.outcome('one-trip-older', 'sessions:read'), 'AK401 invalid',
  'a previous secret past its grace period is unknown');
select is(current_setting('oprina.api_key_verifying', true), 'on',
  'the first use of a key writes last_used_at under the audit marker');
select is(
  (select count(*)::int from public.user_activities
    where user_id = current_setting('tests.carol')::uuid and activity_type like 'api_key.%'
      and activity_type <> 'api_key.created'),
  0, 'so its writes are no activity');
-- The common case against the full path, on the same key.
update public.api_keys set last_used_at = null where id = '00000000-0000-0000-0000-00000000c001';
select set_config('tests.full', pg_temp.verify('one-trip-plain', 'sessions:read')::text, true);
select set_config('tests.full_claims', current_setting('request.jwt.claims'), true);
select is(pg_temp.verify('one-trip-plain', 'sessions:read'), current_setting('tests.full')::jsonb,
  'the common case answers the full path''s verdict');
select is(current_setting('request.jwt.claims'), current_setting('tests.full_claims'),
  'and sets the same claims');
-- A used key (last_used_at fresh) that is revoked, expired, or short of the
-- scope is refused as before.
update public.api_keys set revoked_at = now() where id = '00000000-0000-0000-0000-00000000c002';
select is(pg_temp.outcome('one-trip-new', 'sessions:read'), 'AK401 revoked',
  'a revoked key is refused at once, used a moment ago or not');
update public.api_keys set created_at = now() - interval '1 hour',
       expires_at = now() - interval '1 second', last_used_at = now()
 where id = '00000000-0000-0000-0000-00000000c001';
select is(pg_temp.outcome('one-trip-plain', 'sessions:read'), 'AK401 expired',
  'an expired key is refused');
insert into public.api_keys (id, user_id, name, prefix, key_hash, scopes, role_id, last_used_at)
values ('00000000-0000-0000-0000-00000000c004', current_setting('tests.carol')::uuid, 'by role',
        'opr_cccccccf', sha256('one-trip-role'::bytea), '{tokens:read}',
        (select id from public.api_key_roles where name = 'reader' and user_id is null), now());
select ok(pg_temp.verify('one-trip-role', 'sessions:read') -> 'scopes' ? 'tokens:read',
  'a used key with a role holds its own scopes and its role''s');

select ok(
  not has_function_privilege('authenticated', 'private.verify_api_key(bytea, text, text, integer, integer, integer, integer, integer, integer, uuid)', 'execute')
  and not has_function_privilege('oprina_api_user', 'private.verify_api_key(bytea, text, text, integer, integer, integer, integer, integer, integer, uuid)', 'execute')
  and has_function_privilege('service_role', 'private.verify_api_key(bytea, text, text, integer, integer, integer, integer, integer, integer, uuid)', 'execute'),
  'only the service (and the login role) runs the verification'
);

select * from finish();
rollback;
