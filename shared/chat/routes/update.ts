import { createRoute } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { Message } from "../../sessions/schemas.ts";
import type { App } from "../../http/app.ts";
import { AppError, notFound } from "../../core/errors.ts";
import { jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import { chatErrors, ChatMessage, MessageParams, UpdateVoiceAvatar } from "../schemas.ts";
import { updateVoiceAvatar } from "../store.ts";

export const route = createRoute({
  method: "patch",
  path: "/{sessionId}/messages/{id}",
  summary: "Record the voice and avatar rendering of an agent reply",
  description: "A voice_response_url implies has_voice_response and an avatar_session_id " +
    "implies has_avatar_response; setting a flag to false clears its value. Only the agent's " +
    "replies carry voice and avatar data (409 otherwise).",
  tags: ["chat"],
  ...userAccess("chat:write", "default", { oneTrip: true }),
  request: { params: MessageParams, body: jsonBody(UpdateVoiceAvatar) },
  responses: {
    200: jsonResponse("The updated message", ChatMessage),
    ...chatErrors(400, 401, 404, 409, 413, 429),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { sessionId, id } = c.req.valid("param");
    const patch = c.req.valid("json");
    const [[updated], [current]] = await queryAsUser(
      c.get("user"),
      ...updateVoiceAvatar(sessionId, id, patch),
    );
    if (updated) return c.json(updated as Message, 200);
    if (!current) throw notFound("message");
    throw new AppError("conflict", "only the agent's replies carry voice and avatar data", {
      role: current.role,
    });
  });
}
