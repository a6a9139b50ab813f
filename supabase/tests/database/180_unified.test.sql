-- The unified API (issue 15) stores nothing; its migration widens the API
-- keys' scopes by calendar:read, calendar:write, mail:read and mail:write.
begin;
select plan(6);

select set_config('tests.carol', tests.create_user('unified-carol@example.test')::text, true);
select tests.authenticate_as_api(current_setting('tests.carol')::uuid);

select lives_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('Calendar reader', 'opr_unifaaaa', sha256('opr_unified_one'::bytea), array['calendar:read']) $$,
  'a key may carry calendar:read alone'
);
select lives_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('Assistant', 'opr_unifbbbb', sha256('opr_unified_two'::bytea),
             array['calendar:read', 'calendar:write', 'mail:read', 'mail:write', 'chat:write']) $$,
  'a key may carry every unified scope beside the others'
);
select results_eq(
  $$ select scopes from public.api_keys where name = 'Assistant' $$,
  $$ values (array['calendar:read', 'calendar:write', 'mail:read', 'mail:write', 'chat:write']::text[]) $$,
  'the scopes are stored as given'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('Bad', 'opr_unifcccc', sha256('opr_unified_three'::bytea), array['calendar:admin']) $$,
  '23514', null, 'an unknown scope is still refused'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('Bad', 'opr_unifdddd', sha256('opr_unified_four'::bytea), array['mail:read', 'MAIL:WRITE']) $$,
  '23514', null, 'scopes are exact strings: no other spelling passes'
);
select throws_ok(
  $$ insert into public.api_keys (name, prefix, key_hash, scopes)
     values ('Empty', 'opr_unifeeee', sha256('opr_unified_five'::bytea), array[]::text[]) $$,
  '23514', null, 'a key still needs at least one scope'
);

select * from finish();
rollback;
