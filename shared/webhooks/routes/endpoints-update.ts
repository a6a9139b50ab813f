import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import { changeEndpoint } from "../endpoints.ts";
import { ownerOf } from "../owner.ts";
import { EndpointId, UpdateEndpoint, WebhookEndpoint } from "../schemas.ts";

export const route = createRoute({
  method: "patch",
  path: "/endpoints/{id}",
  summary: "Change an endpoint's description, event filter, or whether it is enabled",
  description: "The URL cannot change: register a new endpoint (and delete this one). " +
    "Enabling an endpoint that answered 410 Gone resumes deliveries to it.",
  tags: ["webhooks"],
  ...userAccess("webhooks:write", "default", { allowService: true, oneTrip: true }),
  request: { params: EndpointId, body: jsonBody(UpdateEndpoint) },
  responses: {
    200: jsonResponse("The endpoint as changed", WebhookEndpoint),
    ...errorResponses(400, 401, 403, 404, 413, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await changeEndpoint(ownerOf(c.get("principal")), id, c.req.valid("json")), 200);
  });
}
