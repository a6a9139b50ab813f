import { createRoute } from "@hono/zod-openapi";
import { requireService } from "../../auth/middleware.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse } from "../../http/openapi.ts";
import { serviceAuth } from "../../tokens/schemas.ts";
import { requireEncryptionKey } from "../../tokens/vault.ts";
import { disposeAbandoned } from "../grants.ts";
import { CleanupResult } from "../schemas.ts";

export const route = createRoute({
  method: "post",
  path: "/cleanup",
  summary: "Revoke grants nobody completed (service; pg_cron calls it every five minutes)",
  description: "Takes parked grants whose ten minutes are over, a batch at a time, revokes each " +
    "at the provider (unless the account is connected anyway) and deletes it.",
  tags: ["oauth"],
  security: serviceAuth,
  middleware: [requireService({ admins: true }), requireEncryptionKey] as const,
  responses: {
    200: jsonResponse("What this run revoked", CleanupResult),
    ...errorResponses(401, 403, 503),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => c.json(await disposeAbandoned(), 200));
}
