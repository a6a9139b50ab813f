import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { notFound } from "../../core/errors.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { Session, SessionId } from "../schemas.ts";
import { sessionById } from "../store.ts";

export const route = createRoute({
  method: "get",
  path: "/{id}",
  summary: "Get a session",
  tags: ["sessions"],
  ...userAccess("sessions:read", "default", { oneTrip: true }),
  request: { params: SessionId },
  responses: {
    200: jsonResponse("The session", Session),
    ...errorResponses(400, 401, 404),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const [[session]] = await queryAsUser(c.get("user"), sessionById(id));
    if (!session) throw notFound("session");
    return c.json(session as Session, 200);
  });
}
