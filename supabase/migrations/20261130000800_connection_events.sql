-- Connection events and signed webhooks (issue 14).
--
-- Every connect, reconnect, revoke and change of a connection's status is a
-- row in the outbox public.connection_events, written by a trigger on
-- public.service_tokens, so every writer (the oauth and tokens functions, the
-- dashboard, a later migration) is covered and nobody else can write one.
-- Owners read their own events (GET /tokens/events, and the Data API).
--
-- Events are delivered as Standard Webhooks to endpoints a user (or the
-- service, for every user's events) registers. Each event fans out, in the
-- transaction that made it, to one delivery per matching enabled endpoint;
-- the webhooks function's worker (POST /functions/v1/webhooks/deliver, queued
-- by pg_cron every minute) claims due deliveries with FOR UPDATE SKIP LOCKED,
-- signs and posts them and records the outcome, retrying with exponential
-- backoff. Signing secrets are ciphertext in private.webhook_secrets, under the
-- token encryption key, reached only through SECURITY DEFINER functions.

-- 1. The outbox --------------------------------------------------------------------------
create table public.connection_events (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  -- No foreign key: an event outlives its connection (cleanup removes revoked
  -- connections after their retention; their events stay until their own).
  connection_id uuid not null,
  type text not null check (type in (
    'connection.connected', 'connection.reconnected', 'connection.needs_reauth',
    'connection.recovered', 'connection.revoked',
    -- Reserved for the refresh worker's warnings (a later change emits them).
    'connection.refresh_failing', 'connection.exhausted')),
  data jsonb not null default '{}'::jsonb
    check (jsonb_typeof(data) = 'object' and octet_length(data::text) <= 4096),
  -- clock_timestamp: two events of one transaction keep their order.
  created_at timestamptz not null default clock_timestamp()
);
comment on table public.connection_events is
  'Outbox of connection events (connected, reconnected, needs_reauth, recovered, revoked, ...): '
  'written only by the trigger on service_tokens (private.record_connection_event), read by their '
  'owner, delivered as signed webhooks. data never holds a token, code or secret.';
comment on column public.connection_events.data is
  'connection_id, provider, services, status, previous_status, and per type: error_code '
  '(needs_reauth), reconnected (recovered), reason and provider_revocation (revoked).';

create index connection_events_user_created on public.connection_events (user_id, created_at desc, id desc);
create index connection_events_connection on public.connection_events (connection_id, created_at);
create index connection_events_created on public.connection_events (created_at);

alter table public.connection_events enable row level security;
revoke all on public.connection_events from anon, authenticated;
grant select on public.connection_events to authenticated;
-- The service reads events to list its own endpoints' deliveries.
grant select on public.connection_events to service_role;
create policy "connection_events: owner reads" on public.connection_events
  for select to authenticated using (user_id = (select auth.uid()));

-- The one writer. Skips users being deleted (as private.record_activity does).
create or replace function private.record_connection_event(
  p_user uuid, p_connection uuid, p_type text, p_data jsonb
) returns uuid
language sql volatile security definer set search_path = '' as $$
  insert into public.connection_events (user_id, connection_id, type, data)
  select p_user, p_connection, p_type, coalesce(p_data, '{}'::jsonb)
   where exists (select 1 from auth.users u where u.id = p_user)
  returning id
$$;
revoke all on function private.record_connection_event(uuid, uuid, text, jsonb)
  from public, anon, authenticated, service_role;

-- One event per change of a connection, the most specific that applies.
create or replace function private.service_tokens_events() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_type text;
  v_data jsonb := jsonb_build_object(
    'connection_id', new.id,
    'provider', new.provider,
    'services', to_jsonb(new.services),
    'status', new.status,
    'previous_status', case when tg_op = 'UPDATE' then old.status end);
begin
  if tg_op = 'INSERT' then
    v_type := 'connection.connected';
  elsif new.status is distinct from old.status and new.status = 'revoked' then
    v_type := 'connection.revoked';
    v_data := v_data || jsonb_build_object(
      'reason', new.revoked_reason, 'provider_revocation', new.provider_revocation);
  elsif new.status is distinct from old.status and new.status = 'needs_reauth' then
    v_type := 'connection.needs_reauth';
    v_data := v_data || jsonb_build_object('error_code', new.last_error_code);
  elsif old.status = 'needs_reauth' and new.status = 'active' then
    v_type := 'connection.recovered';
    v_data := v_data || jsonb_build_object(
      'reconnected', new.connected_at is distinct from old.connected_at);
  elsif new.connected_at is distinct from old.connected_at then
    v_type := 'connection.reconnected';
  else
    return null;
  end if;
  perform private.record_connection_event(new.user_id, new.id, v_type, v_data);
  return null;
end $$;
revoke all on function private.service_tokens_events() from public, anon, authenticated;
create trigger service_tokens_events after insert or update of status, connected_at
  on public.service_tokens for each row execute function private.service_tokens_events();

-- 2. Endpoints ---------------------------------------------------------------------------
create table public.webhook_endpoints (
  id uuid primary key default gen_random_uuid(),
  -- null: the service's endpoint, which receives every user's events. Users
  -- insert with their own id (the policy); the service inserts without claims.
  user_id uuid default auth.uid() references auth.users (id) on delete cascade,
  -- https, or http to loopback (the local stack). The functions also refuse
  -- private, link-local and (outside the local stack) loopback addresses,
  -- resolved at registration and at every delivery.
  url text not null check (
    char_length(url) <= 2048 and url !~ '\s'
    and (url ~* '^https://[^/]' or url ~* '^http://(127\.0\.0\.1|localhost|\[::1\])(:[0-9]{1,5})?(/|$)')),
  description text not null default '' check (char_length(description) <= 200),
  -- Empty: every type.
  event_types text[] not null default '{}' check (
    cardinality(event_types) <= 16 and private.is_distinct_set(event_types)
    and event_types <@ array[
      'connection.connected', 'connection.reconnected', 'connection.needs_reauth',
      'connection.recovered', 'connection.revoked', 'connection.refresh_failing',
      'connection.exhausted']::text[]),
  enabled boolean not null default true,
  -- user: the owner disabled it; gone: it answered 410 Gone (Standard Webhooks).
  disabled_reason text check (disabled_reason in ('user', 'gone')),
  secret_rotated_at timestamptz,
  previous_secret_expires_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (enabled = (disabled_reason is null))
);
comment on table public.webhook_endpoints is
  'Where connection events are delivered as Standard Webhooks: a user''s endpoints receive '
  'their events, the service''s (user_id null) everyone''s. Metadata only: the signing secrets '
  'are ciphertext in private.webhook_secrets. At most 10 per owner.';
comment on column public.webhook_endpoints.previous_secret_expires_at is
  'After a rotation the previous secret also signs until then (two signatures per delivery).';

create index webhook_endpoints_user on public.webhook_endpoints (user_id, created_at);

create trigger webhook_endpoints_updated_at before update on public.webhook_endpoints
  for each row execute function private.set_updated_at();

-- At most 10 endpoints per owner (the service counts as one owner). Creations
-- of one owner are serialized by an advisory lock and count in a fresh
-- snapshot, as private.api_keys_cap does. Refused with SQLSTATE WH409.
create or replace function private.webhook_endpoints_cap() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_count integer;
begin
  perform pg_advisory_xact_lock(hashtextextended(
    'public.webhook_endpoints:' || coalesce(new.user_id::text, 'service'), 0));
  select count(*) into v_count from public.webhook_endpoints e
   where e.user_id is not distinct from new.user_id;
  if v_count >= 10 then
    raise exception 'the owner has % webhook endpoints, the most allowed', v_count
      using errcode = 'WH409', detail = '10';
  end if;
  return new;
end $$;
revoke all on function private.webhook_endpoints_cap() from public, anon, authenticated;
create trigger webhook_endpoints_cap before insert on public.webhook_endpoints
  for each row execute function private.webhook_endpoints_cap();

alter table public.webhook_endpoints enable row level security;
revoke all on public.webhook_endpoints from anon, authenticated;
grant select on public.webhook_endpoints to authenticated;
grant insert (url, description, event_types),
      update (description, event_types, enabled, disabled_reason),
      delete
  on public.webhook_endpoints to oprina_api_user;
grant select, insert, update, delete on public.webhook_endpoints to service_role;
create policy "webhook_endpoints: owner reads" on public.webhook_endpoints
  for select to authenticated using (user_id = (select auth.uid()));
-- Anonymous sign-ins register nothing: an endpoint makes us call out.
create policy "webhook_endpoints: owner creates, unless anonymous" on public.webhook_endpoints
  for insert to oprina_api_user
  with check (
    user_id = (select auth.uid())
    and (select (auth.jwt() ->> 'is_anonymous')::boolean) is not true
  );
create policy "webhook_endpoints: owner updates" on public.webhook_endpoints
  for update to oprina_api_user
  using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy "webhook_endpoints: owner deletes" on public.webhook_endpoints
  for delete to oprina_api_user using (user_id = (select auth.uid()));

-- 3. Signing secrets -----------------------------------------------------------------------
-- whsec_ + base64 of 32 random bytes, made by the function (Standard Webhooks:
-- 24 to 64 bytes). Encrypted like token secrets (private.token_encrypt) under
-- the newest key version; the previous secret signs too until it expires.
create table private.webhook_secrets (
  endpoint_id uuid primary key references public.webhook_endpoints (id) on delete cascade,
  key_version integer not null check (key_version > 0),
  secret bytea not null,
  previous_secret bytea,
  previous_expires_at timestamptz,
  updated_at timestamptz not null default now(),
  check ((previous_secret is null) = (previous_expires_at is null))
);
comment on table private.webhook_secrets is
  'Webhook signing secrets, pgp_sym_encrypt(AES-256) under the token key of key_version. No role '
  'but the owner can touch it; use private.set_webhook_secret and the signing functions.';
alter table private.webhook_secrets enable row level security;
revoke all on private.webhook_secrets from public, anon, authenticated, service_role;

-- Sets an endpoint's secret: the first one at registration, or a rotation,
-- after which the old secret still signs for p_grace_seconds (0: not at all).
-- Service only: the API calls it in the user's own transaction after RLS let
-- the user insert or see the endpoint, switched to service_role, naming the
-- owner (null: the service's endpoints). Returns when the previous secret
-- stops signing, null when none does; raises 02000 when the endpoint is not
-- the owner's or does not exist.
create or replace function private.set_webhook_secret(
  p_endpoint uuid, p_owner uuid, p_secret text, p_grace_seconds integer default 0
) returns timestamptz
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_version integer := private.token_key_version();
  v_old private.webhook_secrets%rowtype;
  v_expires timestamptz;
begin
  if p_secret is null or p_secret !~ '^whsec_[A-Za-z0-9+/]{32,86}={0,2}$' then
    raise exception 'not a webhook secret' using errcode = '22023';
  end if;
  if p_grace_seconds is null or p_grace_seconds < 0 or p_grace_seconds > 604800 then
    raise exception 'grace must be 0 to 604800 seconds' using errcode = '22023';
  end if;
  perform 1 from public.webhook_endpoints e
   where e.id = p_endpoint and e.user_id is not distinct from p_owner
     for update;
  if not found then
    raise exception 'no such endpoint' using errcode = '02000';
  end if;
  select * into v_old from private.webhook_secrets where endpoint_id = p_endpoint for update;
  if not found then
    insert into private.webhook_secrets (endpoint_id, key_version, secret)
    values (p_endpoint, v_version, private.token_encrypt(p_secret, v_version));
    return null;
  end if;
  if p_grace_seconds > 0 then
    v_expires := now() + make_interval(secs => p_grace_seconds);
  end if;
  update private.webhook_secrets set
    key_version = v_version,
    secret = private.token_encrypt(p_secret, v_version),
    previous_secret = case when v_expires is null then null
                           else private.token_encrypt(private.token_decrypt(v_old.secret, v_old.key_version), v_version) end,
    previous_expires_at = v_expires,
    updated_at = now()
   where endpoint_id = p_endpoint;
  update public.webhook_endpoints
     set secret_rotated_at = now(), previous_secret_expires_at = v_expires
   where id = p_endpoint;
  return v_expires;
end $$;

-- The secrets that sign a delivery now: the current one first, then the
-- previous one while its grace lasts. Service only (the worker, test deliveries).
create or replace function private.webhook_signing_secrets(p_endpoint uuid) returns text[]
language sql stable security definer set search_path = '' as $$
  select array_remove(array[
           private.token_decrypt(s.secret, s.key_version),
           case when s.previous_expires_at > now()
                then private.token_decrypt(s.previous_secret, s.key_version) end], null)
    from private.webhook_secrets s
   where s.endpoint_id = p_endpoint
$$;

-- Key rotation: like private.reencrypt_token_secrets, for webhook secrets.
create or replace function private.reencrypt_webhook_secrets(p_limit integer default 1000) returns integer
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_version integer := private.token_key_version();
  v_count integer;
begin
  with picked as (
    select endpoint_id from private.webhook_secrets
     where key_version <> v_version
     order by endpoint_id
     limit greatest(p_limit, 1)
       for update skip locked
  )
  update private.webhook_secrets s
     set secret = private.token_encrypt(private.token_decrypt(s.secret, s.key_version), v_version),
         previous_secret = case when s.previous_secret is null then null
                                else private.token_encrypt(private.token_decrypt(s.previous_secret, s.key_version), v_version) end,
         key_version = v_version,
         updated_at = now()
    from picked
   where s.endpoint_id = picked.endpoint_id;
  get diagnostics v_count = row_count;
  return v_count;
end $$;

revoke all on function private.set_webhook_secret(uuid, uuid, text, integer) from public, anon, authenticated;
revoke all on function private.webhook_signing_secrets(uuid) from public, anon, authenticated;
revoke all on function private.reencrypt_webhook_secrets(integer) from public, anon, authenticated;
grant execute on function private.set_webhook_secret(uuid, uuid, text, integer) to service_role;
grant execute on function private.webhook_signing_secrets(uuid) to service_role;
grant execute on function private.reencrypt_webhook_secrets(integer) to service_role;

-- 4. Deliveries ----------------------------------------------------------------------------
create table public.webhook_deliveries (
  id uuid primary key default gen_random_uuid(),
  event_id uuid not null references public.connection_events (id) on delete cascade,
  endpoint_id uuid not null references public.webhook_endpoints (id) on delete cascade,
  -- The endpoint's owner (null for the service's endpoints), so owners see
  -- the deliveries to their endpoints and nobody sees the service's.
  user_id uuid references auth.users (id) on delete cascade,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts integer not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default now(),
  last_attempt_at timestamptz,
  last_status_code integer check (last_status_code between 100 and 599),
  last_error text check (char_length(last_error) <= 200),
  delivered_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (event_id, endpoint_id),
  check ((status = 'delivered') = (delivered_at is not null))
);
comment on table public.webhook_deliveries is
  'One row per event and endpoint: pending (due at next_attempt_at), delivered (a 2xx), or failed '
  '(attempts exhausted, or the endpoint answered 410). Written by the fan-out trigger and the '
  'service''s delivery worker; owners read the deliveries to their endpoints.';
comment on column public.webhook_deliveries.next_attempt_at is
  'When the worker may claim it: the backoff after a failure, or the lease of a running attempt.';
comment on column public.webhook_deliveries.last_error is
  'A short code: http_status, timeout, unreachable, url_refused, redirect, gone, no_secret; never '
  'a response body.';

-- The worker's claim walks this index in due order.
create index webhook_deliveries_due on public.webhook_deliveries (next_attempt_at, id)
  where status = 'pending';
create index webhook_deliveries_endpoint on public.webhook_deliveries (endpoint_id, created_at desc);
create index webhook_deliveries_user on public.webhook_deliveries (user_id, created_at desc);

create trigger webhook_deliveries_updated_at before update on public.webhook_deliveries
  for each row execute function private.set_updated_at();

alter table public.webhook_deliveries enable row level security;
revoke all on public.webhook_deliveries from anon, authenticated;
grant select on public.webhook_deliveries to authenticated;
grant select, update on public.webhook_deliveries to service_role;
create policy "webhook_deliveries: owner reads" on public.webhook_deliveries
  for select to authenticated using (user_id = (select auth.uid()));

-- Fan-out, in the transaction that made the event: one delivery per enabled
-- endpoint of the event's user, or of the service, whose filter takes the type.
create or replace function private.connection_events_fan_out() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.webhook_deliveries (event_id, endpoint_id, user_id)
  select new.id, e.id, e.user_id
    from public.webhook_endpoints e
   where (e.user_id = new.user_id or e.user_id is null)
     and e.enabled
     and (cardinality(e.event_types) = 0 or new.type = any (e.event_types));
  return null;
end $$;
revoke all on function private.connection_events_fan_out() from public, anon, authenticated;
create trigger connection_events_fan_out after insert on public.connection_events
  for each row execute function private.connection_events_fan_out();

-- The worker's claim: up to p_limit due deliveries of enabled endpoints, each
-- leased for p_lease_seconds (a worker that dies leaves it due again then) and
-- counted as an attempt, with what signing and sending it needs.
create or replace function private.claim_webhook_deliveries(p_limit integer, p_lease_seconds integer)
returns table (
  delivery_id uuid, attempt integer, event_id uuid, event_user_id uuid, event_type text,
  event_data jsonb, event_created_at timestamptz, endpoint_id uuid, url text, secrets text[]
)
language plpgsql volatile security definer set search_path = '' as $$
begin
  return query
  with picked as (
    select d.id
      from public.webhook_deliveries d
      join public.webhook_endpoints e on e.id = d.endpoint_id
     where d.status = 'pending' and d.next_attempt_at <= now() and e.enabled
     order by d.next_attempt_at, d.id
     limit greatest(least(p_limit, 1000), 1)
       for update of d skip locked
  ), claimed as (
    update public.webhook_deliveries d
       set attempts = d.attempts + 1,
           last_attempt_at = now(),
           next_attempt_at = now() + make_interval(secs => greatest(p_lease_seconds, 1))
      from picked
     where d.id = picked.id
    returning d.id, d.attempts, d.event_id, d.endpoint_id
  )
  select c.id, c.attempts, ev.id, ev.user_id, ev.type, ev.data, ev.created_at, e.id, e.url,
         private.webhook_signing_secrets(e.id)
    from claimed c
    join public.connection_events ev on ev.id = c.event_id
    join public.webhook_endpoints e on e.id = c.endpoint_id;
end $$;
revoke all on function private.claim_webhook_deliveries(integer, integer) from public, anon, authenticated;
grant execute on function private.claim_webhook_deliveries(integer, integer) to service_role;

-- 5. The api_keys scopes gain webhooks:read and webhooks:write ------------------------------
alter table public.api_keys drop constraint api_keys_scopes_check;
alter table public.api_keys add constraint api_keys_scopes_check check (
  cardinality(scopes) between 1 and 16 and scopes <@ array[
    'sessions:read', 'sessions:write', 'chat:write', 'tokens:read', 'tokens:write',
    'account:read', 'account:write', 'webhooks:read', 'webhooks:write'
  ]::text[]
);

-- 6. Schedules -----------------------------------------------------------------------------
-- Events older than p_days go, with their deliveries (long settled by then:
-- the retry schedule ends within days).
create or replace function private.purge_connection_events(p_days integer default 90) returns integer
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_count integer;
begin
  delete from public.connection_events
   where created_at < now() - make_interval(days => greatest(p_days, 1));
  get diagnostics v_count = row_count;
  return v_count;
end $$;
revoke all on function private.purge_connection_events(integer) from public, anon, authenticated;
grant execute on function private.purge_connection_events(integer) to service_role;

select cron.schedule('webhooks-deliver', '* * * * *',
  $$select private.enqueue_service_call('/functions/v1/webhooks/deliver')$$);
select cron.schedule('connection-events-purge', '27 3 * * *',
  $$select private.purge_connection_events(90)$$);

-- Dashboard: what is stuck or failing, per endpoint.
create or replace view admin.webhook_health as
  select e.id as endpoint_id, e.user_id, e.url, e.enabled, e.disabled_reason,
         count(d.id) filter (where d.status = 'pending') as pending,
         count(d.id) filter (where d.status = 'pending' and d.attempts > 0) as retrying,
         count(d.id) filter (where d.status = 'failed') as failed,
         count(d.id) filter (where d.status = 'delivered') as delivered,
         max(d.delivered_at) as last_delivered_at,
         min(d.next_attempt_at) filter (where d.status = 'pending') as next_attempt_at
    from public.webhook_endpoints e
    left join public.webhook_deliveries d on d.endpoint_id = e.id
   group by e.id;
comment on view admin.webhook_health is
  'Deliveries per webhook endpoint: pending, retrying, failed (given up), delivered, and when.';
