import { createRoute } from "@hono/zod-openapi";
import { asUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { errorResponses, jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import { CreateSession, Session } from "../schemas.ts";
import { createSession } from "../store.ts";

export const route = createRoute({
  method: "post",
  path: "/",
  summary: "Create a chat session",
  tags: ["sessions"],
  ...userAccess("sessions:write"),
  request: { body: jsonBody(CreateSession) },
  responses: {
    201: jsonResponse("The new session", Session),
    ...errorResponses(400, 401, 413),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const input = c.req.valid("json");
    const session = await asUser(c.get("user"), (tx) => createSession(tx, input));
    return c.json(session, 201);
  });
}
