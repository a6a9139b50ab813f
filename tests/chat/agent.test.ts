// The chat domain's building blocks on their own: the event-stream parser,
// the prompt window, prices, request fingerprints, and the agent client
// against the local development agent (streaming, not streaming, cancelled,
// cut at the length limit).
import assert from "node:assert/strict";
import {
  AgentFailure,
  callAgent,
  MAX_REPLY_CHARS,
  retryAfterSeconds,
} from "../../shared/chat/agent.ts";
import { type AgentConfig, parseChatConfig } from "../../shared/chat/config.ts";
import { estimateCost } from "../../shared/chat/cost.ts";
import { EventStreamParser } from "../../shared/chat/event-stream.ts";
import { buildPrompt, type HistoryRow } from "../../shared/chat/history.ts";
import { canonicalJson, requestHash } from "../../shared/chat/idempotency.ts";
import { test } from "../helpers/stack.ts";
import { agentSeen, historyRow, newTag } from "./support.ts";

const agent: AgentConfig = parseChatConfig(Deno.env.toObject()).agent!;

// --- event-stream parser -----------------------------------------------------------

const STREAM = ': keep-alive\n\ndata: {"a":1}\n\nevent: x\ndata: line1\ndata: line2\nid: 7\n\n' +
  "data:no-space\r\n\r\ndata: [DONE]\n\n";
const EVENTS = ['{"a":1}', "line1\nline2", "no-space", "[DONE]"];

test("event-stream: whole, split at every position, one character at a time", () => {
  assert.deepEqual(new EventStreamParser().push(STREAM), EVENTS);
  for (let cut = 0; cut <= STREAM.length; cut++) {
    const p = new EventStreamParser();
    assert.deepEqual([...p.push(STREAM.slice(0, cut)), ...p.push(STREAM.slice(cut))], EVENTS);
  }
  const p = new EventStreamParser();
  assert.deepEqual([...STREAM].flatMap((ch) => p.push(ch)), EVENTS);
});

test("event-stream: a last event without its blank line comes out at the end", () => {
  const p = new EventStreamParser();
  assert.deepEqual(p.push('data: {"b":2}'), []);
  assert.deepEqual(p.end(), ['{"b":2}']);
  assert.deepEqual(p.end(), []);
});

// --- prompt window ------------------------------------------------------------------

const rows = (n: number, size = 10): HistoryRow[] =>
  Array.from(
    { length: n },
    (_, i) => historyRow(i % 2 ? "user" : "assistant", `${n - i}`.padEnd(size, ".")),
  ); // newest first: n, n-1, ...

test("prompt: system first, history oldest first, the new message last", () => {
  const p = buildPrompt(
    { systemPrompt: "be brief", historyMessages: 10, historyChars: 1000 },
    rows(3),
    "now",
  );
  assert.deepEqual(p.messages.map((m) => [m.role, m.content!.replace(/\.+$/, "")]), [
    ["system", "be brief"],
    ["assistant", "1"],
    ["user", "2"],
    ["assistant", "3"],
    ["user", "now"],
  ]);
  assert.equal(p.historyMessages, 3);
});

test("prompt: at most historyMessages, newest kept", () => {
  const p = buildPrompt({ systemPrompt: "", historyMessages: 2, historyChars: 1000 }, rows(5), "x");
  assert.deepEqual(p.messages.map((m) => m.content!.replace(/\.+$/, "")), ["4", "5", "x"]);
});

test("prompt: at most historyChars of history; the new message is always sent whole", () => {
  const p = buildPrompt(
    { systemPrompt: "s", historyMessages: 50, historyChars: 35 },
    rows(5, 10),
    "y".repeat(500),
  );
  assert.equal(p.historyMessages, 3);
  assert.equal(p.historyChars, 30);
  assert.equal(p.messages.at(-1)!.content!.length, 500);
  const none = buildPrompt(
    { systemPrompt: "s", historyMessages: 50, historyChars: 5 },
    rows(5),
    "z",
  );
  assert.deepEqual(none.messages.map((m) => m.content), ["s", "z"]);
});

// --- prices -------------------------------------------------------------------------

test("cost: per million tokens, rounded to 6 places; unknown model or usage is null", () => {
  const prices = { a: { prompt: 0.15, completion: 0.6 }, b: { prompt: 10, completion: 30 } };
  const usage = { prompt_tokens: 1234, completion_tokens: 567, total_tokens: 1801 };
  assert.equal(estimateCost(prices, ["a"], usage), 0.000525);
  assert.equal(estimateCost(prices, ["b", "a"], usage), 0.02935);
  assert.equal(estimateCost(prices, ["dated-a-2025", "a"], usage), 0.000525);
  assert.equal(estimateCost(prices, ["c"], usage), null);
  assert.equal(estimateCost(prices, [null, undefined], usage), null);
  assert.equal(estimateCost(prices, ["a"], null), null);
  assert.equal(estimateCost({}, ["a"], usage), null);
  assert.equal(estimateCost(prices, ["__proto__", "constructor"], usage), null);
  assert.equal(estimateCost({ free: { prompt: 0, completion: 0 } }, ["free"], usage), 0);
});

// --- fingerprints -------------------------------------------------------------------

test("request hash: field order does not matter, values do", async () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: null } }),
    '{"a":{"c":null,"d":[1,{"y":2,"z":1}]},"b":1}',
  );
  const h = await requestHash({ content: "hi", metadata: { x: 1, y: 2 } });
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(await requestHash({ metadata: { y: 2, x: 1 }, content: "hi" }), h);
  assert.equal(await requestHash({ content: "hi", metadata: { x: 1, y: 2 }, gone: undefined }), h);
  assert.notEqual(await requestHash({ content: "hi ", metadata: { x: 1, y: 2 } }), h);
  assert.notEqual(await requestHash({ content: "hi", metadata: { x: "1", y: 2 } }), h);
});

test("Retry-After: seconds or an HTTP date, clamped to 1 s … 1 h", () => {
  assert.equal(retryAfterSeconds("7"), 7);
  assert.equal(retryAfterSeconds("0"), 1);
  assert.equal(retryAfterSeconds("999999"), 3600);
  const soon = new Date(Date.now() + 120_000).toUTCString();
  const s = retryAfterSeconds(soon)!;
  assert.ok(s > 100 && s <= 120, String(s));
  assert.equal(retryAfterSeconds("whenever"), undefined);
  assert.equal(retryAfterSeconds(null), undefined);
});

// --- the client against the local development agent -------------------------------------

const user = (content: string) => [{ role: "user" as const, content }];

test("agent client, streaming: pieces arrive in order and add up; usage is read", async () => {
  const tag = newTag();
  const pieces: string[] = [];
  const reply = await callAgent(agent, {
    messages: user(`[[words=12]] [[tag=${tag}]]`),
    onDelta: (t) => {
      pieces.push(t);
    },
  });
  const seen = (await agentSeen(tag))!;
  assert.equal(reply.streamed, true);
  assert.equal(pieces.length, 12);
  assert.equal(pieces.join(""), reply.content);
  assert.equal(reply.content, seen.content);
  assert.deepEqual(reply.usage, seen.usage);
  assert.equal(reply.finishReason, "stop");
  assert.equal(reply.model, agent.model);
  assert.match(reply.responseId!, /^chatcmpl-/);
  assert.ok(reply.firstTokenMs !== null && reply.firstTokenMs >= 0);
});

test("agent client, not streaming: one answer with usage", async () => {
  const tag = newTag();
  const pieces: string[] = [];
  const reply = await callAgent({ ...agent, stream: false }, {
    messages: user(`[[tag=${tag}]]`),
    onDelta: (t) => {
      pieces.push(t);
    },
  });
  const seen = (await agentSeen(tag))!;
  assert.equal(seen.stream, false);
  assert.equal(reply.streamed, false);
  assert.deepEqual(pieces, [reply.content]);
  assert.deepEqual(reply.usage, seen.usage);
});

test("agent client: no usage reported is null, not zero", async () => {
  const reply = await callAgent(agent, { messages: user("[[no-usage]]") });
  assert.equal(reply.usage, null);
  assert.ok(reply.content.length > 0);
});

test("agent client: aborting stops the call and keeps what arrived", async () => {
  const ac = new AbortController();
  const tag = newTag();
  let n = 0;
  const err = await callAgent(agent, {
    messages: user(`[[slow=50]] [[words=40]] [[tag=${tag}]]`),
    signal: ac.signal,
    onDelta: () => {
      if (++n === 3) ac.abort();
    },
  }).catch((e) => e);
  assert.ok(err instanceof AgentFailure);
  assert.equal(err.kind, "cancelled");
  assert.equal(err.partial.content, "word1 word2 word3 ");
});

test("agent client: a reply over the length limit is cut there and marked", async () => {
  const words = Math.ceil(MAX_REPLY_CHARS / 5);
  const reply = await callAgent(agent, { messages: user(`[[slow=0]] [[words=${words}]]`) });
  assert.equal(reply.content.length, MAX_REPLY_CHARS);
  assert.equal(reply.truncated, true);
  assert.equal(reply.finishReason, "length");
});

test("agent client: a 429 carries Retry-After and the upstream code, never its text", async () => {
  const err = await callAgent(agent, { messages: user("[[status=429]]") }).catch((e) => e);
  assert.ok(err instanceof AgentFailure);
  assert.equal(err.kind, "rate_limited");
  assert.deepEqual(err.detail, { status: 429, retryAfter: 7, upstreamCode: "rate_limit_exceeded" });
  assert.ok(!err.message.includes("Rate limit reached"));
});
