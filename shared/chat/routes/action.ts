import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { jsonResponse, userAccess } from "../../http/openapi.ts";
import { getAction } from "../actions.ts";
import { chatErrors } from "../schemas.ts";
import { ActionDecision, ActionParam } from "../tools/schemas.ts";

export const route = createRoute({
  method: "get",
  path: "/actions/{id}",
  summary: "Read a pending action and its tool message",
  description: "What the agent asked for, its status (pending until the user decides; running, " +
    "completed, failed, rejected or expired after) and, once done, its result.",
  tags: ["chat"],
  ...userAccess("sessions:read", "default", { oneTrip: true }),
  request: { params: ActionParam },
  responses: {
    200: jsonResponse("The action and its tool message", ActionDecision),
    ...chatErrors(400, 401, 403, 404, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await getAction(c.get("user"), id), 200);
  });
}
