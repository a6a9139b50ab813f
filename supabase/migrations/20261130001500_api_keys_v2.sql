-- API keys v2 (issue 16): credits with refill, named limits per key, metadata
-- and identity, update and reroll, roles (named scope sets), per-key usage,
-- and verification inside the request's own round trip (issue 13).
--
-- Verification is private.verify_api_key: one statement, first in the
-- request's own message, that looks the key up by hash, refuses a revoked,
-- expired or unfit key, takes its rate-limit hits, spends its credits and sets
-- the owner's claims for RLS; the route's statements follow in the same
-- message and transaction: one round trip. A refusal raises (SQLSTATE
-- AK401/AK403/AKR29/AKU29, DETAIL the refusal as JSON), which rolls the
-- message back. Usage is counted by the API in batches
-- (private.api_key_record_usage), not written per request.

-- 1. Roles: named scope sets ------------------------------------------------------
-- Built-in roles (user_id null) are the project's; every user may reference
-- them and nobody may change them through the API. A user's own roles are
-- theirs alone (RLS), written only through the API's role.
create table public.api_key_roles (
  id uuid primary key default gen_random_uuid(),
  user_id uuid default auth.uid() references auth.users (id) on delete cascade,
  name text not null check (name ~ '^[a-z][a-z0-9_-]{0,39}$'),
  description text check (char_length(description) <= 200),
  scopes text[] not null check (
    cardinality(scopes) between 1 and 16 and private.is_distinct_set(scopes) and scopes <@ array[
      'sessions:read', 'sessions:write', 'chat:write', 'tokens:read', 'tokens:write',
      'tokens:access', 'account:read', 'account:write', 'webhooks:read', 'webhooks:write',
      'calendar:read', 'calendar:write', 'mail:read', 'mail:write'
    ]::text[]
  ),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.api_key_roles is
  'Named scope sets API keys reference; user_id null marks a built-in role. A key holds its own '
  'scopes and its role''s, read at each verification.';
create unique index api_key_roles_builtin_name on public.api_key_roles (name) where user_id is null;
create unique index api_key_roles_user_name on public.api_key_roles (user_id, name);
create trigger api_key_roles_updated_at before update on public.api_key_roles
  for each row execute function private.set_updated_at();

alter table public.api_key_roles enable row level security;
revoke all on public.api_key_roles from anon, authenticated, service_role;
grant select (id, user_id, name, description, scopes, created_at, updated_at)
  on public.api_key_roles to authenticated;
grant insert (name, description, scopes), update (name, description, scopes), delete
  on public.api_key_roles to oprina_api_user;
grant select on public.api_key_roles to service_role;
create policy "api_key_roles: built-in and own are readable" on public.api_key_roles
  for select to authenticated using (user_id is null or user_id = (select auth.uid()));
create policy "api_key_roles: owner creates" on public.api_key_roles
  for insert to oprina_api_user with check (user_id = (select auth.uid()));
create policy "api_key_roles: owner updates" on public.api_key_roles
  for update to oprina_api_user using (user_id = (select auth.uid()))
  with check (user_id = (select auth.uid()));
create policy "api_key_roles: owner deletes" on public.api_key_roles
  for delete to oprina_api_user using (user_id = (select auth.uid()));

insert into public.api_key_roles (user_id, name, description, scopes) values
  (null, 'reader', 'Reads sessions, connections, the account, webhooks, calendars and mail; changes nothing.',
   array['sessions:read', 'tokens:read', 'account:read', 'webhooks:read', 'calendar:read', 'mail:read']),
  (null, 'assistant', 'What a voice agent needs: sessions, chat and fresh provider tokens.',
   array['sessions:read', 'sessions:write', 'chat:write', 'tokens:access']);

create or replace function private.api_key_roles_audit() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if coalesce(new.user_id, old.user_id) is null then
    return null; -- built-in roles change only by migration
  end if;
  perform private.record_activity(coalesce(new.user_id, old.user_id),
    'api_key_role.' || case tg_op when 'INSERT' then 'created' when 'UPDATE' then 'updated'
                                  else 'deleted' end,
    jsonb_build_object('role_id', coalesce(new.id, old.id), 'name', coalesce(new.name, old.name),
                       'scopes', coalesce(new.scopes, old.scopes)));
  return null;
end $$;
revoke all on function private.api_key_roles_audit() from public, anon, authenticated;
create trigger api_key_roles_audit after insert or update or delete on public.api_key_roles
  for each row execute function private.api_key_roles_audit();

-- 2. The key's new columns ---------------------------------------------------------
-- limits: [{"name": "chat", "limit": 10, "window": 60}, ...]; a limit named after a
-- route class (default, auth, chat, heygen, provider) counts that class's requests, one
-- named "all" counts every request. At most 8, names distinct.
create or replace function private.api_key_limits_valid(p jsonb) returns boolean
language sql immutable strict set search_path = '' as $$
  select jsonb_typeof(p) = 'array' and jsonb_array_length(p) <= 8
     and not exists (
       select 1 from jsonb_array_elements(p) l
        where jsonb_typeof(l) <> 'object'
           or not (l ? 'name' and l ? 'limit' and l ? 'window')
           or (select count(*) from jsonb_object_keys(l)) <> 3
           or jsonb_typeof(l -> 'name') <> 'string'
           or not (l ->> 'name') = any (array['all', 'default', 'auth', 'chat', 'heygen', 'provider'])
           or jsonb_typeof(l -> 'limit') <> 'number' or jsonb_typeof(l -> 'window') <> 'number'
           or (l ->> 'limit') !~ '^[0-9]{1,9}$' or (l ->> 'window') !~ '^[0-9]{1,6}$'
           or (l ->> 'limit')::integer < 1 or (l ->> 'window')::integer not between 1 and 86400)
     and (select count(distinct l ->> 'name') from jsonb_array_elements(p) l) = jsonb_array_length(p)
$$;
comment on function private.api_key_limits_valid(jsonb) is
  'True when an API key''s limits are an array of at most 8 {name, limit, window} with distinct names.';

alter table public.api_keys
  add column meta jsonb not null default '{}'::jsonb,
  add column external_id text,
  add column role_id uuid references public.api_key_roles (id) on delete restrict,
  add column limits jsonb not null default '[]'::jsonb,
  add column credits_remaining integer,
  add column credits_refill_interval text,
  add column credits_refill_amount integer,
  add column credits_refill_day smallint,
  add column credits_refilled_at timestamptz not null default now(),
  add column previous_key_hash bytea unique,
  add column previous_expires_at timestamptz,
  add column updated_at timestamptz not null default now(),
  add constraint api_keys_meta_shape check (
    jsonb_typeof(meta) = 'object' and octet_length(meta::text) <= 4096),
  add constraint api_keys_meta_depth check (private.jsonb_depth_within(meta, 32)),
  add constraint api_keys_limits_depth check (private.jsonb_depth_within(limits, 32)),
  add constraint api_keys_external_id_length check (char_length(external_id) between 1 and 256),
  add constraint api_keys_limits_shape check (private.api_key_limits_valid(limits)),
  add constraint api_keys_credits_nonnegative check (credits_remaining >= 0),
  add constraint api_keys_refill_shape check (
    (credits_refill_interval is null and credits_refill_amount is null and credits_refill_day is null)
    or (credits_refill_interval = 'daily' and credits_refill_amount > 0 and credits_refill_day is null
        and credits_remaining is not null)
    or (credits_refill_interval = 'monthly' and credits_refill_amount > 0
        and credits_refill_day between 1 and 31 and credits_remaining is not null)),
  add constraint api_keys_previous_hash_shape check (
    (previous_key_hash is null) = (previous_expires_at is null)
    and (previous_key_hash is null or octet_length(previous_key_hash) = 32));
comment on column public.api_keys.meta is 'The owner''s free JSON object (at most 4 KiB, 32 levels).';
comment on column public.api_keys.external_id is 'The owner''s own id for what uses the key (a user, a device).';
comment on column public.api_keys.role_id is 'A role whose scopes the key also holds, read at each verification.';
comment on column public.api_keys.limits is 'Named limits on top of the owner''s: [{name, limit, window}].';
comment on column public.api_keys.credits_remaining is
  'Uses left (null: unlimited); each costed request spends its cost, exactly, under the row lock.';
comment on column public.api_keys.credits_refilled_at is
  'When credits were last set or refilled: the refill schedule counts from here.';
comment on column public.api_keys.previous_key_hash is
  'After a reroll with a grace period: the old secret''s hash, valid until previous_expires_at.';
create index api_keys_external_id on public.api_keys (user_id, external_id) where external_id is not null;
create index api_keys_role on public.api_keys (role_id) where role_id is not null;
create trigger api_keys_updated_at before update of name, scopes, expires_at, meta, external_id,
  role_id, limits, credits_refill_interval, credits_refill_amount, credits_refill_day, key_hash
  on public.api_keys for each row execute function private.set_updated_at();

-- A key with a role may hold no scopes of its own.
alter table public.api_keys drop constraint api_keys_scopes_check;
alter table public.api_keys add constraint api_keys_scopes_check check (
  cardinality(scopes) <= 16 and (cardinality(scopes) >= 1 or role_id is not null)
  and scopes <@ array[
    'sessions:read', 'sessions:write', 'chat:write', 'tokens:read', 'tokens:write',
    'tokens:access', 'account:read', 'account:write', 'webhooks:read', 'webhooks:write',
    'calendar:read', 'calendar:write', 'mail:read', 'mail:write'
  ]::text[]
);

-- A reroll sets a new key_hash and, for a grace period, previous_expires_at:
-- the old hash moves to previous_key_hash here, so the API never reads or
-- chooses a hash it did not make (it holds no SELECT on key_hash). Without a
-- grace period no previous hash is kept; otherwise the grace period can only
-- end sooner.
create or replace function private.api_keys_reroll() returns trigger
language plpgsql set search_path = '' as $$
begin
  if new.key_hash is distinct from old.key_hash then
    if new.previous_expires_at > now() then
      new.previous_key_hash := old.key_hash;
    else
      new.previous_key_hash := null;
      new.previous_expires_at := null;
    end if;
  elsif new.previous_expires_at is null then
    new.previous_key_hash := null; -- the grace period ended early
  else
    -- It may end sooner, never later, and the hash is never chosen.
    new.previous_key_hash := old.previous_key_hash;
    new.previous_expires_at := least(old.previous_expires_at, new.previous_expires_at);
  end if;
  return new;
end $$;
revoke all on function private.api_keys_reroll() from public, anon, authenticated;
create trigger api_keys_reroll before update of key_hash, previous_expires_at, previous_key_hash
  on public.api_keys
  for each row execute function private.api_keys_reroll();

-- A key references a built-in role or one of its owner's (the foreign key alone
-- would accept another user's role, which RLS hides but does not forbid).
create or replace function private.api_keys_role_owner() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if new.role_id is not null and not exists (
    select 1 from public.api_key_roles r
     where r.id = new.role_id and (r.user_id is null or r.user_id = new.user_id)) then
    raise exception 'no such role' using errcode = '23503';
  end if;
  return new;
end $$;
revoke all on function private.api_keys_role_owner() from public, anon, authenticated;
create trigger api_keys_role_owner before insert or update of role_id on public.api_keys
  for each row execute function private.api_keys_role_owner();

grant select (meta, external_id, role_id, limits, credits_remaining, credits_refill_interval,
              credits_refill_amount, credits_refill_day, credits_refilled_at,
              previous_expires_at, updated_at)
  on public.api_keys to authenticated;
grant insert (meta, external_id, role_id, limits, credits_remaining, credits_refill_interval,
              credits_refill_amount, credits_refill_day),
      update (name, scopes, expires_at, meta, external_id, role_id, limits, credits_remaining,
              credits_refill_interval, credits_refill_amount, credits_refill_day,
              credits_refilled_at, prefix, key_hash, previous_expires_at)
  on public.api_keys to oprina_api_user;

-- Every change is an activity; a reroll is one of its own. Verification's own
-- writes (credits spent or refilled, last_used_at) are not changes: it marks
-- its transaction with oprina.api_key_verifying.
create or replace function private.api_keys_audit() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  changed text[];
begin
  if tg_op = 'INSERT' then
    perform private.record_activity(new.user_id, 'api_key.created',
      jsonb_strip_nulls(jsonb_build_object('api_key_id', new.id, 'name', new.name,
        'prefix', new.prefix, 'scopes', new.scopes, 'role_id', new.role_id)));
    return null;
  end if;
  if current_setting('oprina.api_key_verifying', true) = 'on' then
    return null;
  end if;
  if old.revoked_at is null and new.revoked_at is not null then
    perform private.record_activity(new.user_id, 'api_key.revoked',
      jsonb_build_object('api_key_id', new.id, 'name', new.name, 'prefix', new.prefix));
  end if;
  if old.key_hash is distinct from new.key_hash then
    perform private.record_activity(new.user_id, 'api_key.rerolled',
      jsonb_build_object('api_key_id', new.id, 'name', new.name, 'prefix', new.prefix,
                         'previous_prefix', old.prefix,
                         'previous_expires_at', new.previous_expires_at));
  end if;
  select array_agg(key order by key) into changed
    from jsonb_each(to_jsonb(new)) n
   where key in ('name', 'scopes', 'expires_at', 'meta', 'external_id', 'role_id', 'limits',
                 'credits_remaining', 'credits_refill_interval', 'credits_refill_amount',
                 'credits_refill_day')
     and n.value is distinct from to_jsonb(old) -> key;
  if changed is not null and old.key_hash is not distinct from new.key_hash then
    perform private.record_activity(new.user_id, 'api_key.updated',
      jsonb_build_object('api_key_id', new.id, 'name', new.name, 'prefix', new.prefix,
                         'fields', changed));
  end if;
  return null;
end $$;
drop trigger api_keys_audit on public.api_keys;
create trigger api_keys_audit after insert or update on public.api_keys
  for each row execute function private.api_keys_audit();

-- 3. Usage: batched counts, rolled up per key, day and outcome ---------------------
-- Each isolate of the API counts its verifications per key and outcome in
-- memory and appends them here about once a second, one row per key and
-- outcome (private.api_key_record_usage): no request writes a row, and no two
-- writers share one. pg_cron folds the rows into public.api_key_usage every
-- minute; the usage route adds the rows not folded yet. Unlogged: no WAL for
-- them, and a crash forgets at most the last minute of counts, as an isolate
-- that dies forgets its last second.
create unlogged table private.api_key_events (
  id bigint generated always as identity primary key,
  key_id uuid not null,
  user_id uuid not null,
  outcome text not null check (outcome in ('valid', 'rate_limited', 'usage_exceeded',
    'insufficient_scope', 'expired', 'revoked')),
  requests integer not null check (requests > 0),
  at timestamptz not null default now()
);
comment on table private.api_key_events is
  'API key verifications counted by the API in batches, folded into public.api_key_usage by pg_cron.';
create index api_key_events_key on private.api_key_events (key_id, at);
alter table private.api_key_events enable row level security;
revoke all on private.api_key_events from public, anon, authenticated, service_role;

-- Appends a batch: [{"key_id", "user_id", "outcome", "requests"}, ...]. Rows
-- of keys that no longer exist, or whose owner is someone else, are dropped.
create or replace function private.api_key_record_usage(p_rows jsonb) returns integer
language sql security definer set search_path = '' as $$
  with batch as (
    insert into private.api_key_events (key_id, user_id, outcome, requests)
    select (r ->> 'key_id')::uuid, k.user_id, r ->> 'outcome', (r ->> 'requests')::integer
      from jsonb_array_elements(p_rows) r
      join public.api_keys k on k.id = (r ->> 'key_id')::uuid
                            and k.user_id = (r ->> 'user_id')::uuid
     where (r ->> 'requests')::integer > 0
    returning 1
  )
  select count(*)::integer from batch
$$;
revoke all on function private.api_key_record_usage(jsonb) from public, anon, authenticated;
grant execute on function private.api_key_record_usage(jsonb) to service_role;

create table public.api_key_usage (
  key_id uuid not null references public.api_keys (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  day date not null,
  outcome text not null check (outcome in ('valid', 'rate_limited', 'usage_exceeded',
    'insufficient_scope', 'expired', 'revoked')),
  requests bigint not null check (requests >= 0),
  primary key (key_id, day, outcome)
);
comment on table public.api_key_usage is
  'Requests per API key, UTC day and outcome; written only by private.api_key_usage_rollup.';
create index api_key_usage_user on public.api_key_usage (user_id, day);
alter table public.api_key_usage enable row level security;
revoke all on public.api_key_usage from anon, authenticated, service_role;
grant select on public.api_key_usage to authenticated, service_role;
create policy "api_key_usage: owner reads" on public.api_key_usage
  for select to authenticated using (user_id = (select auth.uid()));

create or replace function private.api_key_usage_rollup() returns bigint
language plpgsql security definer set search_path = '' as $$
declare
  folded bigint;
begin
  with moved as (
    delete from private.api_key_events returning key_id, user_id, outcome, requests, at
  ), counted as (
    select key_id, user_id, (at at time zone 'UTC')::date as day, outcome, sum(requests) as n
      from moved group by 1, 2, 3, 4
  ), kept as (
    insert into public.api_key_usage as u (key_id, user_id, day, outcome, requests)
    select c.key_id, c.user_id, c.day, c.outcome, c.n from counted c
     where exists (select 1 from public.api_keys k where k.id = c.key_id)
    on conflict (key_id, day, outcome) do update set requests = u.requests + excluded.requests
    returning 1
  )
  select coalesce(sum(n), 0) into folded from counted;
  return folded;
end $$;
revoke all on function private.api_key_usage_rollup() from public, anon, authenticated;
grant execute on function private.api_key_usage_rollup() to service_role;
select cron.schedule('api-key-usage-rollup', '* * * * *', 'select private.api_key_usage_rollup()');

-- The caller's usage of one of their keys (auth.uid() decides: another user's
-- key has no rows), folded and not yet folded, per day and outcome.
create or replace function private.api_key_usage_of(p_key uuid, p_days integer)
returns table (day date, outcome text, requests bigint)
language sql stable security definer set search_path = '' as $$
  with mine as (
    select k.id from public.api_keys k where k.id = p_key and k.user_id = (select auth.uid())
  ), since as (
    select ((now() at time zone 'UTC')::date - (p_days - 1)) as d
  )
  select day, outcome, sum(requests)::bigint from (
    select u.day, u.outcome, u.requests from public.api_key_usage u, since
     where u.key_id in (select id from mine) and u.day >= since.d
    union all
    select (e.at at time zone 'UTC')::date, e.outcome, sum(e.requests) from private.api_key_events e
     where e.key_id in (select id from mine)
       and e.at >= (select d from since)::timestamp at time zone 'UTC'
     group by 1, 2
  ) x group by day, outcome order by day, outcome
$$;
revoke all on function private.api_key_usage_of(uuid, integer) from public, anon, authenticated;
-- The usage route calls it as service_role inside the user's message (as chat's
-- writes switch role): the claims still name the caller.
grant execute on function private.api_key_usage_of(uuid, integer) to service_role;

create or replace view admin.api_key_usage_per_day as
  select day, outcome, sum(requests)::bigint as requests, count(distinct key_id) as keys,
         count(distinct user_id) as users
    from (
      select day, outcome, requests, key_id, user_id from public.api_key_usage
      union all
      select (at at time zone 'UTC')::date, outcome, requests, key_id, user_id
        from private.api_key_events
    ) x
   group by day, outcome;
comment on view admin.api_key_usage_per_day is
  'API key verifications per UTC day and outcome, with the keys and owners involved.';
revoke all on admin.api_key_usage_per_day from public, anon, authenticated;
grant select on admin.api_key_usage_per_day to service_role;

-- 4. Credits: the next refill ---------------------------------------------------------
-- Daily: the next UTC midnight after the last refill. Monthly: the next refill
-- day (clamped to the month's last day) after it.
create or replace function private.api_key_next_refill(p_from timestamptz, p_interval text, p_day integer)
returns timestamptz language plpgsql immutable set search_path = '' as $$
declare
  m timestamp;
  candidate timestamp;
  f timestamp := p_from at time zone 'UTC';
begin
  if p_interval is null or p_from is null then
    return null;
  elsif p_interval = 'daily' then
    return (date_trunc('day', f) + interval '1 day') at time zone 'UTC';
  end if;
  m := date_trunc('month', f);
  for i in 0..1 loop
    candidate := m + make_interval(days => least(coalesce(p_day, 1),
      extract(day from m + interval '1 month' - interval '1 day')::integer) - 1);
    if candidate > f then
      return candidate at time zone 'UTC';
    end if;
    m := m + interval '1 month';
  end loop;
  return m at time zone 'UTC';
end $$;

-- 5. Verification ----------------------------------------------------------------------
-- The claims a valid key's requests run with: as Supabase Auth's, for the owner.
create or replace function private.api_key_claims(p_key uuid, p_user uuid, p_email text)
returns jsonb language sql immutable set search_path = '' as $$
  select jsonb_strip_nulls(jsonb_build_object('sub', p_user, 'role', 'authenticated',
    'aud', 'authenticated', 'email', p_email, 'api_key_id', p_key))
$$;

-- Counts one request against each of the key's named limits that applies to
-- the class (its own, or "all"). Returns the limit closest to refusing (the
-- least remaining), refused true when any is exceeded. Exact: one upsert per
-- limit, the window row locked by it.
create or replace function private.api_key_take_limits(p_key uuid, p_limits jsonb, p_class text)
returns jsonb language plpgsql security definer set search_path = '' as $$
declare
  l jsonb;
  lim integer;
  win integer;
  started timestamptz;
  hits_now integer;
  reset_ms integer;
  tightest jsonb;
  refused boolean := false;
begin
  for l in select x from jsonb_array_elements(p_limits) x
            where x ->> 'name' in (p_class, 'all') order by x ->> 'name' loop
    lim := (l ->> 'limit')::integer;
    win := (l ->> 'window')::integer;
    started := to_timestamp(floor(extract(epoch from now()) / win) * win);
    insert into private.rate_limits as r (bucket, class, window_start, hits)
    values ('key:' || p_key || ':' || (l ->> 'name'), 'named', started, 1)
    on conflict (bucket, class, window_start) do update set hits = r.hits + 1
    returning r.hits into hits_now;
    reset_ms := greatest(1, ceil(extract(epoch from started + make_interval(secs => win) - now()) * 1000))::integer;
    refused := refused or hits_now > lim;
    if tightest is null or (lim - hits_now) < (tightest ->> 'remaining')::integer then
      tightest := jsonb_build_object('name', l ->> 'name', 'limit', lim,
        'remaining', greatest(0, lim - hits_now), 'reset_ms', reset_ms);
    end if;
  end loop;
  return case when tightest is null then null
              else tightest || jsonb_build_object('refused', refused) end;
end $$;
revoke all on function private.api_key_take_limits(uuid, jsonb, text) from public, anon, authenticated;

-- A refusal: SQLSTATE per outcome, DETAIL the particulars as JSON (the key
-- and owner, for the API's usage counts, and what the caller needs to know:
-- the scope required, the limit and its reset, the credits and their refill).
create or replace function private.api_key_refuse(p_outcome text, p_detail jsonb)
returns void language plpgsql set search_path = '' as $$
begin
  raise exception 'API key refused: %', p_outcome
    using errcode = case p_outcome when 'insufficient_scope' then 'AK403'
                                   when 'rate_limited' then 'AKR29'
                                   when 'usage_exceeded' then 'AKU29'
                                   else 'AK401' end,
          detail = (p_detail || jsonb_build_object('outcome', p_outcome))::text;
end $$;
revoke all on function private.api_key_refuse(text, jsonb) from public, anon, authenticated;

-- Verifies a presented key for one request, first in the request's message.
-- Arguments: the key's SHA-256; the scope the route needs; the route's rate
-- class; the credits the request costs; for a costly class the owner's limit
-- and window (private.rate_limit_take_owner), else null; for the other
-- classes the hits to lease from the key's bucket ('key:<id>',
-- private.rate_limit_take), 0 when the isolate still holds some; and the user
-- a JWT sent beside the key names (null: none). Raises a refusal
-- (private.api_key_refuse), which rolls back the whole message, hits and
-- credits included. Otherwise sets the owner's claims for the statements
-- that follow and returns the verdict: key, owner, scopes, credits, refill
-- time and rate-limit states. Credits and hits stand with the message: a
-- request whose work the database refuses (an error) spends nothing.
create or replace function private.verify_api_key(
  p_hash bytea, p_scope text, p_class text, p_cost integer,
  p_owner_limit integer, p_owner_window integer,
  p_lease_limit integer, p_lease_window integer, p_lease_want integer,
  p_expect_user uuid
) returns jsonb
language plpgsql security definer set search_path = '' as $$
declare
  k record;
  who jsonb;
  scopes text[];
  named jsonb;
  owner_hit record;
  lease record;
  spent record;
  next_refill timestamptz;
  claims jsonb;
  verdict jsonb;
begin
  select key.id, key.user_id, key.scopes, key.limits, key.revoked_at, key.expires_at,
         key.credits_remaining, key.credits_refill_interval, key.credits_refill_day,
         key.credits_refilled_at, key.last_used_at, u.email, r.scopes as role_scopes
    into k
    from public.api_keys key
    join auth.users u on u.id = key.user_id and not u.is_anonymous
    left join public.api_key_roles r on r.id = key.role_id
   where key.key_hash = p_hash
      or (key.previous_key_hash = p_hash and key.previous_expires_at > now());
  if not found then
    perform private.api_key_refuse('invalid', '{}');
  end if;
  who := jsonb_build_object('key_id', k.id, 'user_id', k.user_id);
  if k.revoked_at is not null then
    perform private.api_key_refuse('revoked', who);
  elsif k.expires_at <= now() then
    perform private.api_key_refuse('expired', who);
  elsif p_expect_user is not null and p_expect_user <> k.user_id then
    perform private.api_key_refuse('user_mismatch', '{}');
  end if;
  scopes := array(select distinct s from unnest(k.scopes || coalesce(k.role_scopes, '{}')) s order by s);
  if not p_scope = any (scopes) then
    perform private.api_key_refuse('insufficient_scope', who || jsonb_build_object('required', p_scope));
  end if;
  perform set_config('oprina.api_key_verifying', 'on', true);

  -- Limits before credits: a request a limit refuses spends nothing.
  if jsonb_array_length(k.limits) > 0 then
    named := private.api_key_take_limits(k.id, k.limits, p_class);
    if (named ->> 'refused')::boolean then
      perform private.api_key_refuse('rate_limited', who || jsonb_build_object(
        'limit', (named ->> 'limit')::integer, 'reset_ms', (named ->> 'reset_ms')::integer,
        'name', named ->> 'name'));
    end if;
  end if;
  if p_owner_limit is not null then
    select * into owner_hit
      from private.rate_limit_take_owner(k.user_id, k.id, p_class, p_owner_limit, p_owner_window);
    if owner_hit.granted = 0 then
      perform private.api_key_refuse('rate_limited', who || jsonb_build_object(
        'limit', owner_hit.rate_limit, 'reset_ms', owner_hit.reset_ms));
    end if;
  elsif p_lease_want > 0 then
    select * into lease
      from private.rate_limit_take('key:' || k.id, p_class, p_lease_limit, p_lease_window, p_lease_want);
    if lease.granted = 0 then
      perform private.api_key_refuse('rate_limited', who || jsonb_build_object(
        'limit', lease.rate_limit, 'reset_ms', lease.reset_ms));
    end if;
  end if;

  -- Credits: refilled when due, then spent under the row's lock, so
  -- concurrent requests from any isolate spend exactly what there is.
  next_refill := private.api_key_next_refill(k.credits_refilled_at, k.credits_refill_interval,
                                             k.credits_refill_day);
  if p_cost > 0 and k.credits_remaining is not null then
    -- The refill is decided on the row as locked (not as first read), so two
    -- requests racing past a refill time refill once.
    update public.api_keys key set
      credits_remaining = case
        when private.api_key_next_refill(key.credits_refilled_at, key.credits_refill_interval,
                                         key.credits_refill_day) <= now()
        then key.credits_refill_amount else key.credits_remaining end - p_cost,
      credits_refilled_at = case
        when private.api_key_next_refill(key.credits_refilled_at, key.credits_refill_interval,
                                         key.credits_refill_day) <= now()
        then now() else key.credits_refilled_at end
     where key.id = k.id
       and case when private.api_key_next_refill(key.credits_refilled_at, key.credits_refill_interval,
                                                 key.credits_refill_day) <= now()
                then key.credits_refill_amount else key.credits_remaining end >= p_cost
    returning key.credits_remaining, key.credits_refilled_at into spent;
    if not found then
      select key.credits_remaining, private.api_key_next_refill(key.credits_refilled_at,
               key.credits_refill_interval, key.credits_refill_day)
        into k.credits_remaining, next_refill
        from public.api_keys key where key.id = k.id;
      perform private.api_key_refuse('usage_exceeded', who || jsonb_build_object(
        'remaining', k.credits_remaining, 'cost', p_cost, 'refill_at', next_refill));
    end if;
    k.credits_remaining := spent.credits_remaining;
    next_refill := private.api_key_next_refill(spent.credits_refilled_at,
      k.credits_refill_interval, k.credits_refill_day);
  else
    -- Without a spend nothing here waits for a WAL flush: a crash forgets at
    -- most a few rate-limit hits and a last_used_at.
    perform set_config('synchronous_commit', 'off', true);
  end if;

  -- last_used_at at most once a minute per key: the usage counts are exact.
  if k.last_used_at is null or k.last_used_at < now() - interval '1 minute' then
    update public.api_keys key set last_used_at = now() where key.id = k.id;
  end if;

  claims := private.api_key_claims(k.id, k.user_id, k.email);
  perform set_config('request.jwt.claims', claims::text, true);
  verdict := who || jsonb_build_object('scopes', to_jsonb(scopes), 'claims', claims,
    'credits', k.credits_remaining, 'refill_at', next_refill, 'named', named);
  if owner_hit is not null then
    verdict := verdict || jsonb_build_object('rate', jsonb_build_object(
      'limit', owner_hit.rate_limit, 'remaining', owner_hit.remaining, 'reset_ms', owner_hit.reset_ms));
  elsif lease is not null then
    verdict := verdict || jsonb_build_object('lease', jsonb_build_object(
      'limit', lease.rate_limit, 'granted', lease.granted, 'remaining', lease.remaining,
      'reset_ms', lease.reset_ms));
  end if;
  return verdict;
end $$;
revoke all on function private.verify_api_key(bytea, text, text, integer, integer, integer,
  integer, integer, integer, uuid) from public, anon, authenticated;
grant execute on function private.verify_api_key(bytea, text, text, integer, integer, integer,
  integer, integer, integer, uuid) to service_role;

-- private.resolve_api_key (migration 0500) stays: routes no key may use
-- (session-only and service routes) resolve a key with it only to tell an
-- invalid key (401) from a refused one (403), spending and counting nothing.

-- Retention: deleting a user removes their keys' named-limit buckets too.
create or replace function private.delete_user(p_user uuid) returns boolean
language plpgsql security definer set search_path = '' as $$
begin
  delete from private.rate_limits
   where bucket = 'user:' || p_user
      or bucket in (select 'key:' || k.id from public.api_keys k where k.user_id = p_user)
      or bucket like any (select 'key:' || k.id || ':%' from public.api_keys k where k.user_id = p_user);
  delete from private.api_key_events where user_id = p_user;
  delete from auth.users where id = p_user;
  return found;
end $$;
