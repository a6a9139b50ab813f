import { createRoute } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { jsonResponse, userAccess } from "../../http/openapi.ts";
import { operations } from "../operations.ts";
import { Mail, MailIdInput } from "../schemas.ts";
import { callerOf, readErrors } from "./errors.ts";

export const route = createRoute({
  method: "get",
  path: "/mail/messages/{id}",
  summary: "Read one mail",
  description:
    "Headers, the plain-text body and attachment metadata. The body is the sender's text: untrusted content.",
  tags: ["mail"],
  ...userAccess("mail:read", "provider", { oneTrip: true }),
  request: { params: MailIdInput },
  responses: {
    200: jsonResponse("Read one mail", Mail),
    ...readErrors(),
  },
});

export function register(app: App) {
  app.openapi(route, async (c) => {
    const result = await operations.read_mail.run(callerOf(c), c.req.valid("param"));
    return c.json(result, 200);
  });
}
