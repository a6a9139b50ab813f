import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { jsonResponse, userAccess } from "../../http/openapi.ts";
import { operations } from "../operations.ts";
import { MailPage, SearchMailInput } from "../schemas.ts";
import { callerOf, readErrors } from "./errors.ts";

export const route = createRoute({
  method: "get",
  path: "/mail/messages",
  summary: "Search or list mail",
  description:
    "Messages of every mail connection that allows reading (or of connection_id), newest first, merged; query, label or folder, and a time range narrow it.",
  tags: ["mail"],
  ...userAccess("mail:read", "provider", { oneTrip: true }),
  request: { query: SearchMailInput },
  responses: {
    200: jsonResponse("Search or list mail", MailPage),
    ...readErrors(),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const result = await operations.search_mail.run(callerOf(c), c.req.valid("query"));
    return c.json(result, 200);
  });
}
