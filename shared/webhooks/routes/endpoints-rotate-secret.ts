import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import { requireEncryptionKey } from "../../tokens/vault.ts";
import type { WebhooksConfig } from "../config.ts";
import { rotateSecret } from "../endpoints.ts";
import { ownerOf } from "../owner.ts";
import { EndpointId, RotatedSecret, RotateSecret } from "../schemas.ts";

const access = userAccess("webhooks:write", "auth", { allowService: true, oneTrip: true });

export const route = createRoute({
  method: "post",
  path: "/endpoints/{id}/rotate-secret",
  summary: "Replace an endpoint's signing secret; the old one keeps signing for a grace period",
  description: "Until previous_secret_expires_at every delivery carries two signatures in " +
    "webhook-signature (space-separated), one per secret, so a receiver verifies with either " +
    "while it switches. The new secret is in this response only.",
  tags: ["webhooks"],
  ...access,
  middleware: [access.middleware, requireEncryptionKey] as const,
  request: { params: EndpointId, body: jsonBody(RotateSecret, false) },
  responses: {
    200: jsonResponse("The new secret", RotatedSecret),
    ...errorResponses(400, 401, 403, 404, 413, 429, 503),
  },
});

export function register(app: App, config: WebhooksConfig) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const grace = c.req.valid("json")?.grace_seconds ?? config.WEBHOOK_SECRET_GRACE_SECONDS;
    return c.json(await rotateSecret(ownerOf(c.get("principal")), id, grace), 200);
  });
}
