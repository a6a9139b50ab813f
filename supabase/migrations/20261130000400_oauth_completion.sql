-- Completing a connection is bound to the user who started it (RFC 6749
-- §10.12, RFC 9700 §4.7). The callback no longer stores a connection: it parks
-- the exchanged grant here, encrypted and short-lived, and hands the browser a
-- one-time completion code. The app finishes with its own session
-- (POST /oauth/complete); only the user who started the authorization can. A
-- completion by anyone else, or never, ends in revocation at the provider.
--
-- Also: an account being deleted accepts no new connection. Deletion marks
-- the profile first, under a row lock that a completion takes too, so either
-- the completion's connection exists before deletion revokes everything, or
-- the completion sees the mark and stores nothing.

create table private.parked_grants (
  id uuid primary key default gen_random_uuid(),
  completion_hash text not null unique check (completion_hash ~ '^[0-9a-f]{64}$'),
  -- No foreign key: deleting a user must not drop a grant unrevoked. Deletion
  -- and the cleanup take and revoke parked grants themselves.
  user_id uuid not null,
  provider text not null check (char_length(provider) <= 40),
  services text[] not null,
  provider_user_id text not null check (char_length(provider_user_id) <= 255),
  provider_email text check (char_length(provider_email) <= 320),
  granted_scopes text[] not null,
  expires_at timestamptz,
  key_version integer not null check (key_version > 0),
  access_token bytea not null,
  refresh_token bytea,
  created_at timestamptz not null default now(),
  complete_by timestamptz not null default now() + interval '10 minutes'
);
create index parked_grants_user on private.parked_grants (user_id);
create index parked_grants_complete_by on private.parked_grants (complete_by);
comment on table private.parked_grants is
  'Grants exchanged at the OAuth callback, waiting for the starting user to complete them; tokens '
  'encrypted as in private.token_secrets. Taken (deleted) by completion, deletion or the cleanup.';
alter table private.parked_grants enable row level security;
revoke all on private.parked_grants from public, anon, authenticated, service_role;

alter table public.profiles add column deletion_started_at timestamptz;
comment on column public.profiles.deletion_started_at is
  'Set when DELETE /account/me begins: from then on no connection may be stored for the user.';

-- Parks a grant; returns its id. Refuses (returns null) for a user whose
-- account is gone or being deleted: the caller then revokes the grant.
create or replace function private.park_grant(
  p_completion_hash text, p_user uuid, p_provider text, p_services text[],
  p_provider_user_id text, p_provider_email text, p_granted_scopes text[],
  p_expires_at timestamptz, p_access_token text, p_refresh_token text
) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_version integer := private.token_key_version();
  v_id uuid;
begin
  if not private.may_connect(p_user) then
    return null;
  end if;
  insert into private.parked_grants
    (completion_hash, user_id, provider, services, provider_user_id, provider_email,
     granted_scopes, expires_at, key_version, access_token, refresh_token)
  values (p_completion_hash, p_user, p_provider, p_services, p_provider_user_id, p_provider_email,
          p_granted_scopes, p_expires_at, v_version, private.token_encrypt(p_access_token, v_version),
          case when p_refresh_token is not null then private.token_encrypt(p_refresh_token, v_version) end)
  returning id into v_id;
  return v_id;
end $$;

-- Whether a connection may be stored for the user now: the profile exists and
-- no deletion has begun. Takes a share lock on the profile until the end of
-- the transaction, which the deletion mark waits for.
create or replace function private.may_connect(p_user uuid) returns boolean
language sql volatile security definer set search_path = '' as $$
  select coalesce(
    (select p.deletion_started_at is null from public.profiles p where p.id = p_user for share),
    false)
$$;

-- A parked grant, decrypted, as it leaves the table.
create type private.taken_grant as (
  id uuid, user_id uuid, provider text, services text[], provider_user_id text,
  provider_email text, granted_scopes text[], expires_at timestamptz, expired boolean,
  access_token text, refresh_token text
);

create or replace function private.decrypt_parked(g private.parked_grants) returns private.taken_grant
language sql stable security definer set search_path = '' as $$
  select row(g.id, g.user_id, g.provider, g.services, g.provider_user_id, g.provider_email,
             g.granted_scopes, g.expires_at, g.complete_by <= now(),
             private.token_decrypt(g.access_token, g.key_version),
             case when g.refresh_token is not null
                  then private.token_decrypt(g.refresh_token, g.key_version) end)::private.taken_grant
$$;

-- Single use: whoever presents the code takes the grant, whatever happens next.
create or replace function private.take_parked_grant(p_completion_hash text)
returns setof private.taken_grant
language sql volatile security definer set search_path = '' as $$
  with taken as (
    delete from private.parked_grants g where g.completion_hash = p_completion_hash
    returning private.decrypt_parked(g) as t
  )
  select (t).* from taken
$$;

-- Every grant parked for a user (account deletion revokes them).
create or replace function private.take_parked_grants_of(p_user uuid)
returns setof private.taken_grant
language sql volatile security definer set search_path = '' as $$
  with taken as (
    delete from private.parked_grants g where g.user_id = p_user returning private.decrypt_parked(g) as t
  )
  select (t).* from taken
$$;

-- Grants nobody completed in time, oldest first (the cleanup revokes them).
create or replace function private.take_expired_parked_grants(p_limit integer)
returns setof private.taken_grant
language sql volatile security definer set search_path = '' as $$
  with picked as (
    select id from private.parked_grants where complete_by <= now()
     order by complete_by limit greatest(p_limit, 1) for update skip locked
  ), taken as (
    delete from private.parked_grants g using picked where g.id = picked.id
    returning private.decrypt_parked(g) as t
  )
  select (t).* from taken
$$;

-- Marks the account as being deleted, in its own transaction before anything
-- is revoked; waits for a completion that holds the profile's share lock.
create or replace function private.begin_account_deletion(p_user uuid) returns void
language sql volatile security definer set search_path = '' as $$
  update public.profiles set deletion_started_at = coalesce(deletion_started_at, now())
   where id = p_user
$$;

revoke all on function private.park_grant(text, uuid, text, text[], text, text, text[], timestamptz, text, text)
  from public, anon, authenticated;
revoke all on function private.may_connect(uuid) from public, anon, authenticated;
revoke all on function private.decrypt_parked(private.parked_grants) from public, anon, authenticated, service_role;
revoke all on function private.take_parked_grant(text) from public, anon, authenticated;
revoke all on function private.take_parked_grants_of(uuid) from public, anon, authenticated;
revoke all on function private.take_expired_parked_grants(integer) from public, anon, authenticated;
revoke all on function private.begin_account_deletion(uuid) from public, anon, authenticated;
grant execute on function private.park_grant(text, uuid, text, text[], text, text, text[], timestamptz, text, text)
  to service_role;
grant execute on function private.may_connect(uuid) to service_role;
grant execute on function private.take_parked_grant(text) to service_role;
grant execute on function private.take_parked_grants_of(uuid) to service_role;
grant execute on function private.take_expired_parked_grants(integer) to service_role;
grant execute on function private.begin_account_deletion(uuid) to service_role;

-- Grants nobody completed are revoked by POST /functions/v1/oauth/cleanup
-- (provider calls need the function), queued every five minutes like the
-- refresh job. One function queues any such call, with the project URL and
-- the service key from Vault; the refresh job's command now uses it too.
create or replace function private.enqueue_service_call(p_path text) returns bigint
language sql volatile security definer set search_path = '' as $$
  select net.http_post(
    url := (select decrypted_secret from vault.decrypted_secrets where name = 'project_url')
           || p_path,
    headers := jsonb_build_object(
      'Content-Type', 'application/json',
      'Authorization', 'Bearer ' || (select decrypted_secret from vault.decrypted_secrets
                                      where name = 'service_role_key')),
    body := jsonb_build_object('source', 'pg_cron'),
    timeout_milliseconds := 55000
  )
$$;
revoke all on function private.enqueue_service_call(text) from public, anon, authenticated, service_role;
comment on function private.enqueue_service_call(text) is
  'Queues POST <project_url><p_path> with the service key from Vault (pg_cron jobs that call functions).';

create or replace function private.enqueue_token_refresh() returns bigint
language sql volatile security definer set search_path = '' as $$
  select private.enqueue_service_call('/functions/v1/tokens/refresh-due')
$$;

select cron.schedule('oauth-parked-cleanup', '*/5 * * * *',
  $$select private.enqueue_service_call('/functions/v1/oauth/cleanup')$$);
