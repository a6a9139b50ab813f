// What the chat tests share: sessions and sends over HTTP, a server-sent
// events reader, the local development agent's record of what it saw, and
// waiting for a condition (never for a duration).
import assert from "node:assert/strict";
import { z } from "zod";
import type { HistoryRow } from "../../shared/chat/history.ts";
import { ChatMessage, Exchange } from "../../shared/chat/schemas.ts";
import { PendingAction } from "../../shared/chat/tools/schemas.ts";
import { Session } from "../../shared/sessions/schemas.ts";
import { parsed, shaped } from "../helpers/assert.ts";
import { assertOnlyChanges, rowCounts, type Snapshot, snapshotOf } from "../helpers/snapshot.ts";
import { call, createUser, FUNCTIONS_URL, sql, type TestUser } from "../helpers/stack.ts";

export const AGENT_URL = Deno.env.get("AGENT_URL")!;
export const AGENT_MODEL = Deno.env.get("AGENT_MODEL")!;
export const AGENT_API_KEY = Deno.env.get("AGENT_API_KEY")!;
export const HEYGEN_API_KEY = Deno.env.get("HEYGEN_API_KEY")!;
export const AGENT_ORIGIN = new URL(AGENT_URL).origin;

export const newTag = () => `t-${crypto.randomUUID()}`;

export async function newSession(user: TestUser, body: Record<string, unknown> = {}) {
  return parsed(Session, await call("POST", "/sessions", { token: user.token, body }), 201);
}

export function send(
  user: TestUser,
  sessionId: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  return call("POST", `/chat/${sessionId}/messages`, { token: user.token, body, headers });
}

// deno-lint-ignore no-explicit-any
export type SseEvent = { event: string; data: any };

// Each event's data as shared/chat/stream.ts sends it, built from the
// exported message schemas.
const EVENT_DATA: Record<string, z.ZodType> = {
  "message.created": Exchange,
  "tool_call.started": z.object({
    tool_call: z.object({ id: z.string(), name: z.string(), arguments: z.string() }),
  }),
  "tool_call.completed": z.object({ tool_message: ChatMessage }),
  confirmation_required: z.object({ pending_action: PendingAction, tool_message: ChatMessage }),
  delta: z.object({ content: z.string() }),
  "message.completed": z.object({ assistant_message: ChatMessage }),
  "message.failed": z.object({
    assistant_message: ChatMessage,
    error: z.object({
      code: z.string(),
      message: z.string(),
      details: z.record(z.string(), z.unknown()).optional(),
      request_id: z.string(),
    }),
  }),
};

// Reads an event stream to its end (or until `stop` returns true, then
// disconnects), parsing each event's data as JSON and checking it against
// the event's schema.
export async function readEvents(
  res: Response,
  stop?: (e: SseEvent, all: SseEvent[]) => boolean,
): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const lines = block.split("\n");
        if (lines.every((l) => l.startsWith(":"))) continue; // keep-alive comment
        const event = lines.find((l) => l.startsWith("event: "))?.slice(7) ?? "message";
        const data = lines.filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        const schema = EVENT_DATA[event];
        assert.ok(schema, `an event no schema describes: ${event}`);
        const read = { event, data: shaped(schema, JSON.parse(data)) };
        events.push(read);
        if (stop?.(read, events)) return events;
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return events;
}

export async function sendStream(
  user: TestUser,
  sessionId: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<Response> {
  return await fetch(`${FUNCTIONS_URL}/chat/${sessionId}/messages`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${user.token}`,
      "Content-Type": "application/json",
      Accept: "text/event-stream",
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

// What the local development agent saw and did for a tagged request.
export type AgentSeen = {
  tag: string;
  requests: number;
  authorized: boolean;
  model: string;
  stream: boolean;
  include_usage: boolean;
  temperature: number | null;
  messages: { role: string; content: string; tool_calls?: unknown; tool_call_id?: string }[];
  outcome: string;
  chunks_sent: number;
  content: string;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
  tools: string[] | null;
  tool_choice: unknown;
  tool_calls: { id: string; name: string; arguments: string }[];
  rounds: {
    tools: string[] | null;
    tool_choice: unknown;
    tool_calls: { id: string; name: string; arguments: string }[];
  }[];
};

export async function agentSeen(tag: string): Promise<AgentSeen | undefined> {
  const res = await fetch(`${AGENT_ORIGIN}/__control/requests/${tag}`);
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  return await res.json();
}

// Polls until `check` returns a value (not undefined), up to a generous limit.
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  limitMs = 15_000,
): Promise<T> {
  const until = Date.now() + limitMs;
  while (true) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export type MessageRow = {
  id: string;
  message_index: number;
  role: string;
  content: string;
  status: string;
  error_code: string | null;
  parent_message_id: string | null;
  total_tokens: number | null;
  estimated_cost: string | null;
  agent_response_data: Record<string, unknown> | null;
};

export async function messagesOf(sessionId: string): Promise<MessageRow[]> {
  return await sql<MessageRow[]>`
    select id, message_index, role, content, status, error_code, parent_message_id,
           total_tokens, estimated_cost::text, agent_response_data
      from public.messages where session_id = ${sessionId} order by message_index`;
}

export async function sessionRow(sessionId: string) {
  const [row] = await sql<
    {
      message_count: number;
      last_message_index: number;
      total_tokens_used: string;
      estimated_cost: string;
      last_activity_at: Date;
    }[]
  >`select message_count, last_message_index, total_tokens_used::text, estimated_cost::text,
           last_activity_at
      from public.chat_sessions where id = ${sessionId}`;
  return row;
}

// The price the test stack configures for the local model (USD per million tokens).
export function priceOf(model: string): { prompt: number; completion: number } | undefined {
  const table = JSON.parse(Deno.env.get("AGENT_PRICES") ?? "{}");
  return table[model];
}

export function expectedCost(
  usage: { prompt_tokens: number; completion_tokens: number },
  price: { prompt: number; completion: number },
): number {
  const usd = (usage.prompt_tokens * price.prompt + usage.completion_tokens * price.completion) /
    1e6;
  return Math.round(usd * 1e6) / 1e6;
}

// A user with something to lose before an agent fault: a session holding a
// completed exchange, with its usage and cost in the session's totals.
export async function sessionWithHistory(label: string) {
  const user = await createUser(label);
  const session = await newSession(user);
  const res = await send(user, session.id, { content: "an earlier question" });
  assert.ok(parsed(Exchange, res, 201).assistant_message.total_tokens! > 0);
  assert.equal(rowCounts(await snapshotOf(user.id))["public.messages"], 2);
  return { user, session };
}

// What a send the agent failed may change, and nothing more: two new messages
// (the user's, kept as sent, and the reply, failed) and the session's message
// counters, each moving by two. Earlier messages, the session's token and
// cost totals and everything else the user owns stay as they were.
export async function assertOnlyFailedExchangeAdded(
  user: TestUser,
  sessionId: string,
  before: Snapshot,
  ids: { user: string; reply: string; content: string; errorCode: string },
) {
  const changes = await assertOnlyChanges(before, await snapshotOf(user.id), {
    "public.messages": { added: 2 },
    "public.chat_sessions": {
      changed: {
        [sessionId]: ["last_activity_at", "last_message_index", "message_count", "updated_at"],
      },
    },
    // The user's totals follow the session's counters.
    "public.session_totals": { changed: { [user.id]: ["last_activity_at", "messages"] } },
  });
  const added = Object.fromEntries(changes["public.messages"].added.map((m) => [m.id, m]));
  assert.deepEqual(
    [added[ids.user]?.role, added[ids.user]?.status, added[ids.user]?.content],
    ["user", "completed", ids.content],
  );
  assert.deepEqual(
    [added[ids.reply]?.role, added[ids.reply]?.status, added[ids.reply]?.error_code],
    ["assistant", "failed", ids.errorCode],
  );
  const [{ before: was, after: is }] = changes["public.chat_sessions"].changed;
  assert.equal(is.message_count, (was.message_count as number) + 2);
  assert.equal(is.last_message_index, (was.last_message_index as number) + 2);
  const [{ before: had, after: has }] = changes["public.session_totals"].changed;
  assert.equal(has.messages, (had.messages as number) + 2);
  assert.equal(has.tokens, had.tokens, "a failed exchange adds no tokens");
}

// A text message as the history read returns it (shared/chat/history.ts).
export const historyRow = (
  role: "user" | "assistant",
  content: string,
  id: string = crypto.randomUUID(),
): HistoryRow => ({
  id,
  role,
  content,
  parent_message_id: null,
  tool_call_id: null,
  tool_name: null,
  tool_arguments: null,
  tool_round: null,
  tool_round_content: null,
});
