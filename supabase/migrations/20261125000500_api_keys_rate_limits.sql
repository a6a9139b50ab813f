-- API keys (scoped, hashed), Postgres-backed rate limits, activity retention,
-- and the admin views for the dashboard.

-- api_keys ----------------------------------------------------------------------
create table public.api_keys (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  name text not null check (char_length(name) between 1 and 100),
  -- The visible start of the key ("opr_live_ab12"), enough to recognise it.
  prefix text not null check (char_length(prefix) between 4 and 32),
  -- SHA-256 of the whole key. The key itself is shown once and never stored.
  key_hash bytea not null unique check (octet_length(key_hash) = 32),
  scopes text[] not null check (
    cardinality(scopes) between 1 and 16 and scopes <@ array[
      'sessions:read', 'sessions:write', 'chat:write', 'tokens:read', 'tokens:write',
      'account:read', 'account:write'
    ]::text[]
  ),
  expires_at timestamptz,
  revoked_at timestamptz,
  last_used_at timestamptz,
  created_at timestamptz not null default now()
);
comment on table public.api_keys is
  'Users'' API keys: name, scopes and expiry; only a SHA-256 hash of the key is stored.';
comment on column public.api_keys.last_used_at is 'Coalesced: written at most once a minute per key.';

create index api_keys_user on public.api_keys (user_id, created_at desc);

alter table public.api_keys enable row level security;
revoke all on public.api_keys from anon, authenticated;
grant select (id, user_id, name, prefix, scopes, expires_at, revoked_at, last_used_at, created_at)
  on public.api_keys to authenticated;
grant insert (name, prefix, key_hash, scopes, expires_at) on public.api_keys to authenticated;
grant update (revoked_at) on public.api_keys to authenticated;

create policy "api_keys: owner reads" on public.api_keys
  for select to authenticated using (user_id = (select auth.uid()));
create policy "api_keys: owner creates" on public.api_keys
  for insert to authenticated with check (user_id = (select auth.uid()));
create policy "api_keys: owner revokes" on public.api_keys
  for update to authenticated using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));

-- Revocation is final and stamped by the database: a client can only move a
-- key from live to revoked, never back, and cannot choose the time.
create or replace function private.api_keys_revoke_once() returns trigger
language plpgsql set search_path = '' as $$
begin
  if old.revoked_at is not null then
    new.revoked_at := old.revoked_at;
  elsif new.revoked_at is not null then
    new.revoked_at := now();
  end if;
  return new;
end $$;
create trigger api_keys_revoke_once before update of revoked_at on public.api_keys
  for each row execute function private.api_keys_revoke_once();

create or replace function private.api_keys_audit() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'INSERT' then
    perform private.record_activity(new.user_id, 'api_key.created',
      jsonb_build_object('api_key_id', new.id, 'name', new.name, 'prefix', new.prefix, 'scopes', new.scopes));
  elsif old.revoked_at is null and new.revoked_at is not null then
    perform private.record_activity(new.user_id, 'api_key.revoked',
      jsonb_build_object('api_key_id', new.id, 'name', new.name, 'prefix', new.prefix));
  end if;
  return null;
end $$;
create trigger api_keys_audit after insert or update of revoked_at on public.api_keys
  for each row execute function private.api_keys_audit();

-- Resolves a presented key by its hash. Valid keys come back with their owner
-- and scopes; last_used_at is written at most once a minute, so a busy key does
-- not turn every read into a write.
create or replace function private.resolve_api_key(p_hash bytea)
returns table (id uuid, user_id uuid, scopes text[], email text)
language sql security definer set search_path = '' as $$
  with key as (
    select k.id, k.user_id, k.scopes, u.email
      from public.api_keys k join auth.users u on u.id = k.user_id
     where k.key_hash = p_hash and k.revoked_at is null
       and (k.expires_at is null or k.expires_at > now())
  ), touched as (
    update public.api_keys k set last_used_at = now()
      from key where k.id = key.id
       and (k.last_used_at is null or k.last_used_at < now() - interval '1 minute')
  )
  select id, user_id, scopes, email from key
$$;
revoke all on function private.resolve_api_key(bytea) from public, anon, authenticated;
grant execute on function private.resolve_api_key(bytea) to service_role;

-- rate limits -------------------------------------------------------------------
-- Fixed windows per (bucket, class). One upsert per request, inside the
-- request's own transaction; shared by every isolate because it is in Postgres.
create table private.rate_limits (
  bucket text not null,
  class text not null,
  window_start timestamptz not null,
  hits integer not null default 0,
  primary key (bucket, class, window_start)
);
comment on table private.rate_limits is 'Request counts per caller, route class and fixed window.';
alter table private.rate_limits enable row level security;

-- Counts a hit and raises SQLSTATE RL429 (detail "limit,reset_seconds") when
-- the window is exhausted, which aborts the request's transaction before any
-- of its own statements run.
create or replace function private.rate_limit_hit(p_bucket text, p_class text, p_limit integer, p_window_seconds integer)
returns table (rate_limit integer, remaining integer, reset_seconds integer)
language plpgsql security definer set search_path = '' as $$
declare
  started timestamptz := to_timestamp(floor(extract(epoch from now()) / p_window_seconds) * p_window_seconds);
  reset integer := greatest(1, ceil(extract(epoch from started + make_interval(secs => p_window_seconds) - now()))::integer);
  hits_now integer;
begin
  insert into private.rate_limits as r (bucket, class, window_start, hits)
  values (p_bucket, p_class, started, 1)
  on conflict (bucket, class, window_start) do update set hits = r.hits + 1
  returning r.hits into hits_now;
  if hits_now > p_limit then
    raise exception 'rate limit exceeded' using errcode = 'RL429', detail = p_limit || ',' || reset;
  end if;
  return query select p_limit, p_limit - hits_now, reset;
end $$;
revoke all on function private.rate_limit_hit(text, text, integer, integer) from public, anon, authenticated;
grant execute on function private.rate_limit_hit(text, text, integer, integer) to service_role;

-- retention ---------------------------------------------------------------------
create or replace function private.purge_expired(p_activity_days integer default 90)
returns void language sql security definer set search_path = '' as $$
  delete from private.rate_limits where window_start < now() - interval '1 day';
  delete from public.user_activities where created_at < now() - make_interval(days => p_activity_days);
$$;
revoke all on function private.purge_expired(integer) from public, anon, authenticated;

create extension if not exists pg_cron;
select cron.schedule('purge-expired', '17 3 * * *', 'select private.purge_expired(90)');

-- admin views ---------------------------------------------------------------------
-- For the Supabase dashboard (table editor and SQL editor run as postgres). The
-- schema is not exposed to the API and no client role may use it.
create schema if not exists admin;
revoke all on schema admin from public, anon, authenticated;
comment on schema admin is 'Read-only views for operators in the dashboard; never exposed to clients.';
-- The service (server-side only) serves the admin stats route from them.
grant usage on schema admin to service_role;
grant select on all tables in schema admin to service_role;
alter default privileges in schema admin grant select on tables to service_role;

create or replace view admin.usage_per_day as
  select date_trunc('day', m.created_at)::date as day,
         count(*) as messages,
         count(*) filter (where m.role = 'assistant') as agent_replies,
         count(*) filter (where m.status = 'failed') as failed,
         coalesce(sum(m.total_tokens), 0) as tokens,
         coalesce(sum(m.estimated_cost), 0) as estimated_cost,
         count(distinct m.user_id) as active_users
    from public.messages m
   group by 1;
comment on view admin.usage_per_day is 'Messages, agent replies, failures, tokens, cost and active users per day.';

create or replace view admin.api_keys_in_use as
  select k.id, k.user_id, u.email, k.name, k.prefix, k.scopes, k.created_at, k.last_used_at, k.expires_at
    from public.api_keys k join auth.users u on u.id = k.user_id
   where k.revoked_at is null and (k.expires_at is null or k.expires_at > now());
comment on view admin.api_keys_in_use is 'Live API keys (not revoked, not expired) with owner and last use.';

-- account -------------------------------------------------------------------------
create or replace function private.profiles_audit() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  changed text[];
begin
  select array_agg(key order by key) into changed
    from jsonb_each(to_jsonb(new)) n
   where key in ('display_name', 'avatar_url', 'timezone', 'preferences')
     and n.value is distinct from to_jsonb(old) -> key;
  if changed is not null then
    perform private.record_activity(new.id, 'account.updated', jsonb_build_object('fields', changed));
  end if;
  return null;
end $$;
create trigger profiles_audit after update on public.profiles
  for each row execute function private.profiles_audit();

-- Deletes a user and, by cascade, everything they own. Rate-limit buckets are
-- keyed by text, so they go explicitly. Deleting a missing user is a no-op.
create or replace function private.delete_user(p_user uuid) returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  delete from private.rate_limits
   where bucket = 'user:' || p_user
      or bucket in (select 'key:' || k.id from public.api_keys k where k.user_id = p_user);
  delete from auth.users where id = p_user;
  return found;
end $$;
revoke all on function private.delete_user(uuid) from public, anon, authenticated;
grant execute on function private.delete_user(uuid) to service_role;
