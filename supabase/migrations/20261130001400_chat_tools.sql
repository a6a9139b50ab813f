-- Tool calling in chat (issue 15): the agent's tool calls and their results are
-- messages of the session (role 'tool', one per call, children of the turn's
-- reply), and a write that leaves the user's account (sending mail, inviting
-- people) waits in chat_pending_actions until the user confirms or rejects it.
-- The chat service writes both as service_role; the user decides through the
-- API (oprina_api_user), which may only move a pending action on.

-- messages: the call a tool message answers -------------------------------------
alter table public.messages
  add column tool_call_id text check (tool_call_id ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  add column tool_name text check (tool_name ~ '^[a-z][a-z_]{0,63}$'),
  add column tool_arguments jsonb check (
    jsonb_typeof(tool_arguments) = 'object' and octet_length(tool_arguments::text) <= 65536
  ),
  -- A tool message always names its call; no other message carries one.
  add constraint messages_tool_fields check (
    case when role = 'tool'
      then tool_call_id is not null and tool_name is not null and tool_arguments is not null
      else tool_call_id is null and tool_name is null and tool_arguments is null
    end
  );
comment on column public.messages.tool_call_id is
  'role tool: the id the agent gave the call (OpenAI tool_calls[].id); null otherwise.';
comment on column public.messages.tool_name is
  'role tool: the tool the agent called (list_events, send_draft, ...); null otherwise.';
comment on column public.messages.tool_arguments is
  'role tool: the arguments the agent gave, as a JSON object; null otherwise. The content is the '
  'result as the agent was given it (size-capped); status pending means it awaits the user''s '
  'confirmation (see chat_pending_actions).';

-- chat_pending_actions ---------------------------------------------------------------
create table public.chat_pending_actions (
  id uuid primary key default gen_random_uuid(),
  user_id uuid not null references auth.users (id) on delete cascade,
  session_id uuid not null,
  message_id uuid not null unique,
  operation text not null check (operation in ('send_draft', 'create_event')),
  arguments jsonb not null check (
    jsonb_typeof(arguments) = 'object' and octet_length(arguments::text) <= 65536
  ),
  status text not null default 'pending'
    check (status in ('pending', 'running', 'completed', 'failed', 'rejected', 'expired')),
  result jsonb check (result is null or octet_length(result::text) <= 262144),
  error_code text check (char_length(error_code) <= 100),
  error_message text check (char_length(error_message) <= 2000),
  expires_at timestamptz not null,
  decided_at timestamptz,
  completed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check (expires_at > created_at),
  -- The action's session is its owner's, and its message is a message of that session.
  foreign key (session_id, user_id) references public.chat_sessions (id, user_id) on delete cascade,
  foreign key (message_id, session_id) references public.messages (id, session_id) on delete cascade,
  -- Decided means a decision time; finished means a finish time.
  check ((status = 'pending') = (decided_at is null)),
  check ((status in ('completed', 'failed')) = (completed_at is not null))
);
comment on table public.chat_pending_actions is
  'A write the agent asked for that leaves the user''s account (send_draft; create_event with '
  'attendees). It runs only when the user confirms it through the API, at most once, before '
  'expires_at; rejecting or letting it expire runs nothing. Written by the chat service; the owner '
  'moves it from pending to running (confirm), rejected or expired through the API.';
comment on column public.chat_pending_actions.message_id is
  'The tool message (role tool, status pending) that records the call; settled with the outcome.';
comment on column public.chat_pending_actions.arguments is
  'The operation''s input exactly as it will run (validated when the agent asked).';
comment on column public.chat_pending_actions.result is
  'The operation''s normalized result once completed.';

create index chat_pending_actions_user on public.chat_pending_actions (user_id, created_at desc);
create index chat_pending_actions_session_user on public.chat_pending_actions (session_id, user_id);
create index chat_pending_actions_message_session on public.chat_pending_actions (message_id, session_id);
create index chat_pending_actions_pending_expiry on public.chat_pending_actions (expires_at)
  where status = 'pending';

create trigger chat_pending_actions_updated_at before update on public.chat_pending_actions
  for each row execute function private.set_updated_at();

alter table public.chat_pending_actions enable row level security;
revoke all on public.chat_pending_actions from anon, authenticated;
grant select on public.chat_pending_actions to authenticated;
grant update (status, decided_at) on public.chat_pending_actions to oprina_api_user;
grant select, insert, update on public.chat_pending_actions to service_role;

create policy "chat_pending_actions: owner reads" on public.chat_pending_actions
  for select to authenticated using (user_id = (select auth.uid()));
-- The owner decides a pending action: confirm (running, run by the API), reject,
-- or record that it expired. Nothing else of it is the user's to change.
create policy "chat_pending_actions: owner decides" on public.chat_pending_actions
  for update to oprina_api_user
  using (user_id = (select auth.uid()) and status = 'pending')
  with check (
    user_id = (select auth.uid())
    and (status in ('running', 'rejected') or (status = 'expired' and expires_at <= now()))
  );

-- The sweep also settles actions nobody decided: expired, and their messages failed.
create or replace function private.chat_actions_expire()
returns integer
language plpgsql security definer set search_path = '' as $$
declare
  n integer;
begin
  with expired as (
    update public.chat_pending_actions
       set status = 'expired', decided_at = now()
     where status = 'pending' and expires_at <= now()
    returning message_id
  )
  update public.messages m
     set status = 'failed', error_code = 'confirmation_expired',
         error_message = 'the action was not confirmed before it expired; nothing was done'
    from expired e
   where m.id = e.message_id and m.status = 'pending';
  get diagnostics n = row_count;
  return n;
end $$;
comment on function private.chat_actions_expire() is
  'Marks pending chat actions past expires_at expired and fails their tool messages; returns how many.';
revoke all on function private.chat_actions_expire() from public, anon, authenticated;
grant execute on function private.chat_actions_expire() to service_role;

select cron.schedule('chat-actions-expire', '*/5 * * * *', 'select private.chat_actions_expire()');
