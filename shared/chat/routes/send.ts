import { createRoute, z } from "@hono/zod-openapi";
import type { App } from "../../http/app.ts";
import { rateHeaders } from "../../auth/rate-limit.ts";
import { jsonBody, jsonResponse, userAccess } from "../../http/openapi.ts";
import type { ChatConfig } from "../config.ts";
import type { Message } from "../../sessions/schemas.ts";
import type { Toolbox } from "../tools/catalog.ts";
import type { PendingAction } from "../tools/schemas.ts";
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
    "`delta`…, then `message.completed` or `message.failed`. With the user's connected " +
    "accounts the agent may call tools (`tool_call.started`, `tool_call.completed`); a write " +
    "that leaves the account (sending mail, inviting people) ends the turn with " +
    "`confirmation_required` and a pending action to confirm or reject. When the agent fails the message " +
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

// The exchange as answered first and on every replay; the tool fields only
// when the agent called tools.
function exchangeBody(
  userMessage: Message,
  reply: Message,
  t: { toolMessages: Message[]; actions: PendingAction[] },
) {
  return {
    user_message: userMessage,
    assistant_message: reply,
    ...(t.toolMessages.length ? { tool_messages: t.toolMessages } : {}),
    ...(t.actions.length ? { pending_actions: t.actions } : {}),
  };
}

const wantsStream = (accept: string | undefined) => /\btext\/event-stream\b/i.test(accept ?? "");

export function register(app: App, config: ChatConfig, toolbox?: Toolbox) {
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
      toolbox,
    );

    if (opened.kind === "replay") {
      c.header("Idempotent-Replayed", "true");
      if (stream) return streamReplay(c, opened);
      if (opened.reply.status === "failed") {
        throw failedReplyError(opened.userMessage, opened.reply);
      }
      return c.json(exchangeBody(opened.userMessage, opened.reply, opened), 201);
    }
    if (stream) return streamExchange(c, agent, opened);
    // Without a stream the exchange completes even if the client goes away,
    // so a retry with the same Idempotency-Key finds the finished reply.
    const { message, toolMessages, actions } = await runExchange(agent, opened, {
      requestId: c.get("requestId"),
    });
    if (message.status === "failed") throw failedReplyError(opened.userMessage, message);
    return c.json(exchangeBody(opened.userMessage, message, { toolMessages, actions }), 201);
  });
}
