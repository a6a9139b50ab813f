-- Chat sessions and their messages. Counters and the per-session message
-- sequence are kept by triggers, so no client can race or forge them.

create table public.chat_sessions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null default auth.uid() references auth.users (id) on delete cascade,
  title text not null default 'New chat' check (char_length(title) between 1 and 200),
  status text not null default 'active' check (status in ('active', 'paused', 'ended', 'archived')),
  is_archived boolean generated always as (status = 'archived') stored,
  archived_at timestamptz,
  agent_type text not null default 'default' check (agent_type ~ '^[a-z0-9_-]{1,50}$'),
  agent_config jsonb not null default '{}'::jsonb check (jsonb_typeof(agent_config) = 'object'),
  context_data jsonb not null default '{}'::jsonb check (jsonb_typeof(context_data) = 'object'),
  message_count integer not null default 0 check (message_count >= 0),
  last_message_index integer not null default 0 check (last_message_index >= 0),
  total_tokens_used bigint not null default 0 check (total_tokens_used >= 0),
  estimated_cost numeric(14, 6) not null default 0 check (estimated_cost >= 0),
  last_activity_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (id, user_id)
);
comment on table public.chat_sessions is
  'A conversation between one user and the agent. Counters are trigger-maintained.';
comment on column public.chat_sessions.status is
  'active | paused | ended | archived; archived sessions are hidden from default lists and refuse new messages.';
comment on column public.chat_sessions.agent_config is 'Per-session agent settings (model, temperature, persona).';
comment on column public.chat_sessions.context_data is 'Free-form context the client keeps with the session.';
comment on column public.chat_sessions.message_count is 'Messages in the session; maintained by trigger.';
comment on column public.chat_sessions.last_message_index is 'Sequence source for messages.message_index.';
comment on column public.chat_sessions.total_tokens_used is 'Sum of messages.total_tokens; maintained by trigger.';
comment on column public.chat_sessions.estimated_cost is 'Sum of messages.estimated_cost in USD; maintained by trigger.';

create index chat_sessions_user_activity
  on public.chat_sessions (user_id, last_activity_at desc, id desc);
create index chat_sessions_user_status_activity
  on public.chat_sessions (user_id, status, last_activity_at desc, id desc);

create trigger chat_sessions_updated_at before update on public.chat_sessions
  for each row execute function private.set_updated_at();

create or replace function private.chat_sessions_track_status() returns trigger
language plpgsql set search_path = '' as $$
begin
  if new.status <> 'archived' then
    new.archived_at := null;
  elsif tg_op = 'INSERT' or old.status <> 'archived' then
    new.archived_at := now();
  end if;
  return new;
end $$;
create trigger chat_sessions_track_status before insert or update of status on public.chat_sessions
  for each row execute function private.chat_sessions_track_status();

create or replace function private.chat_sessions_audit() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'INSERT' then
    perform private.record_activity(new.user_id, 'session.created',
      jsonb_build_object('session_id', new.id, 'title', new.title));
  elsif tg_op = 'DELETE' then
    perform private.record_activity(old.user_id, 'session.deleted',
      jsonb_build_object('session_id', old.id, 'message_count', old.message_count));
  elsif new.status = 'archived' and old.status <> 'archived' then
    perform private.record_activity(new.user_id, 'session.archived', jsonb_build_object('session_id', new.id));
  elsif old.status = 'archived' and new.status <> 'archived' then
    perform private.record_activity(new.user_id, 'session.restored', jsonb_build_object('session_id', new.id));
  end if;
  return null;
end $$;
create trigger chat_sessions_audit after insert or delete or update of status on public.chat_sessions
  for each row execute function private.chat_sessions_audit();

alter table public.chat_sessions enable row level security;
revoke all on public.chat_sessions from anon, authenticated;
grant select, delete on public.chat_sessions to authenticated;
grant insert (title, status, agent_type, agent_config, context_data) on public.chat_sessions to authenticated;
grant update (title, status, agent_type, agent_config, context_data) on public.chat_sessions to authenticated;

create policy "chat_sessions: owner reads" on public.chat_sessions
  for select to authenticated using (user_id = (select auth.uid()));
create policy "chat_sessions: owner creates" on public.chat_sessions
  for insert to authenticated with check (user_id = (select auth.uid()));
create policy "chat_sessions: owner updates" on public.chat_sessions
  for update to authenticated using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
create policy "chat_sessions: owner deletes" on public.chat_sessions
  for delete to authenticated using (user_id = (select auth.uid()));

-- messages --------------------------------------------------------------------
create table public.messages (
  id uuid primary key default gen_random_uuid(),
  session_id uuid not null,
  user_id uuid not null default auth.uid(),
  message_index integer not null,
  role text not null check (role in ('user', 'assistant', 'system', 'tool')),
  content text not null default '' check (char_length(content) <= 100000),
  content_type text not null default 'text' check (content_type in ('text', 'markdown', 'json', 'voice')),
  parent_message_id uuid,
  status text not null default 'completed' check (status in ('pending', 'processing', 'completed', 'failed')),
  error_code text,
  error_message text check (char_length(error_message) <= 2000),
  agent_response_data jsonb check (agent_response_data is null or jsonb_typeof(agent_response_data) = 'object'),
  processing_time_ms integer check (processing_time_ms >= 0),
  prompt_tokens integer check (prompt_tokens >= 0),
  completion_tokens integer check (completion_tokens >= 0),
  total_tokens integer check (total_tokens >= 0),
  estimated_cost numeric(14, 6) check (estimated_cost >= 0),
  has_voice_response boolean not null default false,
  voice_response_url text check (char_length(voice_response_url) <= 2048),
  has_avatar_response boolean not null default false,
  avatar_session_id text check (char_length(avatar_session_id) <= 200),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (session_id, message_index),
  unique (id, session_id),
  -- A parent is always a message of the same session.
  foreign key (parent_message_id, session_id) references public.messages (id, session_id)
    on delete set null (parent_message_id),
  -- The composite key makes a message's owner the session's owner, always.
  foreign key (session_id, user_id) references public.chat_sessions (id, user_id) on delete cascade
);
comment on table public.messages is
  'Messages of a chat session in order (message_index is a gap-free per-session sequence), '
  'with the agent''s usage, timing and voice/avatar data.';
comment on column public.messages.message_index is 'Position in the session, 1-based; assigned by trigger.';
comment on column public.messages.agent_response_data is 'Raw agent metadata (model, finish reason); no secrets.';
comment on column public.messages.prompt_tokens is 'Usage columns: filled for assistant messages when the agent reports usage.';
comment on column public.messages.has_voice_response is 'Voice/avatar columns: set by the client after rendering.';

create index messages_user_id on public.messages (user_id);
create index messages_parent on public.messages (parent_message_id) where parent_message_id is not null;

create trigger messages_updated_at before update on public.messages
  for each row execute function private.set_updated_at();

-- Takes the next index under the session's row lock, so concurrent inserts
-- into one session serialize and the sequence has no gaps or duplicates.
-- Archived and ended sessions take no new messages.
create or replace function private.messages_before_insert() returns trigger
language plpgsql security definer set search_path = '' as $$
declare
  current_status text;
begin
  update public.chat_sessions s
     set last_message_index = s.last_message_index + 1,
         message_count = s.message_count + 1,
         total_tokens_used = s.total_tokens_used + coalesce(new.total_tokens, 0),
         estimated_cost = s.estimated_cost + coalesce(new.estimated_cost, 0),
         last_activity_at = now()
   where s.id = new.session_id and s.user_id = new.user_id
     and s.status not in ('archived', 'ended')
  returning s.last_message_index into new.message_index;
  if new.message_index is null then
    select s.status into current_status from public.chat_sessions s
     where s.id = new.session_id and s.user_id = new.user_id;
    if current_status is null then
      raise exception 'chat session % not found', new.session_id using errcode = 'foreign_key_violation';
    end if;
    raise exception 'chat session % is %', new.session_id, current_status
      using errcode = 'object_not_in_prerequisite_state';
  end if;
  return new;
end $$;
create trigger messages_before_insert before insert on public.messages
  for each row execute function private.messages_before_insert();

-- Usage usually arrives after the insert (the agent answers later): add the difference.
create or replace function private.messages_after_usage() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  update public.chat_sessions s
     set total_tokens_used = s.total_tokens_used
           + coalesce(new.total_tokens, 0) - coalesce(old.total_tokens, 0),
         estimated_cost = s.estimated_cost
           + coalesce(new.estimated_cost, 0) - coalesce(old.estimated_cost, 0),
         last_activity_at = now()
   where s.id = new.session_id;
  return null;
end $$;
create trigger messages_after_usage after update of total_tokens, estimated_cost on public.messages
  for each row
  when (old.total_tokens is distinct from new.total_tokens
        or old.estimated_cost is distinct from new.estimated_cost)
  execute function private.messages_after_usage();

create or replace function private.messages_after_delete() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  update public.chat_sessions s
     set message_count = greatest(s.message_count - 1, 0),
         total_tokens_used = greatest(s.total_tokens_used - coalesce(old.total_tokens, 0), 0),
         estimated_cost = greatest(s.estimated_cost - coalesce(old.estimated_cost, 0), 0)
   where s.id = old.session_id;
  return null;
end $$;
create trigger messages_after_delete after delete on public.messages
  for each row execute function private.messages_after_delete();

alter table public.messages enable row level security;
revoke all on public.messages from anon, authenticated;
grant select on public.messages to authenticated;
grant insert (session_id, role, content, content_type, parent_message_id) on public.messages to authenticated;
grant update (has_voice_response, voice_response_url, has_avatar_response, avatar_session_id)
  on public.messages to authenticated;

create policy "messages: owner reads" on public.messages
  for select to authenticated using (user_id = (select auth.uid()));
-- Clients write their own words only; assistant, system and tool messages come
-- from the chat service.
create policy "messages: owner writes user messages" on public.messages
  for insert to authenticated with check (user_id = (select auth.uid()) and role = 'user');
create policy "messages: owner updates" on public.messages
  for update to authenticated using (user_id = (select auth.uid())) with check (user_id = (select auth.uid()));
