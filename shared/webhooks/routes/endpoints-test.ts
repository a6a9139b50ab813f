import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { requireEncryptionKey } from "../../tokens/vault.ts";
import type { WebhooksConfig } from "../config.ts";
import { ownerOf } from "../owner.ts";
import { EndpointId, SendResult } from "../schemas.ts";
import { testDelivery } from "../test-delivery.ts";

const access = userAccess("webhooks:write", "auth", { allowService: true, oneTrip: true });

export const route = createRoute({
  method: "post",
  path: "/endpoints/{id}/test",
  summary: "Send a signed webhook.test message to the endpoint now",
  description: "Signed and sent like every delivery (the URL checked again, no redirects " +
    "followed, WEBHOOK_TIMEOUT_MS), but not stored or retried: the answer says what happened. " +
    "Works on a disabled endpoint too.",
  tags: ["webhooks"],
  ...access,
  middleware: [access.middleware, requireEncryptionKey] as const,
  request: { params: EndpointId },
  responses: {
    200: jsonResponse("What the endpoint answered", SendResult),
    ...errorResponses(400, 401, 403, 404, 429, 503),
  },
});

export function register(app: App, config: WebhooksConfig) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await testDelivery(ownerOf(c.get("principal")), id, config), 200);
  });
}
