import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { notFound } from "../../core/errors.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { decodeCursor, page } from "../../http/pagination.ts";
import { ownerOf, ownerSql, queryAsOwner } from "../owner.ts";
import { DeliveryCursor, DeliveryPage, EndpointId, ListDeliveriesQuery } from "../schemas.ts";
import { deliveriesPage, type DeliveryPageRow, endpointById } from "../store.ts";

export const route = createRoute({
  method: "get",
  path: "/endpoints/{id}/deliveries",
  summary: "Deliveries to one endpoint, newest first: status, attempts, last answer",
  description: "pending (next_attempt_at says when), delivered, or failed (attempts exhausted, " +
    "or 410 Gone). last_error is a short code; response bodies are never kept.",
  tags: ["webhooks"],
  ...userAccess("webhooks:read", "default", { allowService: true, oneTrip: true }),
  request: { params: EndpointId, query: ListDeliveriesQuery },
  responses: {
    200: jsonResponse("A page of deliveries", DeliveryPage),
    ...errorResponses(400, 401, 403, 404, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const q = c.req.valid("query");
    const after = q.cursor ? decodeCursor(q.cursor, DeliveryCursor) : undefined;
    const owner = ownerOf(c.get("principal"));
    const [[endpoint], rows] = await queryAsOwner(
      owner,
      endpointById(ownerSql(owner), id),
      deliveriesPage(ownerSql(owner), id, {
        status: q.status,
        limit: q.limit,
        after: after && { createdUs: after[0], id: after[1] },
      }),
    );
    if (!endpoint) throw notFound("webhook endpoint");
    const result = page(rows as DeliveryPageRow[], q.limit, (r) => [r.created_us, r.id]);
    return c.json({ ...result, data: result.data.map(({ created_us: _, ...d }) => d) }, 200);
  });
}
