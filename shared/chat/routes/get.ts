import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { Message } from "../../sessions/schemas.ts";
import type { App } from "../../http/app.ts";
import { notFound } from "../../core/errors.ts";
import { jsonResponse, userAccess } from "../../http/openapi.ts";
import { chatErrors, ChatMessage, MessageParams } from "../schemas.ts";
import { messageById } from "../store.ts";

export const route = createRoute({
  method: "get",
  path: "/{sessionId}/messages/{id}",
  summary: "Get one message with its usage, status and voice/avatar data",
  tags: ["chat"],
  ...userAccess("sessions:read", "default", { oneTrip: true }),
  request: { params: MessageParams },
  responses: {
    200: jsonResponse("The message", ChatMessage),
    ...chatErrors(400, 401, 404, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { sessionId, id } = c.req.valid("param");
    const [[message]] = await queryAsUser(c.get("user"), messageById(sessionId, id));
    if (!message) throw notFound("message");
    return c.json(message as Message, 200);
  });
}
