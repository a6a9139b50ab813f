-- Writes go through the API (DESIGN §10). PostgREST serves `public` to
-- `authenticated`, so every write `authenticated` could make, a user could
-- make with their own JWT and no API in between: API keys with chosen
-- material, `javascript:` URLs, "json" messages that are not JSON, and
-- inserts with chosen message ids that answer "exists" for other users' ids.
--
-- From here on `authenticated` (the Data API's role) only reads, and the
-- functions' user transactions run as `oprina_api_user`, which holds the
-- writes the API makes. The API's rules that describe the data also become
-- constraints, so they hold for every writer.

-- The role ---------------------------------------------------------------------
-- Roles belong to the cluster, not the database: a reset database may find it.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'oprina_api_user') then
    create role oprina_api_user nologin inherit;
  end if;
end $$;
-- NOSUPERUSER, NOBYPASSRLS and NOREPLICATION are the defaults and only a
-- superuser may set them, so they are checked below instead.
alter role oprina_api_user nologin inherit nocreatedb nocreaterole;
comment on role oprina_api_user is
  'The functions'' user transactions (shared/db/client.ts asUser): reads as authenticated, '
  'plus the writes the API makes. Never granted to authenticator, so no JWT can reach it.';

-- A member of authenticated that inherits: every read grant and every
-- `to authenticated` policy applies to it as well (Postgres applies a
-- policy to each role that has the privileges of the policy's role).
grant authenticated to oprina_api_user;
-- The functions log in as postgres and SET ROLE per transaction.
grant oprina_api_user to postgres;

-- PostgREST switches only to roles its login role `authenticator` is a member
-- of; the JWT's role claim picks one of them. Were this role among them, a
-- token claiming it would write without the API, so refuse to go on.
do $$
begin
  if exists (select 1 from pg_roles
              where rolname = 'oprina_api_user' and (rolsuper or rolbypassrls or rolreplication or rolcanlogin)) then
    raise exception 'oprina_api_user must be NOLOGIN NOSUPERUSER NOBYPASSRLS NOREPLICATION';
  end if;
  if exists (select 1 from pg_roles r
              where r.rolname in ('authenticator', 'anon', 'authenticated', 'service_role')
                and pg_has_role(r.oid, 'oprina_api_user', 'member')) then
    raise exception 'oprina_api_user is reachable from a Data API role: revoke it from that role';
  end if;
end $$;

-- Grants: authenticated reads, oprina_api_user writes -------------------------------
-- A table-level revoke also revokes the column privileges of that kind.
revoke insert, update, delete, truncate, references, trigger
  on all tables in schema public from authenticated;

-- Exactly the writes the API makes as the user (the shares authenticated had).
-- messages.id: the chat service names the user's message itself (idempotency,
-- one round trip); a Data API user can no longer choose ids at all.
grant update (display_name, avatar_url, timezone, preferences) on public.profiles to oprina_api_user;
grant insert (title, status, agent_type, agent_config, context_data),
      update (title, status, agent_type, agent_config, context_data),
      delete
  on public.chat_sessions to oprina_api_user;
grant insert (id, session_id, role, content, content_type, parent_message_id, metadata),
      update (has_voice_response, voice_response_url, has_avatar_response, avatar_session_id)
  on public.messages to oprina_api_user;
grant insert (name, prefix, key_hash, scopes, expires_at), update (revoked_at)
  on public.api_keys to oprina_api_user;

-- The write policies name the writer: authenticated has neither a grant nor a
-- policy to write, so a grant added by mistake alone still writes nothing.
-- The read policies stay `to authenticated` and apply to both.
alter policy "profiles: owner updates" on public.profiles to oprina_api_user;
alter policy "chat_sessions: owner creates" on public.chat_sessions to oprina_api_user;
alter policy "chat_sessions: owner updates" on public.chat_sessions to oprina_api_user;
alter policy "chat_sessions: owner deletes" on public.chat_sessions to oprina_api_user;
alter policy "messages: owner writes user messages" on public.messages to oprina_api_user;
alter policy "messages: owner updates" on public.messages to oprina_api_user;
alter policy "api_keys: owner creates, unless anonymous" on public.api_keys to oprina_api_user;
alter policy "api_keys: owner revokes" on public.api_keys to oprina_api_user;

-- Constraints: the API's rules that describe the data ---------------------------
-- Check functions run with the writer's privileges, so each writer may execute
-- them (postgres owns them; the schema is still closed to the API roles).

-- Whether text parses as JSON. Any parse failure is false (a check violation,
-- 23514), including nesting deeper than the server's stack allows (about
-- 12000 levels at max_stack_depth = 2MB; the API allows 1000).
create or replace function private.is_json(p_text text) returns boolean
language plpgsql immutable strict set search_path = '' as $$
begin
  perform p_text::json;
  return true;
exception when others then
  return false;
end $$;
comment on function private.is_json(text) is
  'True when the text parses as JSON (the json type: any JSON value, duplicate keys kept).';

create or replace function private.is_distinct_set(p_values text[]) returns boolean
language sql immutable strict set search_path = '' as $$
  select count(*) = count(distinct v) from unnest(p_values) v
$$;
comment on function private.is_distinct_set(text[]) is 'True when no element repeats (and none is null).';

revoke all on function private.is_json(text) from public, anon, authenticated;
revoke all on function private.is_distinct_set(text[]) from public, anon, authenticated;
grant execute on function private.is_json(text) to oprina_api_user, service_role;
grant execute on function private.is_distinct_set(text[]) to oprina_api_user, service_role;

-- Rows that break a rule can only come from direct Data API writes. They are
-- repaired (or, for API keys, removed) before the constraints are added
-- validated: a NOT VALID check would still refuse every later update of such a
-- row, so its owner could not even revoke a bad key.

-- URLs: zod's z.url({ protocol: /^https?$/ }) accepts http and https with "//"
-- (any case) and stores the trimmed text; the database keeps the scheme rule.
update public.profiles set avatar_url = null where avatar_url !~* '^https?://';
alter table public.profiles
  add constraint profiles_avatar_url_http check (avatar_url ~* '^https?://');

update public.messages set voice_response_url = null where voice_response_url !~* '^https?://';
update public.messages set avatar_session_id = null where avatar_session_id !~ '^[A-Za-z0-9._:-]{1,200}$';
-- A URL or avatar session implies its flag (as the chat store writes them).
update public.messages set has_voice_response = true
 where voice_response_url is not null and not has_voice_response;
update public.messages set has_avatar_response = true
 where avatar_session_id is not null and not has_avatar_response;
-- Voice and avatar data belong to the agent's replies.
update public.messages
   set has_voice_response = false, voice_response_url = null,
       has_avatar_response = false, avatar_session_id = null
 where role <> 'assistant' and (has_voice_response or has_avatar_response);
-- A "json" message whose content is not JSON was never JSON: it is text.
update public.messages set content_type = 'text'
 where content_type = 'json' and not private.is_json(content);

alter table public.messages
  add constraint messages_voice_response_url_http check (voice_response_url ~* '^https?://'),
  add constraint messages_avatar_session_id_format
    check (avatar_session_id ~ '^[A-Za-z0-9._:-]{1,200}$'),
  add constraint messages_voice_url_sets_flag check (voice_response_url is null or has_voice_response),
  add constraint messages_avatar_session_sets_flag check (avatar_session_id is null or has_avatar_response),
  add constraint messages_voice_avatar_on_replies
    check (role = 'assistant' or not (has_voice_response or has_avatar_response)),
  add constraint messages_json_content_is_json check (content_type <> 'json' or private.is_json(content));

-- API keys as shared/auth/api-keys.ts makes them: "opr_" + 32 base32 characters,
-- of which the prefix is the first 12; key_hash is 32 bytes (SHA-256, checked
-- since the table was created). Scopes form a set; a key expires after it
-- was created (the API takes expires_at in the future only). Keys that break
-- this were not made by the API: they go, with an activity saying so.
select private.record_activity(k.user_id, 'api_key.removed', jsonb_build_object(
         'api_key_id', k.id, 'prefix', k.prefix, 'reason', 'not created by the API'))
  from public.api_keys k
 where k.prefix !~ '^opr_[a-z2-7]{8}$'
    or not private.is_distinct_set(k.scopes)
    or k.expires_at <= k.created_at;
delete from public.api_keys
 where prefix !~ '^opr_[a-z2-7]{8}$'
    or not private.is_distinct_set(scopes)
    or expires_at <= created_at;

alter table public.api_keys
  add constraint api_keys_prefix_shape check (prefix ~ '^opr_[a-z2-7]{8}$'),
  add constraint api_keys_scopes_distinct check (private.is_distinct_set(scopes)),
  add constraint api_keys_expires_after_creation check (expires_at > created_at);
