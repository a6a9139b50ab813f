import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { usageOf } from "../key-usage.ts";
import { ApiKeyId, ApiKeyUsage, UsageQuery } from "../schemas.ts";

export const route = createRoute({
  method: "get",
  path: "/api-keys/{id}/usage",
  summary: "A key's requests per UTC day, by outcome",
  tags: ["api keys"],
  ...userAccess("account:read", "default", { oneTrip: true }),
  description: "Outcomes: valid, rate_limited, usage_exceeded, insufficient_scope, expired, " +
    "revoked. Every verification of the key counts, whatever the route then answered.",
  request: { params: ApiKeyId, query: UsageQuery },
  responses: {
    200: jsonResponse("Usage per day", ApiKeyUsage),
    ...errorResponses(400, 401, 403, 404, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await usageOf(c.get("user"), id, c.req.valid("query").days), 200);
  });
}
