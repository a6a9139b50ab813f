import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { jsonResponse, userAccess } from "../../http/openapi.ts";
import { operations } from "../operations.ts";
import { FreeBusy, FreeBusyInput } from "../schemas.ts";
import { callerOf, readErrors } from "./errors.ts";

export const route = createRoute({
  method: "get",
  path: "/calendar/free-busy",
  summary: "Busy and free times in a range",
  description:
    "Busy times of every calendar connection that allows it (or of connection_id), merged, and the free gaps between them.",
  tags: ["calendar"],
  ...userAccess("calendar:read", "provider", { oneTrip: true }),
  request: { query: FreeBusyInput },
  responses: {
    200: jsonResponse("Busy and free times in a range", FreeBusy),
    ...readErrors(),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const result = await operations.free_busy.run(callerOf(c), c.req.valid("query"));
    return c.json(result, 200);
  });
}
