import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { jsonResponse, userAccess } from "../../http/openapi.ts";
import { rejectPendingAction } from "../actions.ts";
import { chatErrors } from "../schemas.ts";
import { ActionDecision, ActionParam } from "../tools/schemas.ts";

export const route = createRoute({
  method: "post",
  path: "/actions/{id}/reject",
  summary: "Reject a pending action: it never runs",
  description: "Marks a pending action rejected and its tool message failed (rejected_by_user). " +
    "Rejecting again answers the same; an action already confirmed is 409.",
  tags: ["chat"],
  ...userAccess("chat:write", "default", { oneTrip: true }),
  request: { params: ActionParam },
  responses: {
    200: jsonResponse("The rejected action and its tool message", ActionDecision),
    ...chatErrors(400, 401, 403, 404, 409, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    return c.json(await rejectPendingAction(c.get("user"), id), 200);
  });
}
