-- Tool rounds in the agent's history: the round columns of tool messages
-- (constraints, who may write them, RLS on reading them).
begin;
select plan(12);

select has_column('public', 'messages', 'tool_round', 'messages.tool_round exists');
select has_column('public', 'messages', 'tool_round_content', 'messages.tool_round_content exists');
select ok(
  not has_column_privilege('oprina_api_user', 'public.messages', 'tool_round', 'INSERT')
    and not has_column_privilege('oprina_api_user', 'public.messages', 'tool_round', 'UPDATE')
    and not has_column_privilege('oprina_api_user', 'public.messages', 'tool_round_content', 'INSERT')
    and not has_column_privilege('oprina_api_user', 'public.messages', 'tool_round_content', 'UPDATE'),
  'the API role may neither write nor change a round (only the chat service does)'
);
select ok(
  not has_column_privilege('anon', 'public.messages', 'tool_round', 'SELECT'),
  'anon cannot read rounds'
);

-- Fixtures --------------------------------------------------------------------------

select set_config('tests.alice', tests.create_user('history-alice@example.test')::text, true);
select set_config('tests.bob', tests.create_user('history-bob@example.test')::text, true);
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
insert into public.chat_sessions (title) values ('history A');
select set_config('tests.s', (select id::text from public.chat_sessions where title = 'history A'), true);
insert into public.messages (session_id, role, content) values (current_setting('tests.s')::uuid, 'user', 'my calendar?');

select throws_ok(
  $$ update public.messages set tool_round = 1 where session_id = current_setting('tests.s')::uuid $$,
  '42501', null, 'alice cannot set a round on her messages'
);

-- The service writes rounds ---------------------------------------------------------

select tests.authenticate_as_service_role();
select lives_ok(
  $$ insert into public.messages (session_id, user_id, role, content, status, tool_call_id,
                                  tool_name, tool_arguments, tool_round, tool_round_content)
     values (current_setting('tests.s')::uuid, current_setting('tests.alice')::uuid, 'tool', '[]',
             'completed', 'call_1', 'list_events', '{}', 1, 'Let me check.'),
            (current_setting('tests.s')::uuid, current_setting('tests.alice')::uuid, 'tool', '[]',
             'completed', 'call_2', 'search_mail', '{}', 1, null),
            (current_setting('tests.s')::uuid, current_setting('tests.alice')::uuid, 'tool', '[]',
             'completed', 'call_3', 'list_events', '{}', 2, null) $$,
  'the chat service stores the round of each call and the text beside its calls'
);
select lives_ok(
  $$ insert into public.messages (session_id, user_id, role, content, status, tool_call_id,
                                  tool_name, tool_arguments)
     values (current_setting('tests.s')::uuid, current_setting('tests.alice')::uuid, 'tool', '[]',
             'completed', 'call_0', 'list_events', '{}') $$,
  'a tool message without a round stays valid (stored before rounds were numbered)'
);
select throws_ok(
  $$ insert into public.messages (session_id, user_id, role, content, status, tool_round)
     values (current_setting('tests.s')::uuid, current_setting('tests.alice')::uuid, 'assistant',
             'hi', 'completed', 1) $$,
  '23514', null, 'only tool messages belong to a round'
);
select throws_ok(
  $$ insert into public.messages (session_id, user_id, role, content, status, tool_round_content)
     values (current_setting('tests.s')::uuid, current_setting('tests.alice')::uuid, 'user',
             'hi', 'completed', 'beside') $$,
  '23514', null, 'only tool messages carry the text beside a round''s calls'
);
select throws_ok(
  $$ insert into public.messages (session_id, user_id, role, content, status, tool_call_id,
                                  tool_name, tool_arguments, tool_round)
     values (current_setting('tests.s')::uuid, current_setting('tests.alice')::uuid, 'tool', '[]',
             'completed', 'call_9', 'list_events', '{}', 0) $$,
  '23514', null, 'rounds count from 1'
);

-- Reading: the owner sees her rounds, nobody else does --------------------------------

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select results_eq(
  $$ select tool_call_id, tool_round, tool_round_content from public.messages
      where role = 'tool' and tool_round is not null order by message_index $$,
  $$ values ('call_1'::text, 1::smallint, 'Let me check.'::text), ('call_2', 1::smallint, null), ('call_3', 2::smallint, null) $$,
  'alice reads her tool messages with their rounds'
);
select tests.authenticate_as_api(current_setting('tests.bob')::uuid);
select is(
  (select count(*)::int from public.messages where tool_round is not null),
  0,
  'bob sees none of alice''s rounds'
);

select * from finish();
rollback;
