import { createRoute, z } from "@hono/zod-openapi";
import { asUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { decodeCursor, page } from "../../http/pagination.ts";
import { ActivityPage, ListActivityQuery } from "../schemas.ts";
import { listActivity } from "../store.ts";

const ActivityCursor = z.tuple([z.number().int().positive()]);

export const route = createRoute({
  method: "get",
  path: "/activity",
  summary: "The caller's activity, newest first",
  tags: ["account"],
  ...userAccess("account:read"),
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
    const rows = await asUser(
      c.get("user"),
      (tx) => listActivity(tx, { type: q.type, limit: q.limit, beforeId }),
    );
    return c.json(page(rows, q.limit, (a) => [a.id]), 200);
  });
}
