import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { rateHeaders } from "../../http/rate-limit.ts";
import { jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import type { ChatConfig } from "../config.ts";
import { agentRequired, failedReplyError, openExchange, runExchange } from "../exchange.ts";
import { chatErrors, Exchange, SendHeaders, SendMessage, SessionParam } from "../schemas.ts";
import { streamExchange, streamReplay } from "../stream.ts";

export const route = createRoute({
  method: "post",
  path: "/{sessionId}/messages",
  summary: "Send a message to the agent and get its reply",
  description: "Stores the message, asks the agent (with the session's recent history) and " +
    "stores its reply with usage, cost and timing. JSON by default (201); with " +
    "`Accept: text/event-stream` the reply streams as server-sent events: `message.created`, " +
    "`delta`…, then `message.completed` or `message.failed`. When the agent fails the message " +
    "is kept, the reply is stored as failed with any partial text, and the error names both.",
  tags: ["chat"],
  // The owner's rate-limit hit travels with the exchange's first round trip.
  ...userAccess("chat:write", "chat", { deferRateLimit: true, oneTrip: true }),
  request: { params: SessionParam, headers: SendHeaders, body: jsonBody(SendMessage) },
  responses: {
    200: {
      description: "The exchange as server-sent events (Accept: text/event-stream)",
      content: { "text/event-stream": { schema: z.string() } },
    },
    201: jsonResponse("The stored message and the agent's reply", Exchange),
    ...chatErrors(400, 401, 404, 409, 413, 422, 429, 502, 503, 504),
  },
});

const wantsStream = (accept: string | undefined) => /\btext\/event-stream\b/i.test(accept ?? "");

export function register(app: App, config: ChatConfig) {
  app.openapi(route, async (c) => {
    const agent = agentRequired(config.agent);
    const { sessionId } = c.req.valid("param");
    const input = c.req.valid("json");
    const key = c.req.valid("header")["idempotency-key"];
    const stream = wantsStream(c.req.header("Accept"));
    const hit = c.get("deferredHit");
    const opened = await openExchange(
      c.get("user"),
      agent,
      sessionId,
      input,
      key,
      hit && {
        hit,
        onState: (state) => {
          for (const [name, value] of Object.entries(rateHeaders(state))) c.header(name, value);
        },
      },
    );

    if (opened.kind === "replay") {
      c.header("Idempotent-Replayed", "true");
      if (stream) return streamReplay(c, opened);
      if (opened.reply.status === "failed") {
        throw failedReplyError(opened.userMessage, opened.reply);
      }
      return c.json({ user_message: opened.userMessage, assistant_message: opened.reply }, 201);
    }
    if (stream) return streamExchange(c, agent, opened);
    // Without a stream the exchange completes even if the client goes away,
    // so a retry with the same Idempotency-Key finds the finished reply.
    const { message } = await runExchange(agent, opened, { requestId: c.get("requestId") });
    if (message.status === "failed") throw failedReplyError(opened.userMessage, message);
    return c.json({ user_message: opened.userMessage, assistant_message: message }, 201);
  });
}
