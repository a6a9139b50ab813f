import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import {
  errorResponses,
  errorResponsesWith,
  jsonResponse,
  REFUSES_ANONYMOUS,
  userAccess,
} from "../../http/openapi.ts";
import { refreshNow } from "../access.ts";
import { providerErrorResponses, ServiceToken, TokenId } from "../schemas.ts";
import { requireEncryptionKey } from "../vault.ts";

// Vends or renews a provider's tokens: not for anonymous users.
const access = userAccess("tokens:write", "default", { refuseAnonymous: true });

export const route = createRoute({
  method: "post",
  path: "/{id}/refresh",
  summary: "Refresh a connection's access token now",
  description: "Logged as a manual refresh. Also the way out of exhausted (the schedule no " +
    "longer retries it): a success makes the connection active again. The answer is the " +
    "connection's metadata, never a token: the agent gets tokens from POST " +
    "/tokens/{provider}/access-token.",
  tags: ["tokens"],
  ...access,
  middleware: [access.middleware, requireEncryptionKey] as const,
  request: { params: TokenId },
  responses: {
    200: jsonResponse("The refreshed connection", ServiceToken),
    ...errorResponses(400, 401, 404, 503),
    ...errorResponsesWith(REFUSES_ANONYMOUS)(403),
    ...providerErrorResponses,
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await refreshNow(c.get("user"), id), 200);
  });
}
