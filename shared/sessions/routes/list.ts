import { createRoute, z } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { decodeCursor, page } from "../../http/pagination.ts";
import { ListSessionsQuery, SessionPage } from "../schemas.ts";
import { type SessionPageRow, sessionsPage } from "../store.ts";

const SessionCursor = z.tuple([z.string().regex(/^-?\d{1,19}$/), z.uuid()]);

export const route = createRoute({
  method: "get",
  path: "/",
  summary: "List sessions, newest activity first",
  tags: ["sessions"],
  ...userAccess("sessions:read", "default", { oneTrip: true }),
  request: { query: ListSessionsQuery },
  responses: {
    200: jsonResponse("A page of sessions", SessionPage),
    ...errorResponses(400, 401),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const q = c.req.valid("query");
    const after = q.cursor ? decodeCursor(q.cursor, SessionCursor) : undefined;
    const [rows] = await queryAsUser(
      c.get("user"),
      sessionsPage({
        status: q.status,
        includeArchived: q.include_archived === "true",
        limit: q.limit,
        after: after && { activityUs: after[0], id: after[1] },
      }),
    ) as [SessionPageRow[]];
    const result = page(rows, q.limit, (r) => [r.activity_us, r.id]);
    return c.json({ ...result, data: result.data.map(({ activity_us: _, ...s }) => s) }, 200);
  });
}
