-- Core: private helpers, profiles and the activity log.

create extension if not exists pgcrypto with schema extensions;

-- Functions and data that no API role may call or read directly.
create schema if not exists private;
revoke all on schema private from public, anon, authenticated;
grant usage on schema private to service_role;
comment on schema private is 'Internal helpers and secrets; never exposed through the API.';

create or replace function private.set_updated_at() returns trigger
language plpgsql set search_path = '' as $$
begin
  new.updated_at := now();
  return new;
end $$;

-- profiles ------------------------------------------------------------------
create table public.profiles (
  id uuid primary key references auth.users (id) on delete cascade,
  email text,
  display_name text check (char_length(display_name) <= 100),
  avatar_url text check (char_length(avatar_url) <= 2048),
  timezone text not null default 'UTC' check (char_length(timezone) <= 64),
  preferences jsonb not null default '{}'::jsonb check (jsonb_typeof(preferences) = 'object'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
comment on table public.profiles is
  'One row per auth.users row, created by trigger; the user''s display settings.';
comment on column public.profiles.preferences is 'Client preferences (voice, avatar, UI) as a JSON object.';

create trigger profiles_updated_at before update on public.profiles
  for each row execute function private.set_updated_at();

alter table public.profiles enable row level security;
revoke all on public.profiles from anon, authenticated;
grant select on public.profiles to authenticated;
grant update (display_name, avatar_url, timezone, preferences) on public.profiles to authenticated;

create policy "profiles: owner reads" on public.profiles
  for select to authenticated using (id = (select auth.uid()));
create policy "profiles: owner updates" on public.profiles
  for update to authenticated using (id = (select auth.uid())) with check (id = (select auth.uid()));

create or replace function private.create_profile() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.profiles (id, email, display_name)
  values (new.id, new.email, nullif(new.raw_user_meta_data ->> 'full_name', ''))
  on conflict (id) do nothing;
  return new;
end $$;

create trigger on_auth_user_created after insert on auth.users
  for each row execute function private.create_profile();

-- user_activities -------------------------------------------------------------
create table public.user_activities (
  id bigint generated always as identity primary key,
  user_id uuid not null references auth.users (id) on delete cascade,
  activity_type text not null check (activity_type ~ '^[a-z_]+\.[a-z_]+$'),
  details jsonb not null default '{}'::jsonb check (jsonb_typeof(details) = 'object'),
  created_at timestamptz not null default now()
);
comment on table public.user_activities is
  'Append-only audit trail of what a user did (session.created, session.archived, ...). '
  'Written only by private.record_activity; details never hold secrets.';
comment on column public.user_activities.activity_type is '<domain>.<event>, e.g. session.created.';

create index user_activities_user_created on public.user_activities (user_id, created_at desc, id desc);
create index user_activities_user_type on public.user_activities (user_id, activity_type, created_at desc);

alter table public.user_activities enable row level security;
revoke all on public.user_activities from anon, authenticated;
grant select on public.user_activities to authenticated;
revoke all on sequence public.user_activities_id_seq from anon, authenticated;
create policy "user_activities: owner reads" on public.user_activities
  for select to authenticated using (user_id = (select auth.uid()));

-- The one writer of activities. Skips users that are being deleted, so a
-- cascade from auth.users never fails on its own audit rows.
create or replace function private.record_activity(p_user uuid, p_type text, p_details jsonb)
returns void language sql security definer set search_path = '' as $$
  insert into public.user_activities (user_id, activity_type, details)
  select p_user, p_type, coalesce(p_details, '{}'::jsonb)
  where exists (select 1 from auth.users u where u.id = p_user)
$$;
revoke all on function private.record_activity(uuid, text, jsonb) from public, anon, authenticated;
grant execute on function private.record_activity(uuid, text, jsonb) to service_role;
