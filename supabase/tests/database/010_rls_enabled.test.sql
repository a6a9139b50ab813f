-- Every table the API can reach has row-level security, anon can touch none
-- of them, and the private schema is closed to the API roles. The generic
-- checks query the catalog, so a table added later is covered automatically.
begin;
select plan(18);

-- RLS everywhere -------------------------------------------------------------

select is(
  array(
    select c.relname::text
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public'
       and c.relkind in ('r', 'p')
       and not c.relrowsecurity
     order by 1
  ),
  array[]::text[],
  'every table in schema public has row-level security enabled'
);

-- If this fails because a table was added, add it to the list below as well.
select tables_are(
  'public',
  array['profiles', 'user_activities', 'chat_sessions', 'messages', 'api_keys', 'idempotency_keys',
        'service_tokens', 'oauth_states', 'token_refresh_logs', 'session_totals',
        'connection_events', 'webhook_endpoints', 'webhook_deliveries', 'chat_pending_actions',
        'api_key_roles', 'api_key_usage'],
  'schema public has exactly the known tables'
);

select ok(
  (select relrowsecurity from pg_class where oid = 'public.profiles'::regclass),
  'RLS enabled on public.profiles'
);
select ok(
  (select relrowsecurity from pg_class where oid = 'public.user_activities'::regclass),
  'RLS enabled on public.user_activities'
);
select ok(
  (select relrowsecurity from pg_class where oid = 'public.chat_sessions'::regclass),
  'RLS enabled on public.chat_sessions'
);
select ok(
  (select relrowsecurity from pg_class where oid = 'public.messages'::regclass),
  'RLS enabled on public.messages'
);

-- No policy in public applies to anon or to PUBLIC (i.e. every role).
select is(
  array(
    select format('%s: %s', tablename, policyname)
      from pg_policies
     where schemaname = 'public'
       and roles && array['public', 'anon']::name[]
     order by 1
  ),
  array[]::text[],
  'no RLS policy in public applies to anon or PUBLIC'
);

-- anon has nothing ------------------------------------------------------------

select is(
  array(
    select format('%s: %s', c.relname, p.priv)
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
     cross join unnest(array['select', 'insert', 'update', 'delete', 'truncate', 'references', 'trigger']) as p(priv)
     where n.nspname = 'public'
       and c.relkind in ('r', 'p', 'v', 'm', 'f')
       and has_table_privilege('anon', c.oid, p.priv)
     order by 1
  ),
  array[]::text[],
  'anon has no table privilege on any table or view in public'
);

select is(
  array(
    select c.relname::text
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public'
       and c.relkind in ('r', 'p', 'v', 'm', 'f')
       and has_any_column_privilege('anon', c.oid, 'select, insert, update, references')
     order by 1
  ),
  array[]::text[],
  'anon has no column privilege on any table or view in public'
);

select table_privs_are('public', 'profiles', 'anon', array[]::text[], 'anon has no privileges on public.profiles');
select table_privs_are('public', 'user_activities', 'anon', array[]::text[], 'anon has no privileges on public.user_activities');
select table_privs_are('public', 'chat_sessions', 'anon', array[]::text[], 'anon has no privileges on public.chat_sessions');
select table_privs_are('public', 'messages', 'anon', array[]::text[], 'anon has no privileges on public.messages');

-- Sequences in public: no API role needs one (identity columns are filled
-- without sequence privileges, and user_activities is written only by a
-- security definer function). With UPDATE a role can setval() a sequence.
-- The platform's default privileges grant anon/authenticated rwU on every new
-- sequence in public; with them, setval(user_activities_id_seq, 1) by anyone
-- makes every later audit insert collide on user_activities_pkey, so creating,
-- archiving, restoring and deleting sessions would fail for all users.
select is(
  array(
    select format('%s: %s %s', c.relname, r.role, p.priv)
      from pg_class c
      join pg_namespace n on n.oid = c.relnamespace
     cross join unnest(array['anon', 'authenticated']) as r(role)
     cross join unnest(array['usage', 'select', 'update']) as p(priv)
     where n.nspname = 'public'
       and c.relkind = 'S'
       and has_sequence_privilege(r.role, c.oid, p.priv)
     order by 1
  ),
  array[]::text[],
  'neither anon nor authenticated has any privilege on a sequence in public'
);

-- The check above is on grants; this is what anon actually gets.
select tests.authenticate_as_anon();
select throws_ok(
  'select count(*) from public.chat_sessions',
  '42501', null,
  'anon is denied reading public.chat_sessions'
);
select tests.clear_authentication();

-- private is closed -----------------------------------------------------------

select schema_privs_are('private', 'anon', array[]::text[], 'anon has no privileges on schema private');
select schema_privs_are('private', 'authenticated', array[]::text[], 'authenticated has no privileges on schema private');

select tests.authenticate_as(tests.create_user('rls-private@example.test'));
select throws_ok(
  'select private.set_updated_at()',
  '42501', null,
  'authenticated cannot reach functions in schema private'
);
select tests.clear_authentication();

select * from finish();
rollback;
