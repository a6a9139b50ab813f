// Chat round trips against the local development agent: JSON and SSE, what
// the agent is sent, usage and cost, counters, reads, voice/avatar data,
// idempotent retries, concurrency, supabase-js and HeyGen tokens.
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import { parseChatConfig } from "../../shared/chat/config.ts";
import { ChatMessage, Exchange, HeygenToken } from "../../shared/chat/schemas.ts";
import { parsed, shaped } from "../helpers/assert.ts";
import { addMessages, ANON_KEY, API_URL, call, createUser, sql, test } from "../helpers/stack.ts";
import {
  AGENT_MODEL,
  agentSeen,
  expectedCost,
  HEYGEN_API_KEY,
  messagesOf,
  newSession,
  newTag,
  priceOf,
  readEvents,
  send,
  sendStream,
  sessionRow,
} from "./support.ts";

const alice = await createUser("chat-alice");
const config = parseChatConfig(Deno.env.toObject());
const agentConfig = config.agent!;

test("JSON: the message and the reply are stored with usage, cost and timing", async () => {
  const s = await newSession(alice, { title: "json" });
  await sql`update public.chat_sessions set last_activity_at = now() - interval '1 day'
             where id = ${s.id}`;
  const tag = newTag();
  const res = await send(alice, s.id, {
    content: `Plan my week [[tag=${tag}]]`,
    metadata: { client: "ios", locale: "en-GB" },
  });
  const { user_message: u, assistant_message: a } = parsed(Exchange, res, 201);
  const seen = (await agentSeen(tag))!;

  assert.equal(u.role, "user");
  assert.equal(u.content, `Plan my week [[tag=${tag}]]`);
  assert.equal(u.content_type, "text");
  assert.deepEqual(u.metadata, { client: "ios", locale: "en-GB" });
  assert.equal(u.message_index, 1);
  assert.equal(a.role, "assistant");
  assert.equal(a.message_index, 2);
  assert.equal(a.parent_message_id, u.id);
  assert.equal(a.status, "completed");
  assert.equal(a.content, seen.content);
  assert.ok(a.content.length > 0);
  assert.equal(a.prompt_tokens, seen.usage!.prompt_tokens);
  assert.equal(a.completion_tokens, seen.usage!.completion_tokens);
  assert.equal(a.total_tokens, seen.usage!.total_tokens);
  assert.equal(a.estimated_cost, expectedCost(seen.usage!, priceOf(AGENT_MODEL)!));
  assert.ok(Number.isInteger(a.processing_time_ms) && a.processing_time_ms! >= 0);
  assert.equal(a.agent_response_data?.model, AGENT_MODEL);
  assert.equal(a.agent_response_data?.finish_reason, "stop");
  assert.equal(a.agent_response_data?.usage_reported, true);
  assert.equal(a.error_code, null);

  const rows = await messagesOf(s.id);
  assert.deepEqual(rows.map((r) => [r.id, r.status]), [[u.id, "completed"], [a.id, "completed"]]);
  const after = await sessionRow(s.id);
  assert.equal(after.message_count, 2);
  assert.equal(Number(after.total_tokens_used), seen.usage!.total_tokens);
  assert.equal(Number(after.estimated_cost), a.estimated_cost);
  assert.ok(Date.now() - after.last_activity_at.getTime() < 60_000, "last_activity_at moved");
});

test("the agent is sent the configured model, key, system prompt and the new message", async () => {
  const s = await newSession(alice);
  const tag = newTag();
  await send(alice, s.id, { content: `first [[tag=${tag}]]` });
  const seen = (await agentSeen(tag))!;
  assert.equal(seen.authorized, true);
  assert.equal(seen.model, AGENT_MODEL);
  assert.equal(seen.stream, agentConfig.stream);
  assert.equal(seen.include_usage, true);
  assert.deepEqual(seen.messages, [
    { role: "system", content: agentConfig.systemPrompt },
    { role: "user", content: `first [[tag=${tag}]]` },
  ]);
});

test("the history sent is the session's latest messages, oldest first, without failed replies", async () => {
  const s = await newSession(alice);
  const tag1 = newTag();
  await send(alice, s.id, { content: `one [[tag=${tag1}]]` });
  const reply1 = (await agentSeen(tag1))!.content;
  await send(alice, s.id, { content: "two [[status=500]]" });
  const tag3 = newTag();
  await send(alice, s.id, { content: `three [[tag=${tag3}]]` });
  assert.deepEqual((await agentSeen(tag3))!.messages, [
    { role: "system", content: agentConfig.systemPrompt },
    { role: "user", content: `one [[tag=${tag1}]]` },
    { role: "assistant", content: reply1 },
    { role: "user", content: "two [[status=500]]" },
    { role: "user", content: `three [[tag=${tag3}]]` },
  ]);
});

test("the history is cut to AGENT_HISTORY_MESSAGES messages", async () => {
  const s = await newSession(alice);
  await addMessages(alice, s.id, agentConfig.historyMessages + 5);
  const tag = newTag();
  await send(alice, s.id, { content: `latest [[tag=${tag}]]` });
  const sent = (await agentSeen(tag))!.messages;
  assert.equal(sent.length, 1 + agentConfig.historyMessages + 1);
  assert.equal(sent[1].content, `message 6`);
  assert.equal(sent.at(-2)!.content, `message ${agentConfig.historyMessages + 5}`);
});

test("the session's temperature reaches the agent", async () => {
  const s = await newSession(alice, { agent_config: { temperature: 0.3 } });
  const tag = newTag();
  await send(alice, s.id, { content: `warm? [[tag=${tag}]]` });
  assert.equal((await agentSeen(tag))!.temperature, 0.3);
});

test("SSE: message.created, deltas that add up to the reply, message.completed", async () => {
  const s = await newSession(alice, { title: "sse" });
  const tag = newTag();
  const res = await sendStream(alice, s.id, { content: `Stream please [[tag=${tag}]]` });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
  assert.ok(res.headers.get("x-request-id"));
  const events = await readEvents(res);
  const names = events.map((e) => e.event);
  assert.equal(names[0], "message.created");
  assert.equal(names.at(-1), "message.completed");
  assert.ok(names.slice(1, -1).every((n) => n === "delta"));
  assert.ok(names.length > 3, "several deltas");

  const created = events[0].data;
  assert.equal(created.user_message.content, `Stream please [[tag=${tag}]]`);
  assert.equal(created.assistant_message.status, "processing");
  assert.equal(created.assistant_message.parent_message_id, created.user_message.id);
  const text = events.filter((e) => e.event === "delta").map((e) => e.data.content).join("");
  const done = events.at(-1)!.data.assistant_message;
  const seen = (await agentSeen(tag))!;
  assert.equal(text, seen.content);
  assert.equal(done.content, text);
  assert.equal(done.id, created.assistant_message.id);
  assert.equal(done.status, "completed");
  assert.equal(done.total_tokens, seen.usage!.total_tokens);
  assert.equal(done.estimated_cost, expectedCost(seen.usage!, priceOf(AGENT_MODEL)!));

  const rows = await messagesOf(s.id);
  assert.deepEqual(rows.map((r) => [r.role, r.status, r.content]), [
    ["user", "completed", `Stream please [[tag=${tag}]]`],
    ["assistant", "completed", text],
  ]);
  assert.equal(Number((await sessionRow(s.id)).total_tokens_used), seen.usage!.total_tokens);
});

test("content types, a parent in the same session, and a paused session", async () => {
  const s = await newSession(alice);
  const first = await send(alice, s.id, { content: '{"intent":"plan"}', content_type: "json" });
  assert.equal(parsed(Exchange, first, 201).user_message.content_type, "json");
  await call("PATCH", `/sessions/${s.id}`, { token: alice.token, body: { status: "paused" } });
  const reply = await send(alice, s.id, {
    content: "and the weekend?",
    content_type: "voice",
    parent_message_id: first.body.assistant_message.id,
  });
  const { user_message: answer } = parsed(Exchange, reply, 201);
  assert.equal(answer.parent_message_id, first.body.assistant_message.id);
  assert.equal(answer.message_index, 3);
});

test("GET returns the stored message, metadata and usage included", async () => {
  const s = await newSession(alice);
  const sent = await send(alice, s.id, { content: "read me back", metadata: { n: 1 } });
  const { user_message, assistant_message } = parsed(Exchange, sent, 201);
  for (const m of [user_message, assistant_message]) {
    const res = await call("GET", `/chat/${s.id}/messages/${m.id}`, { token: alice.token });
    assert.deepEqual(parsed(ChatMessage, res), m);
  }
});

test("PATCH records voice and avatar data on a reply", async () => {
  const s = await newSession(alice);
  const { assistant_message: a } = parsed(
    Exchange,
    await send(alice, s.id, { content: "say it" }),
    201,
  );
  const path = `/chat/${s.id}/messages/${a.id}`;

  const voice = await call("PATCH", path, {
    token: alice.token,
    body: { voice_response_url: "https://cdn.example.com/voice/1.mp3" },
  });
  parsed(ChatMessage, voice);
  assert.equal(voice.body.has_voice_response, true, "a URL implies has_voice_response");
  assert.equal(voice.body.voice_response_url, "https://cdn.example.com/voice/1.mp3");
  assert.equal(voice.body.content, a.content);
  assert.ok(voice.body.updated_at > a.updated_at);

  const avatar = await call("PATCH", path, {
    token: alice.token,
    body: { has_avatar_response: true, avatar_session_id: "heygen-session:42" },
  });
  parsed(ChatMessage, avatar);
  assert.equal(avatar.body.has_avatar_response, true);
  assert.equal(avatar.body.avatar_session_id, "heygen-session:42");
  assert.equal(avatar.body.voice_response_url, "https://cdn.example.com/voice/1.mp3");

  const cleared = await call("PATCH", path, {
    token: alice.token,
    body: { has_voice_response: false, avatar_session_id: null },
  });
  parsed(ChatMessage, cleared);
  assert.equal(cleared.body.has_voice_response, false);
  assert.equal(cleared.body.voice_response_url, null, "clearing the flag clears the URL");
  assert.equal(cleared.body.avatar_session_id, null);
  assert.deepEqual(
    parsed(ChatMessage, await call("GET", path, { token: alice.token })),
    cleared.body,
  );
  // Usage is untouched by the client's update.
  assert.equal(cleared.body.total_tokens, a.total_tokens);
});

test("a retry with the same Idempotency-Key returns the first exchange", async () => {
  const s = await newSession(alice);
  const tag = newTag();
  const key = crypto.randomUUID();
  const body = { content: `only once [[tag=${tag}]]`, metadata: { a: 1, b: 2 } };
  const first = await send(alice, s.id, body, { "Idempotency-Key": key });
  parsed(Exchange, first, 201);
  assert.equal(first.headers.get("idempotent-replayed"), null);
  // Same body with fields in another order and the default content_type spelled out.
  const again = await send(alice, s.id, {
    metadata: { b: 2, a: 1 },
    content_type: "text",
    content: `only once [[tag=${tag}]]`,
  }, { "Idempotency-Key": key });
  parsed(Exchange, again, 201);
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.deepEqual(again.body, first.body);
  assert.equal((await messagesOf(s.id)).length, 2);
  assert.equal((await agentSeen(tag))!.requests, 1, "the agent was asked once");
  assert.equal((await sessionRow(s.id)).message_count, 2);

  const [key_row] = await sql`select user_message_id, assistant_message_id,
                                     expires_at - created_at as ttl
                                from public.idempotency_keys where user_id = ${alice.id} and key = ${key}`;
  assert.equal(key_row.user_message_id, first.body.user_message.id);
  assert.equal(key_row.assistant_message_id, first.body.assistant_message.id);
});

test("an SSE retry with the same key replays the stored exchange as events", async () => {
  const s = await newSession(alice);
  const key = crypto.randomUUID();
  const first = await send(alice, s.id, { content: "replay me" }, { "Idempotency-Key": key });
  parsed(Exchange, first, 201);
  const res = await sendStream(alice, s.id, { content: "replay me" }, { "Idempotency-Key": key });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("idempotent-replayed"), "true");
  const events = await readEvents(res);
  assert.deepEqual(events.map((e) => e.event), ["message.created", "delta", "message.completed"]);
  assert.equal(events[0].data.user_message.id, first.body.user_message.id);
  assert.equal(events[1].data.content, first.body.assistant_message.content);
  assert.deepEqual(events[2].data.assistant_message, first.body.assistant_message);
  assert.equal((await messagesOf(s.id)).length, 2);
});

test("keys are per user: another user's same key is a new exchange", async () => {
  const bob = await createUser("chat-bob");
  const key = crypto.randomUUID();
  const sa = await newSession(alice);
  const sb = await newSession(bob);
  const a = await send(alice, sa.id, { content: "same words" }, { "Idempotency-Key": key });
  const b = await send(bob, sb.id, { content: "same words" }, { "Idempotency-Key": key });
  assert.notEqual(
    parsed(Exchange, a, 201).user_message.id,
    parsed(Exchange, b, 201).user_message.id,
  );
});

test("an expired key is free again", async () => {
  const s = await newSession(alice);
  const key = crypto.randomUUID();
  const first = await send(alice, s.id, { content: "old" }, { "Idempotency-Key": key });
  parsed(Exchange, first, 201);
  await sql`update public.idempotency_keys
               set created_at = now() - interval '25 hours', expires_at = now() - interval '1 hour'
             where user_id = ${alice.id} and key = ${key}`;
  const second = await send(alice, s.id, { content: "new" }, { "Idempotency-Key": key });
  parsed(Exchange, second, 201);
  assert.notEqual(second.body.user_message.id, first.body.user_message.id);
  const [row] = await sql`select user_message_id, expires_at > now() as live
                            from public.idempotency_keys where user_id = ${alice.id} and key = ${key}`;
  assert.equal(row.user_message_id, second.body.user_message.id);
  assert.equal(row.live, true);
});

test("20 concurrent sends to one session: gap-free indexes and exact counters", async () => {
  const s = await newSession(alice, { title: "busy" });
  const tags = Array.from({ length: 20 }, newTag);
  const results = await Promise.all(
    tags.map((tag, i) => send(alice, s.id, { content: `message ${i} [[tag=${tag}]]` })),
  );
  for (const r of results) parsed(Exchange, r, 201);
  const rows = await messagesOf(s.id);
  assert.deepEqual(rows.map((r) => r.message_index), Array.from({ length: 40 }, (_, i) => i + 1));
  assert.equal(rows.filter((r) => r.role === "user").length, 20);
  assert.ok(rows.every((r) => r.status === "completed"));
  // Each reply follows its own message.
  for (const r of results) {
    assert.equal(r.body.assistant_message.parent_message_id, r.body.user_message.id);
  }
  const seen = await Promise.all(tags.map(async (t) => (await agentSeen(t))!));
  const tokens = seen.reduce((n, x) => n + x.usage!.total_tokens, 0);
  const cost = results.reduce((n, r) => n + Number(r.body.assistant_message.estimated_cost), 0);
  const session = await sessionRow(s.id);
  assert.equal(session.message_count, 40);
  assert.equal(session.last_message_index, 40);
  assert.equal(Number(session.total_tokens_used), tokens);
  assert.equal(Number(session.estimated_cost).toFixed(6), cost.toFixed(6));
  const [sums] = await sql`select sum(total_tokens)::int8::text as tokens,
                                  sum(estimated_cost)::text as cost
                             from public.messages where session_id = ${s.id}`;
  assert.equal(Number(sums.tokens), tokens);
  assert.equal(Number(sums.cost), Number(session.estimated_cost));
});

test("10 concurrent sends with one Idempotency-Key make one exchange", async () => {
  const s = await newSession(alice);
  const key = crypto.randomUUID();
  const tag = newTag();
  const results = await Promise.all(
    Array.from(
      { length: 10 },
      () => send(alice, s.id, { content: `once [[tag=${tag}]]` }, { "Idempotency-Key": key }),
    ),
  );
  const statuses = results.map((r) => r.status);
  assert.ok(statuses.every((st) => st === 201 || st === 409), statuses.join(","));
  assert.ok(statuses.includes(201));
  for (const r of results.filter((r) => r.status === 409)) {
    assert.equal(r.body.error.code, "idempotency_in_progress");
  }
  const ids = new Set(
    results.filter((r) => r.status === 201).map((r) => parsed(Exchange, r, 201).user_message.id),
  );
  assert.equal(ids.size, 1);
  assert.equal((await messagesOf(s.id)).length, 2);
  assert.equal((await agentSeen(tag))!.requests, 1);
  assert.equal((await sessionRow(s.id)).message_count, 2);
});

test("supabase-js: functions.invoke sends and streams", async () => {
  const s = await newSession(alice);
  const supabase = createClient(API_URL, ANON_KEY, {
    global: { headers: { Authorization: `Bearer ${alice.token}` } },
    auth: { persistSession: false, autoRefreshToken: false },
  });
  const { data, error } = await supabase.functions.invoke(`chat/${s.id}/messages`, {
    body: { content: "Hello from supabase-js" },
  });
  assert.equal(error, null);
  shaped(Exchange, data);
  assert.equal(data.user_message.content, "Hello from supabase-js");
  assert.equal(data.assistant_message.status, "completed");

  const streamed = await supabase.functions.invoke(`chat/${s.id}/messages`, {
    body: { content: "Stream to supabase-js" },
    headers: { Accept: "text/event-stream" },
  });
  assert.equal(streamed.error, null);
  const events = await readEvents(streamed.data as Response);
  assert.equal(events.at(-1)!.event, "message.completed");
  assert.equal((await messagesOf(s.id)).length, 4);
});

test("HeyGen: a short-lived token, never the API key", async () => {
  const first = await call("POST", "/chat/heygen/token", { token: alice.token });
  parsed(HeygenToken, first);
  assert.deepEqual(Object.keys(first.body), ["token"]);
  assert.match(first.body.token, /^local-heygen-session-/);
  assert.equal(first.headers.get("cache-control"), "no-store");
  assert.ok(!JSON.stringify(first.body).includes(HEYGEN_API_KEY));
  const second = await call("POST", "/chat/heygen/token", { token: alice.token });
  assert.notEqual(parsed(HeygenToken, second).token, first.body.token);
});
