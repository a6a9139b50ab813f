-- Local stand-in for what the Supabase platform provides before any project
-- migration runs, as strict as a hosted project created after 2026-10-30:
--
--   * it runs as `supabase_admin`, the cluster's only superuser, which owns
--     every platform part (auth, vault, net, pg_cron, extensions);
--   * `postgres` is NOT a superuser (NOSUPERUSER CREATEDB CREATEROLE LOGIN
--     REPLICATION BYPASSRLS, as supabase/postgres demotes it) and owns the
--     database, so it can create in `public` and run the migrations and pgTAP;
--   * no default privileges: a table, sequence or function that `postgres`
--     creates in `public` is granted to no API role, service_role included;
--   * auth.users has GoTrue's column types, is owned by supabase_auth_admin and
--     has no default for id (GoTrue makes ids in Go);
--   * Vault, pg_cron and pg_net carry the platform's privileges.
--
-- It imitates documented behaviour only, so that supabase/migrations run
-- unchanged here and on a real project. Nothing under supabase/ refers to it.
-- Idempotent: safe to apply on every start. Where it still differs from hosted,
-- docs/decisions.md says how and why.

-- Roles as on a Supabase project.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'postgres') then
    create role postgres login password 'postgres';
  end if;
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit password 'postgres';
  end if;
  if not exists (select 1 from pg_roles where rolname = 'supabase_auth_admin') then
    create role supabase_auth_admin login noinherit createrole noreplication;
  end if;
end $$;
alter role postgres nosuperuser createdb createrole login replication bypassrls;
alter database postgres owner to postgres;
grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role to postgres;
alter role postgres set search_path = "$user", public, extensions;

-- Extensions live in their own schema. pgTAP is installed up front: on a
-- project, supautils lets `postgres` create it; here `postgres` cannot.
create schema if not exists extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;
grant all on schema extensions to postgres;
create extension if not exists pgcrypto with schema extensions;
create extension if not exists pgtap with schema extensions;

-- The public schema: usage for the API roles, and nothing else. Since
-- 2026-10-30 new tables are exposed to no API role until a migration grants
-- them (`auto_expose_new_tables = false`), so no default privileges here.
grant usage on schema public to anon, authenticated, service_role;

-- auth: GoTrue's users table as GoTrue creates it, owned by its admin role;
-- postgres keeps DML, REFERENCES and TRIGGER on it, as on a project.
create schema if not exists auth;
grant usage on schema auth to postgres, anon, authenticated, service_role;
grant all on schema auth to supabase_auth_admin;
create table if not exists auth.users (
  instance_id uuid,
  id uuid not null primary key,
  aud varchar(255),
  role varchar(255),
  email varchar(255),
  encrypted_password varchar(255),
  email_confirmed_at timestamptz,
  invited_at timestamptz,
  confirmation_token varchar(255),
  confirmation_sent_at timestamptz,
  recovery_token varchar(255),
  recovery_sent_at timestamptz,
  email_change_token_new varchar(255),
  email_change varchar(255),
  email_change_sent_at timestamptz,
  last_sign_in_at timestamptz,
  raw_app_meta_data jsonb,
  raw_user_meta_data jsonb,
  is_super_admin boolean,
  created_at timestamptz,
  updated_at timestamptz,
  phone text unique default null,
  phone_confirmed_at timestamptz,
  phone_change text default '',
  phone_change_token varchar(255) default '',
  phone_change_sent_at timestamptz,
  confirmed_at timestamptz generated always as (least(email_confirmed_at, phone_confirmed_at)) stored,
  email_change_token_current varchar(255) default '',
  email_change_confirm_status smallint default 0
    check (email_change_confirm_status >= 0 and email_change_confirm_status <= 2),
  banned_until timestamptz,
  reauthentication_token varchar(255) default '',
  reauthentication_sent_at timestamptz,
  is_sso_user boolean not null default false,
  deleted_at timestamptz,
  is_anonymous boolean not null default false
);
create unique index if not exists users_email_partial_key on auth.users (email)
  where (is_sso_user = false);
create index if not exists users_instance_id_email_idx on auth.users (instance_id, lower(email));
create index if not exists users_instance_id_idx on auth.users (instance_id);
create index if not exists users_is_anonymous_idx on auth.users (is_anonymous);
alter table auth.users owner to supabase_auth_admin;
grant all on auth.users to postgres;

create or replace function auth.uid() returns uuid language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.sub', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
  )::uuid
$$;
create or replace function auth.role() returns text language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.role', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
  )::text
$$;
create or replace function auth.email() returns text language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim.email', true), ''),
    (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
  )::text
$$;
create or replace function auth.jwt() returns jsonb language sql stable as $$
  select coalesce(
    nullif(current_setting('request.jwt.claim', true), ''),
    nullif(current_setting('request.jwt.claims', true), '')
  )::jsonb
$$;
alter function auth.uid() owner to supabase_auth_admin;
alter function auth.role() owner to supabase_auth_admin;
alter function auth.email() owner to supabase_auth_admin;
alter function auth.jwt() owner to supabase_auth_admin;
grant execute on all functions in schema auth to postgres, anon, authenticated, service_role;

-- vault: secrets stored encrypted (pgcrypto here, libsodium on the platform).
-- `postgres` may read and delete them, and create or update them only through
-- the SECURITY DEFINER functions; the API roles get nothing.
create schema if not exists vault;
revoke all on schema vault from public;
grant usage on schema vault to postgres with grant option;
create table if not exists vault.root_key (id boolean primary key default true check (id), key text not null);
revoke all on vault.root_key from public;
insert into vault.root_key (key)
  values (encode(extensions.gen_random_bytes(32), 'hex')) on conflict do nothing;
create table if not exists vault.secrets (
  id uuid primary key default gen_random_uuid(),
  name text,
  description text not null default '',
  secret text not null,
  key_id uuid,
  nonce bytea,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create unique index if not exists secrets_name_idx on vault.secrets (name) where name is not null;
create or replace view vault.decrypted_secrets as
  select s.id, s.name, s.description,
         s.secret,
         extensions.pgp_sym_decrypt(decode(s.secret, 'base64'), k.key) as decrypted_secret,
         s.key_id, s.nonce, s.created_at, s.updated_at
    from vault.secrets s cross join vault.root_key k;
create or replace function vault.create_secret(
  new_secret text, new_name text default null, new_description text default '', new_key_id uuid default null
) returns uuid language sql security definer set search_path = '' as $$
  insert into vault.secrets (name, description, secret, key_id)
  select new_name, coalesce(new_description, ''),
         encode(extensions.pgp_sym_encrypt(new_secret, k.key), 'base64'), new_key_id
    from vault.root_key k
  returning id
$$;
create or replace function vault.update_secret(
  secret_id uuid, new_secret text default null, new_name text default null,
  new_description text default null, new_key_id uuid default null
) returns void language sql security definer set search_path = '' as $$
  update vault.secrets s set
    secret = coalesce(
      encode(extensions.pgp_sym_encrypt(new_secret, (select key from vault.root_key)), 'base64'),
      s.secret),
    name = coalesce(new_name, s.name),
    description = coalesce(new_description, s.description),
    key_id = coalesce(new_key_id, s.key_id),
    updated_at = now()
  where s.id = secret_id
$$;
revoke all on all tables in schema vault from public, postgres;
grant select, delete on vault.secrets, vault.decrypted_secrets to postgres with grant option;
revoke all on function vault.create_secret(text, text, text, uuid) from public;
revoke all on function vault.update_secret(uuid, text, text, text, uuid) from public;
grant execute on function vault.create_secret(text, text, text, uuid) to postgres with grant option;
grant execute on function vault.update_secret(uuid, text, text, text, uuid) to postgres with grant option;

-- pg_cron: `postgres` schedules jobs through cron.schedule and reads cron.job,
-- but cannot write it; job_run_details is its own.
create extension if not exists pg_cron;
grant usage on schema cron to postgres with grant option;
grant all on all functions in schema cron to postgres with grant option;
grant all privileges on all tables in schema cron to postgres with grant option;
revoke all on table cron.job from postgres;
grant select on table cron.job to postgres with grant option;

-- net: pg_net's asynchronous request queue. The local gateway delivers the
-- queued requests and writes the responses, as pg_net's background worker
-- does. http_post is SECURITY DEFINER and callable by postgres and the API
-- roles, as pg_net is granted on a project.
create schema if not exists net;
grant usage on schema net to postgres, anon, authenticated, service_role;
create table if not exists net.http_request_queue (
  id bigserial primary key,
  method text not null,
  url text not null,
  headers jsonb not null default '{}'::jsonb,
  body bytea,
  timeout_milliseconds integer not null default 5000
);
create table if not exists net._http_response (
  id bigint primary key,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out boolean,
  error_msg text,
  created timestamptz not null default now()
);
create or replace function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds integer default 5000
) returns bigint language sql security definer set search_path = net as $$
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values (
    'POST',
    url || coalesce(
      '?' || (select string_agg(key || '=' || value, '&') from jsonb_each_text(params)), ''),
    headers, convert_to(body::text, 'UTF8'), timeout_milliseconds
  )
  returning id
$$;
revoke all on function net.http_post(text, jsonb, jsonb, jsonb, integer) from public;
grant execute on function net.http_post(text, jsonb, jsonb, jsonb, integer)
  to postgres, anon, authenticated, service_role;
revoke all on all tables in schema net from public;
grant select on net.http_request_queue, net._http_response to postgres;
