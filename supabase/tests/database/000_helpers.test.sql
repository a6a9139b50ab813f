-- Shared helpers for the database tests (in the spirit of supabase-test-helpers).
--
-- Unlike every other file here, this one COMMITS: the `tests` schema and its
-- functions must outlive this file so that the later files (which run in
-- alphabetical order, each inside begin ... rollback) can use them.
-- Everything is idempotent, so running it again is harmless.
--
-- Switching identity: `set local role` inside a function does not survive a
-- function that has its own SET clause, so the helpers use
-- set_config('role', ..., true), which lasts until the end of the transaction.
begin;

create extension if not exists pgtap with schema extensions;

create schema if not exists tests;

-- Creates an auth user (the on_auth_user_created trigger adds the profile)
-- and returns its id. `metadata` is stored as raw_user_meta_data.
create or replace function tests.create_user(email text, metadata jsonb)
returns uuid
language plpgsql
security invoker
set search_path = ''
as $$
declare
  v_id uuid;
begin
  insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data)
  values (
    gen_random_uuid(), 'authenticated', 'authenticated', email, now(),
    '{"provider": "email", "providers": ["email"]}'::jsonb,
    coalesce(metadata, '{}'::jsonb)
  )
  returning id into v_id;
  return v_id;
end $$;

create or replace function tests.create_user(email text)
returns uuid
language plpgsql
security invoker
set search_path = ''
as $$
begin
  return tests.create_user(email, '{}'::jsonb);
end $$;

-- Acts as the given user for the rest of the transaction, as PostgREST does
-- for a request carrying that user's JWT.
create or replace function tests.authenticate_as(user_id uuid)
returns void
language plpgsql
security invoker
as $$
declare
  v_email text;
begin
  -- Switch back to the session user first: this helper may be called while
  -- acting as another user, and authenticated cannot read auth.users.
  perform set_config('role', 'none', true);
  select u.email into v_email from auth.users u where u.id = user_id;
  if not found then
    raise exception 'tests.authenticate_as: no auth.users row with id %', user_id;
  end if;
  perform set_config('request.jwt.claim.sub', '', true);
  perform set_config('request.jwt.claims', json_build_object(
    'sub', user_id,
    'role', 'authenticated',
    'aud', 'authenticated',
    'email', v_email
  )::text, true);
  perform set_config('role', 'authenticated', true);
end $$;

-- Acts as the given user the way the functions do (shared/db/client.ts
-- asUser): the same claims, as oprina_api_user, which holds the API's writes
-- and is a member of authenticated. Its privileges and policies include all
-- of authenticated's, so a refusal or an invisible row shown here holds for
-- the Data API as well; what only the API may do is tested as both.
create or replace function tests.authenticate_as_api(user_id uuid)
returns void
language plpgsql
security invoker
as $$
begin
  perform tests.authenticate_as(user_id);
  perform set_config('role', 'oprina_api_user', true);
end $$;

-- Acts as a non-user API role: service_role (bypasses RLS) or anon.
create or replace function tests.authenticate_as_role(p_role text)
returns void
language plpgsql
security invoker
as $$
begin
  perform set_config('request.jwt.claim.sub', '', true);
  perform set_config('request.jwt.claims', json_build_object('role', p_role)::text, true);
  perform set_config('role', p_role, true);
end $$;

create or replace function tests.authenticate_as_service_role()
returns void language sql security invoker
as $$ select tests.authenticate_as_role('service_role') $$;

create or replace function tests.authenticate_as_anon()
returns void language sql security invoker
as $$ select tests.authenticate_as_role('anon') $$;

-- Back to the session user (postgres) with no JWT claims.
create or replace function tests.clear_authentication()
returns void
language plpgsql
security invoker
as $$
begin
  perform set_config('request.jwt.claim.sub', '', true);
  perform set_config('request.jwt.claims', '', true);
  perform set_config('role', 'none', true);
end $$;

grant usage on schema tests to anon, authenticated, service_role;
grant execute on all functions in schema tests to anon, authenticated, service_role;

select plan(9);

select has_schema('tests', 'schema tests exists');
select has_function('tests', 'create_user', array['text'], 'tests.create_user(text) exists');
select has_function('tests', 'create_user', array['text', 'jsonb'], 'tests.create_user(text, jsonb) exists');
select has_function('tests', 'authenticate_as', array['uuid'], 'tests.authenticate_as(uuid) exists');
select has_function('tests', 'authenticate_as_api', array['uuid'], 'tests.authenticate_as_api(uuid) exists');
select has_function('tests', 'authenticate_as_service_role', array[]::name[], 'tests.authenticate_as_service_role() exists');
select has_function('tests', 'authenticate_as_anon', array[]::name[], 'tests.authenticate_as_anon() exists');
select has_function('tests', 'clear_authentication', array[]::name[], 'tests.clear_authentication() exists');
select ok(
  has_function_privilege('authenticated', 'tests.clear_authentication()', 'execute')
    and has_function_privilege('anon', 'tests.clear_authentication()', 'execute')
    and has_schema_privilege('authenticated', 'tests', 'usage'),
  'API roles can call the helpers (needed to switch back to postgres)'
);

select * from finish();
commit;
