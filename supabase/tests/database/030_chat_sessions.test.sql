-- chat_sessions: owner-only access, trigger-maintained columns, status
-- tracking, audit trail and the cascade from auth.users.
begin;
select plan(46);

select set_config('tests.alice', tests.create_user('alice@example.test')::text, true);
select set_config('tests.bob', tests.create_user('bob@example.test')::text, true);

-- Creating ------------------------------------------------------------------------

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);

select lives_ok(
  $$ insert into public.chat_sessions (title, agent_config) values ('Alice first', '{"model": "x"}') $$,
  'alice creates a session'
);
select set_config('tests.s1', (select id::text from public.chat_sessions where title = 'Alice first'), true);

select results_eq(
  $$ select user_id, status, is_archived, archived_at, message_count, last_message_index,
            total_tokens_used, estimated_cost, agent_type
       from public.chat_sessions where id = current_setting('tests.s1')::uuid $$,
  $$ values (current_setting('tests.alice')::uuid, 'active'::text, false, null::timestamptz, 0, 0,
             0::bigint, 0::numeric, 'default'::text) $$,
  'a new session belongs to auth.uid() and starts active, unarchived, with zero counters'
);

select throws_ok(
  $$ insert into public.chat_sessions (user_id, title) values (current_setting('tests.bob')::uuid, 'For bob') $$,
  '42501', null,
  'alice cannot create a session for bob'
);
select throws_ok(
  $$ insert into public.chat_sessions (user_id, title) values (current_setting('tests.alice')::uuid, 'Explicit') $$,
  '42501', null,
  'user_id cannot be supplied by the client at all (column not granted)'
);

-- Trigger-maintained columns are not writable ------------------------------------

select throws_ok(
  $$ update public.chat_sessions set message_count = 99 where id = current_setting('tests.s1')::uuid $$,
  '42501', null, 'alice cannot write message_count'
);
select throws_ok(
  $$ update public.chat_sessions set total_tokens_used = 99 where id = current_setting('tests.s1')::uuid $$,
  '42501', null, 'alice cannot write total_tokens_used'
);
select throws_ok(
  $$ update public.chat_sessions set estimated_cost = 99 where id = current_setting('tests.s1')::uuid $$,
  '42501', null, 'alice cannot write estimated_cost'
);
select throws_ok(
  $$ update public.chat_sessions set last_message_index = 99 where id = current_setting('tests.s1')::uuid $$,
  '42501', null, 'alice cannot write last_message_index'
);
select throws_ok(
  $$ update public.chat_sessions set archived_at = now() where id = current_setting('tests.s1')::uuid $$,
  '42501', null, 'alice cannot write archived_at'
);
select throws_ok(
  $$ update public.chat_sessions set user_id = current_setting('tests.bob')::uuid where id = current_setting('tests.s1')::uuid $$,
  '42501', null, 'alice cannot move her session to bob'
);
select throws_ok(
  $$ insert into public.chat_sessions (title, message_count, total_tokens_used) values ('Forged', 5, 500) $$,
  '42501', null, 'alice cannot insert a session with preset counters'
);

-- Check constraints ----------------------------------------------------------------

select throws_ok(
  $$ insert into public.chat_sessions (title, status) values ('Bad status', 'deleted') $$,
  '23514', null, 'status must be one of active/paused/ended/archived'
);
select throws_ok(
  $$ update public.chat_sessions set status = 'bogus' where id = current_setting('tests.s1')::uuid $$,
  '23514', null, 'status cannot be updated to an unknown value'
);
select throws_ok(
  $$ insert into public.chat_sessions (title) values ('') $$,
  '23514', null, 'title cannot be empty'
);
select throws_ok(
  $$ insert into public.chat_sessions (title) values (repeat('x', 201)) $$,
  '23514', null, 'title cannot exceed 200 characters'
);
select lives_ok(
  $$ insert into public.chat_sessions (title) values (repeat('y', 200)) $$,
  'a 200-character title is accepted'
);
select throws_ok(
  $$ insert into public.chat_sessions (title, agent_config) values ('Array config', '[]') $$,
  '23514', null, 'agent_config must be a JSON object (array rejected)'
);
select throws_ok(
  $$ insert into public.chat_sessions (title, agent_config) values ('String config', '"gpt"') $$,
  '23514', null, 'agent_config must be a JSON object (string rejected)'
);
select throws_ok(
  $$ insert into public.chat_sessions (title, context_data) values ('Null config', 'null') $$,
  '23514', null, 'context_data must be a JSON object (JSON null rejected)'
);
select throws_ok(
  $$ insert into public.chat_sessions (title, agent_type) values ('Bad agent', 'Not Valid!') $$,
  '23514', null, 'agent_type must match ^[a-z0-9_-]{1,50}$'
);

-- Other users -------------------------------------------------------------------

select tests.authenticate_as_api(current_setting('tests.bob')::uuid);

select is_empty(
  'select 1 from public.chat_sessions',
  'bob sees none of alice''s sessions'
);
select results_eq(
  $$ with u as (
       update public.chat_sessions set title = 'pwned', status = 'archived'
        where id = current_setting('tests.s1')::uuid
       returning 1)
     select count(*)::int from u $$,
  array[0],
  'bob''s update of alice''s session affects 0 rows'
);
select results_eq(
  $$ with d as (delete from public.chat_sessions where id = current_setting('tests.s1')::uuid returning 1)
     select count(*)::int from d $$,
  array[0],
  'bob''s delete of alice''s session affects 0 rows'
);

select tests.clear_authentication();

select results_eq(
  $$ select title, status, user_id from public.chat_sessions where id = current_setting('tests.s1')::uuid $$,
  $$ values ('Alice first'::text, 'active'::text, current_setting('tests.alice')::uuid) $$,
  'alice''s session is unchanged after bob''s attempts (checked as postgres)'
);

-- Status tracking -------------------------------------------------------------------

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);

select results_eq(
  $$ with u as (
       update public.chat_sessions set status = 'archived'
        where id = current_setting('tests.s1')::uuid
       returning is_archived, archived_at)
     select * from u $$,
  $$ values (true, now()) $$,
  'archiving sets is_archived and archived_at'
);
select results_eq(
  $$ with u as (
       update public.chat_sessions set title = 'Renamed while archived'
        where id = current_setting('tests.s1')::uuid
       returning is_archived, archived_at)
     select * from u $$,
  $$ values (true, now()) $$,
  'editing an archived session keeps it archived with its archived_at'
);
select results_eq(
  $$ with u as (
       update public.chat_sessions set status = 'active'
        where id = current_setting('tests.s1')::uuid
       returning is_archived, archived_at)
     select * from u $$,
  $$ values (false, null::timestamptz) $$,
  'restoring clears is_archived and archived_at'
);
select lives_ok(
  $$ update public.chat_sessions set status = 'active' where id = current_setting('tests.s1')::uuid $$,
  'setting the same status again is allowed'
);
select throws_ok(
  $$ update public.chat_sessions set is_archived = true where id = current_setting('tests.s1')::uuid $$,
  '428C9', null, 'is_archived cannot be written (generated column)'
);
select ok(
  (select attgenerated = 's' from pg_attribute
    where attrelid = 'public.chat_sessions'::regclass and attname = 'is_archived'),
  'is_archived is a stored generated column'
);

-- Invariant: is_archived <=> archived_at is not null, also for a session that
-- is created already archived (status is an insertable column).
select lives_ok(
  $$ insert into public.chat_sessions (title, status) values ('Born archived', 'archived') $$,
  'alice can create a session directly in status archived'
);
select results_eq(
  $$ select is_archived, archived_at from public.chat_sessions where title = 'Born archived' $$,
  $$ values (true, now()) $$,
  'a session inserted as archived gets archived_at'
);
select is_empty(
  $$ select title from public.chat_sessions where is_archived <> (archived_at is not null) $$,
  'every archived session has archived_at and no other session has it (incl. one inserted as archived)'
);

-- Audit trail ---------------------------------------------------------------------

select lives_ok(
  $$ update public.chat_sessions set status = 'paused' where id = current_setting('tests.s1')::uuid $$,
  'alice pauses her session (no audit event expected)'
);
select results_eq(
  $$ with d as (delete from public.chat_sessions where id = current_setting('tests.s1')::uuid returning 1)
     select count(*)::int from d $$,
  array[1],
  'alice deletes her own session'
);
select results_eq(
  $$ select activity_type, user_id from public.user_activities
      where details ->> 'session_id' = current_setting('tests.s1') order by id $$,
  $$ values ('session.created'::text, current_setting('tests.alice')::uuid),
            ('session.archived', current_setting('tests.alice')::uuid),
            ('session.restored', current_setting('tests.alice')::uuid),
            ('session.deleted', current_setting('tests.alice')::uuid) $$,
  'created, archived, restored and deleted are recorded once each, in order'
);
select results_eq(
  $$ select details from public.user_activities
      where details ->> 'session_id' = current_setting('tests.s1') and activity_type = 'session.created' $$,
  $$ values (jsonb_build_object('session_id', current_setting('tests.s1'), 'title', 'Alice first')) $$,
  'session.created details hold the session id and title'
);
select results_eq(
  $$ select details ->> 'message_count' from public.user_activities
      where details ->> 'session_id' = current_setting('tests.s1') and activity_type = 'session.deleted' $$,
  array['0'],
  'session.deleted details hold the message count'
);

-- Cascade from auth.users -------------------------------------------------------------

select lives_ok(
  $$ insert into public.chat_sessions (title) values ('To be cascaded') $$,
  'alice creates another session'
);
select set_config('tests.s2', (select id::text from public.chat_sessions where title = 'To be cascaded'), true);
select lives_ok(
  $$ insert into public.messages (session_id, role, content) values
       (current_setting('tests.s2')::uuid, 'user', 'hello'),
       (current_setting('tests.s2')::uuid, 'user', 'hi') $$,
  'alice adds two messages to it'
);

select tests.authenticate_as_api(current_setting('tests.bob')::uuid);
select lives_ok(
  $$ insert into public.chat_sessions (title) values ('Bob''s') $$,
  'bob creates a session'
);

select tests.clear_authentication();

select lives_ok(
  $$ delete from auth.users where id = current_setting('tests.alice')::uuid $$,
  'deleting alice''s auth user succeeds despite sessions, messages and activities'
);
select is(
  (select count(*)::int from public.chat_sessions where user_id = current_setting('tests.alice')::uuid),
  0, 'alice''s sessions are gone'
);
select is(
  (select count(*)::int from public.messages where user_id = current_setting('tests.alice')::uuid),
  0, 'alice''s messages are gone'
);
select is(
  (select count(*)::int from public.user_activities where user_id = current_setting('tests.alice')::uuid),
  0, 'alice''s activities are gone (none re-created by the delete cascade)'
);
select results_eq(
  $$ select s.title, (select count(*)::int from public.user_activities a where a.user_id = s.user_id)
       from public.chat_sessions s where s.user_id = current_setting('tests.bob')::uuid $$,
  $$ values ('Bob''s'::text, 1) $$,
  'bob''s session and activity are untouched'
);

select * from finish();
rollback;
