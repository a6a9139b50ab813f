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
import { startAuthorization } from "../authorize.ts";
import { AuthorizeRequest, AuthorizeResponse } from "../schemas.ts";

export const route = createRoute({
  method: "post",
  path: "/authorize",
  summary: "Start connecting a provider account: returns the URL to send the browser to",
  description: "Stores the SHA-256 of a random state (single use, ten minutes, bound to the " +
    "caller) with the PKCE S256 verifier, and returns the provider's authorization URL. Each " +
    "service is asked for at a level: `gmail:read` (read-only scopes) or `gmail` / " +
    "`gmail:write` (the full scopes). With connection_id, the authorization extends that " +
    "connection (incremental authorization): 404 when it is not the caller's, 409 when it is " +
    "revoked.",
  tags: ["oauth"],
  // Connecting a provider account is not for anonymous users.
  ...userAccess("tokens:write", "auth", { refuseAnonymous: true, oneTrip: true }),
  request: { body: jsonBody(AuthorizeRequest) },
  responses: {
    200: jsonResponse("Where to send the user", AuthorizeResponse),
    ...errorResponses(400, 401, 404, 409, 413, 429),
    ...errorResponsesWith(REFUSES_ANONYMOUS)(403),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const started = await startAuthorization(c.get("user"), c.req.valid("json"));
    c.header("Cache-Control", "no-store");
    return c.json(started, 200);
  });
}
