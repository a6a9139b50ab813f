import { createRoute, z } from "@hono/zod-openapi";
import { queryAsUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { notFound } from "../../core/errors.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { decodeCursor, page } from "../../http/pagination.ts";
import {
  ListMessagesQuery,
  type Message,
  MessagePage,
  type Session,
  SessionId,
} from "../schemas.ts";
import { messagesPage, sessionById } from "../store.ts";

const MessageCursor = z.tuple([z.number().int().min(0)]);

export const route = createRoute({
  method: "get",
  path: "/{id}/messages",
  summary: "List a session's messages in order",
  tags: ["sessions"],
  ...userAccess("sessions:read", "default", { oneTrip: true }),
  request: { params: SessionId, query: ListMessagesQuery },
  responses: {
    200: jsonResponse("A page of messages", MessagePage),
    ...errorResponses(400, 401, 404),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const { id } = c.req.valid("param");
    const q = c.req.valid("query");
    const after = q.cursor ? decodeCursor(q.cursor, MessageCursor)[0] : undefined;
    // The session (RLS: none if not the caller's) and the page, one round trip.
    const [[session], rows] = await queryAsUser(
      c.get("user"),
      sessionById(id),
      messagesPage(id, { order: q.order, limit: q.limit, afterIndex: after }),
    ) as [Session[], Message[]];
    if (!session) throw notFound("session");
    return c.json(page(rows, q.limit, (m) => [m.message_index]), 200);
  });
}
