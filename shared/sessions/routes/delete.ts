import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { notFound } from "../../core/errors.ts";
import { errorResponses, userAccess } from "../../http/openapi.ts";
import { SessionId } from "../schemas.ts";
import { deleteSession } from "../store.ts";

export const route = createRoute({
  method: "delete",
  path: "/{id}",
  summary: "Delete a session and its messages",
  tags: ["sessions"],
  ...userAccess("sessions:write", "default", { oneTrip: true }),
  request: { params: SessionId },
  responses: {
    204: { description: "Deleted" },
    ...errorResponses(400, 401, 404),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const [deleted] = await queryAsUser(c.get("user"), deleteSession(id));
    if (deleted.length === 0) throw notFound("session");
    return c.body(null, 204);
  });
}
