import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { ownerOf, ownerSql, queryAsOwner } from "../owner.ts";
import { EndpointList, type EndpointRow } from "../schemas.ts";
import { endpointsOf } from "../store.ts";

export const route = createRoute({
  method: "get",
  path: "/endpoints",
  summary: "The caller's webhook endpoints (never their secrets)",
  description: "With the service key: the service's own endpoints, which receive every user's " +
    "events.",
  tags: ["webhooks"],
  ...userAccess("webhooks:read", "default", { allowService: true, oneTrip: true }),
  responses: {
    200: jsonResponse("Endpoints, oldest first (at most 10)", EndpointList),
    ...errorResponses(401, 403, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const owner = ownerOf(c.get("principal"));
    const [rows] = await queryAsOwner(owner, endpointsOf(ownerSql(owner)));
    return c.json({ data: rows as EndpointRow[] }, 200);
  });
}
