-- Per-user totals over chat_sessions, kept by trigger like the sessions' own
-- counters, so GET /sessions/stats reads one row: aggregating every session
-- took 126 ms of SQL at 100k sessions (docs/benchmarks.md, row scaling).
-- Invariant: each row equals the aggregate over the user's chat_sessions
-- (pgTAP 090 checks it after every kind of change).

create table public.session_totals (
  user_id uuid primary key references auth.users (id) on delete cascade,
  total integer not null default 0,
  active integer not null default 0,
  paused integer not null default 0,
  ended integer not null default 0,
  archived integer not null default 0,
  messages bigint not null default 0,
  tokens bigint not null default 0,
  estimated_cost numeric(20, 6) not null default 0,
  last_activity_at timestamptz
);
comment on table public.session_totals is
  'One row per user with sessions: counts by status and sums of the sessions'' counters. '
  'Maintained by trigger on chat_sessions; clients only read their own.';

alter table public.session_totals enable row level security;
revoke all on public.session_totals from anon, authenticated;
grant select on public.session_totals to authenticated;
create policy "session_totals: owner reads" on public.session_totals
  for select to authenticated using (user_id = (select auth.uid()));

-- Moves a user's totals from one version of a session to another: o is null
-- when it arrives, n is null when it leaves.
create or replace function private.session_totals_shift(o public.chat_sessions, n public.chat_sessions)
returns void language sql security definer set search_path = '' as $$
  update public.session_totals t
     set total = t.total + (n.id is not null)::int - (o.id is not null)::int,
         active = t.active + (n.status is not distinct from 'active')::int
                           - (o.status is not distinct from 'active')::int,
         paused = t.paused + (n.status is not distinct from 'paused')::int
                           - (o.status is not distinct from 'paused')::int,
         ended = t.ended + (n.status is not distinct from 'ended')::int
                         - (o.status is not distinct from 'ended')::int,
         archived = t.archived + (n.status is not distinct from 'archived')::int
                               - (o.status is not distinct from 'archived')::int,
         messages = t.messages + coalesce(n.message_count, 0) - coalesce(o.message_count, 0),
         tokens = t.tokens + coalesce(n.total_tokens_used, 0) - coalesce(o.total_tokens_used, 0),
         estimated_cost = t.estimated_cost + coalesce(n.estimated_cost, 0)
                                           - coalesce(o.estimated_cost, 0),
         last_activity_at = greatest(t.last_activity_at, n.last_activity_at)
   where t.user_id = coalesce(n.user_id, o.user_id)
$$;

create or replace function private.session_totals_track() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'UPDATE' and new.user_id = old.user_id then
    -- Every message takes this path (it moves its session's counters).
    perform private.session_totals_shift(old, new);
  else
    if tg_op <> 'INSERT' then
      perform private.session_totals_shift(old, null);
    end if;
    if tg_op <> 'DELETE' then
      -- The row is created with the user's first session; never for a user
      -- being deleted (the cascade removes their sessions after them).
      insert into public.session_totals (user_id)
      select new.user_id where exists (select 1 from auth.users u where u.id = new.user_id)
      on conflict (user_id) do nothing;
      perform private.session_totals_shift(null, new);
    end if;
  end if;
  -- A maximum cannot be taken back: recompute it from the index when the
  -- latest activity may have left.
  if tg_op = 'DELETE' or (tg_op = 'UPDATE' and (new.user_id <> old.user_id
      or new.last_activity_at < old.last_activity_at)) then
    update public.session_totals t
       set last_activity_at = (select max(s.last_activity_at) from public.chat_sessions s
                                where s.user_id = t.user_id)
     where t.user_id = old.user_id;
  end if;
  return null;
end $$;
create trigger chat_sessions_totals
  after insert or delete
     or update of user_id, status, message_count, total_tokens_used, estimated_cost, last_activity_at
  on public.chat_sessions
  for each row execute function private.session_totals_track();

-- Sessions that exist already.
insert into public.session_totals
  (user_id, total, active, paused, ended, archived, messages, tokens, estimated_cost, last_activity_at)
select user_id, count(*),
       count(*) filter (where status = 'active'),
       count(*) filter (where status = 'paused'),
       count(*) filter (where status = 'ended'),
       count(*) filter (where status = 'archived'),
       sum(message_count), sum(total_tokens_used), sum(estimated_cost), max(last_activity_at)
  from public.chat_sessions
 group by user_id;
