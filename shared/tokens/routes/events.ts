import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import { EventCursor, EventPage, ListEventsQuery } from "../../events/schemas.ts";
import { type EventPageRow, eventsPage } from "../../events/store.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { decodeCursor, page } from "../../http/pagination.ts";

export const route = createRoute({
  method: "get",
  path: "/events",
  summary: "The caller's connection events, newest first",
  description: "Every connect, reconnect, revoke and change of a connection's status, as the " +
    "database recorded it. The same events are delivered to the caller's webhook endpoints " +
    "(see the webhooks function); an event's id is the webhook-id of its deliveries.",
  tags: ["tokens"],
  ...userAccess("tokens:read", "default", { oneTrip: true }),
  request: { query: ListEventsQuery },
  responses: {
    200: jsonResponse("A page of events", EventPage),
    ...errorResponses(400, 401, 403, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const q = c.req.valid("query");
    const after = q.cursor ? decodeCursor(q.cursor, EventCursor) : undefined;
    const [rows] = await queryAsUser(
      c.get("user"),
      eventsPage({
        type: q.type,
        connectionId: q.connection_id,
        limit: q.limit,
        after: after && { createdUs: after[0], id: after[1] },
      }),
    ) as EventPageRow[][];
    const result = page(rows, q.limit, (r) => [r.created_us, r.id]);
    return c.json({ ...result, data: result.data.map(({ created_us: _, ...e }) => e) }, 200);
  });
}
