import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import { CreateSession, Session } from "../schemas.ts";
import { insertSession } from "../store.ts";

export const route = createRoute({
  method: "post",
  path: "/",
  summary: "Create a chat session",
  tags: ["sessions"],
  ...userAccess("sessions:write", "default", { oneTrip: true }),
  request: { body: jsonBody(CreateSession) },
  responses: {
    201: jsonResponse("The new session", Session),
    ...errorResponses(400, 401, 413),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const input = c.req.valid("json");
    const [[session]] = await queryAsUser(c.get("user"), insertSession(input));
    return c.json(session as Session, 201);
  });
}
