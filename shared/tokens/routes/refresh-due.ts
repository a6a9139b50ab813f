import { createRoute } from "@hono/zod-openapi";
import { requireService } from "../../auth/middleware.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonBody, jsonResponse } from "../../http/openapi.ts";
import { RefreshDueRequest, RefreshDueResult, serviceAuth } from "../schemas.ts";
import { requireEncryptionKey } from "../vault.ts";
import { refreshDue } from "../worker.ts";

export const route = createRoute({
  method: "post",
  path: "/refresh-due",
  summary: "Refresh every token that is due (service_role; pg_cron calls it every minute)",
  description: "Claims due connections (refresh_due_at: shortly before expiry when used within " +
    "the last day, at the provider's keep-alive when dormant) with FOR UPDATE SKIP LOCKED, " +
    "refreshes a few at a time, backs off exponentially on failure (refresh_failing, then " +
    "exhausted after TOKEN_EXHAUSTED_AFTER_HOURS) and marks invalid_grant as needs_reauth. Safe " +
    "to run concurrently: each token is refreshed once.",
  tags: ["tokens"],
  security: serviceAuth,
  middleware: [requireService(), requireEncryptionKey] as const,
  request: {
    body: jsonBody(RefreshDueRequest, false),
  },
  responses: {
    200: jsonResponse("What this run did", RefreshDueResult),
    // 502/503 when every attempt of the run failed; details hold its summary.
    ...errorResponses(400, 401, 403, 415, 502, 503),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const body = c.req.valid("json");
    return c.json(await refreshDue({ limit: body.limit, concurrency: body.concurrency }), 200);
  });
}
