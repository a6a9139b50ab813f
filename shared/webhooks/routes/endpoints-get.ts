import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { notFound } from "../../core/errors.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { ownerOf, ownerSql, queryAsOwner } from "../owner.ts";
import { EndpointId, type EndpointRow, WebhookEndpoint } from "../schemas.ts";
import { endpointById } from "../store.ts";

export const route = createRoute({
  method: "get",
  path: "/endpoints/{id}",
  summary: "One webhook endpoint (never its secret)",
  tags: ["webhooks"],
  ...userAccess("webhooks:read", "default", { allowService: true, oneTrip: true }),
  request: { params: EndpointId },
  responses: {
    200: jsonResponse("The endpoint", WebhookEndpoint),
    ...errorResponses(400, 401, 403, 404, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const owner = ownerOf(c.get("principal"));
    const [[endpoint]] = await queryAsOwner(owner, endpointById(ownerSql(owner), id));
    if (!endpoint) throw notFound("webhook endpoint");
    return c.json(endpoint as EndpointRow, 200);
  });
}
