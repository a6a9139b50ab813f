import { createRoute } from "@hono/zod-openapi";
import { asUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { AppError, notFound } from "../../http/errors.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { Session, SessionId } from "../schemas.ts";
import { archiveSession, restoreSession } from "../store.ts";

export const archiveRoute = createRoute({
  method: "post",
  path: "/{id}/archive",
  summary: "Archive a session (idempotent)",
  tags: ["sessions"],
  ...userAccess("sessions:write"),
  request: { params: SessionId },
  responses: {
    200: jsonResponse("The archived session", Session),
    ...errorResponses(400, 401, 404),
  },
});

export const restoreRoute = createRoute({
  method: "post",
  path: "/{id}/restore",
  summary: "Restore an archived session to active",
  tags: ["sessions"],
  ...userAccess("sessions:write"),
  request: { params: SessionId },
  responses: {
    200: jsonResponse("The restored session", Session),
    ...errorResponses(400, 401, 404, 409),
  },
});

export function register(app: App) {
  app.openapi(archiveRoute, async (c) => {
    const { id } = c.req.valid("param");
    const session = await asUser(c.get("user"), (tx) => archiveSession(tx, id));
    if (!session) throw notFound("session");
    return c.json(session, 200);
  });
  app.openapi(restoreRoute, async (c) => {
    const { id } = c.req.valid("param");
    const result = await asUser(c.get("user"), (tx) => restoreSession(tx, id));
    if (!result) throw notFound("session");
    if (!result.restored) {
      throw new AppError("conflict", `the session is ${result.session.status}, not archived`);
    }
    return c.json(result.session, 200);
  });
}
