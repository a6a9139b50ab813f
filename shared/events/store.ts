// SQL of the events domain: the owner's reads (RLS decides visibility).
import { lit, sql, type SqlText } from "../db/literal.ts";
import type { ConnectionEventRow, EventType } from "./schemas.ts";

export type EventListOptions = {
  type?: EventType;
  connectionId?: string;
  limit: number;
  after?: { createdUs: string; id: string };
};

// Newest first; the cursor is the last row's (created_at in microseconds, id).
// A statement for queryAsUser (one round trip); one row more than the page
// tells whether there is a next one.
export function eventsPage(o: EventListOptions): SqlText {
  const type = o.type ? sql`and type = ${lit.text(o.type)}` : sql``;
  const connection = o.connectionId ? sql`and connection_id = ${lit.uuid(o.connectionId)}` : sql``;
  const after = o.after
    ? sql`and (created_at, id) < (timestamptz 'epoch' + ${
      lit.int(BigInt(o.after.createdUs))
    }::int8 * interval '1 microsecond', ${lit.uuid(o.after.id)})`
    : sql``;
  return sql`
    select id, type, user_id, connection_id, data, created_at,
           (extract(epoch from created_at) * 1000000)::int8::text as created_us
      from public.connection_events
     where user_id = (select auth.uid()) ${type} ${connection} ${after}
     order by created_at desc, id desc
     limit ${lit.int(o.limit + 1)}`;
}

export type EventPageRow = ConnectionEventRow & { created_us: string };
