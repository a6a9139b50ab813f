-- Refresh policy and connection health (issue 14).
--
-- Before: every active connection was due about ten minutes before its access
-- token expired, so each was refreshed about 24 times a day whether anyone
-- used it or not. Now the scheduled refresh (POST /tokens/refresh-due) works
-- from one stored column, refresh_due_at, kept by a trigger from the row and
-- the policy below:
--   * a connection used within the policy's active window is refreshed
--     proactively, `lead` before its access token expires (as before);
--   * every other connection gets a keep-alive refresh once its access token
--     is `keepalive` old (per provider, well inside the provider's idle
--     expiry), so a dormant grant never lapses and a broken one is noticed;
--   * a failing one waits for its backoff (next_refresh_at);
--   * needs_reauth, exhausted and revoked ones are never claimed (null).
-- The claim walks a partial index on refresh_due_at, so its cost does not
-- grow with the number of dormant connections.
--
-- Health: active | refresh_failing (transient failures since failing_since,
-- counted by refresh_failures) | needs_reauth (the provider refused the grant)
-- | exhausted (failing for longer than TOKEN_EXHAUSTED_AFTER_HOURS: no more
-- scheduled retries until the user reconnects or asks for a refresh) | revoked.
-- Each change of state is an event (connection.refresh_failing,
-- connection.exhausted, connection.recovered), through the existing trigger.

-- 1. The policy ----------------------------------------------------------------------------
-- The due time is kept by a trigger that every writer fires, so its settings
-- live where that trigger can read them: here, not in a function's environment.
-- The row of a provider wins over the '*' row. Change it with SQL; each
-- connection follows the new policy from its next write (a refresh or a use),
-- or at once with: update public.service_tokens set refresh_due_at = null
--                  where provider = '<provider>';   (the trigger recomputes it)
create table private.token_refresh_policy (
  provider text primary key check (provider = '*' or provider ~ '^[a-z][a-z0-9_]{0,31}$'),
  -- Used within this long: refreshed proactively. Longer ago: keep-alive only.
  active_window interval not null check (active_window between interval '0' and interval '30 days'),
  -- A proactive refresh comes this long before the access token expires (or
  -- half its lifetime before, when that is shorter).
  lead interval not null check (lead between interval '30 seconds' and interval '1 day'),
  -- A dormant connection is refreshed once its access token is this old.
  keepalive interval not null check (keepalive between interval '1 hour' and interval '30 days')
);
comment on table private.token_refresh_policy is
  'When the scheduled refresh takes a connection (see private.service_tokens_schedule): per '
  'provider, ''*'' for the others. Read by the trigger only; no API role may touch it.';
alter table private.token_refresh_policy enable row level security;
revoke all on private.token_refresh_policy from public, anon, authenticated, service_role;

-- Defaults (docs/decisions.md, "Refresh policy"): keep-alive at most once a
-- day per dormant connection, far inside each provider's idle expiry (Google:
-- about 6 months unused; Microsoft: 90 days of inactivity), so a few days of
-- provider outage (exhausted comes after 72 h) never costs a grant.
insert into private.token_refresh_policy (provider, active_window, lead, keepalive) values
  ('*', interval '24 hours', interval '10 minutes', interval '24 hours'),
  ('google', interval '24 hours', interval '10 minutes', interval '72 hours'),
  ('microsoft', interval '24 hours', interval '10 minutes', interval '7 days');

-- 2. New columns and states ------------------------------------------------------------
alter table public.service_tokens
  add column refresh_due_at timestamptz,
  add column failing_since timestamptz;
comment on column public.service_tokens.refresh_due_at is
  'When the scheduled refresh may take this connection; null: never (needs_reauth, exhausted, '
  'revoked). Derived by the trigger private.service_tokens_schedule on every write.';
comment on column public.service_tokens.failing_since is
  'First failure of the current run of transient refresh failures; set exactly when the status '
  'is refresh_failing or exhausted.';

alter table public.service_tokens drop constraint service_tokens_status_check;
alter table public.service_tokens add constraint service_tokens_status_check check (
  status in ('active', 'refresh_failing', 'needs_reauth', 'exhausted', 'revoked'));
comment on column public.service_tokens.status is
  'active | refresh_failing (transient refresh failures since failing_since; the access token is '
  'still served while valid) | needs_reauth (the provider refused the refresh token: the user '
  'must reconnect; the row and its ciphertext are kept) | exhausted (failing for too long: no '
  'scheduled retries until a reconnect or a manual refresh) | revoked (ciphertext destroyed).';

-- The rows failing today become refresh_failing from now (when their run of
-- failures started is not recorded): each gets its connection.refresh_failing event.
update public.service_tokens
   set status = 'refresh_failing', failing_since = now()
 where status = 'active' and refresh_failures > 0;

alter table public.service_tokens add constraint service_tokens_failing_since_check check (
  (status in ('refresh_failing', 'exhausted')) = (failing_since is not null));

-- 3. The due time ------------------------------------------------------------------------
create or replace function private.service_tokens_schedule() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  p private.token_refresh_policy%rowtype;
  v_proactive timestamptz;
  v_due timestamptz;
begin
  if new.status not in ('active', 'refresh_failing') then
    new.refresh_due_at := null;
    return new;
  end if;
  select * into p from private.token_refresh_policy
   where provider in (new.provider, '*')
   order by provider = '*'
   limit 1;
  if not found then -- the '*' row was deleted: the migration's defaults
    p.active_window := interval '24 hours';
    p.lead := interval '10 minutes';
    p.keepalive := interval '24 hours';
  end if;
  if not new.has_refresh_token then
    -- Nothing to refresh with: taken once expired, to be marked needs_reauth.
    v_due := new.expires_at;
  else
    v_due := new.issued_at + p.keepalive;
    v_proactive := new.expires_at - least(p.lead, (new.expires_at - new.issued_at) / 2);
    -- Proactive while the refresh would fall inside the active window; the
    -- last proactive refresh after the last use hands over to the keep-alive.
    if v_proactive <= new.last_used_at + p.active_window then
      v_due := least(v_due, v_proactive);
    end if;
  end if;
  -- A failure's backoff postpones it (greatest ignores a null next_refresh_at).
  new.refresh_due_at := greatest(v_due, new.next_refresh_at);
  return new;
end $$;
revoke all on function private.service_tokens_schedule() from public, anon, authenticated;
create trigger service_tokens_schedule before insert or update on public.service_tokens
  for each row execute function private.service_tokens_schedule();

-- Every row gets its due time (the trigger computes it on any update).
update public.service_tokens set refresh_due_at = null;

drop index if exists public.service_tokens_refresh_due;
-- The claim: where refresh_due_at <= now() order by refresh_due_at limit n
-- for update skip locked walks this index from its start and stops at n.
create index service_tokens_refresh_due on public.service_tokens (refresh_due_at)
  where refresh_due_at is not null;

-- 4. Events of the new states ------------------------------------------------------------
-- As in 0800, one event per change, the most specific that applies; now a
-- change of status names its event after the new status (refresh_failing,
-- exhausted, needs_reauth, revoked), and active again after any unhealthy
-- state (a refresh that worked, or a reconnect) is recovered.
create or replace function private.service_tokens_events() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  v_previous text := case when tg_op = 'UPDATE' then old.status end;
  v_reconnected boolean := case when tg_op = 'UPDATE'
                                then new.connected_at is distinct from old.connected_at end;
  v_type text;
begin
  v_type := case
    when tg_op = 'INSERT' then 'connection.connected'
    when new.status is not distinct from v_previous then
      case when v_reconnected then 'connection.reconnected' end
    when new.status <> 'active' then 'connection.' || new.status
    when v_previous in ('needs_reauth', 'refresh_failing', 'exhausted') then 'connection.recovered'
    when v_reconnected then 'connection.reconnected' -- revoked, then authorized again
  end;
  if v_type is null then
    return null;
  end if;
  perform private.record_connection_event(new.user_id, new.id, v_type,
    jsonb_build_object('connection_id', new.id, 'provider', new.provider,
                       'services', to_jsonb(new.services), 'status', new.status,
                       'previous_status', v_previous)
    || case
         when v_type = 'connection.revoked' then jsonb_build_object(
           'reason', new.revoked_reason, 'provider_revocation', new.provider_revocation)
         when v_type = 'connection.needs_reauth' then
           jsonb_build_object('error_code', new.last_error_code)
         when v_type in ('connection.refresh_failing', 'connection.exhausted') then jsonb_build_object(
           'error_code', new.last_error_code, 'refresh_failures', new.refresh_failures,
           'failing_since', new.failing_since)
         when v_type = 'connection.recovered' then jsonb_build_object('reconnected', v_reconnected)
         else '{}'::jsonb
       end);
  return null;
end $$;
revoke all on function private.service_tokens_events() from public, anon, authenticated;

-- 5. Dashboard -----------------------------------------------------------------------------
-- Columns appended (a view keeps its columns' order): what the scheduler has
-- waiting, and how long the oldest failure has lasted.
create or replace view admin.token_health as
  select provider,
         status,
         count(*) as connections,
         count(*) filter (where status = 'active' and expires_at <= now()) as access_token_expired,
         count(*) filter (where refresh_failures > 0) as failing_refresh,
         count(*) filter (where status = 'active' and not has_refresh_token) as without_refresh_token,
         max(last_refreshed_at) as last_refresh_at,
         count(*) filter (where refresh_due_at <= now()) as refresh_due_now,
         min(failing_since) as failing_since
    from public.service_tokens
   group by provider, status;
comment on view admin.token_health is
  'Connections per provider and status, with expired access tokens, failing refreshes, the last '
  'successful refresh, how many the scheduler has due now (a growing number: refresh-due is '
  'falling behind) and the start of the oldest run of failures.';
