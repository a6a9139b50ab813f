import { createRoute } from "@hono/zod-openapi";
import { asUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { tokensConfig } from "../config.ts";
import { TokenStats } from "../schemas.ts";
import { tokenStats } from "../store.ts";

export const route = createRoute({
  method: "get",
  path: "/stats",
  summary: "Connections by provider and status, expiring soon, refresh success over 24 h",
  tags: ["tokens"],
  ...userAccess("tokens:read"),
  responses: {
    200: jsonResponse("Connection statistics", TokenStats),
    ...errorResponses(401),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const window = tokensConfig().TOKEN_REFRESH_WINDOW_SECONDS;
    return c.json(await asUser(c.get("user"), (tx) => tokenStats(tx, window)), 200);
  });
}
