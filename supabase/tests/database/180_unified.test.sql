-- The unified API (issue 15) stores nothing; its migration widens the API
-- keys' scopes by calendar:read, calendar:write, mail:read and mail:write.
begin;
select plan(7);

-- Each case inserts one key (run as Carol, through the API's role).
create function pg_temp.key_with(p_prefix text, p_scopes text[]) returns text
language sql as $$
  select format(
    'insert into public.api_keys (name, prefix, key_hash, scopes) values (%L, %L, sha256(%L::bytea), %L)',
    p_prefix, p_prefix, p_prefix, p_scopes)
$$;

select set_config('tests.carol', tests.create_user('unified-carol@example.test')::text, true);
select tests.authenticate_as_api(current_setting('tests.carol')::uuid);

select lives_ok(pg_temp.key_with(prefix, scopes), description)
  from (values
    ('opr_unifaaaa', array['calendar:read'], 'a key may carry calendar:read alone'),
    ('opr_unifbbbb', array['mail:read', 'mail:write'], 'a key may carry the mail scopes alone'),
    ('opr_unifcccc', array['calendar:read', 'calendar:write', 'mail:read', 'mail:write', 'chat:write'],
     'a key may carry every unified scope beside the others')
  ) as t(prefix, scopes, description);

select results_eq(
  $$ select scopes from public.api_keys where prefix = 'opr_unifcccc' $$,
  $$ values (array['calendar:read', 'calendar:write', 'mail:read', 'mail:write', 'chat:write']::text[]) $$,
  'the scopes are stored as given'
);

select throws_ok(pg_temp.key_with(prefix, scopes), '23514', null, description)
  from (values
    ('opr_unifdddd', array['calendar:admin'], 'an unknown scope is still refused'),
    ('opr_unifeeee', array['mail:read', 'MAIL:WRITE'], 'scopes are exact strings: no other spelling passes'),
    ('opr_uniffff2', array[]::text[], 'a key still needs at least one scope')
  ) as t(prefix, scopes, description);

select * from finish();
rollback;
