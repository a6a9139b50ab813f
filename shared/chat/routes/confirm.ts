import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { jsonResponse, userAccess } from "../../http/openapi.ts";
import { confirmAction } from "../actions.ts";
import { chatErrors } from "../schemas.ts";
import type { Toolbox } from "../tools/catalog.ts";
import { ActionDecision, ActionParam } from "../tools/schemas.ts";

export const route = createRoute({
  method: "post",
  path: "/actions/{id}/confirm",
  summary: "Confirm a pending action: only now does it run",
  description: "Runs a write the agent asked for that leaves the user's account (sending a " +
    "draft, creating an event with attendees), once, with the user's rights, and stores the " +
    "result on the action and its tool message. Confirming again answers the stored outcome; " +
    "a rejected action is 409, an expired one 410.",
  tags: ["chat"],
  ...userAccess("chat:write", "default", { oneTrip: true }),
  request: { params: ActionParam },
  responses: {
    200: jsonResponse("The action with its outcome, and its tool message", ActionDecision),
    ...chatErrors(400, 401, 403, 404, 409, 410, 429),
  },
});

export function register(app: App, toolbox: Toolbox) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await confirmAction(c.get("user"), toolbox, id, c.get("requestId")), 200);
  });
}
