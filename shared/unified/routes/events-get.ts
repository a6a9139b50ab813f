import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { jsonResponse, userAccess } from "../../http/openapi.ts";
import { operations } from "../operations.ts";
import { Event, EventIdInput } from "../schemas.ts";
import { callerOf, readErrors } from "./errors.ts";

export const route = createRoute({
  method: "get",
  path: "/calendar/events/{id}",
  summary: "Get one calendar event",
  description: "The id is one this API returned (<connection_id>:<provider id>), URL-encoded.",
  tags: ["calendar"],
  ...userAccess("calendar:read", "provider", { oneTrip: true }),
  request: { params: EventIdInput },
  responses: {
    200: jsonResponse("Get one calendar event", Event),
    ...readErrors(),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const result = await operations.get_event.run(callerOf(c), c.req.valid("param"));
    return c.json(result, 200);
  });
}
