import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import { operations } from "../operations.ts";
import { CreateEventInput, Event } from "../schemas.ts";
import { callerOf, writeErrors } from "./errors.ts";

export const route = createRoute({
  method: "post",
  path: "/calendar/events",
  summary: "Create a calendar event",
  description:
    "On connection_id, or on the one connection that can write calendars; with several, name one (400 connection_required).",
  tags: ["calendar"],
  ...userAccess("calendar:write", "provider", { oneTrip: true }),
  request: { body: jsonBody(CreateEventInput) },
  responses: {
    201: jsonResponse("Create a calendar event", Event),
    ...writeErrors(),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const result = await operations.create_event.run(callerOf(c), c.req.valid("json"));
    return c.json(result, 201);
  });
}
