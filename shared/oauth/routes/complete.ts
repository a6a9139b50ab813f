import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import { requireEncryptionKey } from "../../tokens/vault.ts";
import { completeConnection } from "../complete.ts";
import { CompleteRequest, CompleteResult } from "../schemas.ts";

const access = userAccess("tokens:write", "auth", { oneTrip: true });

export const route = createRoute({
  method: "post",
  path: "/complete",
  summary: "Finish connecting: redeem the callback's completion code as the user who started",
  description: "Stores the connection the callback parked. Only the user who called POST " +
    "/oauth/authorize can redeem its code; for anyone else, and for an unknown or used code, " +
    "the answer is the same 404, and a parked grant redeemed by someone else is revoked at the " +
    "provider. Single use, within ten minutes of the callback. The answer's status is partial " +
    "when the user granted less than was asked for: token.missing_access says what, " +
    "token.service_access what was granted (read or write per service).",
  tags: ["oauth"],
  security: access.security,
  middleware: [access.middleware, requireEncryptionKey] as const,
  request: { body: jsonBody(CompleteRequest) },
  responses: {
    201: jsonResponse("Connected", CompleteResult),
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 429, 503),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { completion } = c.req.valid("json");
    const token = await completeConnection(c.get("user"), completion);
    // partial: connected, but the user declined some of what was asked for.
    const status: "partial" | "connected" = Object.keys(token.missing_access).length
      ? "partial"
      : "connected";
    return c.json({ status, provider: token.provider, token }, 201);
  });
}
