import { createRoute } from "@hono/zod-openapi";
import { asUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { notFound } from "../../http/errors.ts";
import { jsonResponse, userAccess } from "../../http/openapi.ts";
import { chatErrors, ChatMessage, MessageParams } from "../schemas.ts";
import { getMessage } from "../store.ts";

export const route = createRoute({
  method: "get",
  path: "/{sessionId}/messages/{id}",
  summary: "Get one message with its usage, status and voice/avatar data",
  tags: ["chat"],
  ...userAccess("sessions:read"),
  request: { params: MessageParams },
  responses: {
    200: jsonResponse("The message", ChatMessage),
    ...chatErrors(400, 401, 404, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { sessionId, id } = c.req.valid("param");
    const message = await asUser(c.get("user"), (tx) => getMessage(tx, sessionId, id));
    if (!message) throw notFound("message");
    return c.json(message, 200);
  });
}
