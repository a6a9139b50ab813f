// SQL of the sessions domain. Every function takes the request's transaction,
// so RLS has already scoped it to the caller: "not found" and "not yours" are
// the same answer.
import type postgres from "postgres";
import type { Row, Tx } from "../db/client.ts";
import type { CreateSessionInput, UpdateSessionInput } from "./schemas.ts";

export type SessionRow = {
  id: string;
  user_id: string;
  title: string;
  status: "active" | "paused" | "ended" | "archived";
  is_archived: boolean;
  archived_at: string | null;
  agent_type: string;
  agent_config: Record<string, unknown>;
  context_data: Record<string, unknown>;
  message_count: number;
  total_tokens_used: number;
  estimated_cost: number;
  last_activity_at: string;
  created_at: string;
  updated_at: string;
};

export type MessageRow = {
  id: string;
  session_id: string;
  message_index: number;
  role: "user" | "assistant" | "system" | "tool";
  content: string;
  content_type: string;
  parent_message_id: string | null;
  status: "pending" | "processing" | "completed" | "failed";
  error_code: string | null;
  error_message: string | null;
  agent_response_data: Record<string, unknown> | null;
  processing_time_ms: number | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  total_tokens: number | null;
  estimated_cost: number | null;
  has_voice_response: boolean;
  voice_response_url: string | null;
  has_avatar_response: boolean;
  avatar_session_id: string | null;
  metadata: Record<string, unknown>;
  created_at: string;
  updated_at: string;
};

const SESSION_COLUMNS = [
  "id",
  "user_id",
  "title",
  "status",
  "is_archived",
  "archived_at",
  "agent_type",
  "agent_config",
  "context_data",
  "message_count",
  "total_tokens_used",
  "estimated_cost",
  "last_activity_at",
  "created_at",
  "updated_at",
];

export const MESSAGE_COLUMNS = [
  "id",
  "session_id",
  "message_index",
  "role",
  "content",
  "content_type",
  "parent_message_id",
  "status",
  "error_code",
  "error_message",
  "agent_response_data",
  "processing_time_ms",
  "prompt_tokens",
  "completion_tokens",
  "total_tokens",
  "estimated_cost",
  "has_voice_response",
  "voice_response_url",
  "has_avatar_response",
  "avatar_session_id",
  "metadata",
  "created_at",
  "updated_at",
];

function writable(tx: Tx, input: CreateSessionInput | UpdateSessionInput): Row {
  const row: Row = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    row[key] = typeof value === "object" ? tx.json(value as postgres.JSONValue) : value;
  }
  return row;
}

export async function createSession(tx: Tx, input: CreateSessionInput): Promise<SessionRow> {
  const row = writable(tx, input);
  const keys = Object.keys(row);
  const [created] = keys.length
    ? await tx<SessionRow[]>`insert into public.chat_sessions ${tx(row, keys)}
                             returning ${tx(SESSION_COLUMNS)}`
    : await tx<SessionRow[]>`insert into public.chat_sessions default values
                             returning ${tx(SESSION_COLUMNS)}`;
  return created;
}

export type SessionListOptions = {
  status?: SessionRow["status"];
  includeArchived: boolean;
  limit: number;
  after?: { activityUs: string; id: string };
};

// Newest activity first; the keyset (last_activity_at, id) matches the index.
// The cursor carries microseconds since the epoch, so no row is skipped or
// repeated when several share a millisecond.
export async function listSessions(tx: Tx, o: SessionListOptions) {
  const statusFilter = o.status
    ? tx`and status = ${o.status}`
    : o.includeArchived
    ? tx``
    : tx`and status <> 'archived'`;
  const afterFilter = o.after
    ? tx`and (last_activity_at, id) < (timestamptz 'epoch' + ${o.after.activityUs}::int8 * interval '1 microsecond', ${o.after.id}::uuid)`
    : tx``;
  return await tx<(SessionRow & { activity_us: string })[]>`
    select ${tx(SESSION_COLUMNS)},
           (extract(epoch from last_activity_at) * 1000000)::int8::text as activity_us
      from public.chat_sessions
     where user_id = (select auth.uid()) ${statusFilter} ${afterFilter}
     order by last_activity_at desc, id desc
     limit ${o.limit + 1}`;
}

export async function getSession(tx: Tx, id: string): Promise<SessionRow | undefined> {
  const [row] = await tx<SessionRow[]>`
    select ${tx(SESSION_COLUMNS)} from public.chat_sessions where id = ${id}`;
  return row;
}

export async function updateSession(
  tx: Tx,
  id: string,
  patch: UpdateSessionInput,
): Promise<SessionRow | undefined> {
  const row = writable(tx, patch);
  const [updated] = await tx<SessionRow[]>`
    update public.chat_sessions set ${tx(row, Object.keys(row))}
     where id = ${id}
    returning ${tx(SESSION_COLUMNS)}`;
  return updated;
}

export async function deleteSession(tx: Tx, id: string): Promise<boolean> {
  const rows = await tx`delete from public.chat_sessions where id = ${id} returning id`;
  return rows.length === 1;
}

// Archiving an archived session is a no-op that returns it unchanged.
export async function archiveSession(tx: Tx, id: string): Promise<SessionRow | undefined> {
  const [row] = await tx<SessionRow[]>`
    update public.chat_sessions set status = 'archived'
     where id = ${id} and status <> 'archived'
    returning ${tx(SESSION_COLUMNS)}`;
  return row ?? await getSession(tx, id);
}

// Restore applies to archived sessions only; the caller tells a missing
// session (undefined) from one in another status (restored: false).
export async function restoreSession(
  tx: Tx,
  id: string,
): Promise<{ session: SessionRow; restored: boolean } | undefined> {
  const [row] = await tx<SessionRow[]>`
    update public.chat_sessions set status = 'active'
     where id = ${id} and status = 'archived'
    returning ${tx(SESSION_COLUMNS)}`;
  if (row) return { session: row, restored: true };
  const current = await getSession(tx, id);
  return current && { session: current, restored: false };
}

export type MessageListOptions = { order: "asc" | "desc"; limit: number; afterIndex?: number };

export async function listMessages(tx: Tx, sessionId: string, o: MessageListOptions) {
  const after = o.afterIndex === undefined
    ? tx``
    : o.order === "asc"
    ? tx`and message_index > ${o.afterIndex}`
    : tx`and message_index < ${o.afterIndex}`;
  return await tx<MessageRow[]>`
    select ${tx(MESSAGE_COLUMNS)} from public.messages
     where session_id = ${sessionId} ${after}
     order by message_index ${o.order === "asc" ? tx`asc` : tx`desc`}
     limit ${o.limit + 1}`;
}

export type SessionStatsRow = {
  total: number;
  active: number;
  paused: number;
  ended: number;
  archived: number;
  messages: number;
  tokens: number;
  estimated_cost: number;
  last_activity_at: string | null;
};

// One row kept by trigger (public.session_totals): the same at 100k sessions
// as at ten. A user without sessions has no row yet, hence the zeros.
export async function sessionStats(tx: Tx): Promise<SessionStatsRow> {
  const [row] = await tx<SessionStatsRow[]>`
    select coalesce(max(total), 0)::int as total,
           coalesce(max(active), 0)::int as active,
           coalesce(max(paused), 0)::int as paused,
           coalesce(max(ended), 0)::int as ended,
           coalesce(max(archived), 0)::int as archived,
           coalesce(max(messages), 0)::int8 as messages,
           coalesce(max(tokens), 0)::int8 as tokens,
           coalesce(max(estimated_cost), 0)::numeric as estimated_cost,
           max(last_activity_at) as last_activity_at
      from public.session_totals
     where user_id = (select auth.uid())`;
  return row;
}
