// SQL of the sessions domain, as statements a route sends with queryAsUser
// (one round trip, as the caller): RLS scopes every one of them, so "not
// found" and "not yours" are the same answer.
import { z } from "@hono/zod-openapi";
import { table } from "../db/columns.ts";
import { ident, idents, join, lit, sql, type SqlText } from "../db/literal.ts";
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

// The client's fields as literals: the JSON ones as jsonb, the rest as text
// (zod has already refused any key that is not a writable column).
function writable(input: CreateSessionInput | UpdateSessionInput): [string, SqlText][] {
  return Object.entries(input)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => [key, typeof value === "object" ? lit.jsonb(value) : lit.text(value)]);
}

export function insertSession(input: CreateSessionInput): SqlText {
  const fields = writable(input);
  if (fields.length === 0) {
    return sql`insert into public.chat_sessions default values
               returning ${idents(SESSIONS.columns)}`;
  }
  return sql`insert into public.chat_sessions (${idents(fields.map(([k]) => k))})
             values (${join(fields.map(([, v]) => v), ", ")})
             returning ${idents(SESSIONS.columns)}`;
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

// UpdateSession requires at least one field.
export function updateSession(id: string, patch: UpdateSessionInput): SqlText {
  const set = writable(patch).map(([key, value]) => sql`${ident(key)} = ${value}`);
  return sql`update public.chat_sessions set ${join(set, ", ")}
              where id = ${lit.uuid(id)}
             returning ${idents(SESSIONS.columns)}`;
}

export function deleteSession(id: string): SqlText {
  return sql`delete from public.chat_sessions where id = ${lit.uuid(id)} returning id`;
}

// A status change in one statement that also reads the row when nothing
// changed: `changed` says whether this statement moved it. The second branch
// sees the row as it was before the update, so exactly one branch answers.
function moveStatus(id: string, to: "archived" | "active", fromWhere: SqlText): SqlText {
  return sql`
    with moved as (
      update public.chat_sessions set status = ${lit.text(to)}
       where id = ${lit.uuid(id)} and ${fromWhere}
      returning ${idents(SESSIONS.columns)}
    )
    select moved.*, true as changed from moved
    union all
    select ${idents(SESSIONS.columns)}, false from public.chat_sessions
     where id = ${lit.uuid(id)} and not exists (select 1 from moved)`;
}

// Archiving an archived session is a no-op that returns it unchanged.
export const archiveSession = (id: string) => moveStatus(id, "archived", sql`status <> 'archived'`);

// Restore applies to archived sessions only: changed is false for a session
// in another status, and no row means no session.
export const restoreSession = (id: string) => moveStatus(id, "active", sql`status = 'archived'`);

export type MovedSession = Session & { changed: boolean };

export type MessageListOptions = { order: "asc" | "desc"; limit: number; afterIndex?: number };

export function messagesPage(sessionId: string, o: MessageListOptions): SqlText {
  const after = o.afterIndex === undefined
    ? sql``
    : o.order === "asc"
    ? sql`and message_index > ${lit.int(o.afterIndex)}`
    : sql`and message_index < ${lit.int(o.afterIndex)}`;
  return sql`
    select ${idents(MESSAGES.columns)} from public.messages
     where session_id = ${lit.uuid(sessionId)} ${after}
     order by message_index ${o.order === "asc" ? sql`asc` : sql`desc`}
     limit ${lit.int(o.limit + 1)}`;
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

export function sessionTotals(): SqlText {
  return sql`select ${idents(SESSION_TOTALS.columns)} from public.session_totals
              where user_id = (select auth.uid())`;
}

export function statsOf(row: z.infer<typeof SESSION_TOTALS.schema> | undefined): SessionStats {
  if (!row) return NO_SESSIONS;
  const { total, active, paused, ended, archived, ...rest } = row;
  return { total, by_status: { active, paused, ended, archived }, ...rest };
}
