-- JSON a client writes nests at most 32 levels, in the database as in the
-- API: private.jsonb_depth_within counts without recursing past the limit
-- (so it works on values deeper than a recursive walk could take), every
-- client-writable JSON column checks it, whoever writes (the API, the Data
-- API as the user, the service), and the repair the migration ran replaces
-- what was stored deeper before it.
begin;
select plan(18);

-- Nested `levels` deep: objects, or arrays inside an object.
create function pg_temp.deep_object(levels integer) returns jsonb language sql as $$
  select (repeat('{"a":', levels - 1) || '{}' || repeat('}', levels - 1))::jsonb
$$;
create function pg_temp.deep_array(levels integer) returns jsonb language sql as $$
  select ('{"a":' || repeat('[', levels - 1) || repeat(']', levels - 1) || '}')::jsonb
$$;

-- The function -----------------------------------------------------------------

select results_eq(
  $$ select private.jsonb_depth_within(v, d)
       from (values ('1'::jsonb, 0), ('{}', 0), ('{}', 1), ('[1, {"a": 2}]', 1),
                    ('[1, {"a": 2}]', 2), ('[[], {"a": []}]', 2), ('[[], {"a": []}]', 3))
            t(v, d) $$,
  $$ values (true), (false), (true), (false), (true), (false), (true) $$,
  'depth: a scalar is 0, {} and [] are 1, each container inside one more'
);
select ok(
  private.jsonb_depth_within(pg_temp.deep_object(32), 32)
    and private.jsonb_depth_within(pg_temp.deep_array(32), 32)
    and not private.jsonb_depth_within(pg_temp.deep_object(33), 32)
    and not private.jsonb_depth_within(pg_temp.deep_array(33), 32),
  'exactly 32 levels are within 32, 33 are not'
);
select ok(
  not private.jsonb_depth_within(pg_temp.deep_array(12000), 32),
  'a value nested 12,000 levels is judged without exhausting the stack'
);
select throws_ok(
  $$ select jsonb_path_exists(pg_temp.deep_array(12000), 'strict $.** ? (@ == 1)') $$,
  '54001', null,
  'where an unbounded walk of the same value runs out of stack'
);
select is(
  (select provolatile from pg_proc where oid = 'private.jsonb_depth_within(jsonb, integer)'::regprocedure),
  'i',
  'the function is immutable, as a CHECK needs'
);
select ok(
  not has_function_privilege('anon', 'private.repair_json_depth(integer)', 'execute')
    and not has_function_privilege('authenticated', 'private.repair_json_depth(integer)', 'execute')
    and not has_function_privilege('service_role', 'private.repair_json_depth(integer)', 'execute'),
  'no API role may run the repair'
);

-- The columns --------------------------------------------------------------------

select is(
  array(
    select format('%s.%s', c.conrelid::regclass, a.attname)
      from pg_constraint c
      join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any(c.conkey)
     where c.contype = 'c'
       and pg_get_constraintdef(c.oid) like format('%%private.jsonb_depth_within(%s, 32)%%', a.attname)
     order by 1
  ),
  array['api_keys.limits', 'api_keys.meta', 'chat_sessions.agent_config',
        'chat_sessions.context_data', 'messages.metadata', 'profiles.preferences'],
  'every client-writable JSON column checks the 32-level limit'
);

select set_config('tests.alice', tests.create_user('alice@example.test')::text, true);
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);

select lives_ok(
  $$ insert into public.chat_sessions (title, agent_config, context_data)
     values ('deep enough', pg_temp.deep_object(32), pg_temp.deep_array(32)) $$,
  'the API role (a user request) stores 32 levels'
);
select throws_ok(
  $$ insert into public.chat_sessions (agent_config) values (pg_temp.deep_object(33)) $$,
  '23514', 'new row for relation "chat_sessions" violates check constraint "chat_sessions_agent_config_depth"',
  'agent_config: 33 levels are refused'
);
select throws_ok(
  $$ update public.chat_sessions set context_data = pg_temp.deep_array(33) $$,
  '23514', 'new row for relation "chat_sessions" violates check constraint "chat_sessions_context_data_depth"',
  'context_data: 33 levels are refused'
);
select throws_ok(
  $$ insert into public.messages (session_id, role, content, metadata)
     select id, 'user', 'hi', pg_temp.deep_array(33) from public.chat_sessions limit 1 $$,
  '23514', 'new row for relation "messages" violates check constraint "messages_metadata_depth"',
  'metadata: 33 levels are refused'
);
select throws_ok(
  $$ update public.profiles set preferences = pg_temp.deep_object(33) $$,
  '23514', 'new row for relation "profiles" violates check constraint "profiles_preferences_depth"',
  'preferences: 33 levels are refused'
);
select tests.authenticate_as_service_role();
select throws_ok(
  $$ update public.chat_sessions set agent_config = pg_temp.deep_object(40) $$,
  '23514', 'new row for relation "chat_sessions" violates check constraint "chat_sessions_agent_config_depth"',
  'the service is held to the same limit'
);
select tests.clear_authentication();

-- The repair -----------------------------------------------------------------------
-- Rows stored before the limit existed: without the constraints (rolled back
-- with this file), some of them too deep, then the migration's repair.

alter table public.chat_sessions drop constraint chat_sessions_agent_config_depth;
alter table public.messages drop constraint messages_metadata_depth;
alter table public.profiles drop constraint profiles_preferences_depth;

update public.chat_sessions set agent_config = pg_temp.deep_array(9000)
 where user_id = current_setting('tests.alice')::uuid;
insert into public.messages (session_id, user_id, role, content, metadata)
select id, user_id, 'user', 'deep', pg_temp.deep_object(33) from public.chat_sessions
 where user_id = current_setting('tests.alice')::uuid
union all
select id, user_id, 'user', 'fine', '{"keep": [1, {"me": true}]}' from public.chat_sessions
 where user_id = current_setting('tests.alice')::uuid;
update public.profiles set preferences = pg_temp.deep_array(100)
 where id = current_setting('tests.alice')::uuid;

select results_eq(
  $$ select * from private.repair_json_depth(32) order by 1 $$,
  $$ values ('chat_sessions.agent_config', 1), ('chat_sessions.context_data', 0),
            ('messages.metadata', 1), ('profiles.preferences', 1) $$,
  'the repair reports what it replaced, column by column'
);
select results_eq(
  $$ select agent_config, context_data from public.chat_sessions
      where user_id = current_setting('tests.alice')::uuid $$,
  $$ values ('{}'::jsonb, pg_temp.deep_array(32)) $$,
  'a session''s over-deep agent_config is replaced by {}; its 32-level context_data is kept'
);
select results_eq(
  $$ select content, metadata from public.messages m join public.chat_sessions s on s.id = m.session_id
      where s.user_id = current_setting('tests.alice')::uuid order by content $$,
  $$ values ('deep', '{}'::jsonb), ('fine', '{"keep": [1, {"me": true}]}'::jsonb) $$,
  'an over-deep metadata is replaced; a shallow one is untouched'
);
select is(
  (select preferences from public.profiles where id = current_setting('tests.alice')::uuid),
  '{}'::jsonb,
  'over-deep preferences are replaced'
);
select lives_ok(
  $$ alter table public.chat_sessions add constraint chat_sessions_agent_config_depth
       check (private.jsonb_depth_within(agent_config, 32));
     alter table public.messages add constraint messages_metadata_depth
       check (private.jsonb_depth_within(metadata, 32));
     alter table public.profiles add constraint profiles_preferences_depth
       check (private.jsonb_depth_within(preferences, 32)) $$,
  'after the repair every constraint validates against the stored rows'
);

select * from finish();
rollback;
