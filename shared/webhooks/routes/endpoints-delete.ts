import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { errorResponses, userAccess } from "../../http/openapi.ts";
import { removeEndpoint } from "../endpoints.ts";
import { ownerOf } from "../owner.ts";
import { EndpointId } from "../schemas.ts";

export const route = createRoute({
  method: "delete",
  path: "/endpoints/{id}",
  summary: "Delete a webhook endpoint, its secret and its pending deliveries",
  tags: ["webhooks"],
  ...userAccess("webhooks:write", "default", { allowService: true, oneTrip: true }),
  request: { params: EndpointId },
  responses: {
    204: { description: "Deleted" },
    ...errorResponses(400, 401, 403, 404, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    await removeEndpoint(ownerOf(c.get("principal")), id);
    return c.body(null, 204);
  });
}
