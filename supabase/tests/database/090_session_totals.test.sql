-- session_totals: each user's row equals the aggregate over their sessions
-- after every kind of change (create, status changes, messages and usage,
-- deletes, a user's deletion), and only its owner reads it.
begin;
select plan(16);

select set_config('tests.alice', tests.create_user('alice@example.test')::text, true);
select set_config('tests.bob', tests.create_user('bob@example.test')::text, true);

-- The invariant, checked as postgres for both users.
create function pg_temp.totals_match() returns boolean language sql as $$
  select coalesce(bool_and(t is not distinct from a), false) from (
    select u.id as user_id,
           (select row(t.total, t.active, t.paused, t.ended, t.archived, t.messages, t.tokens,
                       t.estimated_cost, t.last_activity_at)
              from public.session_totals t where t.user_id = u.id) as t,
           (select row(count(*)::int, (count(*) filter (where status = 'active'))::int,
                       (count(*) filter (where status = 'paused'))::int,
                       (count(*) filter (where status = 'ended'))::int,
                       (count(*) filter (where status = 'archived'))::int,
                       sum(message_count)::bigint, sum(total_tokens_used)::bigint,
                       sum(estimated_cost)::numeric(20, 6), max(last_activity_at))
              from public.chat_sessions s where s.user_id = u.id) as a
      from auth.users u
     where u.id in (current_setting('tests.alice')::uuid, current_setting('tests.bob')::uuid)
  ) x
$$;

select is_empty(
  $$ select 1 from public.session_totals where user_id = current_setting('tests.alice')::uuid $$,
  'a user without sessions has no totals row'
);

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
insert into public.chat_sessions (title) values ('one'), ('two'), ('three');
select tests.authenticate_as_api(current_setting('tests.bob')::uuid);
insert into public.chat_sessions (title) values ('bob''s');
select tests.clear_authentication();
select ok(pg_temp.totals_match(), 'after creating sessions');
select results_eq(
  $$ select total, active from public.session_totals where user_id = current_setting('tests.alice')::uuid $$,
  $$ values (3, 3) $$,
  'alice: three sessions, all active'
);

update public.chat_sessions set status = 'paused'
 where user_id = current_setting('tests.alice')::uuid and title = 'one';
update public.chat_sessions set status = 'archived'
 where user_id = current_setting('tests.alice')::uuid and title = 'two';
select ok(pg_temp.totals_match(), 'after status changes');
select results_eq(
  $$ select active, paused, archived from public.session_totals
      where user_id = current_setting('tests.alice')::uuid $$,
  $$ values (1, 1, 1) $$,
  'alice: one active, one paused, one archived'
);

-- Messages go through their own triggers, which move the sessions' counters.
insert into public.messages (session_id, user_id, role, content, total_tokens, estimated_cost)
select id, user_id, 'user', 'hi', 10, 0.25 from public.chat_sessions
 where user_id = current_setting('tests.alice')::uuid and title in ('one', 'three');
select ok(pg_temp.totals_match(), 'after messages with usage');
update public.messages set total_tokens = 30, estimated_cost = 0.5
 where user_id = current_setting('tests.alice')::uuid;
select ok(pg_temp.totals_match(), 'after usage arrives later');
select results_eq(
  $$ select messages, tokens, estimated_cost from public.session_totals
      where user_id = current_setting('tests.alice')::uuid $$,
  $$ values (2::bigint, 60::bigint, 1.000000::numeric(20, 6)) $$,
  'alice: two messages, 60 tokens, $1.00'
);
delete from public.messages
 where session_id = (select id from public.chat_sessions
                      where user_id = current_setting('tests.alice')::uuid and title = 'one');
select ok(pg_temp.totals_match(), 'after a message is deleted');

-- The latest activity leaving must be taken back.
update public.chat_sessions set last_activity_at = now() + interval '1 hour'
 where user_id = current_setting('tests.alice')::uuid and title = 'three';
select ok(pg_temp.totals_match(), 'after activity moves forward');
delete from public.chat_sessions
 where user_id = current_setting('tests.alice')::uuid and title = 'three';
select ok(pg_temp.totals_match(), 'after the most recently active session is deleted');
update public.chat_sessions set last_activity_at = now() - interval '1 day'
 where user_id = current_setting('tests.alice')::uuid;
select ok(pg_temp.totals_match(), 'after activity moves back');

-- Reading and writing as a client.
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select results_eq(
  $$ select user_id from public.session_totals $$,
  $$ values (current_setting('tests.alice')::uuid) $$,
  'alice reads exactly her own row'
);
select throws_ok(
  $$ update public.session_totals set total = 1000 $$,
  '42501', null, 'alice cannot change her totals'
);
select throws_ok(
  $$ insert into public.session_totals (user_id) values (current_setting('tests.bob')::uuid) $$,
  '42501', null, 'alice cannot add a row'
);
select tests.clear_authentication();

-- Deleting the user takes the row with it, through the sessions' cascade too.
delete from auth.users where id = current_setting('tests.alice')::uuid;
select is_empty(
  $$ select 1 from public.session_totals where user_id = current_setting('tests.alice')::uuid $$,
  'a deleted user leaves no totals row'
);

select * from finish();
rollback;
