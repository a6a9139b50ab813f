-- Quota per owner (security review, issue 12). Rate-limit buckets were per
-- credential and API keys unlimited in number, so one user with N keys had N
-- times the costly quotas (agent calls, HeyGen tokens). Now:
--   1. the costly classes count per owner, across the user's JWT and every
--      one of their keys, and only while the owner still exists;
--   2. a user holds at most a configured number of live keys, enforced here so
--      concurrent creations cannot pass it;
--   3. anonymous users (Supabase anonymous sign-ins) cannot create keys, and
--      a key whose owner is anonymous does not resolve.

-- 1. Costly hits per owner -------------------------------------------------------
-- One hit of a costly class for a request of p_owner, made with API key p_key
-- or with the owner's JWT (p_key null). The hit is counted in the key's own
-- bucket ('key:<id>') and in the owner's ('user:<id>', which the JWT uses
-- alone), so a key never exceeds its owner's limit; a hit the key's bucket
-- refuses leaves the owner's untouched. One hit per call, never a lease: each
-- request of these classes costs far more than this statement, and so every
-- one of them also checks that the owner still exists. A deleted user's JWT
-- stays well signed until it expires: owner_exists is false, no bucket is
-- written, and the caller refuses the request (401).
create or replace function private.rate_limit_take_owner(
  p_owner uuid, p_key uuid, p_class text, p_limit integer, p_window_seconds integer
)
returns table (rate_limit integer, granted integer, remaining integer, reset_ms integer, owner_exists boolean)
language plpgsql security definer set search_path = '' as $$
declare
  started timestamptz;
  reset_after integer;
  key_hits integer := 0;
  owner_hits integer;
begin
  if p_limit < 1 or p_window_seconds < 1 then
    raise exception 'limit and window must be positive' using errcode = '22023';
  end if;
  started := to_timestamp(floor(extract(epoch from now()) / p_window_seconds) * p_window_seconds);
  reset_after := greatest(1, ceil(extract(epoch from started + make_interval(secs => p_window_seconds) - now()) * 1000))::integer;
  if not exists (select 1 from auth.users u where u.id = p_owner and u.deleted_at is null) then
    return query select p_limit, 0, 0, reset_after, false;
    return;
  end if;
  -- A counter lost in a crash only forgives a few requests: no WAL flush wait.
  perform set_config('synchronous_commit', 'off', true);
  -- The key's row before the owner's, always: two requests never lock in a cycle.
  if p_key is not null then
    insert into private.rate_limits as r (bucket, class, window_start, hits)
    values ('key:' || p_key, p_class, started, 1)
    on conflict (bucket, class, window_start) do update set hits = r.hits + 1
    returning r.hits into key_hits;
    if key_hits > p_limit then
      return query select p_limit, 0, 0, reset_after, true;
      return;
    end if;
  end if;
  insert into private.rate_limits as r (bucket, class, window_start, hits)
  values ('user:' || p_owner, p_class, started, 1)
  on conflict (bucket, class, window_start) do update set hits = r.hits + 1
  returning r.hits into owner_hits;
  return query select
    p_limit,
    case when owner_hits <= p_limit then 1 else 0 end,
    greatest(0, p_limit - greatest(owner_hits, key_hits)),
    reset_after,
    true;
end $$;
revoke all on function private.rate_limit_take_owner(uuid, uuid, text, integer, integer)
  from public, anon, authenticated;
grant execute on function private.rate_limit_take_owner(uuid, uuid, text, integer, integer)
  to service_role;

-- 2. At most so many live keys per user --------------------------------------------
-- Live: not revoked, not expired. The cap is the transaction's
-- app.api_keys_max_live, which the account API sets from API_KEYS_MAX_LIVE;
-- without it (a Data API insert, SQL) it is 25. Creations of one user are
-- serialized by a transaction-level advisory lock, and the count runs after
-- the lock in a fresh snapshot (a volatile function under READ COMMITTED, as
-- every API transaction is), so a creation sees the keys of any concurrent one
-- that committed before it, and a waiting one counts the key it waited for.
-- Refused with SQLSTATE AK409, detail the cap.
create or replace function private.api_keys_cap() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  cap integer := coalesce(nullif(current_setting('app.api_keys_max_live', true), '')::integer, 25);
  live integer;
begin
  if new.revoked_at is not null or new.expires_at <= now() then
    return new; -- takes no slot
  end if;
  perform pg_advisory_xact_lock(hashtextextended('public.api_keys:' || new.user_id::text, 0));
  select count(*) into live
    from public.api_keys k
   where k.user_id = new.user_id and k.revoked_at is null
     and (k.expires_at is null or k.expires_at > now());
  if live >= cap then
    raise exception 'the user has % live API keys, the most allowed', cap
      using errcode = 'AK409', detail = cap::text,
            hint = 'revoke a key (or let one expire) to create another';
  end if;
  return new;
end $$;
revoke all on function private.api_keys_cap() from public, anon, authenticated;
create trigger api_keys_cap before insert on public.api_keys
  for each row execute function private.api_keys_cap();

-- 3. Anonymous users create no keys -------------------------------------------------
-- Supabase marks an anonymous sign-in's JWT with is_anonymous: true. A key
-- would outlive the anonymous session and act without one; the API refuses
-- it (403 anonymous_not_allowed) and so does the database, for the Data API.
drop policy "api_keys: owner creates" on public.api_keys;
create policy "api_keys: owner creates, unless anonymous" on public.api_keys
  for insert to authenticated
  with check (
    user_id = (select auth.uid())
    and (select (auth.jwt() ->> 'is_anonymous')::boolean) is not true
  );

-- A key of an anonymous owner (made before this migration, or inserted by the
-- service) acts as no one: the middleware takes a key's owner for a permanent
-- user. Once the user converts to a permanent one, their keys work.
create or replace function private.resolve_api_key(p_hash bytea)
returns table (id uuid, user_id uuid, scopes text[], email text)
language sql security definer set search_path = '' as $$
  with key as (
    select k.id, k.user_id, k.scopes, u.email
      from public.api_keys k join auth.users u on u.id = k.user_id
     where k.key_hash = p_hash and k.revoked_at is null
       and (k.expires_at is null or k.expires_at > now())
       and not u.is_anonymous
  ), touched as (
    update public.api_keys k set last_used_at = now()
      from key where k.id = key.id
       and (k.last_used_at is null or k.last_used_at < now() - interval '1 minute')
  )
  select id, user_id, scopes, email from key
$$;
