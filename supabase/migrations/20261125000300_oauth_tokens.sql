-- OAuth connections and the token vault: connection metadata that owners can
-- read, ciphertext that no API role can read, pending authorization states,
-- and the refresh log. Secrets are encrypted with pgcrypto (AES-256) under a
-- key kept in Supabase Vault and are reached only through the SECURITY DEFINER
-- functions below, which only service_role may execute.

create extension if not exists pgcrypto with schema extensions;

-- service_tokens: one row per connected provider account ---------------------------------
create table public.service_tokens (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  provider text not null check (provider ~ '^[a-z][a-z0-9_]{0,31}$'),
  services text[] not null default '{}'
    check (services <@ array['gmail', 'calendar', 'outlook']::text[]),
  provider_account_id text not null check (char_length(provider_account_id) between 1 and 255),
  provider_email text check (char_length(provider_email) <= 320),
  granted_scopes text[] not null default '{}' check (cardinality(granted_scopes) <= 100),
  status text not null default 'active' check (status in ('active', 'needs_reauth', 'revoked')),
  expires_at timestamptz not null,
  issued_at timestamptz not null default now(),
  has_refresh_token boolean not null default false,
  use_count bigint not null default 0 check (use_count >= 0),
  last_used_at timestamptz,
  last_refreshed_at timestamptz,
  refresh_failures integer not null default 0 check (refresh_failures >= 0),
  next_refresh_at timestamptz,
  last_error_code text check (char_length(last_error_code) <= 64),
  connected_at timestamptz not null default now(),
  revoked_at timestamptz,
  revoked_reason text check (char_length(revoked_reason) <= 200),
  provider_revocation text
    check (provider_revocation in ('revoked', 'not_supported', 'failed', 'skipped')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (user_id, provider, provider_account_id),
  unique (id, user_id),
  check ((status = 'revoked') = (revoked_at is not null))
);
comment on table public.service_tokens is
  'A user''s connection to a provider account (Google, Microsoft, dev): metadata only. '
  'The tokens themselves are ciphertext in private.token_secrets. Written by the oauth and '
  'tokens functions as service_role; owners read their own rows.';
comment on column public.service_tokens.services is 'Services the granted scopes cover: gmail, calendar, outlook.';
comment on column public.service_tokens.granted_scopes is 'Scopes as the provider reported them at the last grant or refresh.';
comment on column public.service_tokens.status is
  'active | needs_reauth (the provider refused the refresh token: the user must reconnect; the row and '
  'its ciphertext are kept) | revoked (ciphertext destroyed).';
comment on column public.service_tokens.expires_at is 'When the current access token expires. Expiry is routine: refresh handles it.';
comment on column public.service_tokens.issued_at is 'When the current access token was obtained; with expires_at it gives its lifetime.';
comment on column public.service_tokens.has_refresh_token is 'Kept by private.store_token_secrets / destroy_token_secrets.';
comment on column public.service_tokens.refresh_failures is 'Consecutive failed refreshes; drives the exponential backoff.';
comment on column public.service_tokens.next_refresh_at is 'Scheduled refresh waits until then after a failure (backoff).';
comment on column public.service_tokens.provider_revocation is
  'At revocation: revoked (the provider confirmed, RFC 7009), not_supported (Microsoft has no '
  'endpoint: local only), failed (the provider did not answer; revoked locally anyway), skipped.';
comment on column public.service_tokens.connected_at is 'Last completed authorization (first connect or reconnect).';

create index service_tokens_refresh_due on public.service_tokens (expires_at) where status = 'active';
create index service_tokens_revoked on public.service_tokens (revoked_at) where status = 'revoked';

create trigger service_tokens_updated_at before update on public.service_tokens
  for each row execute function private.set_updated_at();

alter table public.service_tokens enable row level security;
revoke all on public.service_tokens from anon, authenticated;
grant select on public.service_tokens to authenticated;
create policy "service_tokens: owner reads" on public.service_tokens
  for select to authenticated using (user_id = (select auth.uid()));

-- The audit trail of connections: connected (or reconnected), needs_reauth, revoked.
create or replace function private.service_tokens_audit() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'INSERT' or new.connected_at is distinct from old.connected_at then
    perform private.record_activity(new.user_id, 'oauth.connected', jsonb_build_object(
      'token_id', new.id, 'provider', new.provider, 'services', to_jsonb(new.services),
      'reconnected', tg_op = 'UPDATE'));
  elsif new.status is distinct from old.status and new.status = 'revoked' then
    perform private.record_activity(new.user_id, 'oauth.revoked', jsonb_build_object(
      'token_id', new.id, 'provider', new.provider, 'reason', new.revoked_reason));
  elsif new.status is distinct from old.status and new.status = 'needs_reauth' then
    perform private.record_activity(new.user_id, 'oauth.needs_reauth', jsonb_build_object(
      'token_id', new.id, 'provider', new.provider, 'error_code', new.last_error_code));
  end if;
  return null;
end $$;
create trigger service_tokens_audit after insert or update of status, connected_at
  on public.service_tokens for each row execute function private.service_tokens_audit();

-- private.token_secrets: the ciphertext ---------------------------------------------------
create table private.token_secrets (
  token_id uuid primary key references public.service_tokens (id) on delete cascade,
  key_version integer not null check (key_version > 0),
  access_token bytea not null,
  refresh_token bytea,
  updated_at timestamptz not null default now()
);
comment on table private.token_secrets is
  'OAuth access and refresh tokens, pgp_sym_encrypt(AES-256) under the Vault key of key_version. '
  'No role but the owner can touch it; use the private.*token_secrets functions.';
alter table private.token_secrets enable row level security;
revoke all on private.token_secrets from public, anon, authenticated, service_role;

-- The key: version 1 is the Vault secret "token_encryption_key", version N > 1 is
-- "token_encryption_key_v<N>". The highest version present encrypts; every
-- present version decrypts. No key, no encryption: nothing here invents one.
create or replace function private.token_key(p_version integer) returns text
language plpgsql stable security definer set search_path = '' as $$
declare
  v_key text;
begin
  select s.decrypted_secret into v_key
    from vault.decrypted_secrets s
   where s.name = case when p_version = 1 then 'token_encryption_key'
                       else 'token_encryption_key_v' || p_version end;
  if v_key is null or char_length(v_key) < 32 then
    raise exception 'token encryption key version % is not in Vault (or is shorter than 32 characters)', p_version
      using errcode = 'TK001',
            hint = 'select vault.create_secret(<32+ random characters>, ''token_encryption_key'')';
  end if;
  return v_key;
end $$;

create or replace function private.token_key_version() returns integer
language plpgsql stable security definer set search_path = '' as $$
declare
  v_version integer;
begin
  select max(case when s.name = 'token_encryption_key' then 1
                  else substring(s.name from '^token_encryption_key_v([0-9]{1,6})$')::integer end)
    into v_version
    from vault.decrypted_secrets s
   where s.name = 'token_encryption_key' or s.name ~ '^token_encryption_key_v[0-9]{1,6}$';
  if v_version is null then
    raise exception 'no token encryption key in Vault'
      using errcode = 'TK001',
            hint = 'select vault.create_secret(<32+ random characters>, ''token_encryption_key'')';
  end if;
  perform private.token_key(v_version); -- present and long enough
  return v_version;
end $$;
comment on function private.token_key_version() is
  'The key version new ciphertext uses; raises TK001 when Vault holds no usable key. '
  'The functions call it at start and refuse to serve token routes without a key.';

create or replace function private.token_encrypt(p_plain text, p_version integer) returns bytea
language sql volatile security definer set search_path = '' as $$
  select extensions.pgp_sym_encrypt(p_plain, private.token_key(p_version), 'cipher-algo=aes256, s2k-mode=1')
$$;

create or replace function private.token_decrypt(p_cipher bytea, p_version integer) returns text
language sql stable security definer set search_path = '' as $$
  select extensions.pgp_sym_decrypt(p_cipher, private.token_key(p_version))
$$;

-- Stores a new access token and, when given, a new refresh token (Microsoft
-- rotates them). Without a new refresh token the stored one is kept (and
-- re-encrypted if the key moved on), so a refresh never loses it.
create or replace function private.store_token_secrets(
  p_token_id uuid, p_access_token text, p_refresh_token text
) returns void
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_version integer := private.token_key_version();
  v_old private.token_secrets%rowtype;
  v_refresh bytea;
begin
  if coalesce(p_access_token, '') = '' then
    raise exception 'an access token is required' using errcode = '22023';
  end if;
  if p_refresh_token = '' then
    raise exception 'an empty refresh token is not a refresh token' using errcode = '22023';
  end if;
  select * into v_old from private.token_secrets where token_id = p_token_id for update;
  if p_refresh_token is not null then
    v_refresh := private.token_encrypt(p_refresh_token, v_version);
  elsif v_old.refresh_token is not null and v_old.key_version = v_version then
    v_refresh := v_old.refresh_token;
  elsif v_old.refresh_token is not null then
    v_refresh := private.token_encrypt(private.token_decrypt(v_old.refresh_token, v_old.key_version), v_version);
  end if;
  insert into private.token_secrets (token_id, key_version, access_token, refresh_token)
  values (p_token_id, v_version, private.token_encrypt(p_access_token, v_version), v_refresh)
  on conflict (token_id) do update
    set key_version = excluded.key_version,
        access_token = excluded.access_token,
        refresh_token = excluded.refresh_token,
        updated_at = now();
  update public.service_tokens
     set has_refresh_token = (v_refresh is not null)
   where id = p_token_id and has_refresh_token is distinct from (v_refresh is not null);
end $$;

-- The refresh token is decrypted only when asked for (refresh and revoke).
create or replace function private.read_token_secrets(p_token_id uuid, p_with_refresh boolean default false)
returns table (access_token text, refresh_token text, key_version integer)
language sql stable security definer set search_path = '' as $$
  select private.token_decrypt(s.access_token, s.key_version),
         case when p_with_refresh and s.refresh_token is not null
              then private.token_decrypt(s.refresh_token, s.key_version) end,
         s.key_version
    from private.token_secrets s
   where s.token_id = p_token_id
$$;

create or replace function private.destroy_token_secrets(p_token_id uuid) returns boolean
language plpgsql volatile security definer set search_path = '' as $$
begin
  delete from private.token_secrets where token_id = p_token_id;
  if not found then
    return false;
  end if;
  update public.service_tokens set has_refresh_token = false where id = p_token_id;
  return true;
end $$;

-- Key rotation: add token_encryption_key_v<N+1> to Vault, then call this until
-- it returns 0. Old versions decrypt until every row has moved.
create or replace function private.reencrypt_token_secrets(p_limit integer default 1000) returns integer
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_version integer := private.token_key_version();
  v_count integer;
begin
  with picked as (
    select token_id from private.token_secrets
     where key_version <> v_version
     order by token_id
     limit greatest(p_limit, 1)
       for update skip locked
  )
  update private.token_secrets s
     set access_token = private.token_encrypt(private.token_decrypt(s.access_token, s.key_version), v_version),
         refresh_token = case when s.refresh_token is null then null
                              else private.token_encrypt(private.token_decrypt(s.refresh_token, s.key_version), v_version) end,
         key_version = v_version,
         updated_at = now()
    from picked
   where s.token_id = picked.token_id;
  get diagnostics v_count = row_count;
  return v_count;
end $$;
comment on function private.reencrypt_token_secrets(integer) is
  'Key rotation: re-encrypts up to p_limit rows under the newest key version; returns how many moved.';

revoke all on function private.token_key(integer) from public, anon, authenticated, service_role;
revoke all on function private.token_encrypt(text, integer) from public, anon, authenticated, service_role;
revoke all on function private.token_decrypt(bytea, integer) from public, anon, authenticated, service_role;
revoke all on function private.token_key_version() from public, anon, authenticated;
revoke all on function private.store_token_secrets(uuid, text, text) from public, anon, authenticated;
revoke all on function private.read_token_secrets(uuid, boolean) from public, anon, authenticated;
revoke all on function private.destroy_token_secrets(uuid) from public, anon, authenticated;
revoke all on function private.reencrypt_token_secrets(integer) from public, anon, authenticated;
grant execute on function private.token_key_version() to service_role;
grant execute on function private.store_token_secrets(uuid, text, text) to service_role;
grant execute on function private.read_token_secrets(uuid, boolean) to service_role;
grant execute on function private.destroy_token_secrets(uuid) to service_role;
grant execute on function private.reencrypt_token_secrets(integer) to service_role;

-- oauth_states: pending authorizations ---------------------------------------------------
create table public.oauth_states (
  id uuid primary key default gen_random_uuid(),
  state_hash text not null unique check (state_hash ~ '^[0-9a-f]{64}$'),
  user_id uuid not null references auth.users (id) on delete cascade,
  provider text not null check (provider ~ '^[a-z][a-z0-9_]{0,31}$'),
  services text[] not null default '{}'
    check (services <@ array['gmail', 'calendar', 'outlook']::text[]),
  scopes text[] not null check (cardinality(scopes) between 1 and 50),
  code_verifier text not null check (code_verifier ~ '^[A-Za-z0-9._~-]{43,128}$'),
  redirect_to text check (char_length(redirect_to) <= 2048),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '10 minutes',
  check (expires_at <= created_at + interval '10 minutes')
);
comment on table public.oauth_states is
  'Authorization requests in flight: SHA-256 of the state sent to the provider, the PKCE verifier, '
  'the user who started it and where to send the browser back. Single use (the callback deletes '
  'the row), ten minutes at most. Written by the service only; owners may read the metadata '
  'columns, never state_hash or code_verifier.';
comment on column public.oauth_states.state_hash is 'hex SHA-256 of the state; the state itself is never stored.';
comment on column public.oauth_states.redirect_to is 'Checked against OAUTH_REDIRECT_ALLOWLIST when the row was created.';

create index oauth_states_user on public.oauth_states (user_id);
create index oauth_states_expires on public.oauth_states (expires_at);

alter table public.oauth_states enable row level security;
revoke all on public.oauth_states from anon, authenticated;
-- Owners may see that an authorization is pending (the oauth function caps
-- them per user), never its state hash or PKCE verifier. Only the service writes.
grant select (id, user_id, provider, services, redirect_to, created_at, expires_at)
  on public.oauth_states to authenticated;
create policy "oauth_states: owner reads" on public.oauth_states
  for select to authenticated using (user_id = (select auth.uid()));

-- token_refresh_logs: every refresh attempt ----------------------------------------------
create table public.token_refresh_logs (
  id bigint generated always as identity primary key,
  token_id uuid not null,
  user_id uuid not null,
  provider text not null check (provider ~ '^[a-z][a-z0-9_]{0,31}$'),
  refresh_type text not null check (refresh_type in ('automatic', 'manual', 'scheduled')),
  status text not null check (status in ('success', 'failed', 'needs_reauth')),
  previous_expires_at timestamptz,
  new_expires_at timestamptz,
  rotated boolean not null default false,
  error_code text check (char_length(error_code) <= 64),
  error_message text check (char_length(error_message) <= 500),
  retry_count integer not null default 0 check (retry_count >= 0),
  duration_ms integer check (duration_ms >= 0),
  created_at timestamptz not null default now(),
  -- A log row's owner is always its token's owner.
  foreign key (token_id, user_id) references public.service_tokens (id, user_id) on delete cascade
);
comment on table public.token_refresh_logs is
  'One row per refresh attempt: automatic (access-token on demand), manual (user asked), scheduled '
  '(pg_cron refresh-due). Never holds a token. Owners read their own rows.';
comment on column public.token_refresh_logs.rotated is 'The provider issued a new refresh token (stored in the same transaction).';
comment on column public.token_refresh_logs.retry_count is 'Consecutive failures before this attempt.';

create index token_refresh_logs_token on public.token_refresh_logs (token_id, created_at desc);
create index token_refresh_logs_user on public.token_refresh_logs (user_id, created_at desc);
create index token_refresh_logs_created on public.token_refresh_logs (created_at);

alter table public.token_refresh_logs enable row level security;
revoke all on public.token_refresh_logs from anon, authenticated;
revoke all on sequence public.token_refresh_logs_id_seq from anon, authenticated;
grant select on public.token_refresh_logs to authenticated;
create policy "token_refresh_logs: owner reads" on public.token_refresh_logs
  for select to authenticated using (user_id = (select auth.uid()));

-- A refresh the user asked for is an activity; the scheduled and on-demand
-- ones are routine and live in this log only.
create or replace function private.token_refresh_logs_audit() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  perform private.record_activity(new.user_id, 'oauth.refreshed', jsonb_build_object(
    'token_id', new.token_id, 'provider', new.provider, 'refresh_type', new.refresh_type));
  return null;
end $$;
create trigger token_refresh_logs_audit after insert on public.token_refresh_logs
  for each row when (new.refresh_type = 'manual' and new.status = 'success')
  execute function private.token_refresh_logs_audit();

-- Retention ------------------------------------------------------------------------------
-- Removes expired states, refresh logs past retention and revoked connections
-- past retention. Active and needs_reauth connections are never touched,
-- however expired their access token: only a revocation ends a token.
create or replace function private.cleanup_oauth_data(
  p_log_retention interval default interval '30 days',
  p_revoked_retention interval default interval '30 days'
) returns jsonb
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_states integer;
  v_logs integer;
  v_secrets integer;
  v_tokens integer;
begin
  if p_log_retention < interval '1 day' or p_revoked_retention < interval '1 day' then
    raise exception 'retention must be at least one day' using errcode = '22023';
  end if;
  delete from public.oauth_states where expires_at < now();
  get diagnostics v_states = row_count;
  delete from public.token_refresh_logs where created_at < now() - p_log_retention;
  get diagnostics v_logs = row_count;
  -- Revocation destroys ciphertext; sweep any a failed revocation left behind.
  delete from private.token_secrets s
   using public.service_tokens t
   where t.id = s.token_id and t.status = 'revoked';
  get diagnostics v_secrets = row_count;
  delete from public.service_tokens t
   where t.status = 'revoked' and t.revoked_at < now() - p_revoked_retention;
  get diagnostics v_tokens = row_count;
  return jsonb_build_object(
    'expired_states', v_states,
    'old_refresh_logs', v_logs,
    'revoked_tokens', v_tokens,
    'stray_secrets', v_secrets);
end $$;
revoke all on function private.cleanup_oauth_data(interval, interval) from public, anon, authenticated;
grant execute on function private.cleanup_oauth_data(interval, interval) to service_role;
