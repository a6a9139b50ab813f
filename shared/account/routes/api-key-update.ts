import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import { changeApiKey } from "../change-api-key.ts";
import { ApiKey, ApiKeyId, UpdateApiKey } from "../schemas.ts";

// Like creating and revoking: the user's own session only, so a key can
// neither widen itself nor another key.
export const route = createRoute({
  method: "patch",
  path: "/api-keys/{id}",
  summary: "Change a live key: name, scopes, role, limits, credits, expiry, meta, external_id",
  tags: ["api keys"],
  ...userAccess("account:write", "default", { sessionOnly: true }),
  description: "Takes effect on the key's next request. A revoked or expired key does not " +
    "change (409). Every change is recorded as an api_key.updated activity.",
  request: { params: ApiKeyId, body: jsonBody(UpdateApiKey) },
  responses: {
    200: jsonResponse("The changed key", ApiKey),
    ...errorResponses(400, 401, 403, 404, 409, 413, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await changeApiKey(c.get("user"), id, c.req.valid("json")), 200);
  });
}
