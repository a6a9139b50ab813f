-- user_activities: readable by the owner only, written only by
-- private.record_activity (through triggers), never by an API role.
begin;
select plan(20);

select set_config('tests.alice', tests.create_user('alice@example.test')::text, true);
select set_config('tests.bob', tests.create_user('bob@example.test')::text, true);

-- Each creates a session, which records a session.created activity.
select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
insert into public.chat_sessions (title) values ('Alice''s');
select tests.authenticate_as_api(current_setting('tests.bob')::uuid);
insert into public.chat_sessions (title) values ('Bob''s'), ('Bob''s second');
select tests.clear_authentication();

select is(
  (select count(*)::int from public.user_activities
    where user_id in (current_setting('tests.alice')::uuid, current_setting('tests.bob')::uuid)),
  3,
  'setup: three activities exist (checked as postgres)'
);

-- Reading -----------------------------------------------------------------------------

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select results_eq(
  $$ select user_id, activity_type, details ->> 'title' from public.user_activities $$,
  $$ values (current_setting('tests.alice')::uuid, 'session.created'::text, 'Alice''s'::text) $$,
  'alice reads exactly her own activity'
);
select is_empty(
  $$ select 1 from public.user_activities where user_id = current_setting('tests.bob')::uuid $$,
  'alice cannot read bob''s activities even when asking for them'
);

select tests.authenticate_as_api(current_setting('tests.bob')::uuid);
select results_eq(
  $$ select user_id, count(*)::int from public.user_activities group by user_id $$,
  $$ values (current_setting('tests.bob')::uuid, 2) $$,
  'bob reads exactly his own two activities'
);

-- Writing is denied -------------------------------------------------------------------

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);
select throws_ok(
  $$ insert into public.user_activities (user_id, activity_type) values (current_setting('tests.alice')::uuid, 'session.created') $$,
  '42501', null, 'alice cannot insert her own activities'
);
select throws_ok(
  $$ insert into public.user_activities (user_id, activity_type) values (current_setting('tests.bob')::uuid, 'session.deleted') $$,
  '42501', null, 'alice cannot insert activities for bob'
);
select throws_ok(
  $$ update public.user_activities set details = '{"title": "forged"}' $$,
  '42501', null, 'alice cannot update activities'
);
select throws_ok(
  $$ delete from public.user_activities $$,
  '42501', null, 'alice cannot delete activities'
);
select throws_ok(
  $$ truncate public.user_activities $$,
  '42501', null, 'alice cannot truncate activities'
);
select throws_ok(
  $$ select private.record_activity(current_setting('tests.alice')::uuid, 'session.created', '{}') $$,
  '42501', null, 'alice cannot call private.record_activity'
);

select tests.authenticate_as_anon();
select throws_ok(
  $$ select count(*) from public.user_activities $$,
  '42501', null, 'anon cannot read activities'
);
select throws_ok(
  $$ select private.record_activity(current_setting('tests.alice')::uuid, 'session.created', '{}') $$,
  '42501', null, 'anon cannot call private.record_activity'
);

select tests.clear_authentication();

-- Function privileges of the only writer -----------------------------------------------

select function_privs_are(
  'private', 'record_activity', array['uuid', 'text', 'jsonb'], 'authenticated', array[]::text[],
  'authenticated has no privilege on private.record_activity'
);
select function_privs_are(
  'private', 'record_activity', array['uuid', 'text', 'jsonb'], 'anon', array[]::text[],
  'anon has no privilege on private.record_activity'
);
select ok(
  not has_function_privilege('authenticated', 'private.record_activity(uuid, text, jsonb)', 'execute')
    and not has_function_privilege('anon', 'private.record_activity(uuid, text, jsonb)', 'execute'),
  'has_function_privilege: neither authenticated nor anon may execute private.record_activity'
);
select is_empty(
  $$ select 1
       from pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
      where p.oid = 'private.record_activity(uuid, text, jsonb)'::regprocedure
        and a.grantee = 0 and a.privilege_type = 'EXECUTE' $$,
  'PUBLIC has no EXECUTE on private.record_activity'
);
select is(
  (select prosecdef from pg_proc where oid = 'private.record_activity(uuid, text, jsonb)'::regprocedure),
  true,
  'private.record_activity is security definer (it must write despite the missing grants)'
);

-- Behaviour of the writer ----------------------------------------------------------------

select lives_ok(
  $$ select private.record_activity('00000000-0000-0000-0000-000000000000', 'session.created', '{}') $$,
  'record_activity for an unknown user is a no-op, not an error'
);
select is(
  (select count(*)::int from public.user_activities where user_id = '00000000-0000-0000-0000-000000000000'),
  0,
  'no activity row is written for an unknown user'
);
select throws_ok(
  $$ select private.record_activity(current_setting('tests.alice')::uuid, 'Not A Type', '{}') $$,
  '23514', null,
  'activity_type must look like <domain>.<event>'
);

select * from finish();
rollback;
