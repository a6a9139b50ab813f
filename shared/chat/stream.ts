// An exchange as server-sent events:
//   message.created    {user_message, assistant_message}   both stored, the reply 'processing'
//   delta              {content}                            each piece of the reply's text
//   tool_call.started  {tool_call: {id, name, arguments}}   the agent asked for a tool; it runs
//   tool_call.completed {tool_message}                      its stored result (status completed
//                                                           or failed; the turn goes on)
//   confirmation_required {pending_action, tool_message}    a write that leaves the account waits
//                                                           for POST /chat/actions/{id}/confirm
//   message.completed  {assistant_message}                  the stored reply with usage and cost
//   message.failed     {assistant_message, error}           stored as failed, partial text kept
// A comment line every 15 s keeps proxies from closing a quiet stream. When
// the client disconnects the agent call is stopped and the reply is stored as
// failed (client_disconnected) with what had arrived.
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { AppEnv } from "../auth/context.ts";
import { toAppError } from "../core/errors.ts";
import { log } from "../core/log.ts";
import type { Message } from "../sessions/schemas.ts";
import type { AgentConfig } from "./config.ts";
import { failedReplyError, type Opened, type Replayed, runExchange } from "./exchange.ts";

const KEEP_ALIVE_MS = 15_000;

function errorEvent(c: Context<AppEnv>, user: Message, reply: Message) {
  const e = failedReplyError(user, reply);
  return { code: e.code, message: e.message, details: e.details, request_id: c.get("requestId") };
}

export function streamExchange(c: Context<AppEnv>, agent: AgentConfig, opened: Opened) {
  return streamSSE(c, async (stream) => {
    const gone = new AbortController();
    stream.onAbort(() => gone.abort());
    // Deno also aborts the request's signal once a response has been sent in
    // full; by then the exchange is settled and the abort changes nothing.
    c.req.raw.signal.addEventListener("abort", () => gone.abort(), { once: true });
    const keepAlive = setInterval(() => stream.write(": keep-alive\n\n"), KEEP_ALIVE_MS);
    try {
      await stream.writeSSE({
        event: "message.created",
        data: JSON.stringify({ user_message: opened.userMessage, assistant_message: opened.reply }),
      });
      const { message } = await runExchange(agent, opened, {
        signal: gone.signal,
        requestId: c.get("requestId"),
        onDelta: (content) =>
          stream.writeSSE({ event: "delta", data: JSON.stringify({ content }) }),
        events: {
          onToolStarted: (call) =>
            stream.writeSSE({
              event: "tool_call.started",
              data: JSON.stringify({
                tool_call: { id: call.id, name: call.name, arguments: call.arguments },
              }),
            }),
          onToolCompleted: (message) =>
            stream.writeSSE({
              event: "tool_call.completed",
              data: JSON.stringify({ tool_message: message }),
            }),
          onConfirmationRequired: (action, message) =>
            stream.writeSSE({
              event: "confirmation_required",
              data: JSON.stringify({ pending_action: action, tool_message: message }),
            }),
        },
      });
      if (message.status === "completed") {
        await stream.writeSSE({
          event: "message.completed",
          data: JSON.stringify({ assistant_message: message }),
        });
      } else {
        await stream.writeSSE({
          event: "message.failed",
          data: JSON.stringify({
            assistant_message: message,
            error: errorEvent(c, opened.userMessage, message),
          }),
        });
      }
    } catch (err) {
      // Settling failed (e.g. the database went away): the user's message is
      // stored; the sweep fails the reply later. No internals reach the client.
      const e = toAppError(err);
      log("error", "chat stream failed", {
        request_id: c.get("requestId"),
        session_id: opened.session.id,
        message_id: opened.reply.id,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
      await stream.writeSSE({
        event: "message.failed",
        data: JSON.stringify({
          assistant_message: { ...opened.reply },
          error: { code: e.code, message: e.message, request_id: c.get("requestId") },
        }),
      });
    } finally {
      clearInterval(keepAlive);
    }
  });
}

// A retry with a known Idempotency-Key that asked for a stream: the stored
// exchange, replayed as the same events (the text as a single delta).
export function streamReplay(c: Context<AppEnv>, replayed: Replayed) {
  return streamSSE(c, async (stream) => {
    const { userMessage, reply } = replayed;
    const processing = { ...reply, status: "processing", content: "" };
    await stream.writeSSE({
      event: "message.created",
      data: JSON.stringify({ user_message: userMessage, assistant_message: processing }),
    });
    // The tool calls as stored: each completed call, or the confirmation it waits for.
    for (const m of replayed.toolMessages) {
      const action = replayed.actions.find((a) => a.message_id === m.id);
      await stream.writeSSE(
        action
          ? {
            event: "confirmation_required",
            data: JSON.stringify({ pending_action: action, tool_message: m }),
          }
          : { event: "tool_call.completed", data: JSON.stringify({ tool_message: m }) },
      );
    }
    if (reply.content) {
      await stream.writeSSE({ event: "delta", data: JSON.stringify({ content: reply.content }) });
    }
    if (reply.status === "completed") {
      await stream.writeSSE({
        event: "message.completed",
        data: JSON.stringify({ assistant_message: reply }),
      });
    } else {
      await stream.writeSSE({
        event: "message.failed",
        data: JSON.stringify({
          assistant_message: reply,
          error: errorEvent(c, userMessage, reply),
        }),
      });
    }
  });
}
