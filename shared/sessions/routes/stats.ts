import { createRoute, type z } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { SessionStats } from "../schemas.ts";
import { type SESSION_TOTALS, sessionTotals, statsOf } from "../store.ts";

export const route = createRoute({
  method: "get",
  path: "/stats",
  summary: "Totals over the caller's sessions",
  tags: ["sessions"],
  ...userAccess("sessions:read", "default", { oneTrip: true }),
  responses: {
    200: jsonResponse("Session statistics", SessionStats),
    ...errorResponses(401),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const [[row]] = await queryAsUser(c.get("user"), sessionTotals());
    return c.json(statsOf(row as z.infer<typeof SESSION_TOTALS.schema> | undefined), 200);
  });
}
