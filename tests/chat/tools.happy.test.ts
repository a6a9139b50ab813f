// Tool calling end to end against the provider API stand-ins, for Google and
// Microsoft, JSON and SSE: the agent is offered the tools the user's
// connections allow, asks for one (the local agent's [[tool:…]] directive, in
// OpenAI's protocol), the chat function runs it with the user's rights, stores
// it as a tool message, gives the result back, and the agent answers from it.
import assert from "node:assert/strict";
import { Exchange } from "../../shared/chat/schemas.ts";
import { TOOL_INSTRUCTIONS, UNTRUSTED_OPEN } from "../../shared/chat/tools/results.ts";
import { parsed } from "../helpers/assert.ts";
import { call, sql, test } from "../helpers/stack.ts";
import { agentSeen, messagesOf, newSession, newTag, send, sessionRow } from "./support.ts";
import {
  MAIL,
  type Provider,
  standIn,
  streamTurn,
  tomorrow,
  toolDirective,
  userWith,
} from "./tools-support.ts";

const CALENDAR_TOOLS = ["list_events", "find_free_time", "create_event"];
const MAIL_TOOLS = ["search_mail", "read_mail", "create_draft", "send_draft"];

for (const provider of ["google", "microsoft"] as Provider[]) {
  test(`${provider}, JSON: what's on my calendar tomorrow → list_events → an answer from it`, async () => {
    const { user, accounts: [cal] } = await userWith(`tools-json-${provider}`, [provider, [
      "calendar",
    ]]);
    const s = await newSession(user);
    const tag = newTag();
    const content = `What's on my calendar tomorrow? ${
      toolDirective("list_events", tomorrow())
    } [[tag=${tag}]]`;
    const res = await send(user, s.id, { content });
    const body = parsed(Exchange, res, 201);
    const { assistant_message: reply, tool_messages: tools = [] } = body;
    assert.equal(body.pending_actions, undefined);

    assert.equal(tools.length, 1);
    const [t] = tools;
    assert.equal(t.role, "tool");
    assert.equal(t.tool_name, "list_events");
    assert.deepEqual(t.tool_arguments, tomorrow());
    assert.equal(t.status, "completed");
    assert.equal(t.parent_message_id, reply.id);
    assert.ok(t.content.startsWith(UNTRUSTED_OPEN), "calendar data is marked untrusted");
    assert.match(t.content, /Design review/);
    assert.match(t.content, /Lunch with Sam/);
    assert.doesNotMatch(t.content, /Daily stand-up/, "only tomorrow's events");

    assert.equal(reply.status, "completed");
    assert.match(reply.content, /Design review/, "the answer is made from the tool result");
    assert.deepEqual(reply.agent_response_data?.tools, {
      rounds: 1,
      stopped_by: "answer",
      tool_message_ids: [t.id],
      pending_action_ids: [],
    });

    const seen = (await agentSeen(tag))!;
    assert.equal(seen.rounds.length, 2, "one round of tools, then the answer");
    assert.deepEqual(seen.rounds[0].tools, CALENDAR_TOOLS);
    assert.equal(seen.rounds[0].tool_choice, "auto");
    assert.deepEqual(seen.rounds[0].tool_calls.map((c) => c.name), ["list_events"]);
    assert.deepEqual(seen.messages.map((m) => m.role), ["system", "user", "assistant", "tool"]);
    assert.ok(seen.messages[0].content.endsWith(TOOL_INSTRUCTIONS));
    assert.equal(seen.messages[3].content, t.content, "the agent got what is stored");
    // Usage of both agent calls is the reply's.
    assert.ok(reply.total_tokens! > seen.usage!.total_tokens);

    const rows = await messagesOf(s.id);
    assert.deepEqual(rows.map((r) => [r.role, r.status]), [
      ["user", "completed"],
      ["assistant", "completed"],
      ["tool", "completed"],
    ]);
    assert.equal((await sessionRow(s.id)).message_count, 3);
    const events = (await standIn(cal.email)).calls.filter((c) => c.endpoint === "events.list");
    assert.ok(events.length >= 1 && events.every((c) => c.status === 200));

    // The session's message list and the message route show the tool message.
    const list = await call("GET", `/sessions/${s.id}/messages`, { token: user.token });
    assert.equal(list.status, 200);
    const listed = list.body.data.find((m: { id: string }) => m.id === t.id);
    assert.equal(listed.tool_name, "list_events");
    assert.equal(listed.tool_call_id, t.tool_call_id);
    const one = await call("GET", `/chat/${s.id}/messages/${t.id}`, { token: user.token });
    assert.deepEqual(one.body.tool_arguments, tomorrow());
  });

  test(`${provider}, SSE: tool_call.started and tool_call.completed around the tool`, async () => {
    const { user } = await userWith(`tools-sse-${provider}`, [provider, ["calendar"]], [
      provider,
      [MAIL(provider)],
    ]);
    const s = await newSession(user);
    const tag = newTag();
    const args = { query: "Lunch" };
    const { events, names } = await streamTurn(
      user,
      s.id,
      `Any mail about lunch? ${toolDirective("search_mail", args)} [[tag=${tag}]]`,
    );
    assert.deepEqual(names.slice(0, 3), [
      "message.created",
      "tool_call.started",
      "tool_call.completed",
    ]);
    assert.equal(names.at(-1), "message.completed");
    assert.ok(names.slice(3, -1).every((n) => n === "delta") && names.length > 4);
    const started = events[1].data.tool_call;
    assert.equal(started.name, "search_mail");
    assert.deepEqual(JSON.parse(started.arguments), args);
    const done = events[2].data.tool_message;
    assert.equal(done.status, "completed");
    assert.equal(done.tool_name, "search_mail");
    assert.match(done.content, /Lunch tomorrow\?/);
    const text = events.filter((e) => e.event === "delta").map((e) => e.data.content).join("");
    const reply = events.at(-1)!.data.assistant_message;
    assert.equal(reply.content, text);
    assert.match(text, /Lunch tomorrow\?/);
    const seen = (await agentSeen(tag))!;
    assert.deepEqual(seen.rounds[0].tools, [...CALENDAR_TOOLS, ...MAIL_TOOLS]);
    assert.equal(seen.stream, true);
  });
}

test("a user without connections is offered no tools: the turn is the plain exchange", async () => {
  const { user } = await userWith("tools-none");
  const s = await newSession(user);
  const tag = newTag();
  const res = await send(user, s.id, {
    content: `calendar? ${toolDirective("list_events", tomorrow())} [[tag=${tag}]]`,
  });
  const body = parsed(Exchange, res, 201);
  assert.equal(body.tool_messages, undefined);
  const seen = (await agentSeen(tag))!;
  assert.equal(seen.tools, null);
  assert.equal(seen.rounds.length, 1);
  assert.ok(!seen.messages[0].content.includes(TOOL_INSTRUCTIONS));
  assert.equal(body.assistant_message.agent_response_data?.tools, undefined);
});

test("only allowed tools: a mail-only connection offers the mail tools", async () => {
  for (const provider of ["google", "microsoft"] as Provider[]) {
    const { user } = await userWith(`tools-mail-only-${provider}`, [provider, [MAIL(provider)]]);
    const s = await newSession(user);
    const tag = newTag();
    await send(user, s.id, { content: `hello [[tag=${tag}]]` });
    assert.deepEqual((await agentSeen(tag))!.tools, MAIL_TOOLS, provider);
  }
});

test("only allowed tools: the unified API's rule, so a failing connection still offers its tools", async () => {
  // refresh_failing still serves its token (the unified routes use it);
  // needs_reauth waits for the user, and offers nothing.
  const { user, accounts: [mail] } = await userWith("tools-health", ["google", ["gmail"]]);
  const s = await newSession(user);
  const offered = async (status: string) => {
    await sql.begin(async (tx) => {
      await tx`select set_config('role', 'service_role', true)`;
      await tx`update public.service_tokens
                  set status = ${status}, refresh_failures = 1,
                      failing_since = case when ${status} = 'refresh_failing' then now() end
                where id = ${mail.id}`;
    });
    const tag = newTag();
    await send(user, s.id, { content: `hello [[tag=${tag}]]` });
    return (await agentSeen(tag))!.tools;
  };
  assert.deepEqual(await offered("refresh_failing"), MAIL_TOOLS);
  assert.equal(await offered("needs_reauth"), null);
});

test("only allowed tools: read-only grants offer no writing tool", async () => {
  const { user } = await userWith("tools-read-only", ["google", ["calendar:read", "gmail:read"]], [
    "microsoft",
    ["outlook:read"],
  ]);
  const s = await newSession(user);
  const tag = newTag();
  await send(user, s.id, { content: `hello [[tag=${tag}]]` });
  assert.deepEqual((await agentSeen(tag))!.tools, [
    "list_events",
    "find_free_time",
    "search_mail",
    "read_mail",
  ]);
});

test("SSE: what the agent says beside its calls is streamed and kept in the reply", async () => {
  const { user } = await userWith("tools-preamble", ["google", ["calendar", "gmail"]]);
  const s = await newSession(user);
  const { events } = await streamTurn(
    user,
    s.id,
    `${toolDirective("list_events", tomorrow())} ${toolDirective("search_mail", { query: "x" })} ` +
      "[[tool-preamble]]",
  );
  const text = events.filter((e) => e.event === "delta").map((e) => e.data.content).join("");
  const reply = events.at(-1)!.data.assistant_message;
  assert.equal(reply.content, text);
  assert.match(text, /^Let me check \(round 1\)\. Let me check \(round 2\)\. This is the local/);
  const stored = (await messagesOf(s.id)).find((m) => m.id === reply.id)!;
  assert.equal(stored.content, text);
});
