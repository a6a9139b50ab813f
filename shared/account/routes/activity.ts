import { createRoute, z } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { decodeCursor, page } from "../../http/pagination.ts";
import { type Activity, ActivityPage, ListActivityQuery } from "../schemas.ts";
import { activityPage } from "../store.ts";

const ActivityCursor = z.tuple([z.number().int().positive()]);

export const route = createRoute({
  method: "get",
  path: "/activity",
  summary: "The caller's activity, newest first",
  tags: ["account"],
  ...userAccess("account:read", "default", { oneTrip: true }),
  request: { query: ListActivityQuery },
  responses: {
    200: jsonResponse("A page of activities", ActivityPage),
    ...errorResponses(400, 401, 403, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const q = c.req.valid("query");
    const beforeId = q.cursor ? decodeCursor(q.cursor, ActivityCursor)[0] : undefined;
    const [rows] = await queryAsUser(
      c.get("user"),
      activityPage({ type: q.type, limit: q.limit, beforeId }),
    ) as [Activity[]];
    return c.json(page(rows, q.limit, (a) => [a.id]), 200);
  });
}
