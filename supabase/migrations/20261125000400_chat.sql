-- Chat with the agent: client metadata on messages, Idempotency-Key records for
-- sends, and the maintenance that finishes replies an interrupted worker left
-- behind. The chat service writes assistant messages as service_role (clients
-- may insert role = 'user' messages only, see the messages policies).

-- messages.metadata -------------------------------------------------------------
alter table public.messages
  add column metadata jsonb not null default '{}'::jsonb
    check (jsonb_typeof(metadata) = 'object' and octet_length(metadata::text) <= 16384);
comment on column public.messages.metadata is
  'Client-supplied JSON object kept with the message (at most 16 KiB); never read by the agent.';
grant insert (metadata) on public.messages to authenticated;
-- The chat service names the user's message itself (a random UUID), so the
-- reply and the idempotency record can go out in the same round trip.
grant insert (id) on public.messages to authenticated;

-- Replies still processing are looked up by the maintenance sweep.
create index messages_processing on public.messages (created_at)
  where status = 'processing';

-- idempotency_keys ----------------------------------------------------------------
create table public.idempotency_keys (
  user_id uuid not null references auth.users (id) on delete cascade,
  scope text not null check (scope ~ '^[a-z_]+\.[a-z_]+$'),
  key text not null check (key ~ '^[\x21-\x7e]{1,255}$'),
  request_hash text not null check (request_hash ~ '^[0-9a-f]{64}$'),
  session_id uuid not null references public.chat_sessions (id) on delete cascade,
  user_message_id uuid not null references public.messages (id) on delete cascade,
  assistant_message_id uuid not null references public.messages (id) on delete cascade,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '24 hours',
  primary key (user_id, scope, key),
  check (expires_at > created_at)
);
comment on table public.idempotency_keys is
  'One row per Idempotency-Key a user sent with a chat message (scope chat.send): the hash of the '
  'request and the two messages it created, so a retry returns the first result instead of '
  'sending again. Written by the chat service only; expires after 24 hours.';
comment on column public.idempotency_keys.scope is 'The operation the key belongs to, e.g. chat.send.';
comment on column public.idempotency_keys.key is 'The client''s Idempotency-Key header (1-255 printable ASCII characters).';
comment on column public.idempotency_keys.request_hash is
  'SHA-256 (hex) of the canonical request (session and body); the same key with another body is refused.';
comment on column public.idempotency_keys.expires_at is 'After this the key is free again; rows are purged by private.chat_maintenance.';

create index idempotency_keys_session on public.idempotency_keys (session_id);
create index idempotency_keys_user_message on public.idempotency_keys (user_message_id);
create index idempotency_keys_assistant_message on public.idempotency_keys (assistant_message_id);
create index idempotency_keys_expires on public.idempotency_keys (expires_at);

alter table public.idempotency_keys enable row level security;
revoke all on public.idempotency_keys from anon, authenticated;
grant select on public.idempotency_keys to authenticated;

-- Owners may read their keys; only the chat service (service_role) writes them.
create policy "idempotency_keys: owner reads" on public.idempotency_keys
  for select to authenticated using (user_id = (select auth.uid()));

-- maintenance ----------------------------------------------------------------------
-- A reply is written in two transactions around the agent call. If the worker
-- dies in between (isolate killed, deploy), the reply would stay 'processing'
-- forever and a retry with its Idempotency-Key would answer 409 for a day.
-- The sweep marks such replies failed (keeping any text) and purges expired keys.
create or replace function private.chat_maintenance(p_stale_after interval default interval '15 minutes')
returns table (failed_replies integer, purged_keys integer)
language plpgsql security definer set search_path = '' as $$
declare
  n_failed integer;
  n_purged integer;
begin
  update public.messages
     set status = 'failed',
         error_code = 'interrupted',
         error_message = 'the reply was interrupted before it finished'
   where status = 'processing'
     and role = 'assistant'
     and created_at < now() - p_stale_after;
  get diagnostics n_failed = row_count;
  delete from public.idempotency_keys where expires_at <= now();
  get diagnostics n_purged = row_count;
  return query select n_failed, n_purged;
end $$;
comment on function private.chat_maintenance(interval) is
  'Fails assistant replies stuck in processing for longer than p_stale_after and deletes expired idempotency keys.';
revoke all on function private.chat_maintenance(interval) from public, anon, authenticated;
grant execute on function private.chat_maintenance(interval) to service_role;

create extension if not exists pg_cron;
select cron.schedule('chat-maintenance', '*/5 * * * *', 'select private.chat_maintenance()');
