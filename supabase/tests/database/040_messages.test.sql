-- messages: per-session sequence, trigger-maintained session counters,
-- owner-only access, column grants and the parent link.
begin;
select plan(47);

select set_config('tests.alice', tests.create_user('alice@example.test')::text, true);
select set_config('tests.bob', tests.create_user('bob@example.test')::text, true);

-- Two sessions for alice, one for bob.
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
insert into public.chat_sessions (title) values ('S1'), ('S2');
select set_config('tests.s1', (select id::text from public.chat_sessions where title = 'S1'), true);
select set_config('tests.s2', (select id::text from public.chat_sessions where title = 'S2'), true);
select tests.authenticate_as_api(current_setting('tests.bob')::uuid);
insert into public.chat_sessions (title) values ('B1');
select set_config('tests.b1', (select id::text from public.chat_sessions where title = 'B1'), true);

-- Backdate last_activity_at (now() is fixed for the transaction) so that the
-- insert trigger's bump is visible.
select tests.clear_authentication();
update public.chat_sessions set last_activity_at = now() - interval '1 day'
 where id in (current_setting('tests.s1')::uuid, current_setting('tests.s2')::uuid, current_setting('tests.b1')::uuid);

-- Sequence and counters on insert ----------------------------------------------

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);

select lives_ok(
  $$ insert into public.messages (session_id, role, content) values (current_setting('tests.s1')::uuid, 'user', 's1 m1') $$,
  'alice inserts a message into her session'
);
insert into public.messages (session_id, role, content) values (current_setting('tests.s2')::uuid, 'user', 's2 m1');
select throws_ok(
  $$ insert into public.messages (session_id, role, content) values (current_setting('tests.s1')::uuid, 'assistant', 'forged') $$,
  '42501', null, 'alice cannot write an assistant message herself'
);
-- Assistant messages come from the chat service.
select tests.authenticate_as_service_role();
insert into public.messages (session_id, user_id, role, content)
  values (current_setting('tests.s1')::uuid, current_setting('tests.alice')::uuid, 'assistant', 's1 m2');
insert into public.messages (session_id, user_id, role, content)
  values (current_setting('tests.s2')::uuid, current_setting('tests.alice')::uuid, 'assistant', 's2 m2');
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
insert into public.messages (session_id, role, content) values (current_setting('tests.s1')::uuid, 'user', 's1 m3');

select results_eq(
  $$ select message_index, content from public.messages
      where session_id = current_setting('tests.s1')::uuid order by message_index $$,
  $$ values (1, 's1 m1'::text), (2, 's1 m2'), (3, 's1 m3') $$,
  'message_index runs 1, 2, 3 in session 1, in insertion order'
);
select results_eq(
  $$ select message_index, content from public.messages
      where session_id = current_setting('tests.s2')::uuid order by message_index $$,
  $$ values (1, 's2 m1'::text), (2, 's2 m2') $$,
  'message_index is counted separately per session (1, 2 in session 2)'
);
select results_eq(
  $$ select distinct user_id from public.messages $$,
  array[current_setting('tests.alice')::uuid],
  'messages.user_id defaults to auth.uid()'
);
select results_eq(
  $$ select title, message_count, last_message_index, last_activity_at = now()
       from public.chat_sessions order by title $$,
  $$ values ('S1'::text, 3, 3, true), ('S2', 2, 2, true) $$,
  'inserts update message_count, last_message_index and last_activity_at of the session'
);

-- Column grants ----------------------------------------------------------------------

select throws_ok(
  $$ insert into public.messages (session_id, role, content, message_index)
     values (current_setting('tests.s1')::uuid, 'user', 'forged', 99) $$,
  '42501', null, 'alice cannot set message_index'
);
select throws_ok(
  $$ insert into public.messages (session_id, role, content, total_tokens, estimated_cost)
     values (current_setting('tests.s1')::uuid, 'user', 'forged', 1000000, 0) $$,
  '42501', null, 'alice cannot insert usage (total_tokens / estimated_cost)'
);
select throws_ok(
  $$ insert into public.messages (session_id, user_id, role, content)
     values (current_setting('tests.s1')::uuid, current_setting('tests.alice')::uuid, 'user', 'x') $$,
  '42501', null, 'alice cannot set messages.user_id'
);
select throws_ok(
  $$ update public.messages set message_index = 42 where content = 's1 m1' $$,
  '42501', null, 'alice cannot update message_index'
);
select throws_ok(
  $$ update public.messages set total_tokens = 5 where content = 's1 m2' $$,
  '42501', null, 'alice cannot update total_tokens'
);
select throws_ok(
  $$ update public.messages set estimated_cost = 5 where content = 's1 m2' $$,
  '42501', null, 'alice cannot update estimated_cost'
);
select throws_ok(
  $$ update public.messages set content = 'rewritten history' where content = 's1 m1' $$,
  '42501', null, 'alice cannot rewrite message content'
);
select throws_ok(
  $$ delete from public.messages where content = 's1 m1' $$,
  '42501', null, 'alice cannot delete messages directly'
);
select tests.authenticate_as_service_role();
select throws_ok(
  $$ insert into public.messages (session_id, user_id, role, content)
     values (current_setting('tests.s1')::uuid, current_setting('tests.alice')::uuid, 'admin', 'x') $$,
  '23514', null, 'role must be user/assistant/system/tool'
);
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);

-- Voice / avatar columns -------------------------------------------------------------

select results_eq(
  $$ with u as (
       update public.messages
          set has_voice_response = true, voice_response_url = 'https://cdn.example.test/v.mp3',
              has_avatar_response = true, avatar_session_id = 'av-1'
        where content = 's1 m2'
       returning has_voice_response, voice_response_url, has_avatar_response, avatar_session_id)
     select * from u $$,
  $$ values (true, 'https://cdn.example.test/v.mp3'::text, true, 'av-1'::text) $$,
  'alice updates the voice/avatar columns of her own message'
);

-- Other users ------------------------------------------------------------------------

select tests.authenticate_as_api(current_setting('tests.bob')::uuid);

select is_empty(
  $$ select 1 from public.messages $$,
  'bob sees none of alice''s messages'
);
select is_empty(
  $$ select 1 from public.messages where session_id = current_setting('tests.s1')::uuid $$,
  'bob cannot read messages of alice''s session by id'
);
select results_eq(
  $$ with u as (
       update public.messages set has_voice_response = true, voice_response_url = 'https://evil.example.test/x'
        where session_id = current_setting('tests.s1')::uuid
       returning 1)
     select count(*)::int from u $$,
  array[0],
  'bob''s update of alice''s messages affects 0 rows'
);
-- Any error will do (RLS violation or the trigger's foreign-key error); the
-- same statement for bob's own session is shown to work just below.
select throws_ok(
  $$ insert into public.messages (session_id, role, content) values (current_setting('tests.s1')::uuid, 'user', 'intrusion') $$,
  null::char(5), null,
  'bob cannot insert a message into alice''s session'
);
select lives_ok(
  $$ insert into public.messages (session_id, role, content) values (current_setting('tests.b1')::uuid, 'user', 'mine') $$,
  'bob can insert the same kind of message into his own session'
);
select tests.clear_authentication();

select results_eq(
  $$ select message_count, last_message_index from public.chat_sessions where id = current_setting('tests.s1')::uuid $$,
  $$ values (3, 3) $$,
  'alice''s session counters are untouched by bob''s attempts'
);
select results_eq(
  $$ select has_voice_response, voice_response_url from public.messages where session_id = current_setting('tests.s1')::uuid order by message_index $$,
  $$ values (false, null::text), (true, 'https://cdn.example.test/v.mp3'::text), (false, null::text) $$,
  'alice''s voice columns are unchanged by bob'
);
select is(
  (select count(*)::int from public.messages where content = 'intrusion'),
  0,
  'no message was written into alice''s session by bob'
);

-- Usage accounting (as service_role: authenticated cannot write usage) ----------------

select tests.authenticate_as_service_role();

select lives_ok(
  $$ update public.messages set total_tokens = 100, estimated_cost = 0.010000, prompt_tokens = 60, completion_tokens = 40
      where content = 's1 m2' and session_id = current_setting('tests.s1')::uuid $$,
  'service_role records usage on a message'
);
select results_eq(
  $$ select total_tokens_used, estimated_cost from public.chat_sessions where id = current_setting('tests.s1')::uuid $$,
  $$ values (100::bigint, 0.010000::numeric) $$,
  'the session totals include the new usage once'
);
update public.messages set total_tokens = 150, estimated_cost = 0.015000
 where content = 's1 m2' and session_id = current_setting('tests.s1')::uuid;
select results_eq(
  $$ select total_tokens_used, estimated_cost from public.chat_sessions where id = current_setting('tests.s1')::uuid $$,
  $$ values (150::bigint, 0.015000::numeric) $$,
  'correcting the usage adds only the difference'
);
update public.messages set status = 'completed', processing_time_ms = 1200, total_tokens = 150
 where content = 's1 m2' and session_id = current_setting('tests.s1')::uuid;
select results_eq(
  $$ select total_tokens_used, estimated_cost from public.chat_sessions where id = current_setting('tests.s1')::uuid $$,
  $$ values (150::bigint, 0.015000::numeric) $$,
  'an update that leaves usage unchanged does not change the totals'
);
select lives_ok(
  $$ insert into public.messages (session_id, user_id, role, content, total_tokens, estimated_cost)
     values (current_setting('tests.s1')::uuid, current_setting('tests.alice')::uuid, 'assistant', 's1 m4', 10, 0.001000) $$,
  'service_role inserts a message with usage'
);
select results_eq(
  $$ select message_count, last_message_index, total_tokens_used, estimated_cost
       from public.chat_sessions where id = current_setting('tests.s1')::uuid $$,
  $$ values (4, 4, 160::bigint, 0.016000::numeric) $$,
  'usage given at insert is counted once'
);
select results_eq(
  $$ select total_tokens_used, estimated_cost from public.chat_sessions where id = current_setting('tests.s2')::uuid $$,
  $$ values (0::bigint, 0::numeric) $$,
  'the other session''s totals are unaffected'
);
select throws_ok(
  $$ insert into public.messages (session_id, user_id, role, content)
     values (current_setting('tests.s1')::uuid, current_setting('tests.bob')::uuid, 'user', 'wrong owner') $$,
  '23503', null,
  'even service_role cannot add a message owned by someone other than the session owner'
);

-- Deleting messages ----------------------------------------------------------------
-- The API never deletes one message (sessions and accounts cascade), so
-- service_role may not: an operator does, as postgres in the dashboard.

select throws_ok(
  $$ delete from public.messages where content = 's1 m2' and session_id = current_setting('tests.s1')::uuid $$,
  '42501', null,
  'service_role cannot delete a message'
);
select tests.clear_authentication();
select results_eq(
  $$ with d as (delete from public.messages where content = 's1 m2' and session_id = current_setting('tests.s1')::uuid returning 1) select count(*)::int from d $$,
  array[1],
  'an operator deletes a message with usage'
);
select tests.authenticate_as_service_role();
select results_eq(
  $$ select message_count, last_message_index, total_tokens_used, estimated_cost
       from public.chat_sessions where id = current_setting('tests.s1')::uuid $$,
  $$ values (3, 4, 10::bigint, 0.001000::numeric) $$,
  'deleting a message decrements message_count and the totals; the index sequence is not rewound'
);

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
insert into public.messages (session_id, role, content) values (current_setting('tests.s1')::uuid, 'user', 's1 m5');
select results_eq(
  $$ select message_index from public.messages where content = 's1 m5' $$,
  array[5],
  'after a delete the next message gets a fresh index (no reuse)'
);

-- Parent links -----------------------------------------------------------------------

select throws_ok(
  $$ insert into public.messages (session_id, role, content, parent_message_id)
     values (current_setting('tests.s2')::uuid, 'user', 'cross-session reply',
             (select id from public.messages where content = 's1 m1')) $$,
  '23503', null,
  'a parent from another session is rejected (23503)'
);
select lives_ok(
  $$ insert into public.messages (session_id, role, content, parent_message_id)
     values (current_setting('tests.s2')::uuid, 'user', 's2 reply',
             (select id from public.messages where content = 's2 m1')) $$,
  'a parent from the same session is accepted'
);
select throws_ok(
  $$ insert into public.messages (session_id, role, content, parent_message_id)
     values (current_setting('tests.s2')::uuid, 'user', 'orphan', gen_random_uuid()) $$,
  '23503', null,
  'a parent that does not exist is rejected (23503)'
);

select tests.clear_authentication();

select lives_ok(
  $$ delete from public.messages where content = 's2 m1' and session_id = current_setting('tests.s2')::uuid $$,
  'deleting a parent message succeeds'
);
select results_eq(
  $$ select parent_message_id, session_id from public.messages where content = 's2 reply' $$,
  $$ values (null::uuid, current_setting('tests.s2')::uuid) $$,
  'the child survives with parent_message_id set to null (session_id kept)'
);

-- Session status gates new messages: archived and ended sessions refuse them
-- (55000 object_not_in_prerequisite_state), paused ones accept them.
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
update public.chat_sessions set status = 'archived' where id = current_setting('tests.s2')::uuid;
select throws_ok(
  $$ insert into public.messages (session_id, role, content) values (current_setting('tests.s2')::uuid, 'user', 'into archive') $$,
  '55000', null,
  'a message cannot be added to an archived session'
);
update public.chat_sessions set status = 'ended' where id = current_setting('tests.s2')::uuid;
select throws_ok(
  $$ insert into public.messages (session_id, role, content) values (current_setting('tests.s2')::uuid, 'user', 'into ended') $$,
  '55000', null,
  'a message cannot be added to an ended session'
);
select results_eq(
  $$ select message_count, last_message_index from public.chat_sessions where id = current_setting('tests.s2')::uuid $$,
  $$ values (2, 3) $$,
  'refused messages leave the session counters unchanged'
);
update public.chat_sessions set status = 'paused' where id = current_setting('tests.s2')::uuid;
select results_eq(
  $$ with i as (
       insert into public.messages (session_id, role, content) values (current_setting('tests.s2')::uuid, 'user', 'while paused')
       returning message_index)
     select message_index from i $$,
  array[4],
  'a paused session still accepts messages (next index 4)'
);

-- Deleting a session with a parent/child chain cascades cleanly.
insert into public.messages (session_id, role, content, parent_message_id)
values (current_setting('tests.s1')::uuid, 'user', 's1 reply', (select id from public.messages where content = 's1 m5'));
select lives_ok(
  $$ delete from public.chat_sessions where id = current_setting('tests.s1')::uuid $$,
  'alice deletes a session whose messages reference each other'
);
select is_empty(
  $$ select 1 from public.messages where session_id = current_setting('tests.s1')::uuid $$,
  'the session''s messages are deleted with it'
);

select * from finish();
rollback;
