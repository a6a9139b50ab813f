import { createRoute, z } from "@hono/zod-openapi";
import { asUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { notFound } from "../../http/errors.ts";
import { errorResponses, jsonResponse, userAccess } from "../../http/openapi.ts";
import { decodeCursor, page } from "../../http/pagination.ts";
import { ListMessagesQuery, MessagePage, SessionId } from "../schemas.ts";
import { getSession, listMessages } from "../store.ts";

const MessageCursor = z.tuple([z.number().int().min(0)]);

export const route = createRoute({
  method: "get",
  path: "/{id}/messages",
  summary: "List a session's messages in order",
  tags: ["sessions"],
  ...userAccess("sessions:read"),
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
    const [session, rows] = await asUser(c.get("user"), (tx) =>
      Promise.all([
        getSession(tx, id),
        listMessages(tx, id, { order: q.order, limit: q.limit, afterIndex: after }),
      ]));
    if (!session) throw notFound("session");
    return c.json(page(rows, q.limit, (m) => [m.message_index]), 200);
  });
}
