// Earlier turns' tool rounds in the agent's history: a later turn sends the
// agent each round in OpenAI's order (the assistant message carrying
// tool_calls, one role "tool" message per call with its tool_call_id, ...,
// then the turn's answer), rebuilt from the stored tool messages, and the
// history cut keeps or drops a round whole. The local agent refuses tool
// messages out of order as OpenAI does (400), and [[echo-history]] makes it
// answer with the exact messages it was sent before the new one.
import assert from "node:assert/strict";
import { parseChatConfig } from "../../shared/chat/config.ts";
import { buildPrompt, type HistoryRow } from "../../shared/chat/history.ts";
import { Exchange } from "../../shared/chat/schemas.ts";
import {
  storedResultForModel,
  UNTRUSTED_CLOSE,
  UNTRUSTED_OPEN,
} from "../../shared/chat/tools/results.ts";
import type { Message } from "../../shared/sessions/schemas.ts";
import { parsed } from "../helpers/assert.ts";
import { addMessages, sql, test, type TestUser } from "../helpers/stack.ts";
import {
  AGENT_API_KEY,
  AGENT_MODEL,
  AGENT_URL,
  agentSeen,
  historyRow,
  newSession,
  newTag,
  send,
} from "./support.ts";
import { draftFor, streamTurn, tomorrow, toolDirective, userWith } from "./tools-support.ts";

const HISTORY = parseChatConfig(Deno.env.toObject()).agent!.historyMessages;

// --- the prompt, from rows as the store returns them ---------------------------------

type Row = HistoryRow;
const text = historyRow;
const tool = (answer: string, call: string, round: number | null, said: string | null = null) => ({
  ...text("assistant", `result of ${call}`),
  role: "tool" as const,
  parent_message_id: answer,
  tool_call_id: call,
  tool_name: "list_events",
  tool_arguments: { q: call },
  tool_round: round,
  tool_round_content: said,
});

// Newest first: a turn with two rounds (c1+c2, then c3), then a later question.
const answerId = crypto.randomUUID();
const TURN: Row[] = [
  text("user", "later"),
  text("assistant", "Checking. Again. Done.", answerId),
  tool(answerId, "c3", 2, "Again. "),
  tool(answerId, "c2", 1),
  tool(answerId, "c1", 1, "Checking. "),
  text("user", "first"),
];
const agentLimits = (historyMessages: number, historyChars = 100_000) => ({
  systemPrompt: "",
  historyMessages,
  historyChars,
});
const call = (id: string) => ({
  id,
  type: "function",
  function: { name: "list_events", arguments: JSON.stringify({ q: id }) },
});
const result = (id: string) => ({ role: "tool", tool_call_id: id, content: `result of ${id}` });

test("prompt: each round is its assistant tool_calls message and its results, in order", () => {
  const p = buildPrompt(agentLimits(20), TURN, "now", 12_000);
  assert.deepEqual(p.messages, [
    { role: "user", content: "first" },
    { role: "assistant", content: "Checking. ", tool_calls: [call("c1"), call("c2")] },
    result("c1"),
    result("c2"),
    { role: "assistant", content: "Again. ", tool_calls: [call("c3")] },
    result("c3"),
    // The text beside the rounds is theirs; the answer is what followed it.
    { role: "assistant", content: "Done." },
    { role: "user", content: "later" },
    { role: "user", content: "now" },
  ]);
  assert.equal(p.historyMessages, 8);
});

test("prompt: the message cut keeps or drops a round whole", () => {
  // Newest first: later, Done. (2), round 2 (2 more), round 1 (3 more), first.
  for (const limit of [4, 5, 6]) {
    const p = buildPrompt(agentLimits(limit), TURN, "now", 12_000);
    const sent = p.messages.slice(0, -1);
    assert.deepEqual(sent.map((m) => m.role), ["assistant", "tool", "assistant", "user"]);
    assert.equal(p.historyMessages, 4);
  }
  const seven = buildPrompt(agentLimits(7), TURN, "now", 12_000);
  assert.deepEqual(seven.messages.slice(0, -1).map((m) => m.role), [
    "assistant",
    "tool",
    "tool",
    "assistant",
    "tool",
    "assistant",
    "user",
  ]);
  const all = buildPrompt(agentLimits(8), TURN, "now", 12_000);
  assert.equal(all.historyMessages, 8);
  const three = buildPrompt(agentLimits(3), TURN, "now", 12_000);
  assert.deepEqual(three.messages.map((m) => m.content), ["Done.", "later", "now"]);
});

test("prompt: the character cut keeps or drops a round whole too", () => {
  // "later" 5 + "Done." 5 + round 2: "Again. " 7 + arguments 10 + result 12 = 39.
  const p = buildPrompt(agentLimits(50, 38), TURN, "now", 12_000);
  assert.deepEqual(p.messages.map((m) => m.role), ["assistant", "user", "user"]);
  assert.equal(p.historyChars, 10);
  const q = buildPrompt(agentLimits(50, 39), TURN, "now", 12_000);
  assert.equal(q.historyChars, 39);
  assert.deepEqual(q.messages.map((m) => m.role), [
    "assistant",
    "tool",
    "assistant",
    "user",
    "user",
  ]);
});

test("prompt: without tools this turn, the rounds stay out and the answer stays whole", () => {
  const p = buildPrompt(agentLimits(20), TURN, "now");
  assert.deepEqual(p.messages, [
    { role: "user", content: "first" },
    { role: "assistant", content: "Checking. Again. Done." },
    { role: "user", content: "later" },
    { role: "user", content: "now" },
  ]);
});

test("prompt: calls stored before rounds were numbered are one round", () => {
  const id = crypto.randomUUID();
  const rows = [text("assistant", "ok", id), tool(id, "b", null), tool(id, "a", null)];
  const p = buildPrompt(agentLimits(20), rows, "now", 12_000);
  assert.deepEqual(p.messages.slice(0, 3), [
    { role: "assistant", content: null, tool_calls: [call("a"), call("b")] },
    result("a"),
    result("b"),
  ]);
});

test("prompt: a stored result over today's cap is cut and stays marked untrusted", () => {
  const big = `${UNTRUSTED_OPEN}\n${"x".repeat(5000)}\n${UNTRUSTED_CLOSE}`;
  const id = crypto.randomUUID();
  const rows = [text("assistant", "ok", id), { ...tool(id, "a", 1), content: big }];
  const [, sent] = buildPrompt(agentLimits(20), rows, "now", 1000).messages;
  const content = sent.content as string;
  assert.equal(content.length, 1000);
  assert.ok(content.startsWith(`${UNTRUSTED_OPEN}\n`) && content.endsWith(`\n${UNTRUSTED_CLOSE}`));
  assert.match(content, /truncated/);
  assert.equal(storedResultForModel("short", 1000), "short");
  assert.equal(storedResultForModel("y".repeat(2000), 600).length, 600);
});

// --- end to end: what the agent is sent on the next turn ------------------------------

type Sent = { role: string; content: string | null; tool_calls?: unknown; tool_call_id?: string };

// The messages the local agent says it received before the new one ([[echo-history]]).
function echoed(reply: string): Sent[] {
  assert.ok(reply.startsWith("History: "), reply.slice(0, 200));
  return JSON.parse(reply.slice("History: ".length));
}

type Turn = { reply: Message; tools: Message[] };

async function turn(user: TestUser, sessionId: string, content: string, sse: boolean) {
  if (!sse) {
    const body = parsed(Exchange, await send(user, sessionId, { content }), 201);
    return { reply: body.assistant_message, tools: body.tool_messages ?? [] } as Turn;
  }
  const { events } = await streamTurn(user, sessionId, content);
  const done = events.at(-1)!;
  assert.equal(done.event, "message.completed", JSON.stringify(done.data));
  const tools = events.filter((e) => e.event === "tool_call.completed")
    .map((e) => e.data.tool_message as Message);
  return { reply: done.data.assistant_message as Message, tools } as Turn;
}

for (const sse of [false, true]) {
  const mode = sse ? "SSE" : "JSON";
  test(`${mode}: turn 2 sends the agent turn 1's tool_calls message, its result, then the answer`, async () => {
    const { user } = await userWith(`history-${mode}`, ["google", ["calendar"]]);
    const s = await newSession(user);
    const tag1 = newTag();
    const ask = `What's on my calendar tomorrow? ${
      toolDirective("list_events", tomorrow())
    } [[tool-preamble]] [[tag=${tag1}]]`;
    const first = await turn(user, s.id, ask, sse);
    const [listed] = first.tools;
    assert.equal(first.tools.length, 1);
    assert.equal(listed.tool_round, 1);
    assert.equal(listed.tool_round_content, "Let me check (round 1). ");
    const agentCall = (await agentSeen(tag1))!.rounds[0].tool_calls[0];
    assert.equal(listed.tool_call_id, agentCall.id);

    const tag2 = newTag();
    const second = await turn(
      user,
      s.id,
      `Move the design review to 3pm. [[echo-history]] [[tag=${tag2}]]`,
      sse,
    );
    const history = echoed(second.reply.content);
    assert.equal(history[0].role, "system");
    assert.deepEqual(history.slice(1), [
      { role: "user", content: ask },
      {
        role: "assistant",
        content: "Let me check (round 1). ",
        tool_calls: [{
          id: agentCall.id,
          type: "function",
          function: { name: "list_events", arguments: JSON.stringify(listed.tool_arguments) },
        }],
      },
      { role: "tool", tool_call_id: agentCall.id, content: listed.content },
      {
        role: "assistant",
        content: first.reply.content.slice("Let me check (round 1). ".length),
      },
    ]);
    assert.deepEqual(JSON.parse(agentCall.arguments), tomorrow());
    // What the second turn needs from the first: the event and its id.
    assert.ok(listed.content.startsWith(UNTRUSTED_OPEN), "still marked untrusted");
    assert.match(listed.content, /Design review/);
    assert.match(listed.content, /"id":"[^"]+"/);
    // The agent's own record of the request agrees with what it echoed.
    const seen = (await agentSeen(tag2))!;
    assert.deepEqual(seen.messages.slice(1, -1).map((m) => [m.role, m.tool_call_id]), [
      ["user", undefined],
      ["assistant", undefined],
      ["tool", agentCall.id],
      ["assistant", undefined],
    ]);
    assert.ok(seen.tools?.includes("list_events"), "tools are offered with the rounds");
  });
}

test("two rounds of one turn (two calls, then one) come back as two tool_calls messages", async () => {
  const { user } = await userWith("history-rounds", ["google", ["calendar"]]);
  const s = await newSession(user);
  const day = tomorrow();
  const ask = `Tomorrow and after? ${toolDirective("list_events", day)} ${
    toolDirective("list_events", day).replace("[[tool:", "[[tool+:")
  } ${toolDirective("list_events", day)} [[tool-preamble]]`;
  const first = await turn(user, s.id, ask, false);
  assert.deepEqual(first.tools.map((t) => t.tool_round), [1, 1, 2]);
  assert.deepEqual(first.tools.map((t) => t.tool_round_content), [
    "Let me check (round 1). ",
    null,
    "Let me check (round 2). ",
  ]);
  const second = await turn(user, s.id, "And now? [[echo-history]]", false);
  const history = echoed(second.reply.content).slice(1);
  const [a, b, c] = first.tools;
  const callOf = (t: Message) => ({
    id: t.tool_call_id,
    type: "function",
    function: { name: "list_events", arguments: JSON.stringify(t.tool_arguments) },
  });
  const resultOf = (t: Message) => ({
    role: "tool",
    tool_call_id: t.tool_call_id,
    content: t.content,
  });
  assert.deepEqual(history, [
    { role: "user", content: ask },
    { role: "assistant", content: "Let me check (round 1). ", tool_calls: [callOf(a), callOf(b)] },
    resultOf(a),
    resultOf(b),
    { role: "assistant", content: "Let me check (round 2). ", tool_calls: [callOf(c)] },
    resultOf(c),
    {
      role: "assistant",
      content: first.reply.content.slice("Let me check (round 1). Let me check (round 2). ".length),
    },
  ]);
});

// A turn stored as the chat service stores it: the question, the completed
// answer, and its tool messages, the calls of round r as `rounds[r - 1]`.
async function storedTurn(user: TestUser, sessionId: string, rounds: string[][]) {
  const answer = crypto.randomUUID();
  await sql.begin(async (tx) => {
    await tx`select set_config('role', 'service_role', true)`;
    await tx`insert into public.messages (session_id, user_id, role, content)
              values (${sessionId}, ${user.id}, 'user', 'what is tomorrow?')`;
    await tx`insert into public.messages (id, session_id, user_id, role, content, status)
              values (${answer}, ${sessionId}, ${user.id}, 'assistant', 'Tomorrow: two events.',
                      'completed')`;
    for (const [r, calls] of rounds.entries()) {
      for (const id of calls) {
        await tx`insert into public.messages (session_id, user_id, role, content, status,
                   parent_message_id, tool_call_id, tool_name, tool_arguments, tool_round)
                 values (${sessionId}, ${user.id}, 'tool', ${`{"events":"${id}"}`}, 'completed',
                         ${answer}, ${id}, 'list_events', '{}', ${r + 1})`;
      }
    }
  });
}

test("the history cut never splits a round: OpenAI's order holds at every boundary", async () => {
  const { user } = await userWith("history-cut", ["google", ["calendar"]]);
  // One turn with rounds of 2 and 1 calls (5 rows: question, answer, 3 tool
  // messages), then `after` plain messages; the window of HISTORY rows ends at
  // each row of the turn in turn.
  for (let after = HISTORY - 6; after <= HISTORY - 1; after++) {
    const s = await newSession(user);
    await storedTurn(user, s.id, [["c1", "c2"], ["c3"]]);
    await addMessages(user, s.id, after);
    const tag = newTag();
    // Refused by the agent (OpenAI's 400) if any round were split.
    const body = parsed(Exchange, await send(user, s.id, { content: `next [[tag=${tag}]]` }), 201);
    assert.equal(body.assistant_message.status, "completed");
    const sent = (await agentSeen(tag))!.messages.slice(1, -1);
    assert.ok(sent.length <= HISTORY);
    const calls = sent.filter((m) => m.tool_calls).map((m) =>
      (m.tool_calls as { id: string }[]).map((c) => c.id)
    );
    const results = sent.filter((m) => m.role === "tool").map((m) => m.tool_call_id);
    // Rows in the window: after plain + the turn's newest (HISTORY - after).
    const turnRows = HISTORY - after;
    const expected: Record<number, string[][]> = {
      // The whole turn in the window: both rounds fit, not the question.
      6: [["c1", "c2"], ["c3"]],
      // The answer in the window, so all its tool messages too: the answer
      // and round 2 (3 messages) fit beside `after`; round 1 does not.
      5: [["c3"]],
      4: [["c3"]],
      // The answer is outside the window: none of its rounds is sent.
      3: [],
      2: [],
      1: [],
    };
    assert.deepEqual(calls, expected[turnRows], `window with ${turnRows} rows of the turn`);
    assert.deepEqual(results, calls.flat());
  }
});

test("a pending action is in the history as its stored result: awaiting confirmation", async () => {
  const { user } = await userWith("history-pending", ["google", ["gmail"]]);
  const draft = await draftFor(user);
  const s = await newSession(user);
  const ask = `Send it. ${toolDirective("send_draft", { id: draft.id })}`;
  const first = parsed(Exchange, await send(user, s.id, { content: ask }), 201);
  const [held] = first.tool_messages!;
  const [action] = first.pending_actions!;
  assert.equal(held.status, "pending");

  const second = parsed(
    Exchange,
    await send(user, s.id, { content: "Did it go out? [[echo-history]]" }),
    201,
  );
  const history = echoed(second.assistant_message.content).slice(1);
  assert.deepEqual(history.map((m) => m.role), ["user", "assistant", "tool", "assistant"]);
  const [, calls, result, answer] = history;
  assert.deepEqual(calls.tool_calls, [{
    id: held.tool_call_id,
    type: "function",
    function: { name: "send_draft", arguments: JSON.stringify({ id: draft.id }) },
  }]);
  assert.equal(result.tool_call_id, held.tool_call_id);
  assert.equal(result.content, held.content);
  const stored = JSON.parse(result.content!);
  assert.equal(stored.status, "awaiting_user_confirmation");
  assert.equal(stored.action_id, action.id);
  assert.equal(answer.content, first.assistant_message.content);
  assert.match(answer.content!, /confirmation/);
});

test("the local agent refuses tool messages out of order, as OpenAI does", async () => {
  const ask = async (messages: unknown[]) => {
    const res = await fetch(`${AGENT_URL}/chat/completions`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${AGENT_API_KEY}` },
      body: JSON.stringify({ model: AGENT_MODEL, messages }),
    });
    return { status: res.status, body: await res.json() };
  };
  const calls = (...ids: string[]) => ({
    role: "assistant",
    content: null,
    tool_calls: ids.map((id) => ({
      id,
      type: "function",
      function: { name: "x", arguments: "{}" },
    })),
  });
  const answer = (id: string) => ({ role: "tool", tool_call_id: id, content: "r" });
  const user = { role: "user", content: "hi" };
  const orphan = await ask([answer("a"), user]);
  assert.equal(orphan.status, 400);
  assert.match(orphan.body.error.message, /must be a response to a preceeding message/);
  const missing = await ask([calls("a", "b"), answer("a"), user]);
  assert.equal(missing.status, 400);
  assert.match(missing.body.error.message, /did not have response messages: b/);
  const ok = await ask([calls("a", "b"), answer("b"), answer("a"), user]);
  assert.equal(ok.status, 200);
});
