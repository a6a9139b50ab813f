// Chat failures: bad input is a 4xx that stores nothing; closed sessions are
// 409; every agent failure (500, 429, broken or corrupt stream, client gone)
// keeps the user's message, stores the reply as failed with what arrived,
// changes nothing stored before it, and answers with the envelope or a
// message.failed event; idempotency conflicts;
// and no key ever shows up in a response or a log line.
import assert from "node:assert/strict";
import { ChatMessage, Exchange } from "../../shared/chat/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { snapshotOf } from "../helpers/snapshot.ts";
import { type Call, call, createUser, sql, test } from "../helpers/stack.ts";
import {
  AGENT_API_KEY,
  agentSeen,
  assertOnlyFailedExchangeAdded,
  HEYGEN_API_KEY,
  messagesOf,
  newSession,
  newTag,
  readEvents,
  send,
  sendStream,
  sessionRow,
  sessionWithHistory,
  waitFor,
} from "./support.ts";

const user = await createUser("chat-errors");
const seenResponses: string[] = [];
function keep(res: Call): Call {
  seenResponses.push(JSON.stringify(res.body), JSON.stringify([...res.headers]));
  return res;
}

async function assertNothingStored(sessionId: string) {
  assert.equal((await messagesOf(sessionId)).length, 0);
  assert.equal((await sessionRow(sessionId)).message_count, 0);
}

// --- input -------------------------------------------------------------------------

const badBodies: Array<[string, unknown]> = [
  ["no content", { content_type: "text" }],
  ["blank content", { content: "  \n " }],
  ["content over 32 000 characters", { content: "x".repeat(32_001) }],
  ["content with a NUL", { content: "a\u0000b" }],
  ["an unknown content_type", { content: "hi", content_type: "html" }],
  ["json content that is not JSON", { content: "{nope", content_type: "json" }],
  ["an extra field", { content: "hi", role: "assistant" }],
  ["a parent that is not a uuid", { content: "hi", parent_message_id: "42" }],
  ["metadata that is an array", { content: "hi", metadata: [1] }],
  ["metadata over 16 KiB", { content: "hi", metadata: { blob: "x".repeat(17_000) } }],
  ["metadata with a NUL", { content: "hi", metadata: { a: "\u0000" } }],
  ["a body that is an array", [{ content: "hi" }]],
  ["content that is not a string", { content: 42 }],
];

for (const [name, body] of badBodies) {
  test(`send rejects ${name} with 400 and stores nothing`, async () => {
    const s = await newSession(user);
    assertError(keep(await send(user, s.id, body)), 400, "validation_failed");
    await assertNothingStored(s.id);
  });
}

test("send rejects malformed JSON (400) and a non-JSON body (415)", async () => {
  const s = await newSession(user);
  assertError(
    await call("POST", `/chat/${s.id}/messages`, {
      token: user.token,
      body: '{"content": "x"',
      headers: { "Content-Type": "application/json" },
    }),
    400,
    "validation_failed",
  );
  assertError(
    await call("POST", `/chat/${s.id}/messages`, {
      token: user.token,
      body: "content=x",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    }),
    415,
    "unsupported_media_type",
  );
  await assertNothingStored(s.id);
});

test("a body over 1 MiB is 413", async () => {
  const s = await newSession(user);
  const res = await call("POST", `/chat/${s.id}/messages`, {
    token: user.token,
    body: JSON.stringify({ content: "x".repeat(1024 * 1024 + 1) }),
    headers: { "Content-Type": "application/json" },
  });
  assertError(res, 413, "payload_too_large");
  await assertNothingStored(s.id);
});

for (
  const [name, key] of [["with a space", "a b"], ["over 255 characters", "k".repeat(256)], [
    "empty",
    "",
  ]]
) {
  test(`an Idempotency-Key ${name} is 400`, async () => {
    const s = await newSession(user);
    const res = await send(user, s.id, { content: "hi" }, { "Idempotency-Key": key });
    assertError(res, 400, "validation_failed");
    await assertNothingStored(s.id);
  });
}

test("a malformed session id is 400; an unknown one is 404", async () => {
  assertError(await send(user, "not-a-uuid", { content: "hi" }), 400, "validation_failed");
  assertError(await send(user, crypto.randomUUID(), { content: "hi" }), 404, "not_found");
});

test("a parent from another session is 400 and stores nothing", async () => {
  const other = await newSession(user);
  const { user_message } = parsed(
    Exchange,
    await send(user, other.id, { content: "elsewhere" }),
    201,
  );
  const s = await newSession(user);
  const res = await send(user, s.id, { content: "hi", parent_message_id: user_message.id });
  assertError(res, 400, "validation_failed");
  assert.deepEqual(res.body.error.details.issues, [
    { path: "parent_message_id", message: "is not a message of this session" },
  ]);
  await assertNothingStored(s.id);
});

for (const status of ["archived", "ended"]) {
  test(`sending to an ${status} session is 409 session_closed and stores nothing`, async () => {
    const s = await newSession(user);
    if (status === "archived") {
      await call("POST", `/sessions/${s.id}/archive`, { token: user.token });
    } else {
      await call("PATCH", `/sessions/${s.id}`, { token: user.token, body: { status: "ended" } });
    }
    const res = await send(user, s.id, { content: "anyone there?" });
    assertError(res, 409, "session_closed");
    assert.equal(res.body.error.details.status, status);
    const streamed = await sendStream(user, s.id, { content: "anyone there?" });
    assert.equal(streamed.status, 409);
    assert.match(streamed.headers.get("content-type")!, /application\/json/);
    assert.equal((await streamed.json()).error.code, "session_closed");
    await assertNothingStored(s.id);
  });
}

// --- agent failures, JSON ------------------------------------------------------------

// partial: the reply's text when the failure hits (what the client saw).
type Failure = {
  directive: string;
  status: number;
  code: string;
  errorCode: string;
  partial: string;
};
const failures: Failure[] = [
  {
    directive: "[[status=500]]",
    status: 502,
    code: "agent_error",
    errorCode: "agent_http_error",
    partial: "",
  },
  {
    directive: "[[status=503]]",
    status: 502,
    code: "agent_error",
    errorCode: "agent_http_error",
    partial: "",
  },
  {
    directive: "[[status=400]]",
    status: 502,
    code: "agent_error",
    errorCode: "agent_http_error",
    partial: "",
  },
  {
    directive: "[[status=429]]",
    status: 503,
    code: "agent_unavailable",
    errorCode: "agent_rate_limited",
    partial: "",
  },
  {
    directive: "[[break=3]] [[words=40]]",
    status: 502,
    code: "agent_error",
    errorCode: "agent_stream_interrupted",
    partial: "word1 word2 word3 ",
  },
  {
    directive: "[[stream-error]] [[words=10]]",
    status: 502,
    code: "agent_error",
    errorCode: "agent_stream_error",
    partial: "word1 word2 ",
  },
  {
    directive: "[[garbage]] [[words=10]]",
    status: 502,
    code: "agent_error",
    errorCode: "agent_invalid_response",
    partial: "word1 word2 ",
  },
];

for (const f of failures) {
  test(`agent ${f.directive}: ${f.status} ${f.code}, message kept, reply failed with its text, nothing earlier changed`, async () => {
    const { user: owner, session: s } = await sessionWithHistory("agent-fails");
    const tag = newTag();
    const content = `fail please ${f.directive} [[tag=${tag}]]`;
    const before = await snapshotOf(owner.id);
    const res = keep(await send(owner, s.id, { content }));
    assertError(res, f.status, f.code);
    const seen = (await agentSeen(tag))!;
    const [u, a] = (await messagesOf(s.id)).slice(-2);
    assert.deepEqual([u.role, u.status, u.content], ["user", "completed", content]);
    assert.deepEqual([a.role, a.status, a.error_code], ["assistant", "failed", f.errorCode]);
    assert.equal(a.parent_message_id, u.id);
    assert.equal(a.content, f.partial, "the partial text that arrived is kept");
    assert.ok(seen.content.startsWith(a.content));
    assert.equal(a.total_tokens, null);
    assert.equal(a.estimated_cost, null);
    assert.deepEqual(res.body.error.details, {
      reason: f.errorCode,
      user_message_id: u.id,
      assistant_message_id: a.id,
    });
    await assertOnlyFailedExchangeAdded(owner, s.id, before, {
      user: u.id,
      reply: a.id,
      content,
      errorCode: f.errorCode,
    });
    // The stored reply reads the same through the API.
    const got = parsed(
      ChatMessage,
      await call("GET", `/chat/${s.id}/messages/${a.id}`, { token: owner.token }),
    );
    assert.equal(got.status, "failed");
    assert.equal(got.error_code, f.errorCode);
    assert.equal(typeof got.error_message, "string");
  });
}

test("a broken stream keeps the text that arrived before the break", async () => {
  const s = await newSession(user);
  const tag = newTag();
  await send(user, s.id, { content: `[[break=5]] [[words=30]] [[tag=${tag}]]` });
  const [, a] = await messagesOf(s.id);
  assert.equal(a.content, "word1 word2 word3 word4 word5 ");
  assert.equal((await agentSeen(tag))!.outcome, "dropped");
});

test("agent 429: Retry-After is passed on and recorded", async () => {
  const s = await newSession(user);
  const res = await send(user, s.id, { content: "busy? [[status=429]]" });
  assertError(res, 503, "agent_unavailable");
  assert.equal(res.headers.get("retry-after"), "7");
  const [, a] = await messagesOf(s.id);
  assert.equal(a.agent_response_data!.retry_after, 7);
  assert.equal(a.agent_response_data!.upstream_status, 429);
  assert.equal(a.agent_response_data!.upstream_code, "rate_limit_exceeded");
});

// --- agent failures, SSE -------------------------------------------------------------

for (const f of failures) {
  test(`SSE agent ${f.directive}: message.failed with the partial reply, nothing earlier changed`, async () => {
    const { user: owner, session: s } = await sessionWithHistory("agent-fails-sse");
    const tag = newTag();
    const content = `x ${f.directive} [[tag=${tag}]]`;
    const before = await snapshotOf(owner.id);
    const res = await sendStream(owner, s.id, { content });
    assert.equal(res.status, 200);
    const requestId = res.headers.get("x-request-id");
    const events = await readEvents(res);
    const names = events.map((e) => e.event);
    assert.equal(names[0], "message.created");
    assert.equal(names.at(-1), "message.failed");
    const failed = events.at(-1)!.data;
    const deltas = events.filter((e) => e.event === "delta").map((e) => e.data.content).join("");
    assert.equal(failed.error.code, f.code);
    assert.equal(failed.error.request_id, requestId);
    assert.equal(failed.assistant_message.status, "failed");
    assert.equal(failed.assistant_message.error_code, f.errorCode);
    assert.equal(failed.assistant_message.content, deltas);
    assert.equal(deltas, f.partial);
    assert.ok((await agentSeen(tag))!.content.startsWith(deltas));
    const [u, a] = (await messagesOf(s.id)).slice(-2);
    assert.equal(u.id, events[0].data.user_message.id);
    assert.deepEqual([a.id, a.status, a.content], [failed.assistant_message.id, "failed", deltas]);
    await assertOnlyFailedExchangeAdded(owner, s.id, before, {
      user: u.id,
      reply: a.id,
      content,
      errorCode: f.errorCode,
    });
    seenResponses.push(JSON.stringify(events));
  });
}

test("SSE: a client that disconnects stops the agent; the partial reply is stored", async () => {
  const s = await newSession(user);
  const tag = newTag();
  const content = `long one [[slow=150]] [[words=60]] [[tag=${tag}]]`;
  const res = await sendStream(user, s.id, { content });
  // Hang up after the second piece of text.
  const events = await readEvents(
    res,
    (_, all) => all.filter((e) => e.event === "delta").length === 2,
  );
  assert.equal(events[0].event, "message.created");
  const replyId = events[0].data.assistant_message.id;

  const seen = await waitFor("the agent to see the client go", async () => {
    const r = await agentSeen(tag);
    return r?.outcome === "client_closed" ? r : undefined;
  });
  assert.ok(seen.chunks_sent < 60, `the agent stopped early (${seen.chunks_sent} of 60 chunks)`);
  const reply = await waitFor("the reply to be settled", async () => {
    const [row] =
      await sql`select status, error_code, content from public.messages where id = ${replyId}`;
    return row.status === "processing" ? undefined : row;
  });
  assert.equal(reply.status, "failed");
  assert.equal(reply.error_code, "client_disconnected");
  assert.ok(reply.content.startsWith("word1 word2 "), reply.content);
  assert.ok(seen.content.startsWith(reply.content));
  const [u] = await messagesOf(s.id);
  assert.deepEqual([u.role, u.content], ["user", content]);
});

// --- idempotency ---------------------------------------------------------------------

test("the same key with another body is 422 and stores nothing new", async () => {
  const s = await newSession(user);
  const key = crypto.randomUUID();
  assert.equal(
    (await send(user, s.id, { content: "first" }, { "Idempotency-Key": key })).status,
    201,
  );
  for (
    const body of [
      { content: "second" },
      { content: "first", content_type: "markdown" },
      { content: "first", metadata: { x: 1 } },
    ]
  ) {
    assertError(
      await send(user, s.id, body, { "Idempotency-Key": key }),
      422,
      "idempotency_mismatch",
    );
  }
  const other = await newSession(user);
  assertError(
    await send(user, other.id, { content: "first" }, { "Idempotency-Key": key }),
    422,
    "idempotency_mismatch",
  );
  assert.equal((await messagesOf(s.id)).length, 2);
  await assertNothingStored(other.id);
});

test("a retry while the first request still runs is 409, then replays", async () => {
  const s = await newSession(user);
  const key = crypto.randomUUID();
  const body = { content: `slow [[slow=100]] [[words=20]] [[tag=${newTag()}]]` };
  const first = await sendStream(user, s.id, body, { "Idempotency-Key": key });
  // Keep reading the first stream to its end; retry once it has started.
  let started!: () => void;
  const createdSeen = new Promise<void>((resolve) => (started = resolve));
  const reading = readEvents(first, (e) => {
    if (e.event === "message.created") started();
    return false;
  });
  await createdSeen;
  const during = await send(user, s.id, body, { "Idempotency-Key": key });
  assertError(during, 409, "idempotency_in_progress");
  assert.equal(during.headers.get("retry-after"), "1");

  const events = await reading;
  assert.equal(events.at(-1)!.event, "message.completed");
  const created = events[0].data;
  assert.equal(during.body.error.details.user_message_id, created.user_message.id);
  const after = await send(user, s.id, body, { "Idempotency-Key": key });
  parsed(Exchange, after, 201);
  assert.equal(after.body.user_message.id, created.user_message.id);
  assert.deepEqual(after.body.assistant_message, events.at(-1)!.data.assistant_message);
  assert.equal((await messagesOf(s.id)).length, 2);
});

test("a retry of a failed exchange replays the failure without asking the agent again", async () => {
  const s = await newSession(user);
  const key = crypto.randomUUID();
  const tag = newTag();
  const body = { content: `[[status=500]] [[tag=${tag}]]` };
  const first = await send(user, s.id, body, { "Idempotency-Key": key });
  assertError(first, 502, "agent_error");
  const again = await send(user, s.id, body, { "Idempotency-Key": key });
  assertError(again, 502, "agent_error");
  assert.equal(again.headers.get("idempotent-replayed"), "true");
  assert.deepEqual(again.body.error.details, first.body.error.details);
  assert.notEqual(again.body.error.request_id, first.body.error.request_id);
  assert.equal((await agentSeen(tag))!.requests, 1);
  assert.equal((await messagesOf(s.id)).length, 2);

  const streamed = await sendStream(user, s.id, body, { "Idempotency-Key": key });
  const events = await readEvents(streamed);
  assert.deepEqual(events.map((e) => e.event), ["message.created", "message.failed"]);
  assert.equal(events[1].data.error.code, "agent_error");
});

test("a retry after the session was archived still replays the first result", async () => {
  const s = await newSession(user);
  const key = crypto.randomUUID();
  const first = await send(user, s.id, { content: "before" }, { "Idempotency-Key": key });
  parsed(Exchange, first, 201);
  await call("POST", `/sessions/${s.id}/archive`, { token: user.token });
  const again = await send(user, s.id, { content: "before" }, { "Idempotency-Key": key });
  parsed(Exchange, again, 201);
  assert.deepEqual(again.body, first.body);
  assertError(await send(user, s.id, { content: "after" }), 409, "session_closed");
});

// --- reads and updates ---------------------------------------------------------------

test("GET: unknown, malformed, and a message of another session", async () => {
  const s = await newSession(user);
  const other = await newSession(user);
  const { user_message: m } = parsed(
    Exchange,
    await send(user, other.id, { content: "over there" }),
    201,
  );
  assertError(
    await call("GET", `/chat/${s.id}/messages/${crypto.randomUUID()}`, { token: user.token }),
    404,
    "not_found",
  );
  assertError(
    await call("GET", `/chat/${s.id}/messages/${m.id}`, { token: user.token }),
    404,
    "not_found",
  );
  assertError(
    await call("GET", `/chat/${s.id}/messages/nope`, { token: user.token }),
    400,
    "validation_failed",
  );
});

const badPatches: Array<[string, unknown]> = [
  ["an empty patch", {}],
  ["an unknown field", { content: "rewritten" }],
  ["usage", { total_tokens: 1 }],
  ["a javascript: URL", { voice_response_url: "javascript:alert(1)" }],
  ["a URL that is not one", { voice_response_url: "not a url" }],
  ["a URL over 2048 characters", { voice_response_url: `https://x.example/${"a".repeat(2050)}` }],
  ["a URL while switching voice off", {
    has_voice_response: false,
    voice_response_url: "https://x.example/v.mp3",
  }],
  ["an avatar session while switching the avatar off", {
    has_avatar_response: false,
    avatar_session_id: "abc",
  }],
  ["an avatar session id with spaces", { avatar_session_id: "a b" }],
  ["a flag that is not a boolean", { has_voice_response: "yes" }],
];

for (const [name, body] of badPatches) {
  test(`PATCH rejects ${name} with 400 and changes nothing`, async () => {
    const s = await newSession(user);
    const { assistant_message: a } = parsed(
      Exchange,
      await send(user, s.id, { content: "hi" }),
      201,
    );
    const path = `/chat/${s.id}/messages/${a.id}`;
    assertError(
      keep(await call("PATCH", path, { token: user.token, body })),
      400,
      "validation_failed",
    );
    assert.deepEqual(parsed(ChatMessage, await call("GET", path, { token: user.token })), a);
  });
}

test("PATCH: a user's own message is 409, an unknown one 404", async () => {
  const s = await newSession(user);
  const { user_message: u } = parsed(Exchange, await send(user, s.id, { content: "hi" }), 201);
  const res = await call("PATCH", `/chat/${s.id}/messages/${u.id}`, {
    token: user.token,
    body: { has_voice_response: true },
  });
  assertError(res, 409, "conflict");
  assertError(
    await call("PATCH", `/chat/${s.id}/messages/${crypto.randomUUID()}`, {
      token: user.token,
      body: { has_voice_response: true },
    }),
    404,
    "not_found",
  );
  const [row] = await sql`select has_voice_response from public.messages where id = ${u.id}`;
  assert.equal(row.has_voice_response, false);
});

// --- secrets -------------------------------------------------------------------------

test("no response and no log line ever shows the agent's or HeyGen's key", async () => {
  // Exercise the paths that talk to the agent and HeyGen once more.
  const s = await newSession(user);
  keep(await send(user, s.id, { content: "[[status=401]]" }));
  keep(await call("POST", "/chat/heygen/token", { token: user.token }));
  const everything = seenResponses.join("\n");
  assert.ok(everything.length > 1000);
  for (const secret of [AGENT_API_KEY, HEYGEN_API_KEY]) {
    assert.ok(secret && secret.length >= 8);
    assert.ok(!everything.includes(secret), "a key reached a response");
  }
  const stackDir = new URL(".", `file://${Deno.env.get("SIGNING_KEY_FILE")}`);
  const gatewayLog = await Deno.readTextFile(new URL("gateway.log", stackDir));
  assert.ok(gatewayLog.includes('"chat reply"'), "the log holds chat lines");
  for (const secret of [AGENT_API_KEY, HEYGEN_API_KEY]) {
    assert.ok(!gatewayLog.includes(secret), "a key reached the gateway log");
  }
});
