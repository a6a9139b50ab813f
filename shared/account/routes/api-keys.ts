import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { notFound } from "../../core/errors.ts";
import {
  errorResponses,
  errorResponsesWith,
  jsonBody,
  jsonResponse,
  REFUSES_ANONYMOUS,
  userAccess,
} from "../../http/openapi.ts";
import type { AccountConfig } from "../config.ts";
import { createApiKey } from "../create-api-key.ts";
import { ApiKeyId, ApiKeyList, CreateApiKey, CreatedApiKey } from "../schemas.ts";
import { type ApiKeyRow, listApiKeys, revokeApiKey } from "../store.ts";

export const listRoute = createRoute({
  method: "get",
  path: "/api-keys",
  summary: "The caller's API keys (never the keys themselves)",
  tags: ["api keys"],
  ...userAccess("account:read", "default", { oneTrip: true }),
  responses: {
    200: jsonResponse("API keys, newest first", ApiKeyList),
    ...errorResponses(401, 403, 429),
  },
});

// Creating and revoking keys needs the user's own session: a key cannot mint
// or revoke keys. Anonymous users cannot create keys (nor can they in the
// database: the insert policy refuses is_anonymous).
export const createKeyRoute = createRoute({
  method: "post",
  path: "/api-keys",
  summary: "Create an API key; the full key is in this response only",
  tags: ["api keys"],
  ...userAccess("account:write", "auth", { sessionOnly: true, refuseAnonymous: true }),
  description: "A user holds at most API_KEYS_MAX_LIVE (default 25) live keys, neither revoked " +
    "nor expired; past that the answer is 409 api_key_limit until one is revoked or expires. " +
    "A key holds its own scopes and those of its role (role_id), may carry credits (spent by " +
    "costed requests, optionally refilled), named limits on top of the owner's, meta and an " +
    "external_id.",
  request: { body: jsonBody(CreateApiKey) },
  responses: {
    201: jsonResponse("The new key, with the secret shown once", CreatedApiKey),
    ...errorResponsesWith({
      ...REFUSES_ANONYMOUS,
      409: "The caller already holds the most live keys allowed (api_key_limit): revoke one first",
    })(400, 401, 403, 409, 413, 429),
  },
});

export const revokeRoute = createRoute({
  method: "delete",
  path: "/api-keys/{id}",
  summary: "Revoke an API key (idempotent)",
  tags: ["api keys"],
  ...userAccess("account:write", "default", { sessionOnly: true }),
  request: { params: ApiKeyId },
  responses: {
    204: { description: "Revoked" },
    ...errorResponses(400, 401, 403, 404, 429),
  },
});

export function register(app: App, config: AccountConfig) {
  app.openapi(listRoute, async (c) => {
    const [rows] = await queryAsUser(c.get("user"), listApiKeys()) as [ApiKeyRow[]];
    return c.json({ data: rows }, 200);
  });
  app.openapi(createKeyRoute, async (c) => {
    return c.json(await createApiKey(c.get("user"), c.req.valid("json"), config), 201);
  });
  app.openapi(revokeRoute, async (c) => {
    const { id } = c.req.valid("param");
    const [revoked] = await queryAsUser(c.get("user"), revokeApiKey(id));
    if (revoked.length === 0) throw notFound("API key");
    return c.body(null, 204);
  });
}
