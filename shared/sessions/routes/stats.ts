import { createRoute } from "@hono/zod-openapi";
import { asUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { SessionStats } from "../schemas.ts";
import { sessionStats } from "../store.ts";

export const route = createRoute({
  method: "get",
  path: "/stats",
  summary: "Totals over the caller's sessions",
  tags: ["sessions"],
  ...userAccess("sessions:read"),
  responses: {
    200: jsonResponse("Session statistics", SessionStats),
    ...errorResponses(401),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    return c.json(await asUser(c.get("user"), sessionStats), 200);
  });
}
