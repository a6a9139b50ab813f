import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { revokeConnection } from "../revoke.ts";
import { RevokeResult, TokenId } from "../schemas.ts";
import { requireEncryptionKey } from "../vault.ts";

const access = userAccess("tokens:write", "default", { oneTrip: true });

export const route = createRoute({
  method: "delete",
  path: "/{id}",
  summary: "Disconnect: revoke at the provider, then destroy the tokens here",
  description: "Google's grant is revoked through its RFC 7009 endpoint; Microsoft has none, so " +
    "the revocation is local and recorded as not_supported. When the provider fails the local " +
    "revocation still happens and provider_revocation says failed. Revoking again is a no-op.",
  tags: ["tokens"],
  ...access,
  middleware: [access.middleware, requireEncryptionKey] as const,
  request: { params: TokenId },
  responses: {
    200: jsonResponse("The revoked connection and what the provider said", RevokeResult),
    ...errorResponses(400, 401, 404, 503),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await revokeConnection(c.get("user"), id), 200);
  });
}
