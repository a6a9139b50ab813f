-- Writes go through the API (migration 20261130000600_api_write_role):
-- `authenticated`, the role PostgREST runs a user's JWT as, only reads its own
-- rows; the functions' role `oprina_api_user` writes, under the same RLS;
-- no JWT can reach that role; and the API's data rules are constraints.
-- The refusals are generated from the catalog, so a new table is covered.
begin;
select plan(54);

select set_config('tests.alice', tests.create_user('alice-100@example.test')::text, true);
select set_config('tests.bob', tests.create_user('bob-100@example.test')::text, true);

-- Helpers (rolled back with the test) ----------------------------------------------

-- Runs a statement and answers its SQLSTATE, or 'ran' when it went through
-- (then its effects are undone, so an attempt that wrongly succeeds cannot
-- disturb the checks after it).
create function tests.sqlstate_of(p_sql text) returns text language plpgsql as $$
begin
  execute p_sql;
  raise exception 'undo' using errcode = 'TSRAN';
exception when others then
  return case when sqlstate = 'TSRAN' then 'ran' else sqlstate end;
end $$;

-- Every write a Data API client could try on each relation in public: insert
-- and update of each column (column grants), insert of defaults, delete,
-- truncate. DEFAULT is a legal value for every column, generated ones too.
create function tests.write_attempts() returns table (target text, statement text)
language sql stable as $$
  with rels as (
    select c.oid, c.relname, c.relkind from pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'f')
  ), cols as (
    select r.relname, a.attname from rels r
      join pg_attribute a on a.attrelid = r.oid and a.attnum > 0 and not a.attisdropped
  )
  select format('%s insert (%s)', relname, attname),
         format('insert into public.%I (%I) values (default)', relname, attname) from cols
  union all
  select format('%s update (%s)', relname, attname),
         format('update public.%I set %I = default', relname, attname) from cols
  union all
  select format('%s insert', relname), format('insert into public.%I default values', relname) from rels
  union all
  select format('%s delete', relname), format('delete from public.%I', relname) from rels
  union all
  select format('%s truncate', relname), format('truncate public.%I', relname) from rels
   where relkind in ('r', 'p')
$$;

-- Rows of each table in public the current role can see, counted by owner:
-- the user_id column, or profiles.id. owner is null for a table with neither.
create function tests.rows_by_owner(p_user uuid)
returns table (tbl text, owner text, own bigint, others bigint) language plpgsql as $$
declare
  r record;
begin
  for r in
    select c.relname::text as relname,
           coalesce((select a.attname::text from pg_attribute a
                      where a.attrelid = c.oid and a.attname = 'user_id' and not a.attisdropped),
                    case when c.relname = 'profiles' then 'id' end) as col
      from pg_class c
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
     order by 1
  loop
    tbl := r.relname;
    owner := r.col;
    own := null;
    others := null;
    if r.col is not null then
      execute format('select count(*) filter (where %1$I = $1), count(*) filter (where %1$I <> $1) from public.%2$I',
                     r.col, r.relname)
         into own, others using p_user;
    end if;
    return next;
  end loop;
end $$;

grant execute on function tests.sqlstate_of(text), tests.write_attempts(), tests.rows_by_owner(uuid)
  to authenticated;

-- Fixtures: alice and bob own a row in every table (as the service writes them;
-- profiles, user_activities and session_totals come from triggers).
insert into public.chat_sessions (id, user_id, title) values
  ('00000000-0000-0000-0000-0000000a0001', current_setting('tests.alice')::uuid, 'Alice 100'),
  ('00000000-0000-0000-0000-0000000b0001', current_setting('tests.bob')::uuid, 'Bob 100');
insert into public.messages (id, session_id, user_id, role, content) values
  ('00000000-0000-0000-0000-0000000a0011', '00000000-0000-0000-0000-0000000a0001',
   current_setting('tests.alice')::uuid, 'user', 'hello'),
  ('00000000-0000-0000-0000-0000000a0012', '00000000-0000-0000-0000-0000000a0001',
   current_setting('tests.alice')::uuid, 'assistant', 'hi alice'),
  ('00000000-0000-0000-0000-0000000b0011', '00000000-0000-0000-0000-0000000b0001',
   current_setting('tests.bob')::uuid, 'user', 'hello'),
  ('00000000-0000-0000-0000-0000000b0012', '00000000-0000-0000-0000-0000000b0001',
   current_setting('tests.bob')::uuid, 'assistant', 'hi bob');
-- A tool call each, waiting for its owner's confirmation (chat_pending_actions).
insert into public.messages (id, session_id, user_id, role, content, status, tool_call_id, tool_name, tool_arguments) values
  ('00000000-0000-0000-0000-0000000a0019', '00000000-0000-0000-0000-0000000a0001',
   current_setting('tests.alice')::uuid, 'tool', '', 'pending', 'call_a', 'send_draft', '{}'),
  ('00000000-0000-0000-0000-0000000b0019', '00000000-0000-0000-0000-0000000b0001',
   current_setting('tests.bob')::uuid, 'tool', '', 'pending', 'call_b', 'send_draft', '{}');
insert into public.chat_pending_actions (user_id, session_id, message_id, operation, arguments, expires_at) values
  (current_setting('tests.alice')::uuid, '00000000-0000-0000-0000-0000000a0001',
   '00000000-0000-0000-0000-0000000a0019', 'send_draft', '{}', now() + interval '1 hour'),
  (current_setting('tests.bob')::uuid, '00000000-0000-0000-0000-0000000b0001',
   '00000000-0000-0000-0000-0000000b0019', 'send_draft', '{}', now() + interval '1 hour');
insert into public.idempotency_keys (user_id, scope, key, request_hash, session_id, user_message_id, assistant_message_id)
values (current_setting('tests.alice')::uuid, 'chat.send', 'k-100', repeat('0', 64),
        '00000000-0000-0000-0000-0000000a0001', '00000000-0000-0000-0000-0000000a0011',
        '00000000-0000-0000-0000-0000000a0012'),
       (current_setting('tests.bob')::uuid, 'chat.send', 'k-100', repeat('0', 64),
        '00000000-0000-0000-0000-0000000b0001', '00000000-0000-0000-0000-0000000b0011',
        '00000000-0000-0000-0000-0000000b0012');
insert into public.api_keys (id, user_id, name, prefix, key_hash, scopes) values
  ('00000000-0000-0000-0000-0000000a0021', current_setting('tests.alice')::uuid, 'Alice 100',
   'opr_alicekey', sha256('opr_alice_100'::bytea), '{sessions:read}'),
  ('00000000-0000-0000-0000-0000000b0021', current_setting('tests.bob')::uuid, 'Bob 100',
   'opr_bobkeyaa', sha256('opr_bob_100'::bytea), '{sessions:read}');
insert into public.api_key_roles (id, user_id, name, scopes) values
  ('00000000-0000-0000-0000-0000000a0051', current_setting('tests.alice')::uuid, 'alice-role', '{sessions:read}'),
  ('00000000-0000-0000-0000-0000000b0051', current_setting('tests.bob')::uuid, 'bob-role', '{sessions:read}');
insert into public.api_key_usage (key_id, user_id, day, outcome, requests) values
  ('00000000-0000-0000-0000-0000000a0021', current_setting('tests.alice')::uuid, current_date, 'valid', 3),
  ('00000000-0000-0000-0000-0000000b0021', current_setting('tests.bob')::uuid, current_date, 'valid', 4);
-- Webhook endpoints before the connections, whose events (trigger) fan out to them.
insert into public.webhook_endpoints (id, user_id, url) values
  ('00000000-0000-0000-0000-0000000a0041', current_setting('tests.alice')::uuid, 'https://hooks.example.test/alice'),
  ('00000000-0000-0000-0000-0000000b0041', current_setting('tests.bob')::uuid, 'https://hooks.example.test/bob');
insert into public.service_tokens (id, user_id, provider, services, provider_account_id, expires_at) values
  ('00000000-0000-0000-0000-0000000a0031', current_setting('tests.alice')::uuid, 'google', '{gmail}',
   'alice-100', now() + interval '1 hour'),
  ('00000000-0000-0000-0000-0000000b0031', current_setting('tests.bob')::uuid, 'google', '{gmail}',
   'bob-100', now() + interval '1 hour');
insert into public.token_refresh_logs (token_id, user_id, provider, refresh_type, status) values
  ('00000000-0000-0000-0000-0000000a0031', current_setting('tests.alice')::uuid, 'google', 'scheduled', 'success'),
  ('00000000-0000-0000-0000-0000000b0031', current_setting('tests.bob')::uuid, 'google', 'scheduled', 'success');
insert into public.oauth_states (state_hash, user_id, provider, services, scopes, code_verifier) values
  (repeat('c', 64), current_setting('tests.alice')::uuid, 'google', '{gmail}', '{openid}', repeat('v', 43)),
  (repeat('d', 64), current_setting('tests.bob')::uuid, 'google', '{gmail}', '{openid}', repeat('w', 43));

-- The role ---------------------------------------------------------------------------

select has_role('oprina_api_user', 'the API''s user role exists');
select ok(
  (select not rolcanlogin and rolinherit and not rolsuper and not rolbypassrls and not rolcreaterole
          and not rolcreatedb and not rolreplication
     from pg_roles where rolname = 'oprina_api_user'),
  'oprina_api_user is NOLOGIN INHERIT and holds no special attribute (RLS applies to it)'
);
select is(
  array(select r.rolname::text from pg_auth_members m join pg_roles r on r.oid = m.roleid
         where m.member = 'oprina_api_user'::regrole order by 1),
  array['authenticated'],
  'oprina_api_user is a member of authenticated and of nothing else'
);
select ok(
  pg_has_role('oprina_api_user', 'authenticated', 'usage'),
  'oprina_api_user has authenticated''s privileges (INHERIT), so its grants and policies apply'
);
select is(
  array(select r.rolname::text from pg_auth_members m join pg_roles r on r.oid = m.member
         where m.roleid = 'oprina_api_user'::regrole order by 1),
  array['postgres'],
  'only postgres (the functions'' login role) is granted oprina_api_user'
);

-- PostgREST logs in as authenticator and switches to the role the JWT names,
-- which works only for roles authenticator is a member of.
select ok(
  not pg_has_role('authenticator', 'oprina_api_user', 'member'),
  'authenticator is not a member of oprina_api_user: no JWT role claim can reach it'
);
select is(
  array(select r.rolname::text from pg_roles r
         where r.rolname in ('anon', 'authenticated', 'service_role', 'authenticator')
           and pg_has_role(r.oid, 'oprina_api_user', 'member')),
  array[]::text[],
  'no Data API role is a member of oprina_api_user, directly or through another role'
);
select is(
  array(select r.rolname::text from pg_roles r
         where r.rolcanlogin and not r.rolsuper and pg_has_role(r.oid, 'oprina_api_user', 'member')
         order by 1),
  array['postgres'],
  'the only login role (besides superusers) that can become oprina_api_user is postgres'
);

-- Policies name the writer -----------------------------------------------------------

select is(
  array(select format('%s: %s (%s) for %s', tablename, policyname, cmd, array_to_string(roles, ','))
          from pg_policies
         where schemaname = 'public'
           and case when cmd = 'SELECT' then roles <> array['authenticated']::name[]
                    else roles <> array['oprina_api_user']::name[] end
         order by 1),
  array[]::text[],
  'in public, read policies are for authenticated and every write policy is for oprina_api_user only'
);
select isnt_empty(
  $$ select 1 from pg_policies where schemaname = 'public' and cmd in ('INSERT', 'UPDATE', 'DELETE') $$,
  'there are write policies (the check above is not vacuous)'
);

-- The Data API (authenticated) only reads ----------------------------------------------

select is(
  array(
    select format('%s: %s', c.relname, p.priv)
      from pg_class c
     cross join unnest(array['insert', 'update', 'delete', 'truncate', 'references', 'trigger']) p(priv)
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f')
       and (has_table_privilege('authenticated', c.oid, p.priv)
            or (p.priv in ('insert', 'update', 'references')
                and has_any_column_privilege('authenticated', c.oid, p.priv)))
     order by 1
  ),
  array[]::text[],
  'authenticated holds no write privilege on any table or column in public'
);

select tests.authenticate_as(current_setting('tests.alice')::uuid);

select cmp_ok(
  (select count(*)::int from tests.write_attempts()),
  '>=',
  (select count(*)::int * 4 from pg_class
    where relnamespace = 'public'::regnamespace and relkind in ('r', 'p')),
  'write attempts were generated for every table in public'
);
select is(
  array(select target || ' -> ' || tests.sqlstate_of(statement) from tests.write_attempts()
         where tests.sqlstate_of(statement) <> '42501' order by 1),
  array[]::text[],
  'as authenticated (the Data API with alice''s JWT), every insert, update, delete and truncate '
  'on every table and column in public is refused with 42501'
);
select throws_ok(
  $$ insert into public.chat_sessions (title) values ('via the Data API') $$,
  '42501', null,
  'as authenticated, alice cannot create a session (the API can, below)'
);
select throws_ok(
  $$ update public.profiles set display_name = 'via the Data API' where id = current_setting('tests.alice')::uuid $$,
  '42501', null,
  'as authenticated, alice cannot update her own profile'
);
select throws_ok(
  $$ delete from public.chat_sessions where id = '00000000-0000-0000-0000-0000000a0001' $$,
  '42501', null,
  'as authenticated, alice cannot delete her own session'
);

-- Reads still work, and only for one's own rows.
select is(
  array(select tbl from tests.rows_by_owner(current_setting('tests.alice')::uuid) where owner is null),
  array[]::text[],
  'every table in public has an owner column (user_id, or profiles.id)'
);
select is(
  array(select tbl from tests.rows_by_owner(current_setting('tests.alice')::uuid)
         where own = 0 or others <> 0 order by 1),
  array[]::text[],
  'as authenticated, alice sees her own rows in every table in public and no one else''s'
);
select is(
  (select count(*)::int from tests.rows_by_owner(current_setting('tests.alice')::uuid)),
  (select count(*)::int from pg_class where relnamespace = 'public'::regnamespace and relkind in ('r', 'p')),
  'the read check covered every table in public'
);

-- The API (oprina_api_user) writes, under the same RLS ------------------------------------

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);

select is(current_user::text, 'oprina_api_user', 'the API''s transactions run as oprina_api_user');
select is(auth.uid(), current_setting('tests.alice')::uuid, 'auth.uid() reads the claims as before');
select is(
  array(select tbl from tests.rows_by_owner(current_setting('tests.alice')::uuid)
         where own = 0 or others <> 0 order by 1),
  array[]::text[],
  'as oprina_api_user, alice also sees her own rows in every table and no one else''s'
);

select lives_ok(
  $$ insert into public.chat_sessions (title) values ('Via the API') $$,
  'the API creates a session for alice'
);
select set_config('tests.s2', (select id::text from public.chat_sessions where title = 'Via the API'), true);
select lives_ok(
  $$ insert into public.messages (id, session_id, role, content, content_type, metadata)
     values ('00000000-0000-0000-0000-0000000a0013', '00000000-0000-0000-0000-0000000a0001', 'user',
             '{"intent": "plan"}', 'json', '{}') $$,
  'the API inserts alice''s message with the id it chose (idempotency) and JSON content'
);
select results_eq(
  $$ with u as (update public.profiles set display_name = 'Alice', avatar_url = 'https://cdn.example.test/a.png'
                 where id = current_setting('tests.alice')::uuid returning 1)
     select count(*)::int from u $$,
  array[1],
  'the API updates alice''s profile'
);
select results_eq(
  $$ with u as (update public.messages set voice_response_url = 'https://cdn.example.test/v.mp3',
                                           has_voice_response = true, avatar_session_id = 'av:1.2_x-y',
                                           has_avatar_response = true
                 where id = '00000000-0000-0000-0000-0000000a0012' and role = 'assistant' returning 1)
     select count(*)::int from u $$,
  array[1],
  'the API sets voice and avatar data on alice''s reply'
);
select lives_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes, expires_at)
     values ('Via the API', 'opr_abcdefgh', sha256('opr_abcdefgh_100'::bytea), '{sessions:read,chat:write}',
             now() + interval '1 day') $$,
  'the API creates a key for alice'
);
select results_eq(
  $$ with u as (update public.api_keys set revoked_at = coalesce(revoked_at, now())
                 where id = '00000000-0000-0000-0000-0000000a0021' returning 1)
     select count(*)::int from u $$,
  array[1],
  'the API revokes alice''s key'
);
select results_eq(
  $$ with d as (delete from public.chat_sessions where id = current_setting('tests.s2')::uuid returning 1)
     select count(*)::int from d $$,
  array[1],
  'the API deletes alice''s session'
);

-- Another user's rows: invisible, so 0 rows, never an error.
select results_eq(
  $$ with u as (update public.chat_sessions set title = 'pwned' where id = '00000000-0000-0000-0000-0000000b0001' returning 1),
          m as (update public.messages set has_voice_response = true where id = '00000000-0000-0000-0000-0000000b0012' returning 1),
          p as (update public.profiles set display_name = 'pwned' where id = current_setting('tests.bob')::uuid returning 1),
          k as (update public.api_keys set revoked_at = now() where id = '00000000-0000-0000-0000-0000000b0021' returning 1),
          d as (delete from public.chat_sessions where id = '00000000-0000-0000-0000-0000000b0001' returning 1)
     select (select count(*) from u) + (select count(*) from m) + (select count(*) from p)
          + (select count(*) from k) + (select count(*) from d) $$,
  array[0::bigint],
  'as the API for alice, updates and deletes of bob''s session, message, profile and key touch 0 rows'
);
select is_empty(
  $$ select 1 from public.messages where session_id = '00000000-0000-0000-0000-0000000b0001'
     union all select 1 from public.api_keys where id = '00000000-0000-0000-0000-0000000b0021' $$,
  'as the API for alice, bob''s messages and keys are invisible'
);
select throws_ok(
  $$ insert into public.messages (session_id, role, content) values ('00000000-0000-0000-0000-0000000b0001', 'user', 'x') $$,
  '23503', null,
  'a message into bob''s session fails as for a session that does not exist (404, not 403)'
);
select throws_ok(
  $$ insert into public.messages (session_id, role, content) values (gen_random_uuid(), 'user', 'x') $$,
  '23503', null,
  '... the same error as a session that does not exist'
);
select throws_ok(
  $$ insert into public.messages (session_id, role, content) values ('00000000-0000-0000-0000-0000000a0001', 'assistant', 'x') $$,
  '42501', null,
  'the API role writes user messages only (replies are service_role''s)'
);
select throws_ok(
  $$ insert into public.chat_sessions (user_id, title) values (current_setting('tests.bob')::uuid, 'for bob') $$,
  '42501', null,
  'the API role cannot choose a session''s owner (user_id is not granted)'
);

select tests.clear_authentication();
select results_eq(
  $$ select title, (select has_voice_response from public.messages where id = '00000000-0000-0000-0000-0000000b0012'),
            (select display_name from public.profiles where id = current_setting('tests.bob')::uuid),
            (select revoked_at from public.api_keys where id = '00000000-0000-0000-0000-0000000b0021')
       from public.chat_sessions where id = '00000000-0000-0000-0000-0000000b0001' $$,
  $$ values ('Bob 100'::text, false, null::text, null::timestamptz) $$,
  'bob''s rows are unchanged (checked as postgres)'
);

-- The API's data rules are constraints ---------------------------------------------------

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);

select throws_ok(
  $$ update public.messages set voice_response_url = 'javascript:alert(1)', has_voice_response = true
      where id = '00000000-0000-0000-0000-0000000a0012' $$,
  '23514', null, 'a javascript: voice URL is refused'
);
select throws_ok(
  $$ update public.messages set voice_response_url = 'http:cdn.example.test/v.mp3', has_voice_response = true
      where id = '00000000-0000-0000-0000-0000000a0012' $$,
  '23514', null, 'a voice URL without // is refused (zod refuses it too)'
);
select lives_ok(
  $$ update public.messages set voice_response_url = 'HTTP://cdn.example.test/v.mp3', has_voice_response = true
      where id = '00000000-0000-0000-0000-0000000a0012' $$,
  'an http URL in any case is accepted, as zod accepts it'
);
select throws_ok(
  $$ update public.profiles set avatar_url = 'javascript:alert(document.cookie)' where id = current_setting('tests.alice')::uuid $$,
  '23514', null, 'a javascript: avatar URL is refused'
);
select throws_ok(
  $$ update public.profiles set avatar_url = 'data:image/svg+xml,<svg onload=alert(1)>' where id = current_setting('tests.alice')::uuid $$,
  '23514', null, 'a data: avatar URL is refused'
);
select throws_ok(
  $$ update public.messages set avatar_session_id = '<img src=x>', has_avatar_response = true
      where id = '00000000-0000-0000-0000-0000000a0012' $$,
  '23514', null, 'an avatar session id outside [A-Za-z0-9._:-]{1,200} is refused'
);
select throws_ok(
  $$ update public.messages set has_voice_response = false where id = '00000000-0000-0000-0000-0000000a0012' $$,
  '23514', null, 'a voice URL without its flag is refused (clearing the flag clears the URL)'
);
select throws_ok(
  $$ update public.messages set has_avatar_response = true where id = '00000000-0000-0000-0000-0000000a0011' $$,
  '23514', null, 'voice and avatar data belong to replies: not on a user''s message'
);
select throws_ok(
  $$ insert into public.messages (session_id, role, content, content_type)
     values ('00000000-0000-0000-0000-0000000a0001', 'user', '{nope', 'json') $$,
  '23514', null, 'a json message whose content is not JSON is refused'
);
select lives_ok(
  $$ insert into public.messages (session_id, role, content, content_type)
     values ('00000000-0000-0000-0000-0000000a0001', 'user', repeat('[', 1000) || repeat(']', 1000), 'json') $$,
  'JSON nested 1000 deep (the API''s limit) is stored'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('Chosen', 'opr_CHOSEN12', sha256('opr_chosen'::bytea), '{sessions:read}') $$,
  '23514', null, 'a key prefix that generateApiKey cannot make is refused'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('Twice', 'opr_twicetwo', sha256('opr_twice'::bytea), '{sessions:read,sessions:read}') $$,
  '23514', null, 'repeated scopes are refused'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes, expires_at)
     values ('Dead', 'opr_deadkeya', sha256('opr_dead'::bytea), '{sessions:read}', now() - interval '1 second') $$,
  '23514', null, 'a key that expires before it was created is refused'
);

-- The service writes replies; the same rule holds for it.
select tests.authenticate_as_service_role();
select throws_ok(
  $$ insert into public.messages (session_id, user_id, role, content, content_type)
     values ('00000000-0000-0000-0000-0000000a0001', current_setting('tests.alice')::uuid, 'assistant', 'not json', 'json') $$,
  '23514', null, 'service_role cannot store a json reply that is not JSON either'
);
select tests.clear_authentication();

select ok(
  not private.is_json(repeat('[', 20000) || repeat(']', 20000)) and private.is_json(' {"a": [1, "\u0000"]} ')
    and not private.is_json('') and not private.is_json('{"a":1,}'),
  'private.is_json answers false (never an error) for anything that does not parse, however deep'
);
select is(
  array(select format('%s %s', p.oid::regprocedure, r.rolname)
          from pg_proc p cross join unnest(array['anon', 'authenticated', 'oprina_api_user', 'service_role']) r(rolname)
         where p.oid in ('private.is_json(text)'::regprocedure, 'private.is_distinct_set(text[])'::regprocedure)
           and has_function_privilege(r.rolname, p.oid, 'execute')
         order by 1),
  array['private.is_distinct_set(text[]) oprina_api_user', 'private.is_distinct_set(text[]) service_role',
        'private.is_json(text) oprina_api_user', 'private.is_json(text) service_role'],
  'the check functions run for the roles that write (checks run with the writer''s privileges) and no one else'
);

-- Nothing else: what the role may do beyond authenticated is writing public.
-- (Trigger functions keep PUBLIC's EXECUTE; calling one outside a trigger fails.)
select is(
  array(select p.oid::regprocedure::text from pg_proc p
         where has_function_privilege('oprina_api_user', p.oid, 'execute')
           and not has_function_privilege('authenticated', p.oid, 'execute')
         order by 1),
  array['private.is_distinct_set(text[])', 'private.is_json(text)'],
  'the only functions oprina_api_user may execute beyond authenticated''s are the two check functions'
);
select ok(
  not has_schema_privilege('oprina_api_user', 'private', 'usage')
    and not has_schema_privilege('oprina_api_user', 'admin', 'usage'),
  'oprina_api_user has no usage on schemas private and admin'
);

select * from finish();
rollback;
