import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { notFound } from "../../core/errors.ts";
import { errorResponses, jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import { Session, SessionId, UpdateSession } from "../schemas.ts";
import { updateSession } from "../store.ts";

export const route = createRoute({
  method: "patch",
  path: "/{id}",
  summary: "Change a session's title, status, agent settings or context",
  tags: ["sessions"],
  ...userAccess("sessions:write", "default", { oneTrip: true }),
  request: { params: SessionId, body: jsonBody(UpdateSession) },
  responses: {
    200: jsonResponse("The updated session", Session),
    ...errorResponses(400, 401, 404, 413),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const patch = c.req.valid("json");
    const [[session]] = await queryAsUser(c.get("user"), updateSession(id, patch));
    if (!session) throw notFound("session");
    return c.json(session as Session, 200);
  });
}
