import { createRoute } from "@hono/zod-openapi";
import { requireService } from "../../auth/middleware.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonBody, jsonResponse } from "../../http/openapi.ts";
import { requireEncryptionKey } from "../../tokens/vault.ts";
import { DeliverRequest, DeliverResult, serviceAuth } from "../schemas.ts";
import { deliverDue } from "../worker.ts";

export const route = createRoute({
  method: "post",
  path: "/deliver",
  summary: "Deliver every due webhook (service_role; pg_cron calls it every minute)",
  description: "Claims due deliveries with FOR UPDATE SKIP LOCKED, a few at a time, signs and " +
    "posts them, and records each outcome: delivered, retried after an exponential backoff, " +
    "or failed after the last attempt (or a 410 Gone, which disables the endpoint). Safe to " +
    "run concurrently. Bounded per run by WEBHOOK_DELIVERY_BATCH_LIMIT and " +
    "WEBHOOK_DELIVERY_TIME_BUDGET_MS.",
  tags: ["webhooks"],
  security: serviceAuth,
  middleware: [requireService(), requireEncryptionKey] as const,
  request: { body: jsonBody(DeliverRequest, false) },
  responses: {
    200: jsonResponse("What this run did", DeliverResult),
    ...errorResponses(400, 401, 403, 415, 503),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const body = c.req.valid("json");
    return c.json(await deliverDue({ limit: body?.limit, concurrency: body?.concurrency }), 200);
  });
}
