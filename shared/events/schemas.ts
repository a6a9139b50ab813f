// Connection events: the outbox public.connection_events, written by the
// database whenever a connection is made, renewed, lost or revoked (see the
// migration 20261130000800), read by their owner and delivered as webhooks.
import { z } from "@hono/zod-openapi";
import { pageQuery } from "../http/pagination.ts";

export const EVENT_TYPES = [
  "connection.connected",
  "connection.reconnected",
  "connection.needs_reauth",
  "connection.recovered",
  "connection.revoked",
  // Refresh health (migration 20261130001100).
  "connection.refresh_failing",
  "connection.exhausted",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export const EventTypeSchema = z.enum(EVENT_TYPES).openapi({
  description: "connected: a new connection; reconnected: authorized again (from active or " +
    "revoked); refresh_failing: the first of a run of transient refresh failures; exhausted: " +
    "failing for longer than TOKEN_EXHAUSTED_AFTER_HOURS, scheduled retries stop; needs_reauth: " +
    "the provider refused the refresh token; recovered: active again after refresh_failing, " +
    "exhausted or needs_reauth (a refresh that worked, or a reconnect); revoked: disconnected.",
});

export const ConnectionEvent = z.object({
  id: z.uuid().openapi({ description: "Also the webhook-id of its deliveries." }),
  type: EventTypeSchema,
  user_id: z.uuid(),
  connection_id: z.uuid(),
  data: z.record(z.string(), z.unknown()).openapi({
    description: "connection_id, provider, services, status, previous_status; error_code " +
      "(needs_reauth, refresh_failing, exhausted), refresh_failures and failing_since " +
      "(refresh_failing, exhausted), reconnected (recovered), reason and provider_revocation " +
      "(revoked). " +
      "Never a token or secret.",
  }),
  created_at: z.string(),
}).openapi("ConnectionEvent");

export type ConnectionEventRow = z.infer<typeof ConnectionEvent>;

export const ListEventsQuery = z.object({
  type: EventTypeSchema.optional().openapi({ description: "Only events of this type." }),
  connection_id: z.uuid().optional().openapi({ description: "Only events of this connection." }),
  ...pageQuery,
});

export const EventPage = z.object({
  data: z.array(ConnectionEvent),
  next_cursor: z.string().nullable(),
}).openapi("ConnectionEventPage");

export const EventCursor = z.tuple([z.string().regex(/^-?\d{1,19}$/), z.uuid()]);

// The body of an event's webhook (Standard Webhooks' recommended shape):
// type, when it happened, and its data with the user it concerns.
export function webhookBody(
  e: { type: string; created_at: string; user_id: string; data: Record<string, unknown> },
): string {
  return JSON.stringify({
    type: e.type,
    timestamp: new Date(e.created_at).toISOString(),
    data: { user_id: e.user_id, ...e.data },
  });
}
