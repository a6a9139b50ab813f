// SQL of the webhooks domain. An owner is a user (their transaction runs as
// the API's user role, under RLS) or the service (service_role, endpoints
// without a user); every statement also names the owner, so the service's
// transactions touch only the service's endpoints. Secrets go in and out only
// through the private.*webhook* functions, after the transaction has switched
// to service_role.
//
// Reads and the simple writes (change, delete) are statements a route sends
// with queryAsOwner (owner.ts): the role, the claims and the statements in one
// message, one round trip, like shared/sessions/store.ts. Registering an
// endpoint and rotating its secret switch to service_role mid-transaction, and
// the delivery worker claims and settles: those stay transactions (Tx).
import type { Tx } from "../db/client.ts";
import { idents, join, lit, sql, type SqlText } from "../db/literal.ts";
import type { EventType } from "../events/schemas.ts";
import { type DeliveryRow, ENDPOINT_COLUMNS, type EndpointRow } from "./schemas.ts";

// SQLSTATEs raised by the migration's functions.
export const ENDPOINT_CAP_REACHED = "WH409";
export const NO_SUCH_ENDPOINT = "02000";

// From here on the transaction acts as service_role without the user's
// claims; only after RLS has shown the endpoint is the user's.
export async function serviceTurn(tx: Tx): Promise<void> {
  await tx`select set_config('role', 'service_role', true),
                  set_config('request.jwt.claims', ${
    JSON.stringify({ role: "service_role" })
  }, true)`;
}

export async function insertEndpoint(
  tx: Tx,
  e: { url: string; description: string; eventTypes: EventType[] },
): Promise<EndpointRow> {
  // user_id defaults to auth.uid(): the user, or null for the service.
  const [row] = await tx<EndpointRow[]>`
    insert into public.webhook_endpoints (url, description, event_types)
    values (${e.url}, ${e.description}, ${e.eventTypes}::text[])
    returning ${tx(ENDPOINT_COLUMNS)}`;
  return row;
}

// The statements below name their owner as SQL (owner.ts ownerSql): a uuid
// literal, null for the service, or the claims of an API key verified earlier
// in the same message.

// The owner's endpoints, oldest first (rows: EndpointRow).
export function endpointsOf(owner: SqlText): SqlText {
  return sql`select ${idents(ENDPOINT_COLUMNS)} from public.webhook_endpoints
              where user_id is not distinct from ${owner}
              order by created_at, id`;
}

// One of the owner's endpoints (rows: EndpointRow, none when it is not theirs).
export function endpointById(owner: SqlText, id: string): SqlText {
  return sql`select ${idents(ENDPOINT_COLUMNS)} from public.webhook_endpoints
              where id = ${lit.uuid(id)} and user_id is not distinct from ${owner}`;
}

// In a transaction, the owner is a user's id, null for the service, or the
// claims an API key's verification set earlier in it (its owner is not known
// to the route before: owner.ts ownerRef).
export type OwnerRef = string | null | { claims: true };

export async function getEndpoint(
  tx: Tx,
  owner: OwnerRef,
  id: string,
  o: { lock?: boolean } = {},
): Promise<EndpointRow | undefined> {
  const lock = o.lock ? tx`for update` : tx``;
  const who = owner !== null && typeof owner === "object"
    ? tx`(select auth.uid())`
    : tx`${owner}::uuid`;
  const [row] = await tx<EndpointRow[]>`
    select ${tx(ENDPOINT_COLUMNS)} from public.webhook_endpoints
     where id = ${id} and user_id is not distinct from ${who} ${lock}`;
  return row;
}

// At least one field is given (the route's schema requires it). Rows:
// EndpointRow, none when the endpoint is not the owner's.
export function updateEndpoint(
  owner: SqlText,
  id: string,
  u: { description?: string; eventTypes?: EventType[]; enabled?: boolean },
): SqlText {
  const sets: SqlText[] = [];
  if (u.description !== undefined) sets.push(sql`description = ${lit.text(u.description)}`);
  if (u.eventTypes !== undefined) sets.push(sql`event_types = ${lit.textArray(u.eventTypes)}`);
  if (u.enabled !== undefined) {
    sets.push(sql`enabled = ${lit.bool(u.enabled)},
                  disabled_reason = ${lit.text(u.enabled ? null : "user")}`);
  }
  return sql`update public.webhook_endpoints set ${join(sets, ", ")}
              where id = ${lit.uuid(id)} and user_id is not distinct from ${owner}
             returning ${idents(ENDPOINT_COLUMNS)}`;
}

// Rows: the deleted endpoint's id, none when it is not the owner's.
export function deleteEndpoint(owner: SqlText, id: string): SqlText {
  return sql`delete from public.webhook_endpoints
              where id = ${lit.uuid(id)} and user_id is not distinct from ${owner}
             returning id`;
}

// Service role only (after serviceTurn for a user). Returns when the previous
// secret stops signing, or null.
export async function setSecret(
  tx: Tx,
  ownerId: string | null,
  id: string,
  secret: string,
  graceSeconds: number,
): Promise<string | null> {
  const [row] = await tx<{ expires: string | null }[]>`
    select private.set_webhook_secret(${id}::uuid, ${ownerId}::uuid, ${secret}, ${graceSeconds}::int)
           as expires`;
  return row.expires;
}

export async function signingSecrets(tx: Tx, id: string): Promise<string[]> {
  const [row] = await tx<{ secrets: string[] | null }[]>`
    select private.webhook_signing_secrets(${id}::uuid) as secrets`;
  return row?.secrets ?? [];
}

// Deliveries --------------------------------------------------------------------------------

export type DeliveryListOptions = {
  status?: DeliveryRow["status"];
  limit: number;
  after?: { createdUs: string; id: string };
};

// A page of an endpoint's deliveries, newest first (rows: DeliveryRow and
// created_us, the keyset's microseconds); send it with endpointById, which
// tells "no such endpoint" from "no deliveries".
export function deliveriesPage(
  owner: SqlText,
  endpointId: string,
  o: DeliveryListOptions,
): SqlText {
  const status = o.status ? sql`and d.status = ${lit.text(o.status)}` : sql``;
  const after = o.after
    ? sql`and (d.created_at, d.id) < (timestamptz 'epoch' + ${
      lit.int(BigInt(o.after.createdUs))
    } * interval '1 microsecond', ${lit.uuid(o.after.id)})`
    : sql``;
  return sql`
    select d.id, d.event_id, e.type as event_type, d.endpoint_id, d.status, d.attempts,
           d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.last_error,
           d.delivered_at, d.created_at,
           (extract(epoch from d.created_at) * 1000000)::int8::text as created_us
      from public.webhook_deliveries d
      join public.connection_events e on e.id = d.event_id
     where d.endpoint_id = ${lit.uuid(endpointId)}
       and d.user_id is not distinct from ${owner}
       ${status} ${after}
     order by d.created_at desc, d.id desc
     limit ${lit.int(o.limit + 1)}`;
}

export type DeliveryPageRow = DeliveryRow & { created_us: string };

export type ClaimedDelivery = {
  delivery_id: string;
  attempt: number;
  event_id: string;
  event_user_id: string;
  event_type: string;
  event_data: Record<string, unknown>;
  event_created_at: string;
  endpoint_id: string;
  url: string;
  secrets: string[];
};

export async function claimDeliveries(
  tx: Tx,
  limit: number,
  leaseSeconds: number,
): Promise<ClaimedDelivery[]> {
  return await tx<ClaimedDelivery[]>`
    select * from private.claim_webhook_deliveries(${limit}::int, ${leaseSeconds}::int)`;
}

export type Settlement =
  | { status: "delivered"; statusCode: number }
  | {
    status: "pending" | "failed";
    statusCode: number | null;
    error: string;
    retryInSeconds: number;
  };

// Records an attempt's outcome, unless a newer attempt took the delivery
// meanwhile (its lease ran out): then that attempt records its own.
export async function settleDelivery(
  tx: Tx,
  d: { id: string; attempt: number },
  s: Settlement,
): Promise<boolean> {
  const rows = s.status === "delivered"
    ? await tx`
        update public.webhook_deliveries set
          status = 'delivered', delivered_at = now(), last_status_code = ${s.statusCode},
          last_error = null
         where id = ${d.id} and attempts = ${d.attempt} and status = 'pending'
        returning id`
    : await tx`
        update public.webhook_deliveries set
          status = ${s.status}, last_status_code = ${s.statusCode}, last_error = ${s.error},
          next_attempt_at = case when ${s.status} = 'pending'
                                 then now() + make_interval(secs => ${s.retryInSeconds})
                                 else next_attempt_at end
         where id = ${d.id} and attempts = ${d.attempt} and status = 'pending'
        returning id`;
  return rows.length > 0;
}

// An endpoint that answered 410 Gone asked to receive nothing more.
export async function disableGone(tx: Tx, endpointId: string): Promise<void> {
  await tx`
    update public.webhook_endpoints set enabled = false, disabled_reason = 'gone'
     where id = ${endpointId} and enabled`;
}
