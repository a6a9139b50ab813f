import { createRoute } from "@hono/zod-openapi";
import { asService } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { log } from "../../http/log.ts";
import { errorResponses, userAccess } from "../../http/openapi.ts";
import { revokeAllForUser } from "../../tokens/revoke.ts";

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
    // Grants first: once the rows are gone nobody could revoke them. A
    // provider that fails is recorded and the local tokens die regardless.
    const revoked = await revokeAllForUser(user.userId, "account_deleted");
    const deleted = await asService(async (tx) => {
      const [row] = await tx<
        { deleted: boolean }[]
      >`select private.delete_user(${user.userId}) as deleted`;
      return row.deleted;
    });
    log("info", "account deleted", {
      request_id: c.get("requestId"),
      user_id: user.userId,
      deleted,
      connections_revoked: revoked.length,
      provider_failures: revoked.filter((r) => r.provider_revocation === "failed").length,
    });
    return c.body(null, 204);
  });
}
