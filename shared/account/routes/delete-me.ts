import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { log } from "../../core/log.ts";
import { errorResponses, userAccess } from "../../http/openapi.ts";
import { deleteAccount } from "../delete-account.ts";

export const route = createRoute({
  method: "delete",
  path: "/me",
  summary:
    "Revoke every provider grant, then delete the account and everything it owns (idempotent)",
  tags: ["account"],
  ...userAccess("account:write", "default", { sessionOnly: true }),
  responses: {
    204: { description: "Deleted, or already gone" },
    ...errorResponses(401, 403, 429, 503),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const user = c.get("user");
    const { deleted, revoked, parked } = await deleteAccount(user.userId);
    log("info", "account deleted", {
      request_id: c.get("requestId"),
      user_id: user.userId,
      deleted,
      connections_revoked: revoked.length,
      parked_grants_revoked: parked,
      provider_failures: revoked.filter((r) => r.provider_revocation === "failed").length,
    });
    return c.body(null, 204);
  });
}
