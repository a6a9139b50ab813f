// SQL of the sessions domain. Every function takes the request's transaction,
// so RLS has already scoped it to the caller: "not found" and "not yours" are
// the same answer.
import { z } from "@hono/zod-openapi";
import type postgres from "postgres";
import type { Row, Tx } from "../db/client.ts";
import { table } from "../db/columns.ts";
import { idents, lit, sql, type SqlText, textOf } from "../db/literal.ts";
import {
  type CreateSessionInput,
  Message,
  Session,
  SessionStats,
  type UpdateSessionInput,
} from "./schemas.ts";

// The rows the routes return, as their schemas declare them.
export const SESSIONS = table("public.chat_sessions", Session);
export const MESSAGES = table("public.messages", Message);

function writable(tx: Tx, input: CreateSessionInput | UpdateSessionInput): Row {
  const row: Row = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    row[key] = typeof value === "object" ? tx.json(value as postgres.JSONValue) : value;
  }
  return row;
}

export async function createSession(tx: Tx, input: CreateSessionInput): Promise<Session> {
  const row = writable(tx, input);
  const keys = Object.keys(row);
  const [created] = keys.length
    ? await tx<Session[]>`insert into public.chat_sessions ${tx(row, keys)}
                          returning ${tx(SESSIONS.columns)}`
    : await tx<Session[]>`insert into public.chat_sessions default values
                          returning ${tx(SESSIONS.columns)}`;
  return created;
}

export type SessionListOptions = {
  status?: Session["status"];
  includeArchived: boolean;
  limit: number;
  after?: { activityUs: string; id: string };
};

// Newest activity first; the keyset (last_activity_at, id) matches the index.
// The cursor carries microseconds since the epoch, so no row is skipped or
// repeated when several share a millisecond.
// The hot reads are statements, not transactions: a route sends each with
// queryAsUser, the role and claims in the same message, one round trip.
export function sessionsPage(o: SessionListOptions): SqlText {
  const statusFilter = o.status
    ? sql`and status = ${lit.text(o.status)}`
    : o.includeArchived
    ? sql``
    : sql`and status <> 'archived'`;
  const afterFilter = o.after
    ? sql`and (last_activity_at, id) < (timestamptz 'epoch' + ${
      lit.int(BigInt(o.after.activityUs))
    } * interval '1 microsecond', ${lit.uuid(o.after.id)})`
    : sql``;
  return sql`
    select ${idents(SESSIONS.columns)},
           (extract(epoch from last_activity_at) * 1000000)::int8::text as activity_us
      from public.chat_sessions
     where user_id = (select auth.uid()) ${statusFilter} ${afterFilter}
     order by last_activity_at desc, id desc
     limit ${lit.int(o.limit + 1)}`;
}

export type SessionPageRow = Session & { activity_us: string };

export function sessionById(id: string): SqlText {
  return sql`select ${idents(SESSIONS.columns)} from public.chat_sessions
              where id = ${lit.uuid(id)}`;
}

export async function getSession(tx: Tx, id: string): Promise<Session | undefined> {
  const [row] = await tx.unsafe<Session[]>(textOf(sessionById(id)));
  return row;
}

export async function updateSession(
  tx: Tx,
  id: string,
  patch: UpdateSessionInput,
): Promise<Session | undefined> {
  const row = writable(tx, patch);
  const [updated] = await tx<Session[]>`
    update public.chat_sessions set ${tx(row, Object.keys(row))}
     where id = ${id}
    returning ${tx(SESSIONS.columns)}`;
  return updated;
}

export async function deleteSession(tx: Tx, id: string): Promise<boolean> {
  const rows = await tx`delete from public.chat_sessions where id = ${id} returning id`;
  return rows.length === 1;
}

// Archiving an archived session is a no-op that returns it unchanged.
export async function archiveSession(tx: Tx, id: string): Promise<Session | undefined> {
  const [row] = await tx<Session[]>`
    update public.chat_sessions set status = 'archived'
     where id = ${id} and status <> 'archived'
    returning ${tx(SESSIONS.columns)}`;
  return row ?? await getSession(tx, id);
}

// Restore applies to archived sessions only; the caller tells a missing
// session (undefined) from one in another status (restored: false).
export async function restoreSession(
  tx: Tx,
  id: string,
): Promise<{ session: Session; restored: boolean } | undefined> {
  const [row] = await tx<Session[]>`
    update public.chat_sessions set status = 'active'
     where id = ${id} and status = 'archived'
    returning ${tx(SESSIONS.columns)}`;
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
  return await tx<Message[]>`
    select ${tx(MESSAGES.columns)} from public.messages
     where session_id = ${sessionId} ${after}
     order by message_index ${o.order === "asc" ? tx`asc` : tx`desc`}
     limit ${o.limit + 1}`;
}

// The stats are one row of public.session_totals, kept by trigger: the same
// at 100k sessions as at ten. The table holds them flat, by_status's counts
// beside the totals.
const { by_status: byStatus, ...totals } = SessionStats.shape;
export const SESSION_TOTALS = table(
  "public.session_totals",
  z.object({
    ...totals,
    ...byStatus.shape,
  }),
);

// A user without sessions has no row yet, hence the zeros.
const NO_SESSIONS: SessionStats = {
  total: 0,
  by_status: { active: 0, paused: 0, ended: 0, archived: 0 },
  messages: 0,
  tokens: 0,
  estimated_cost: 0,
  last_activity_at: null,
};

export async function sessionStats(tx: Tx): Promise<SessionStats> {
  const [row] = await tx<z.infer<typeof SESSION_TOTALS.schema>[]>`
    select ${tx(SESSION_TOTALS.columns)} from public.session_totals
     where user_id = (select auth.uid())`;
  if (!row) return NO_SESSIONS;
  const { total, active, paused, ended, archived, ...rest } = row;
  return { total, by_status: { active, paused, ended, archived }, ...rest };
}
