import { createRoute } from "@hono/zod-openapi";
import { generateApiKey } from "../../auth/api-keys.ts";
import { asUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { notFound } from "../../http/errors.ts";
import { errorResponses, jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import { ApiKeyId, ApiKeyList, CreateApiKey, CreatedApiKey } from "../schemas.ts";
import { insertApiKey, listApiKeys, revokeApiKey } from "../store.ts";

export const listRoute = createRoute({
  method: "get",
  path: "/api-keys",
  summary: "The caller's API keys (never the keys themselves)",
  tags: ["api keys"],
  ...userAccess("account:read"),
  responses: {
    200: jsonResponse("API keys, newest first", ApiKeyList),
    ...errorResponses(401, 403, 429),
  },
});

// Creating and revoking keys needs the user's own session: a key cannot mint
// or revoke keys.
export const createKeyRoute = createRoute({
  method: "post",
  path: "/api-keys",
  summary: "Create an API key; the full key is in this response only",
  tags: ["api keys"],
  ...userAccess("account:write", "auth", { sessionOnly: true }),
  request: { body: jsonBody(CreateApiKey) },
  responses: {
    201: jsonResponse("The new key, with the secret shown once", CreatedApiKey),
    ...errorResponses(400, 401, 403, 413, 429),
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

export function register(app: App) {
  app.openapi(listRoute, async (c) => {
    return c.json({ data: await asUser(c.get("user"), listApiKeys) }, 200);
  });
  app.openapi(createKeyRoute, async (c) => {
    const body = c.req.valid("json");
    const { key, prefix, hash } = generateApiKey();
    const row = await asUser(
      c.get("user"),
      (tx) =>
        insertApiKey(tx, {
          name: body.name,
          prefix,
          hash,
          scopes: body.scopes,
          expiresAt: body.expires_at,
        }),
    );
    return c.json({ ...row, key }, 201);
  });
  app.openapi(revokeRoute, async (c) => {
    const { id } = c.req.valid("param");
    const revoked = await asUser(c.get("user"), (tx) => revokeApiKey(tx, id));
    if (!revoked) throw notFound("API key");
    return c.body(null, 204);
  });
}
