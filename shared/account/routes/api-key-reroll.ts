import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import { rerollKey } from "../change-api-key.ts";
import { ApiKeyId, CreatedApiKey, RerollApiKey } from "../schemas.ts";

export const route = createRoute({
  method: "post",
  path: "/api-keys/{id}/reroll",
  summary: "A new secret for a live key; the old one works for grace_seconds more",
  tags: ["api keys"],
  ...userAccess("account:write", "auth", { sessionOnly: true }),
  description: "The key keeps its id, scopes, limits, credits and usage. The new secret is in " +
    "this response only. The old secret keeps working until previous_expires_at (grace_seconds, " +
    "0 to 86400; 0 ends it now); revoking the key ends both. Recorded as api_key.rerolled.",
  request: { params: ApiKeyId, body: jsonBody(RerollApiKey) },
  responses: {
    200: jsonResponse("The key with its new secret, shown once", CreatedApiKey),
    ...errorResponses(400, 401, 403, 404, 409, 413, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const { grace_seconds } = c.req.valid("json");
    return c.json(await rerollKey(c.get("user"), id, grace_seconds), 200);
  });
}
