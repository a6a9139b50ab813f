// SQL of the events domain: the owner's reads (RLS decides visibility).
import type { Tx } from "../db/client.ts";
import type { ConnectionEventRow, EventType } from "./schemas.ts";

export type EventListOptions = {
  type?: EventType;
  connectionId?: string;
  limit: number;
  after?: { createdUs: string; id: string };
};

// Newest first; the cursor is the last row's (created_at in microseconds, id).
export async function listEvents(tx: Tx, o: EventListOptions) {
  const type = o.type ? tx`and type = ${o.type}` : tx``;
  const connection = o.connectionId ? tx`and connection_id = ${o.connectionId}` : tx``;
  const after = o.after
    ? tx`and (created_at, id) < (timestamptz 'epoch' + ${o.after.createdUs}::int8 * interval '1 microsecond', ${o.after.id}::uuid)`
    : tx``;
  return await tx<(ConnectionEventRow & { created_us: string })[]>`
    select id, type, user_id, connection_id, data, created_at,
           (extract(epoch from created_at) * 1000000)::int8::text as created_us
      from public.connection_events
     where user_id = (select auth.uid()) ${type} ${connection} ${after}
     order by created_at desc, id desc
     limit ${o.limit + 1}`;
}
