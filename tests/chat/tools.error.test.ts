// The tool loop's bounds and failures: the rounds and the time budget end the
// loop (the agent then answers with tool_choice "none"); a tool that fails, is
// not offered, or gets bad arguments becomes a tool result the agent reads and
// the turn still completes; limits come from the configuration.
import assert from "node:assert/strict";
import { parseChatConfig } from "../../shared/chat/config.ts";
import { Exchange } from "../../shared/chat/schemas.ts";
import { unifiedToolbox } from "../../shared/chat/tools/unified.ts";
import { buildChatApp } from "../../supabase/functions/chat/app.ts";
import { parsed } from "../helpers/assert.ts";
import { test, type TestUser } from "../helpers/stack.ts";
import { agentSeen, messagesOf, newSession, newTag, send } from "./support.ts";
import { armFault, standIn, tomorrow, toolDirective, userWith } from "./tools-support.ts";

const env = Deno.env.toObject();

// The chat app in this process, with other tool limits than the stack's.
async function sendWith(
  overrides: Record<string, string>,
  user: TestUser,
  sessionId: string,
  content: string,
) {
  const app = buildChatApp(parseChatConfig({ ...env, ...overrides }), unifiedToolbox);
  const res = await app.request(`/chat/${sessionId}/messages`, {
    method: "POST",
    headers: { Authorization: `Bearer ${user.token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ content }),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

test("rounds: CHAT_TOOL_MAX_ROUNDS ends a loop; the agent answers without tools", async () => {
  const { user, accounts: [cal] } = await userWith("tools-rounds", ["google", ["calendar"]]);
  const s = await newSession(user);
  const tag = newTag();
  const res = await sendWith(
    { CHAT_TOOL_MAX_ROUNDS: "2" },
    user,
    s.id,
    `[[tool-repeat:list_events ${JSON.stringify(tomorrow())}]] [[tag=${tag}]]`,
  );
  const body = parsed(Exchange, res, 201);
  assert.equal(body.tool_messages!.length, 2);
  assert.equal(body.assistant_message.status, "completed");
  assert.deepEqual(
    body.assistant_message.agent_response_data?.tools as { rounds: number; stopped_by: string },
    {
      rounds: 2,
      stopped_by: "max_rounds",
      tool_message_ids: body.tool_messages!.map((m) => m.id),
      pending_action_ids: [],
    },
  );
  const seen = (await agentSeen(tag))!;
  assert.deepEqual(seen.rounds.map((r) => r.tool_choice), ["auto", "auto", "none"]);
  assert.deepEqual(seen.rounds.map((r) => r.tool_calls.length), [1, 1, 0]);
  const calls = (await standIn(cal.email)).calls.filter((c) => c.endpoint === "events.list");
  assert.equal(calls.length, 2, "the third request's call was not asked for");
});

test("time: a tool that outlasts CHAT_TOOL_TIME_BUDGET_MS is stopped; no round starts after", async () => {
  const { user, accounts: [cal] } = await userWith("tools-time", ["google", ["calendar"]]);
  await armFault(cal.email, "events.list", "hang", { hang_ms: 30_000, count: 5 });
  const s = await newSession(user);
  const tag = newTag();
  const res = await sendWith(
    { CHAT_TOOL_TIME_BUDGET_MS: "1000" },
    user,
    s.id,
    `[[tool-repeat:list_events ${JSON.stringify(tomorrow())}]] [[tag=${tag}]]`,
  );
  const body = parsed(Exchange, res, 201);
  const [t] = body.tool_messages!;
  assert.equal(body.tool_messages!.length, 1);
  assert.equal(t.status, "failed");
  assert.ok(t.error_code, JSON.stringify(t));
  assert.match(t.content, /"error"/);
  const tools = body.assistant_message.agent_response_data?.tools as { stopped_by: string };
  assert.equal(tools.stopped_by, "time_budget");
  assert.deepEqual((await agentSeen(tag))!.rounds.map((r) => r.tool_choice), ["auto", "none"]);
});

test("insufficient_provider_scope becomes a tool result; the turn completes", async () => {
  const { user, accounts: [, mailOnly] } = await userWith(
    "tools-scope",
    ["google", ["calendar"]],
    ["google", ["gmail"]],
  );
  const s = await newSession(user);
  const res = await send(user, s.id, {
    content: toolDirective("list_events", { ...tomorrow(), connection_id: mailOnly.id }),
  });
  const body = parsed(Exchange, res, 201);
  const [t] = body.tool_messages!;
  assert.equal(t.status, "failed");
  assert.equal(t.error_code, "insufficient_provider_scope");
  const result = JSON.parse(t.content);
  assert.equal(result.error.code, "insufficient_provider_scope");
  assert.equal(body.assistant_message.status, "completed");
  assert.match(body.assistant_message.content, /insufficient_provider_scope/);
  assert.deepEqual((await standIn(mailOnly.email)).calls, [], "no provider call was made");
});

test("a provider's 429 becomes a tool result carrying when to retry", async () => {
  const { user, accounts: [mail] } = await userWith("tools-429", ["microsoft", ["outlook"]]);
  await armFault(mail.email, "messages.list", "429", { retry_after: 9 });
  const s = await newSession(user);
  const body = parsed(
    Exchange,
    await send(user, s.id, { content: toolDirective("search_mail", { query: "invoice" }) }),
    201,
  );
  const [t] = body.tool_messages!;
  assert.equal(t.status, "failed");
  assert.equal(t.error_code, "provider_rate_limited");
  assert.match(t.content, /9/);
  assert.equal(body.assistant_message.status, "completed");
});

test("bad calls are answered, not run: unknown tool, bad JSON, arguments off the schema", async () => {
  const { user, accounts: [cal] } = await userWith("tools-bad", ["google", ["calendar"]]);
  const s = await newSession(user);
  const body = parsed(
    Exchange,
    await send(user, s.id, {
      content: `${toolDirective("send_draft", { id: "x" })} [[tool+:list_events {"time_min": 5}]]` +
        ` [[tool+:delete_everything {}]]`,
    }),
    201,
  );
  const codes = body.tool_messages!.map((m) => [m.tool_name, m.status, m.error_code]);
  assert.deepEqual(codes, [
    ["send_draft", "failed", "tool_not_available"],
    ["list_events", "failed", "invalid_arguments"],
    ["delete_everything", "failed", "tool_not_available"],
  ]);
  assert.equal(body.pending_actions, undefined, "a tool not offered is never held either");
  assert.equal(body.assistant_message.status, "completed");
  assert.deepEqual((await standIn(cal.email)).calls, []);
  assert.equal((await messagesOf(s.id)).length, 5);
});

test("tool results are capped at CHAT_TOOL_RESULT_MAX_CHARS", async () => {
  const { user } = await userWith("tools-cap", ["google", ["gmail"]]);
  const s = await newSession(user);
  const res = await sendWith(
    { CHAT_TOOL_RESULT_MAX_CHARS: "600" },
    user,
    s.id,
    toolDirective("search_mail", { limit: 20 }),
  );
  const [t] = parsed(Exchange, res, 201).tool_messages!;
  assert.ok(t.content.length <= 600, String(t.content.length));
  assert.match(t.content, /truncated: \d+ more characters/);
});

test("configuration: tool limits are checked at start, CHAT_TOOLS=false offers none", () => {
  for (
    const bad of [
      { CHAT_TOOL_MAX_ROUNDS: "0" },
      { CHAT_TOOL_MAX_ROUNDS: "21" },
      { CHAT_TOOL_TIME_BUDGET_MS: "70001" },
      { CHAT_TOOL_RESULT_MAX_CHARS: "10" },
      { CHAT_ACTION_TTL_MS: "1000" },
    ]
  ) {
    const [name] = Object.keys(bad);
    assert.throws(() => parseChatConfig({ ...env, ...bad }), new RegExp(name));
  }
  assert.equal(parseChatConfig({ ...env, CHAT_TOOLS: "false" }).agent!.tools, null);
  assert.deepEqual(parseChatConfig({ ...env }).agent!.tools, {
    maxRounds: 5,
    timeBudgetMs: 60_000,
    resultMaxChars: 12_000,
    actionTtlMs: 900_000,
  });
});

test("CHAT_TOOLS=false: a connected user's turn offers no tools and runs none", async () => {
  const { user, accounts: [cal] } = await userWith("tools-off", ["google", ["calendar"]]);
  const s = await newSession(user);
  const tag = newTag();
  const res = await sendWith(
    { CHAT_TOOLS: "false" },
    user,
    s.id,
    `${toolDirective("list_events", tomorrow())} [[tag=${tag}]]`,
  );
  const body = parsed(Exchange, res, 201);
  assert.equal(body.tool_messages, undefined);
  assert.equal((await agentSeen(tag))!.tools, null);
  assert.deepEqual((await standIn(cal.email)).calls, []);
});
