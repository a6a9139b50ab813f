import { createRoute } from "@hono/zod-openapi";
import { requireService } from "../../auth/middleware.ts";
import { asService } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse } from "../../http/openapi.ts";
import { tokensConfig } from "../config.ts";
import { CleanupResult, serviceAuth } from "../schemas.ts";
import { cleanup } from "../store.ts";

export const route = createRoute({
  method: "post",
  path: "/cleanup",
  summary: "Remove expired states, old refresh logs and revoked connections past retention",
  description: "For the service and admins; pg_cron runs the same SQL daily. Connections that " +
    "are active or need reauthorization are never removed, however expired their access token.",
  tags: ["tokens"],
  security: serviceAuth,
  middleware: [requireService({ admins: true })] as const,
  responses: {
    200: jsonResponse("How many rows each step removed", CleanupResult),
    ...errorResponses(401, 403),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const config = tokensConfig();
    const counts = await asService((tx) =>
      cleanup(tx, config.TOKEN_LOG_RETENTION_DAYS, config.REVOKED_TOKEN_RETENTION_DAYS)
    );
    return c.json(counts, 200);
  });
}
