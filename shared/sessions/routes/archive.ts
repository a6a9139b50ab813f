import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { AppError, notFound } from "../../core/errors.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { Session, SessionId } from "../schemas.ts";
import { archiveSession, type MovedSession, restoreSession } from "../store.ts";

export const archiveRoute = createRoute({
  method: "post",
  path: "/{id}/archive",
  summary: "Archive a session (idempotent)",
  tags: ["sessions"],
  ...userAccess("sessions:write", "default", { oneTrip: true }),
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
  ...userAccess("sessions:write", "default", { oneTrip: true }),
  request: { params: SessionId },
  responses: {
    200: jsonResponse("The restored session", Session),
    ...errorResponses(400, 401, 404, 409),
  },
});

export function register(app: App) {
  app.openapi(archiveRoute, async (c) => {
    const { id } = c.req.valid("param");
    const [[moved]] = await queryAsUser(c.get("user"), archiveSession(id));
    if (!moved) throw notFound("session");
    const { changed: _, ...session } = moved as MovedSession;
    return c.json(session, 200);
  });
  app.openapi(restoreRoute, async (c) => {
    const { id } = c.req.valid("param");
    const [[moved]] = await queryAsUser(c.get("user"), restoreSession(id));
    if (!moved) throw notFound("session");
    const { changed, ...session } = moved as MovedSession;
    if (!changed) throw new AppError("conflict", `the session is ${session.status}, not archived`);
    return c.json(session, 200);
  });
}
