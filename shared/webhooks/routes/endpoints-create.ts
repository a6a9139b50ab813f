import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import {
  errorResponsesWith,
  jsonBody,
  jsonResponse,
  REFUSES_ANONYMOUS,
  userAccess,
} from "../../http/openapi.ts";
import { requireEncryptionKey } from "../../tokens/vault.ts";
import type { WebhooksConfig } from "../config.ts";
import { registerEndpoint } from "../endpoints.ts";
import { ownerOf } from "../owner.ts";
import { CreatedEndpoint, CreateEndpoint } from "../schemas.ts";

// oneTrip: the URL check (it resolves the host) comes before the first
// message; when it fails, the key is verified alone first (app.ts), so a bad
// key is 401 before a bad URL's 400.
const access = userAccess("webhooks:write", "auth", {
  refuseAnonymous: true,
  allowService: true,
  oneTrip: true,
});

export const route = createRoute({
  method: "post",
  path: "/endpoints",
  summary: "Register a webhook endpoint; its signing secret is in this response only",
  description: "Connection events (see GET /tokens/events) are delivered to it as Standard " +
    "Webhooks: POST with webhook-id, webhook-timestamp and webhook-signature (v1, HMAC-SHA256 " +
    "with the secret). The URL must be https on a host whose every address is public. At most " +
    "10 endpoints per owner. With the service key the endpoint is the service's and receives " +
    "every user's events.",
  tags: ["webhooks"],
  ...access,
  middleware: [access.middleware, requireEncryptionKey] as const,
  request: { body: jsonBody(CreateEndpoint) },
  responses: {
    201: jsonResponse("The endpoint, with its secret shown once", CreatedEndpoint),
    ...errorResponsesWith({
      ...REFUSES_ANONYMOUS,
      400: "Invalid input, or a URL that is not https or resolves to a non-public address",
      409: "The owner already has 10 endpoints (conflict)",
    })(400, 401, 403, 409, 413, 429, 503),
  },
});

export function register(app: App, config: WebhooksConfig) {
  app.openapi(route, async (c) => {
    const owner = ownerOf(c.get("principal"));
    return c.json(await registerEndpoint(owner, c.req.valid("json"), config), 201);
  });
}
