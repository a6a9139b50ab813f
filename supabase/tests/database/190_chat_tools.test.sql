-- Tool calling in chat: the tool columns of messages, chat_pending_actions (RLS,
-- grants, constraints, cascades) and the expiry sweep.
begin;
select plan(30);

-- Shape ---------------------------------------------------------------------------

select has_table('public', 'chat_pending_actions', 'table public.chat_pending_actions exists');
select ok(
  (select relrowsecurity from pg_class where oid = 'public.chat_pending_actions'::regclass),
  'RLS enabled on public.chat_pending_actions'
);
select table_privs_are('public', 'chat_pending_actions', 'anon', array[]::text[],
  'anon has no privileges on public.chat_pending_actions');
select table_privs_are('public', 'chat_pending_actions', 'authenticated', array['SELECT'],
  'authenticated (the Data API) may only read public.chat_pending_actions');
select is(
  array(
    select indexname::text from pg_indexes
     where schemaname = 'public' and tablename = 'chat_pending_actions' order by 1
  ),
  array['chat_pending_actions_message_id_key', 'chat_pending_actions_message_session',
        'chat_pending_actions_pending_expiry', 'chat_pending_actions_pkey',
        'chat_pending_actions_session_user', 'chat_pending_actions_user'],
  'every foreign key of chat_pending_actions is indexed, and pending expiry too'
);
select is(
  (select count(*)::int from cron.job where jobname = 'chat-actions-expire'
      and command like '%private.chat_actions_expire()%'),
  1,
  'the expiry sweep is scheduled with pg_cron'
);

-- Fixtures --------------------------------------------------------------------------

select set_config('tests.alice', tests.create_user('tools-alice@example.test')::text, true);
select set_config('tests.bob', tests.create_user('tools-bob@example.test')::text, true);
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
insert into public.chat_sessions (title) values ('tools A');
select set_config('tests.s', (select id::text from public.chat_sessions where title = 'tools A'), true);
insert into public.messages (session_id, role, content) values (current_setting('tests.s')::uuid, 'user', 'send it');

-- Tool messages ---------------------------------------------------------------------

select throws_ok(
  $$ insert into public.messages (session_id, role, content, tool_call_id, tool_name, tool_arguments)
     values (current_setting('tests.s')::uuid, 'tool', '{}', 'call_1', 'send_draft', '{}') $$,
  '42501', null, 'alice cannot write a tool message (only the chat service does)'
);
select tests.authenticate_as_service_role();
select lives_ok(
  $$ insert into public.messages (id, session_id, user_id, role, content, status, tool_call_id, tool_name, tool_arguments)
     values ('00000000-0000-4000-8000-0000000001a1', current_setting('tests.s')::uuid,
             current_setting('tests.alice')::uuid, 'tool', '', 'pending', 'call_1', 'send_draft',
             '{"draft_id": "d1"}') $$,
  'the chat service stores a tool call as a tool message'
);
select throws_ok(
  $$ insert into public.messages (session_id, user_id, role, content, tool_name, tool_arguments)
     values (current_setting('tests.s')::uuid, current_setting('tests.alice')::uuid, 'tool', '', 'list_events', '{}') $$,
  '23514', null, 'a tool message names its call id'
);
select throws_ok(
  $$ insert into public.messages (session_id, user_id, role, content, tool_call_id, tool_name, tool_arguments)
     values (current_setting('tests.s')::uuid, current_setting('tests.alice')::uuid, 'assistant', 'x', 'call_2', 'list_events', '{}') $$,
  '23514', null, 'only tool messages carry tool fields'
);
select throws_ok(
  $$ insert into public.messages (session_id, user_id, role, content, tool_call_id, tool_name, tool_arguments)
     values (current_setting('tests.s')::uuid, current_setting('tests.alice')::uuid, 'tool', '', 'call 3', 'list_events', '{}') $$,
  '23514', null, 'a call id has no spaces'
);
select throws_ok(
  $$ insert into public.messages (session_id, user_id, role, content, tool_call_id, tool_name, tool_arguments)
     values (current_setting('tests.s')::uuid, current_setting('tests.alice')::uuid, 'tool', '', 'call_4', 'list_events', '[1]') $$,
  '23514', null, 'tool arguments are a JSON object'
);

-- Pending actions: the service writes, the owner reads and decides --------------------

select lives_ok(
  $$ insert into public.chat_pending_actions (id, user_id, session_id, message_id, operation, arguments, expires_at)
     values ('00000000-0000-4000-8000-0000000002a1', current_setting('tests.alice')::uuid,
             current_setting('tests.s')::uuid, '00000000-0000-4000-8000-0000000001a1', 'send_draft',
             '{"draft_id": "d1"}', now() + interval '15 minutes') $$,
  'the chat service stores a pending action'
);
select throws_ok(
  $$ insert into public.chat_pending_actions (user_id, session_id, message_id, operation, arguments, expires_at)
     values (current_setting('tests.bob')::uuid, current_setting('tests.s')::uuid,
             (select id from public.messages where content = 'send it'), 'send_draft', '{}', now() + interval '1 minute') $$,
  '23503', null, 'an action belongs to its session''s owner'
);
select throws_ok(
  $$ insert into public.chat_pending_actions (user_id, session_id, message_id, operation, arguments, expires_at)
     values (current_setting('tests.alice')::uuid, current_setting('tests.s')::uuid,
             (select id from public.messages where content = 'send it'), 'delete_everything', '{}', now() + interval '1 minute') $$,
  '23514', null, 'only writes that leave the account wait for confirmation'
);

select tests.authenticate_as_api(current_setting('tests.bob')::uuid);
select is_empty($$ select 1 from public.chat_pending_actions $$, 'bob sees none of alice''s actions');
select is_empty(
  $$ update public.chat_pending_actions set status = 'running', decided_at = now() returning 1 $$,
  'bob cannot confirm alice''s action'
);

select tests.authenticate_as(current_setting('tests.alice')::uuid);
select results_eq(
  $$ select operation, status from public.chat_pending_actions $$,
  $$ values ('send_draft'::text, 'pending'::text) $$,
  'alice reads her pending action through the Data API'
);
select throws_ok(
  $$ update public.chat_pending_actions set status = 'running', decided_at = now() $$,
  '42501', null, 'the Data API cannot decide an action (writes go through the API)'
);

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select throws_ok(
  $$ update public.chat_pending_actions set status = 'completed', decided_at = now() $$,
  '42501', null, 'alice cannot mark her action completed (only the service runs it)'
);
select throws_ok(
  $$ update public.chat_pending_actions set status = 'expired', decided_at = now() $$,
  '42501', null, 'alice cannot expire an action before its time'
);
select throws_ok(
  $$ update public.chat_pending_actions set arguments = '{"draft_id": "other"}' $$,
  '42501', null, 'alice cannot change what the action will do'
);
select results_eq(
  $$ update public.chat_pending_actions set status = 'running', decided_at = now() returning status $$,
  $$ values ('running'::text) $$,
  'alice confirms her pending action'
);
select is_empty(
  $$ update public.chat_pending_actions set status = 'rejected', decided_at = now() returning 1 $$,
  'a decided action cannot be decided again'
);

select tests.authenticate_as_service_role();
select throws_ok(
  $$ update public.chat_pending_actions set status = 'completed' $$,
  '23514', null, 'a finished action has a finish time'
);
select lives_ok(
  $$ update public.chat_pending_actions set status = 'completed', completed_at = now(), result = '{"sent": true}' $$,
  'the chat service records the outcome'
);

-- Expiry ------------------------------------------------------------------------------

insert into public.messages (id, session_id, user_id, role, content, status, tool_call_id, tool_name, tool_arguments)
values ('00000000-0000-4000-8000-0000000001a2', current_setting('tests.s')::uuid,
        current_setting('tests.alice')::uuid, 'tool', '', 'pending', 'call_5', 'create_event', '{}');
insert into public.chat_pending_actions (user_id, session_id, message_id, operation, arguments, created_at, expires_at)
values (current_setting('tests.alice')::uuid, current_setting('tests.s')::uuid,
        '00000000-0000-4000-8000-0000000001a2', 'create_event', '{}', now() - interval '2 hours', now() - interval '1 hour');

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select throws_ok(
  $$ select private.chat_actions_expire() $$,
  '42501', null, 'users cannot run the expiry sweep'
);
select tests.authenticate_as_service_role();
select is(private.chat_actions_expire(), 1, 'the sweep expires the action past its time');
select results_eq(
  $$ select a.status, m.status, m.error_code from public.chat_pending_actions a
       join public.messages m on m.id = a.message_id where a.operation = 'create_event' $$,
  $$ values ('expired'::text, 'failed'::text, 'confirmation_expired'::text) $$,
  'an expired action''s message is failed'
);

-- Cascades ----------------------------------------------------------------------------

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
delete from public.chat_sessions where id = current_setting('tests.s')::uuid;
select tests.authenticate_as_service_role();
select is_empty(
  $$ select 1 from public.chat_pending_actions where user_id = current_setting('tests.alice')::uuid $$,
  'deleting the session deletes its actions'
);

select * from finish();
rollback;
