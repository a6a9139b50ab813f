import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { jsonResponse, userAccess } from "../../http/openapi.ts";
import { operations } from "../operations.ts";
import { DraftIdInput, SentDraft } from "../schemas.ts";
import { callerOf, writeErrors } from "./errors.ts";

export const route = createRoute({
  method: "post",
  path: "/mail/drafts/{id}/send",
  summary: "Send a draft",
  description: "Sends a draft this API created, by its id.",
  tags: ["mail"],
  ...userAccess("mail:write", "provider", { oneTrip: true }),
  request: { params: DraftIdInput },
  responses: {
    200: jsonResponse("Send a draft", SentDraft),
    ...writeErrors(),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const result = await operations.send_draft.run(callerOf(c), c.req.valid("param"));
    return c.json(result, 200);
  });
}
