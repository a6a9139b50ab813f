import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import { operations } from "../operations.ts";
import { CreateDraftInput, Draft } from "../schemas.ts";
import { callerOf, writeErrors } from "./errors.ts";

export const route = createRoute({
  method: "post",
  path: "/mail/drafts",
  summary: "Create a mail draft",
  description:
    "A plain-text draft in the mailbox of connection_id, or of the one connection that can write mail; nothing is sent.",
  tags: ["mail"],
  ...userAccess("mail:write", "provider", { oneTrip: true }),
  request: { body: jsonBody(CreateDraftInput) },
  responses: {
    201: jsonResponse("Create a mail draft", Draft),
    ...writeErrors(),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const result = await operations.create_draft.run(callerOf(c), c.req.valid("json"));
    return c.json(result, 201);
  });
}
