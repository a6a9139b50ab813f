-- JSON a client writes nests at most 32 levels, here as in the API
-- (shared/http/json-depth.ts, MAX_JSON_DEPTH). Values nested thousands of
-- levels deep once got in: Postgres's jsonb parser and the functions'
-- JSON.stringify both recurse, so such a value made its write a 500, or was
-- stored and then made every read of its row a 500. The API refuses them
-- first; these constraints hold for every other writer too (the Data API as
-- the user, the service, the dashboard), and the repair below replaces what
-- was stored before, so no stored row can fail a read.

-- Whether a JSON value nests at most max_depth levels: a scalar is 0 levels,
-- [] and {} are 1, and each container inside another adds one. jsonpath's
-- level-bounded accessor .**{n} walks no deeper than level n, so this runs in
-- bounded stack however deep the value is (a recursive walk in SQL or PL/pgSQL,
-- or an unbounded .**, fails with "stack depth limit exceeded" on the very
-- values it must judge); it stops at the first container found at level
-- max_depth. Text and jsonpath casts of an integer are immutable, as a CHECK
-- needs. Every role that writes these columns evaluates the CHECK, so
-- EXECUTE stays with PUBLIC: it reads nothing but its argument.
create function private.jsonb_depth_within(value jsonb, max_depth integer) returns boolean
language sql immutable strict parallel safe set search_path = '' as $$
  select not pg_catalog.jsonb_path_exists(
    value,
    ('strict $.**{' || max_depth::text || '} ? (@.type() == "object" || @.type() == "array")')
      ::pg_catalog.jsonpath
  )
$$;
comment on function private.jsonb_depth_within(jsonb, integer) is
  'True when the value nests at most max_depth levels ({} is 1); bounded stack at any depth.';

-- Replaces every stored value of a client-writable JSON column that nests
-- deeper than max_depth with {} (each column's default), and says how many
-- per column. Such values could not be read back through the API (their
-- reads were 500s) and no client produces them: they are hostile or broken
-- input that the missing limit let in. Replacing keeps every row readable
-- and lets the constraints validate; the replaced values are gone, so an
-- operator who wants them takes a backup before this migration.
create function private.repair_json_depth(max_depth integer)
returns table (json_column text, replaced integer)
language plpgsql set search_path = '' as $$
declare
  n integer;
begin
  update public.chat_sessions set agent_config = '{}'
   where not private.jsonb_depth_within(agent_config, max_depth);
  get diagnostics n = row_count;
  json_column := 'chat_sessions.agent_config'; replaced := n; return next;
  update public.chat_sessions set context_data = '{}'
   where not private.jsonb_depth_within(context_data, max_depth);
  get diagnostics n = row_count;
  json_column := 'chat_sessions.context_data'; replaced := n; return next;
  update public.messages set metadata = '{}'
   where not private.jsonb_depth_within(metadata, max_depth);
  get diagnostics n = row_count;
  json_column := 'messages.metadata'; replaced := n; return next;
  update public.profiles set preferences = '{}'
   where not private.jsonb_depth_within(preferences, max_depth);
  get diagnostics n = row_count;
  json_column := 'profiles.preferences'; replaced := n; return next;
end $$;
comment on function private.repair_json_depth(integer) is
  'Replaces client JSON nested deeper than max_depth with {}; run once by migration 20261130000700.';
revoke all on function private.repair_json_depth(integer) from public, anon, authenticated, service_role;

do $$
declare
  r record;
begin
  for r in select * from private.repair_json_depth(32) loop
    if r.replaced > 0 then
      raise notice 'json depth: replaced % over-deep value(s) of % with {}', r.replaced, r.json_column;
    end if;
  end loop;
end $$;

alter table public.chat_sessions
  add constraint chat_sessions_agent_config_depth check (private.jsonb_depth_within(agent_config, 32)),
  add constraint chat_sessions_context_data_depth check (private.jsonb_depth_within(context_data, 32));
alter table public.messages
  add constraint messages_metadata_depth check (private.jsonb_depth_within(metadata, 32));
alter table public.profiles
  add constraint profiles_preferences_depth check (private.jsonb_depth_within(preferences, 32));

comment on constraint chat_sessions_agent_config_depth on public.chat_sessions is
  'JSON a client writes nests at most 32 levels (the API''s MAX_JSON_DEPTH).';
comment on constraint chat_sessions_context_data_depth on public.chat_sessions is
  'JSON a client writes nests at most 32 levels (the API''s MAX_JSON_DEPTH).';
comment on constraint messages_metadata_depth on public.messages is
  'JSON a client writes nests at most 32 levels (the API''s MAX_JSON_DEPTH).';
comment on constraint profiles_preferences_depth on public.profiles is
  'JSON a client writes nests at most 32 levels (the API''s MAX_JSON_DEPTH).';
