import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { jsonResponse, userAccess } from "../../http/openapi.ts";
import { operations } from "../operations.ts";
import { EventPage, ListEventsInput } from "../schemas.ts";
import { callerOf, readErrors } from "./errors.ts";

export const route = createRoute({
  method: "get",
  path: "/calendar/events",
  summary: "List calendar events in a time range",
  description:
    "Events of every calendar connection that allows reading them (or of connection_id), merged by start time; next_cursor continues the same query.",
  tags: ["calendar"],
  ...userAccess("calendar:read", "provider", { oneTrip: true }),
  request: { query: ListEventsInput },
  responses: {
    200: jsonResponse("List calendar events in a time range", EventPage),
    ...readErrors(),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const result = await operations.list_events.run(callerOf(c), c.req.valid("query"));
    return c.json(result, 200);
  });
}
