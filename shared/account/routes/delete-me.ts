import { createRoute } from "@hono/zod-openapi";
import { asService } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { log } from "../../http/log.ts";
import { errorResponses, userAccess } from "../../http/openapi.ts";

export const route = createRoute({
  method: "delete",
  path: "/me",
  summary: "Delete the account and everything it owns (idempotent)",
  tags: ["account"],
  ...userAccess("account:write", "default", { sessionOnly: true }),
  responses: {
    204: { description: "Deleted, or already gone" },
    ...errorResponses(401, 403, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const user = c.get("user");
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
    });
    return c.body(null, 204);
  });
}
