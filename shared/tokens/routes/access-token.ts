import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import {
  errorResponses,
  errorResponsesWith,
  jsonBody,
  jsonResponse,
  REFUSES_ANONYMOUS,
  userAccess,
} from "../../http/openapi.ts";
import { getAccessToken } from "../access.ts";
import {
  AccessToken,
  AccessTokenRequest,
  providerErrorResponses,
  ProviderParam,
} from "../schemas.ts";
import { requireEncryptionKey } from "../vault.ts";

// Vends (and if due, renews) a provider's tokens: its own narrow scope, not for
// anonymous users; the service key may vend for a user it names.
const access = userAccess("tokens:access", "default", {
  refuseAnonymous: true,
  allowService: "allowed: vends for the user named in user_id (a server-side agent)",
});

export const route = createRoute({
  method: "post",
  path: "/{provider}/access-token",
  summary: "A fresh access token for the agent",
  description: "Refreshes first when the token expires within the refresh window; concurrent " +
    "callers wait for that one refresh. A refresh_failing connection's token is served while it " +
    "is valid; an exhausted one's too, but it is never refreshed here (409 connection_exhausted). " +
    "The only route that returns a token, to its owner, with Cache-Control: no-store.",
  tags: ["tokens"],
  ...access,
  middleware: [access.middleware, requireEncryptionKey] as const,
  request: {
    params: ProviderParam,
    body: jsonBody(AccessTokenRequest, false),
  },
  responses: {
    200: jsonResponse("A valid access token", AccessToken),
    ...errorResponses(400, 401, 404, 415, 503),
    ...errorResponsesWith(REFUSES_ANONYMOUS)(403),
    ...providerErrorResponses,
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { provider } = c.req.valid("param");
    const body = c.req.valid("json");
    const grant = await getAccessToken(c.get("principal"), provider, {
      tokenId: body.token_id,
      service: body.service,
      userId: body.user_id,
      forceRefresh: body.force_refresh,
    });
    c.header("Cache-Control", "no-store");
    c.header("Pragma", "no-cache");
    return c.json(grant, 200);
  });
}
