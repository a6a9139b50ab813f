import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { tokensConfig } from "../config.ts";
import { TokenStats } from "../schemas.ts";
import { statsOf, tokenStats } from "../store.ts";

export const route = createRoute({
  method: "get",
  path: "/stats",
  summary: "Connections by provider and status, expiring soon, refresh success over 24 h",
  tags: ["tokens"],
  ...userAccess("tokens:read", "default", { oneTrip: true }),
  responses: {
    200: jsonResponse("Connection statistics", TokenStats),
    ...errorResponses(401),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const window = tokensConfig().TOKEN_REFRESH_WINDOW_SECONDS;
    return c.json(statsOf(await queryAsUser(c.get("user"), ...tokenStats(window))), 200);
  });
}
