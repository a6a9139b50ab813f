-- profiles: created by trigger, readable and (partly) editable by the owner only.
begin;
select plan(26);

-- Setup (as postgres). User ids are kept in transaction-local settings so
-- they can be read after switching to an API role.
select set_config('tests.alice', tests.create_user('alice@example.test', '{"full_name": "Alice Anders"}')::text, true);
select set_config('tests.bob', tests.create_user('bob@example.test')::text, true);
select set_config('tests.carol', tests.create_user('carol@example.test', '{"full_name": ""}')::text, true);

-- Trigger on auth.users ---------------------------------------------------------

select has_trigger('auth', 'users', 'on_auth_user_created', 'auth.users has the on_auth_user_created trigger');

select results_eq(
  $$ select email, display_name, timezone, preferences
       from public.profiles where id = current_setting('tests.alice')::uuid $$,
  $$ values ('alice@example.test'::text, 'Alice Anders'::text, 'UTC'::text, '{}'::jsonb) $$,
  'inserting an auth user creates a profile with email and full_name as display_name'
);
select results_eq(
  $$ select email, display_name from public.profiles where id = current_setting('tests.bob')::uuid $$,
  $$ values ('bob@example.test'::text, null::text) $$,
  'a user without full_name gets a profile with a null display_name'
);
select is(
  (select display_name from public.profiles where id = current_setting('tests.carol')::uuid),
  null,
  'an empty full_name becomes a null display_name'
);

-- Backdate updated_at (with the trigger that would reset it switched off) so
-- that the trigger's effect on alice's update below is visible: now() is fixed
-- for the whole transaction.
alter table public.profiles disable trigger profiles_updated_at;
update public.profiles set updated_at = now() - interval '1 day'
 where id in (current_setting('tests.alice')::uuid, current_setting('tests.bob')::uuid);
alter table public.profiles enable trigger profiles_updated_at;

-- Reading ---------------------------------------------------------------------

select tests.authenticate_as_api(current_setting('tests.alice')::uuid);

select results_eq(
  'select id from public.profiles',
  array[current_setting('tests.alice')::uuid],
  'alice sees exactly one profile: her own'
);
select is_empty(
  $$ select 1 from public.profiles where id = current_setting('tests.bob')::uuid $$,
  'alice cannot see bob''s profile'
);

-- Updating ----------------------------------------------------------------------

select results_eq(
  $$ with u as (
       update public.profiles
          set display_name = 'Alicia', timezone = 'Europe/Berlin', preferences = '{"voice": "nova"}'
        where id = current_setting('tests.alice')::uuid
       returning 1)
     select count(*)::int from u $$,
  array[1],
  'alice updates display_name, timezone and preferences of her profile (1 row)'
);
select results_eq(
  $$ with u as (
       update public.profiles set display_name = 'Hacked'
        where id = current_setting('tests.bob')::uuid
       returning 1)
     select count(*)::int from u $$,
  array[0],
  'alice''s update of bob''s profile affects 0 rows'
);
select results_eq(
  $$ with u as (update public.profiles set display_name = 'Everyone' returning id)
     select id from u $$,
  array[current_setting('tests.alice')::uuid],
  'an unfiltered update by alice touches only her own profile'
);

select throws_ok(
  $$ update public.profiles set email = 'evil@example.test' where id = current_setting('tests.alice')::uuid $$,
  '42501', null,
  'alice cannot update profiles.email (column not granted)'
);
select throws_ok(
  $$ update public.profiles set id = current_setting('tests.bob')::uuid where id = current_setting('tests.alice')::uuid $$,
  '42501', null,
  'alice cannot update profiles.id (column not granted)'
);
select throws_ok(
  $$ update public.profiles set created_at = now() - interval '1 year' where id = current_setting('tests.alice')::uuid $$,
  '42501', null,
  'alice cannot update profiles.created_at (column not granted)'
);
select throws_ok(
  $$ update public.profiles set preferences = '[]' where id = current_setting('tests.alice')::uuid $$,
  '23514', null,
  'profiles.preferences must be a JSON object'
);
select throws_ok(
  $$ update public.profiles set display_name = repeat('x', 101) where id = current_setting('tests.alice')::uuid $$,
  '23514', null,
  'profiles.display_name is at most 100 characters'
);

-- Insert / delete -------------------------------------------------------------

select throws_ok(
  $$ insert into public.profiles (id, display_name) values (current_setting('tests.alice')::uuid, 'dup') $$,
  '42501', null,
  'alice cannot insert profiles'
);
select throws_ok(
  $$ insert into public.profiles (display_name) values ('new') $$,
  '42501', null,
  'alice cannot insert a profile even without an id'
);
select throws_ok(
  $$ delete from public.profiles where id = current_setting('tests.alice')::uuid $$,
  '42501', null,
  'alice cannot delete her profile'
);

-- anon --------------------------------------------------------------------------

select tests.authenticate_as_anon();
select throws_ok(
  'select * from public.profiles',
  '42501', null,
  'anon cannot read profiles'
);

-- Effects, checked as postgres ---------------------------------------------------

select tests.clear_authentication();

select results_eq(
  $$ select display_name, timezone, preferences, email
       from public.profiles where id = current_setting('tests.alice')::uuid $$,
  $$ values ('Everyone'::text, 'Europe/Berlin'::text, '{"voice": "nova"}'::jsonb, 'alice@example.test'::text) $$,
  'alice''s granted changes were stored, email untouched'
);
select is(
  (select display_name from public.profiles where id = current_setting('tests.bob')::uuid),
  null,
  'bob''s profile is unchanged'
);
select is(
  (select updated_at from public.profiles where id = current_setting('tests.bob')::uuid),
  now() - interval '1 day',
  'bob''s profile was not touched at all (updated_at unchanged)'
);
select is(
  (select count(*)::int from public.profiles
    where id in (current_setting('tests.alice')::uuid, current_setting('tests.bob')::uuid, current_setting('tests.carol')::uuid)),
  3,
  'all three profiles still exist'
);

select is(
  (select updated_at from public.profiles where id = current_setting('tests.alice')::uuid),
  now(),
  'updating a profile bumps updated_at'
);

-- Cascade from auth.users ------------------------------------------------------

select lives_ok(
  $$ delete from auth.users where id = current_setting('tests.alice')::uuid $$,
  'deleting alice''s auth user succeeds'
);
select is_empty(
  $$ select 1 from public.profiles where id = current_setting('tests.alice')::uuid $$,
  'deleting the auth user deletes the profile'
);
select isnt_empty(
  $$ select 1 from public.profiles where id = current_setting('tests.bob')::uuid $$,
  'other users'' profiles survive'
);

select * from finish();
rollback;
