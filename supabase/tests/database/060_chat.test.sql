-- Chat: messages.metadata, idempotency_keys (RLS, grants, constraints,
-- cascades) and the maintenance sweep for interrupted replies.
begin;
select plan(37);

-- Shape -------------------------------------------------------------------------

select has_table('public', 'idempotency_keys', 'table public.idempotency_keys exists');
select ok(
  (select relrowsecurity from pg_class where oid = 'public.idempotency_keys'::regclass),
  'RLS enabled on public.idempotency_keys'
);
select col_not_null('public', 'messages', 'metadata', 'messages.metadata is not null');
select col_default_is('public', 'messages', 'metadata', '{}'::text, 'messages.metadata defaults to {}');
select table_privs_are('public', 'idempotency_keys', 'anon', array[]::text[],
  'anon has no privileges on public.idempotency_keys');
select table_privs_are('public', 'idempotency_keys', 'authenticated', array['SELECT'],
  'authenticated may only read public.idempotency_keys');
select is(
  array(
    select indexname::text from pg_indexes
     where schemaname = 'public' and tablename = 'idempotency_keys' order by 1
  ),
  array['idempotency_keys_assistant_message', 'idempotency_keys_expires', 'idempotency_keys_pkey',
        'idempotency_keys_session', 'idempotency_keys_user_message'],
  'every foreign key of idempotency_keys is indexed, and expiry too'
);
select is(
  (select count(*)::int from cron.job where jobname = 'chat-maintenance' and command like '%private.chat_maintenance()%'),
  1,
  'the chat maintenance sweep is scheduled with pg_cron'
);

-- Fixtures ----------------------------------------------------------------------

select set_config('tests.alice', tests.create_user('chat-alice@example.test')::text, true);
select set_config('tests.bob', tests.create_user('chat-bob@example.test')::text, true);
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
insert into public.chat_sessions (title) values ('chat A');
select set_config('tests.s', (select id::text from public.chat_sessions where title = 'chat A'), true);

-- metadata on user messages -------------------------------------------------------

select lives_ok(
  $$ insert into public.messages (session_id, role, content, metadata)
     values (current_setting('tests.s')::uuid, 'user', 'hello', '{"client": "ios", "locale": "en"}') $$,
  'alice inserts her message with metadata'
);
select is(
  (select metadata from public.messages where content = 'hello'),
  '{"client": "ios", "locale": "en"}'::jsonb,
  'the metadata is stored as given'
);
insert into public.messages (session_id, role, content) values (current_setting('tests.s')::uuid, 'user', 'plain');
select is(
  (select metadata from public.messages where content = 'plain'),
  '{}'::jsonb,
  'metadata defaults to an empty object'
);
select throws_ok(
  $$ insert into public.messages (session_id, role, content, metadata)
     values (current_setting('tests.s')::uuid, 'user', 'x', '[1, 2]') $$,
  '23514', null, 'metadata must be an object'
);
select throws_ok(
  $$ insert into public.messages (session_id, role, content, metadata)
     values (current_setting('tests.s')::uuid, 'user', 'x', jsonb_build_object('blob', repeat('x', 17000))) $$,
  '23514', null, 'metadata is at most 16 KiB'
);
select lives_ok(
  $$ insert into public.messages (id, session_id, role, content)
     values ('00000000-0000-4000-8000-0000000000c1', current_setting('tests.s')::uuid, 'user', 'named') $$,
  'alice may choose her message''s id (the chat service does, to pipeline the reply)'
);
select throws_ok(
  $$ update public.messages set metadata = '{"forged": true}' where content = 'hello' $$,
  '42501', null, 'alice cannot rewrite metadata after the fact'
);

-- The chat service writes the reply and the key --------------------------------------

select tests.authenticate_as_service_role();
insert into public.messages (session_id, user_id, role, content, status, parent_message_id)
values (current_setting('tests.s')::uuid, current_setting('tests.alice')::uuid, 'assistant', '', 'processing',
        (select id from public.messages where content = 'hello' and session_id = current_setting('tests.s')::uuid));
select set_config('tests.reply', (select id::text from public.messages where role = 'assistant' and session_id = current_setting('tests.s')::uuid), true);
select lives_ok(
  $$ insert into public.idempotency_keys (user_id, scope, key, request_hash, session_id, user_message_id, assistant_message_id)
     values (current_setting('tests.alice')::uuid, 'chat.send', 'retry-1', repeat('a', 64), current_setting('tests.s')::uuid,
             (select id from public.messages where content = 'hello' and session_id = current_setting('tests.s')::uuid), current_setting('tests.reply')::uuid) $$,
  'service_role records an idempotency key'
);
select results_eq(
  $$ select expires_at - created_at from public.idempotency_keys where key = 'retry-1' $$,
  $$ values (interval '24 hours') $$,
  'a key expires 24 hours after it was recorded'
);
select throws_ok(
  $$ insert into public.idempotency_keys (user_id, scope, key, request_hash, session_id, user_message_id, assistant_message_id)
     values (current_setting('tests.alice')::uuid, 'chat.send', 'retry-1', repeat('b', 64), current_setting('tests.s')::uuid,
             (select id from public.messages where content = 'hello' and session_id = current_setting('tests.s')::uuid), current_setting('tests.reply')::uuid) $$,
  '23505', null, 'a key is unique per user and scope'
);
select throws_ok(
  $$ insert into public.idempotency_keys (user_id, scope, key, request_hash, session_id, user_message_id, assistant_message_id)
     values (current_setting('tests.alice')::uuid, 'chat.send', 'has space', repeat('a', 64), current_setting('tests.s')::uuid,
             (select id from public.messages where content = 'hello' and session_id = current_setting('tests.s')::uuid), current_setting('tests.reply')::uuid) $$,
  '23514', null, 'a key is printable ASCII without spaces'
);
select throws_ok(
  $$ insert into public.idempotency_keys (user_id, scope, key, request_hash, session_id, user_message_id, assistant_message_id)
     values (current_setting('tests.alice')::uuid, 'chat.send', 'retry-2', 'not-a-hash', current_setting('tests.s')::uuid,
             (select id from public.messages where content = 'hello' and session_id = current_setting('tests.s')::uuid), current_setting('tests.reply')::uuid) $$,
  '23514', null, 'the request hash is a hex SHA-256'
);
select throws_ok(
  $$ insert into public.idempotency_keys (user_id, scope, key, request_hash, session_id, user_message_id, assistant_message_id)
     values (current_setting('tests.alice')::uuid, 'Chat Send', 'retry-3', repeat('a', 64), current_setting('tests.s')::uuid,
             (select id from public.messages where content = 'hello' and session_id = current_setting('tests.s')::uuid), current_setting('tests.reply')::uuid) $$,
  '23514', null, 'the scope is <domain>.<operation>'
);

-- Owners read their keys, nobody else sees them, clients never write them --------------

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select results_eq(
  $$ select key, assistant_message_id from public.idempotency_keys $$,
  $$ values ('retry-1'::text, current_setting('tests.reply')::uuid) $$,
  'alice reads her key'
);
select throws_ok(
  $$ insert into public.idempotency_keys (user_id, scope, key, request_hash, session_id, user_message_id, assistant_message_id)
     values (current_setting('tests.alice')::uuid, 'chat.send', 'forged', repeat('c', 64), current_setting('tests.s')::uuid,
             (select id from public.messages where content = 'hello' and session_id = current_setting('tests.s')::uuid), current_setting('tests.reply')::uuid) $$,
  '42501', null, 'alice cannot record a key herself'
);
select throws_ok(
  $$ update public.idempotency_keys set request_hash = repeat('d', 64) where key = 'retry-1' $$,
  '42501', null, 'alice cannot change her key'
);
select throws_ok(
  $$ delete from public.idempotency_keys where key = 'retry-1' $$,
  '42501', null, 'alice cannot delete her key'
);

select tests.authenticate_as_api(current_setting('tests.bob')::uuid);
select is_empty($$ select 1 from public.idempotency_keys $$, 'bob sees none of alice''s keys');
select is_empty(
  $$ select 1 from public.idempotency_keys where key = 'retry-1' $$,
  'bob cannot find alice''s key by name'
);
select tests.clear_authentication();

-- The same key for another user is a different key.
insert into public.chat_sessions (user_id, title) values (current_setting('tests.bob')::uuid, 'chat B');
insert into public.messages (session_id, user_id, role, content)
select id, user_id, 'user', 'bob says' from public.chat_sessions where title = 'chat B' and user_id = current_setting('tests.bob')::uuid;
insert into public.messages (session_id, user_id, role, content, status)
select id, user_id, 'assistant', '', 'processing' from public.chat_sessions where title = 'chat B' and user_id = current_setting('tests.bob')::uuid;
select lives_ok(
  $$ insert into public.idempotency_keys (user_id, scope, key, request_hash, session_id, user_message_id, assistant_message_id)
     select s.user_id, 'chat.send', 'retry-1', repeat('e', 64), s.id,
            (select id from public.messages where session_id = s.id and role = 'user'),
            (select id from public.messages where session_id = s.id and role = 'assistant')
       from public.chat_sessions s where s.title = 'chat B' and s.user_id = current_setting('tests.bob')::uuid $$,
  'bob may use the same key as alice'
);

-- Maintenance -------------------------------------------------------------------

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select throws_ok(
  'select * from private.chat_maintenance()',
  '42501', null, 'authenticated cannot run the maintenance sweep'
);
select tests.clear_authentication();

-- A stale reply with partial text, a fresh one, a completed one, an expired key.
insert into public.messages (session_id, user_id, role, content, status, created_at)
values (current_setting('tests.s')::uuid, current_setting('tests.alice')::uuid, 'assistant', 'half an answ', 'processing', now() - interval '1 hour'),
       (current_setting('tests.s')::uuid, current_setting('tests.alice')::uuid, 'assistant', 'done', 'completed', now() - interval '1 hour');
insert into public.idempotency_keys (user_id, scope, key, request_hash, session_id, user_message_id, assistant_message_id, created_at, expires_at)
values (current_setting('tests.alice')::uuid, 'chat.send', 'old-key', repeat('f', 64), current_setting('tests.s')::uuid,
        (select id from public.messages where content = 'plain' and session_id = current_setting('tests.s')::uuid), current_setting('tests.reply')::uuid,
        now() - interval '25 hours', now() - interval '1 hour');

-- The sweep is global: count what it should find (this database may hold
-- other rows), then check it found exactly that, and ours among them.
select set_config('tests.stale', (select count(*)::text from public.messages
  where status = 'processing' and role = 'assistant' and created_at < now() - interval '15 minutes'), true);
select set_config('tests.expired', (select count(*)::text from public.idempotency_keys where expires_at <= now()), true);
select tests.authenticate_as_service_role();
select results_eq(
  $$ select * from private.chat_maintenance() $$,
  format('values (%s, %s)', current_setting('tests.stale'), current_setting('tests.expired')),
  'the sweep fails every stale reply and purges every expired key'
);
select tests.clear_authentication();
select results_eq(
  $$ select status, error_code, content from public.messages where content = 'half an answ' and session_id = current_setting('tests.s')::uuid $$,
  $$ values ('failed'::text, 'interrupted'::text, 'half an answ'::text) $$,
  'the stale reply is failed with error_code interrupted and keeps its partial text'
);
select is(
  (select status from public.messages where id = current_setting('tests.reply')::uuid),
  'processing',
  'a reply still within the window keeps processing'
);
select is(
  (select status from public.messages where content = 'done' and session_id = current_setting('tests.s')::uuid),
  'completed',
  'completed replies are untouched'
);
select is_empty(
  $$ select 1 from public.idempotency_keys where key = 'old-key' and user_id = current_setting('tests.alice')::uuid $$,
  'the expired key is gone'
);
select is(
  (select count(*)::int from public.idempotency_keys where key = 'retry-1' and user_id in (current_setting('tests.alice')::uuid, current_setting('tests.bob')::uuid)),
  2,
  'live keys stay'
);
select is(
  (select count(*)::int from public.messages where role = 'user' and session_id = current_setting('tests.s')::uuid),
  3,
  'the sweep never touches user messages'
);

-- Deleting the session deletes its keys.
delete from public.chat_sessions where id = current_setting('tests.s')::uuid;
select is(
  (select count(*)::int from public.idempotency_keys where user_id = current_setting('tests.alice')::uuid),
  0,
  'a session''s keys go with it'
);

select * from finish();
rollback;
