-- Scope choices (issue 14): an app asks for each service at a level, read
-- (read-only scopes) or write (the full scopes, what every connection had
-- before), and a connection reports what its grant covers and what the user
-- declined. An authorization may also extend an existing connection
-- (incremental authorization).
--
-- An access map is a JSON object from service to level:
-- {"gmail": "read", "calendar": "write"}. The functions derive it from the
-- granted scopes in one place (shared/providers/definitions.ts coverage());
-- the database only holds it to that shape.

alter table public.service_tokens
  add column service_access jsonb not null default '{}'
    check (jsonb_typeof(service_access) = 'object' and service_access - array['gmail', 'calendar', 'outlook'] = '{}'::jsonb and not jsonb_path_exists(service_access, '$.* ? (@.type() != "string" || (@ != "read" && @ != "write"))')),
  add column missing_access jsonb not null default '{}'
    check (jsonb_typeof(missing_access) = 'object' and missing_access - array['gmail', 'calendar', 'outlook'] = '{}'::jsonb and not jsonb_path_exists(missing_access, '$.* ? (@.type() != "string" || (@ != "read" && @ != "write"))'));
comment on column public.service_tokens.service_access is
  'Per service, what the granted scopes cover: read (read-only scopes) or write (the full scopes).';
comment on column public.service_tokens.missing_access is
  'Per service, the level asked for at the last authorization and not granted (unticked at consent).';

-- Every connection made before levels asked for, and was granted, the full scopes.
update public.service_tokens t
   set service_access = (select coalesce(jsonb_object_agg(s, 'write'), '{}'::jsonb) from unnest(t.services) s)
 where t.service_access = '{}'::jsonb and cardinality(t.services) > 0;

-- What an authorization asks for, and which connection it extends. The owner's
-- column grant (id, user_id, provider, services, ...) is unchanged: these are
-- read by the service only.
alter table public.oauth_states
  add column access jsonb not null default '{}'
    check (jsonb_typeof(access) = 'object' and access - array['gmail', 'calendar', 'outlook'] = '{}'::jsonb and not jsonb_path_exists(access, '$.* ? (@.type() != "string" || (@ != "read" && @ != "write"))')),
  add column connection_id uuid references public.service_tokens (id) on delete cascade;
comment on column public.oauth_states.access is 'Per service, the level asked for.';
comment on column public.oauth_states.connection_id is
  'The connection this authorization extends (incremental authorization); null for a new one.';

-- A parked grant keeps what was asked for, so completion reports what is missing.
alter table private.parked_grants
  add column access jsonb not null default '{}'
    check (jsonb_typeof(access) = 'object' and access - array['gmail', 'calendar', 'outlook'] = '{}'::jsonb and not jsonb_path_exists(access, '$.* ? (@.type() != "string" || (@ != "read" && @ != "write"))'));
comment on column private.parked_grants.access is 'Per service, the level the authorization asked for.';

alter type private.taken_grant add attribute access jsonb;

create or replace function private.decrypt_parked(g private.parked_grants) returns private.taken_grant
language sql stable security definer set search_path = '' as $$
  select row(g.id, g.user_id, g.provider, g.services, g.provider_user_id, g.provider_email,
             g.granted_scopes, g.expires_at, g.complete_by <= now(),
             private.token_decrypt(g.access_token, g.key_version),
             case when g.refresh_token is not null
                  then private.token_decrypt(g.refresh_token, g.key_version) end,
             g.access)::private.taken_grant
$$;

-- Parking with the access asked for: the earlier park_grant, then the access
-- on the row it parked (none when it refused, and null is answered as before).
create function private.park_grant(
  p_completion_hash text, p_user uuid, p_provider text, p_services text[],
  p_provider_user_id text, p_provider_email text, p_granted_scopes text[],
  p_expires_at timestamptz, p_access_token text, p_refresh_token text, p_access jsonb
) returns uuid
language plpgsql volatile security definer set search_path = '' as $$
declare
  v_id uuid;
begin
  v_id := private.park_grant(p_completion_hash, p_user, p_provider, p_services, p_provider_user_id,
                             p_provider_email, p_granted_scopes, p_expires_at, p_access_token,
                             p_refresh_token);
  update private.parked_grants set access = p_access where id = v_id;
  return v_id;
end $$;
revoke all on function private.park_grant(text, uuid, text, text[], text, text, text[], timestamptz, text, text, jsonb)
  from public, anon, authenticated;
grant execute on function private.park_grant(text, uuid, text, text[], text, text, text[], timestamptz, text, text, jsonb)
  to service_role;
