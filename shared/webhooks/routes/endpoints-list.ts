import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { asOwner, ownerId, ownerOf } from "../owner.ts";
import { EndpointList } from "../schemas.ts";
import { listEndpoints } from "../store.ts";

export const route = createRoute({
  method: "get",
  path: "/endpoints",
  summary: "The caller's webhook endpoints (never their secrets)",
  description: "With the service key: the service's own endpoints, which receive every user's " +
    "events.",
  tags: ["webhooks"],
  ...userAccess("webhooks:read", "default", { allowService: true }),
  responses: {
    200: jsonResponse("Endpoints, oldest first (at most 10)", EndpointList),
    ...errorResponses(401, 403, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const owner = ownerOf(c.get("principal"));
    return c.json({ data: await asOwner(owner, (tx) => listEndpoints(tx, ownerId(owner))) }, 200);
  });
}
