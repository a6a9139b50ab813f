// The chat app built in this process with other configurations than the
// stack's: no agent, no HeyGen, short timeouts, a non-streaming agent, other
// price tables, an unreachable or refusing agent, HeyGen's failures. Same
// database, same local development agent; log lines are captured to prove no
// key is ever printed.
import assert from "node:assert/strict";
import { parseChatConfig, Secret } from "../../shared/chat/config.ts";
import { createStreamingToken, HeygenFailure } from "../../shared/chat/heygen.ts";
import { ChatMessage, Exchange, HeygenToken } from "../../shared/chat/schemas.ts";
import { buildChatApp } from "../../supabase/functions/chat/app.ts";
import { parsed } from "../helpers/assert.ts";
import { snapshotOf } from "../helpers/snapshot.ts";
import { createUser, test, type TestUser } from "../helpers/stack.ts";
import {
  AGENT_API_KEY,
  agentSeen,
  assertOnlyFailedExchangeAdded,
  HEYGEN_API_KEY,
  messagesOf,
  newSession,
  newTag,
  priceOf,
  readEvents,
  send,
  sessionRow,
  sessionWithHistory,
  waitFor,
} from "./support.ts";

const env = Deno.env.toObject();
const user = await createUser("chat-config");

// Everything the in-process apps print, for the last test.
const printed: string[] = [];
for (const name of ["log", "error", "warn", "info"] as const) {
  const original = console[name];
  console[name] = (...args: unknown[]) => {
    printed.push(args.map(String).join(" "));
    original(...args);
  };
}

function appWith(overrides: Record<string, string | undefined>) {
  return buildChatApp(parseChatConfig({ ...env, ...overrides }));
}

// deno-lint-ignore no-explicit-any
type Res = { status: number; headers: Headers; body: any };

async function request(
  app: ReturnType<typeof appWith>,
  method: string,
  path: string,
  o: { as?: TestUser; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Res> {
  const res = await app.request(`/chat${path}`, {
    method,
    headers: {
      Authorization: `Bearer ${(o.as ?? user).token}`,
      ...(o.body !== undefined ? { "Content-Type": "application/json" } : {}),
      ...o.headers,
    },
    body: o.body === undefined ? undefined : JSON.stringify(o.body),
  });
  const type = res.headers.get("content-type") ?? "";
  const body = type.includes("application/json") ? await res.json() : res;
  return { status: res.status, headers: res.headers, body };
}

function assertEnvelope(res: Res, status: number, code: string) {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body.error.code, code, JSON.stringify(res.body));
  assert.equal(res.headers.get("x-request-id"), res.body.error.request_id);
}

function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

// --- no agent ----------------------------------------------------------------------

test("no agent configured: sending is 503 agent_unavailable, nothing is stored", async () => {
  const app = appWith({ AGENT_URL: undefined });
  const s = await newSession(user);
  const res = await request(app, "POST", `/${s.id}/messages`, { body: { content: "hello?" } });
  assertEnvelope(res, 503, "agent_unavailable");
  assert.match(res.body.error.message, /AGENT_URL/);
  assert.equal(res.body.error.details.reason, "not_configured");
  const streamed = await request(app, "POST", `/${s.id}/messages`, {
    body: { content: "hello?" },
    headers: { Accept: "text/event-stream" },
  });
  assertEnvelope(streamed, 503, "agent_unavailable");
  assert.equal((await messagesOf(s.id)).length, 0);
});

test("no agent configured: reading, voice data, HeyGen and the docs keep working", async () => {
  const s = await newSession(user);
  const { assistant_message: a } = parsed(
    Exchange,
    await send(user, s.id, { content: "while it worked" }),
    201,
  );
  const app = appWith({ AGENT_URL: undefined, AGENT_MODEL: undefined });
  const got = await request(app, "GET", `/${s.id}/messages/${a.id}`);
  assert.equal(parsed(ChatMessage, got).id, a.id);
  const patched = await request(app, "PATCH", `/${s.id}/messages/${a.id}`, {
    body: { avatar_session_id: "avatar-1" },
  });
  assert.equal(parsed(ChatMessage, patched).has_avatar_response, true);
  parsed(HeygenToken, await request(app, "POST", "/heygen/token"));
  const doc = await app.request("/chat/openapi.json");
  assert.equal(doc.status, 200);
  await doc.body?.cancel();
});

// --- timeouts ---------------------------------------------------------------------

// An agent that says nothing, before its first word or in the middle of its
// reply, for JSON and SSE sends: 504 agent_timeout (or a message.failed
// event), the text so far kept, nothing stored earlier changed. The stall's
// timeout is long enough that a busy machine never delays the first pieces
// past it.
const silences = [
  { name: "never answers", directive: "[[hang]]", partial: "", timeoutMs: "300" },
  {
    name: "goes silent mid-stream",
    directive: "[[stall=2]] [[words=10]]",
    partial: "word1 word2 ",
    timeoutMs: "1000",
  },
];
for (const silence of silences) {
  for (const sse of [false, true]) {
    test(
      `an agent that ${silence.name} times out (${
        sse ? "SSE" : "JSON"
      }): 504, message kept, reply failed with the text so far, nothing earlier changed`,
      async () => {
        const app = appWith({ AGENT_TIMEOUT_MS: silence.timeoutMs });
        const { user: owner, session: s } = await sessionWithHistory("agent-silent");
        const tag = newTag();
        const content = `${silence.directive} [[tag=${tag}]]`;
        const before = await snapshotOf(owner.id);
        const res = await request(app, "POST", `/${s.id}/messages`, {
          as: owner,
          body: { content },
          headers: sse ? { Accept: "text/event-stream" } : {},
        });
        let ids: { user: string; reply: string };
        if (sse) {
          const events = await readEvents(res.body as Response);
          const failed = events.at(-1)!;
          assert.equal(failed.event, "message.failed");
          assert.equal(failed.data.error.code, "agent_timeout");
          assert.equal(failed.data.assistant_message.content, silence.partial);
          assert.equal(
            events.filter((e) => e.event === "delta").map((e) => e.data.content).join(""),
            silence.partial,
          );
          ids = { user: events[0].data.user_message.id, reply: failed.data.assistant_message.id };
        } else {
          assertEnvelope(res, 504, "agent_timeout");
          const { user_message_id, assistant_message_id } = res.body.error.details;
          ids = { user: user_message_id, reply: assistant_message_id };
        }
        const [u, a] = (await messagesOf(s.id)).slice(-2);
        assert.deepEqual([u.id, u.role, u.status], [ids.user, "user", "completed"]);
        assert.deepEqual([a.id, a.status, a.error_code, a.content], [
          ids.reply,
          "failed",
          "agent_timeout",
          silence.partial,
        ]);
        await assertOnlyFailedExchangeAdded(owner, s.id, before, {
          ...ids,
          content,
          errorCode: "agent_timeout",
        });
        if (silence.directive === "[[hang]]") {
          // On a loaded machine the agent may log the request after our timeout fired.
          const seen = await waitFor(
            "the agent to record the request",
            () => agentSeen(tag),
            5_000,
          );
          // "hung" turns "client_closed" once the agent's server notices that
          // we hung up: Deno 2.1.4 does, 2.9.6 often leaves the socket in
          // CLOSE-WAIT. Either way it was asked once and never answered.
          assert.deepEqual(
            [seen.requests, ["hung", "client_closed"].includes(seen.outcome)],
            [1, true],
            `asked once, never answered (${seen.outcome})`,
          );
        }
      },
    );
  }
}

test("the timeout is for silence, not for the whole answer", async () => {
  // 25 pieces 100 ms apart take 2.5 s; no gap comes near 1.5 s.
  const app = appWith({ AGENT_TIMEOUT_MS: "1500" });
  const s = await newSession(user);
  const res = await request(app, "POST", `/${s.id}/messages`, {
    body: { content: "[[slow=100]] [[words=25]]" },
  });
  assert.equal(parsed(Exchange, res, 201).assistant_message.content.split(" ").length, 25);
});

// --- a non-streaming agent ------------------------------------------------------------

test("AGENT_STREAM=false: JSON and SSE both work, usage is stored", async () => {
  const app = appWith({ AGENT_STREAM: "false" });
  const s = await newSession(user);
  const tag = newTag();
  const res = await request(app, "POST", `/${s.id}/messages`, {
    body: { content: `plain [[tag=${tag}]]` },
  });
  const a = parsed(Exchange, res, 201).assistant_message;
  const seen = (await agentSeen(tag))!;
  assert.equal(seen.stream, false);
  assert.equal(a.content, seen.content);
  assert.equal(a.total_tokens, seen.usage!.total_tokens);
  assert.equal(a.agent_response_data?.streamed, false);

  const streamed = await request(app, "POST", `/${s.id}/messages`, {
    body: { content: "plain, streamed to me" },
    headers: { Accept: "text/event-stream" },
  });
  const events = await readEvents(streamed.body as Response);
  assert.deepEqual(events.map((e) => e.event), ["message.created", "delta", "message.completed"]);
  assert.equal(events[1].data.content, events[2].data.assistant_message.content);
});

test("AGENT_STREAM=false: a body cut short is agent_stream_interrupted", async () => {
  const app = appWith({ AGENT_STREAM: "false" });
  const s = await newSession(user);
  const res = await request(app, "POST", `/${s.id}/messages`, { body: { content: "[[break]]" } });
  assertEnvelope(res, 502, "agent_error");
  const [u, a] = await messagesOf(s.id);
  assert.equal(u.role, "user");
  assert.deepEqual([a.status, a.error_code], ["failed", "agent_stream_interrupted"]);
});

// --- prices -------------------------------------------------------------------------

test("a model without a price costs null, not zero; tokens still count", async () => {
  const app = appWith({ AGENT_PRICES: "{}" });
  const s = await newSession(user);
  const res = await request(app, "POST", `/${s.id}/messages`, { body: { content: "free?" } });
  const a = parsed(Exchange, res, 201).assistant_message;
  assert.equal(a.estimated_cost, null);
  assert.ok(a.total_tokens! > 0);
  const session = await sessionRow(s.id);
  assert.equal(Number(session.total_tokens_used), a.total_tokens);
  assert.equal(Number(session.estimated_cost), 0);
});

test("the price of the model that answered wins; else the configured model's", async () => {
  const premium = { prompt: 10, completion: 30 };
  const app = appWith({
    AGENT_PRICES: JSON.stringify({ ...JSON.parse(env.AGENT_PRICES), "premium-model": premium }),
  });
  const s = await newSession(user);
  const tag = newTag();
  const res = await request(app, "POST", `/${s.id}/messages`, {
    body: { content: `[[model=premium-model]] [[tag=${tag}]]` },
  });
  const a = parsed(Exchange, res, 201).assistant_message;
  const usage = (await agentSeen(tag))!.usage!;
  const cost = (p: { prompt: number; completion: number }) =>
    Math.round(usage.prompt_tokens * p.prompt + usage.completion_tokens * p.completion) / 1e6;
  assert.equal(a.agent_response_data?.model, "premium-model");
  assert.equal(a.estimated_cost, cost(premium));

  const tag2 = newTag();
  const other = await request(app, "POST", `/${s.id}/messages`, {
    body: { content: `[[model=unlisted-model]] [[tag=${tag2}]]` },
  });
  const usage2 = (await agentSeen(tag2))!.usage!;
  const local = priceOf(env.AGENT_MODEL)!;
  assert.equal(
    parsed(Exchange, other, 201).assistant_message.estimated_cost,
    Math.round(usage2.prompt_tokens * local.prompt + usage2.completion_tokens * local.completion) /
      1e6,
  );
});

// --- an agent that cannot be used ----------------------------------------------------

test("an unreachable agent is 503 agent_unavailable, message kept", async () => {
  const app = appWith({ AGENT_URL: `http://127.0.0.1:${closedPort()}/v1` });
  const s = await newSession(user);
  const res = await request(app, "POST", `/${s.id}/messages`, { body: { content: "hello" } });
  assertEnvelope(res, 503, "agent_unavailable");
  assert.equal(res.headers.get("retry-after"), "5");
  const [u, a] = await messagesOf(s.id);
  assert.equal(u.content, "hello");
  assert.deepEqual([a.status, a.error_code], ["failed", "agent_unreachable"]);
});

test("an agent that refuses our key is 502, and the key is never echoed", async () => {
  const app = appWith({ AGENT_API_KEY: "sk-wrong-key-for-this-agent" });
  const s = await newSession(user);
  const tag = newTag();
  const res = await request(app, "POST", `/${s.id}/messages`, {
    body: { content: `[[tag=${tag}]]` },
  });
  assertEnvelope(res, 502, "agent_error");
  assert.equal((await agentSeen(tag))!.authorized, false);
  const [, a] = await messagesOf(s.id);
  assert.equal(a.agent_response_data!.upstream_status, 401);
  assert.equal(a.agent_response_data!.upstream_code, "invalid_api_key");
  assert.ok(!JSON.stringify(res.body).includes("sk-wrong-key"));
  assert.ok(!JSON.stringify(a).includes("sk-wrong-key"));
});

// --- HeyGen -------------------------------------------------------------------------

test("HeyGen not configured: 503 with a clear message", async () => {
  const app = appWith({ HEYGEN_API_KEY: undefined });
  const res = await request(app, "POST", "/heygen/token");
  assertEnvelope(res, 503, "service_unavailable");
  assert.match(res.body.error.message, /HEYGEN_API_KEY/);
  // Chat is unaffected.
  const s = await newSession(user);
  const sent = await request(app, "POST", `/${s.id}/messages`, { body: { content: "hi" } });
  parsed(Exchange, sent, 201);
});

type HeygenCase = {
  name: string;
  overrides: () => Record<string, string>;
  status: number;
  code: string;
  reason: string;
  retryAfter?: string;
};
const heygenCases: HeygenCase[] = [
  {
    name: "a refused key (401)",
    overrides: () => ({ HEYGEN_API_KEY: "not-the-right-key" }),
    status: 502,
    code: "heygen_error",
    reason: "unauthorized",
  },
  {
    name: "rate limiting (429)",
    overrides: () => ({ HEYGEN_API_KEY: `${HEYGEN_API_KEY}:rate-limited` }),
    status: 503,
    code: "service_unavailable",
    reason: "rate_limited",
    retryAfter: "30",
  },
  {
    name: "a server error (500)",
    overrides: () => ({ HEYGEN_API_KEY: `${HEYGEN_API_KEY}:server-error` }),
    status: 502,
    code: "heygen_error",
    reason: "http_error",
  },
  {
    name: "a 200 without a token",
    overrides: () => ({ HEYGEN_API_KEY: `${HEYGEN_API_KEY}:malformed` }),
    status: 502,
    code: "heygen_error",
    reason: "invalid_response",
  },
  {
    name: "a 200 with an error object",
    overrides: () => ({ HEYGEN_API_KEY: `${HEYGEN_API_KEY}:error-body` }),
    status: 502,
    code: "heygen_error",
    reason: "invalid_response",
  },
  {
    name: "no answer in time",
    overrides: () => ({
      HEYGEN_API_KEY: `${HEYGEN_API_KEY}:hang`,
      HEYGEN_TIMEOUT_MS: "300",
    }),
    status: 502,
    code: "heygen_error",
    reason: "timeout",
  },
  {
    name: "no HeyGen at all",
    overrides: () => ({ HEYGEN_BASE_URL: `http://127.0.0.1:${closedPort()}` }),
    status: 503,
    code: "service_unavailable",
    reason: "unreachable",
  },
];

for (const h of heygenCases) {
  test(`HeyGen ${h.name}: ${h.status} ${h.code}`, async () => {
    const overrides = h.overrides();
    const res = await request(appWith(overrides), "POST", "/heygen/token");
    assertEnvelope(res, h.status, h.code);
    assert.equal(res.body.error.details.reason, h.reason);
    if (h.retryAfter) assert.equal(res.headers.get("retry-after"), h.retryAfter);
    assert.ok(!JSON.stringify(res.body).includes(overrides.HEYGEN_API_KEY ?? HEYGEN_API_KEY));
    assert.equal(res.body.token, undefined);
  });
}

test("HeyGen's v1 error shape ({code, message}) is understood", async () => {
  const heygen = {
    apiKey: new Secret(""),
    baseUrl: new URL(env.HEYGEN_BASE_URL),
    timeoutMs: 2000,
  };
  const err = await createStreamingToken(heygen).catch((e) => e);
  assert.ok(err instanceof HeygenFailure);
  assert.equal(err.kind, "unauthorized");
  assert.equal(err.detail.upstreamCode, "400112");
});

// --- configuration ------------------------------------------------------------------

test("configuration errors name the variable and never the value", () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ AGENT_URL: "http://agent.example/v1" }, /AGENT_MODEL: is required with AGENT_URL/],
    [{ AGENT_URL: "ftp://agent.example", AGENT_MODEL: "m" }, /AGENT_URL/],
    [{ AGENT_TIMEOUT_MS: "soon" }, /AGENT_TIMEOUT_MS/],
    [{ AGENT_HISTORY_MESSAGES: "-1" }, /AGENT_HISTORY_MESSAGES/],
    [{ AGENT_PRICES: "{not json" }, /AGENT_PRICES: must be JSON/],
    [{ AGENT_PRICES: '{"m": {"prompt": -1, "completion": 1}}' }, /AGENT_PRICES/],
    [{ AGENT_STREAM: "yes" }, /AGENT_STREAM/],
    [{ HEYGEN_BASE_URL: "not a url", HEYGEN_API_KEY: "hg-secret-123" }, /HEYGEN_BASE_URL/],
  ];
  for (const [vars, pattern] of cases) {
    assert.throws(
      () => parseChatConfig({ ...vars, AGENT_API_KEY: "sk-secret-xyz" }),
      (e: Error) => {
        assert.match(e.message, pattern);
        assert.ok(!e.message.includes("sk-secret-xyz") && !e.message.includes("hg-secret-123"));
        return true;
      },
    );
  }
});

test("configuration: unset or empty means not configured; URLs become endpoints", () => {
  assert.deepEqual(parseChatConfig({}), { agent: null, heygen: null });
  assert.deepEqual(parseChatConfig({ AGENT_URL: "", HEYGEN_API_KEY: "" }), {
    agent: null,
    heygen: null,
  });
  const endpoint = (url: string) =>
    parseChatConfig({ AGENT_URL: url, AGENT_MODEL: "m" }).agent!.endpoint.href;
  assert.equal(endpoint("https://api.openai.com/v1"), "https://api.openai.com/v1/chat/completions");
  assert.equal(
    endpoint("https://generativelanguage.googleapis.com/v1beta/openai/"),
    "https://generativelanguage.googleapis.com/v1beta/openai/chat/completions",
  );
  assert.equal(
    endpoint("http://localhost:11434/v1/chat/completions"),
    "http://localhost:11434/v1/chat/completions",
  );
  const c = parseChatConfig({ AGENT_URL: "http://x/v1", AGENT_MODEL: "m" }).agent!;
  assert.equal(c.timeoutMs, 60_000);
  assert.equal(c.historyMessages, 20);
  assert.equal(c.historyChars, 24_000);
  assert.equal(c.stream, true);
  assert.deepEqual(c.prices, {});
  assert.equal(c.apiKey, null);
});

test("configuration never prints its keys", () => {
  const c = parseChatConfig({
    AGENT_URL: "http://x/v1",
    AGENT_MODEL: "m",
    AGENT_API_KEY: "sk-do-not-print",
    HEYGEN_API_KEY: "hg-do-not-print",
  });
  for (const text of [JSON.stringify(c), Deno.inspect(c, { depth: 10 }), String(c.agent!.apiKey)]) {
    assert.ok(!text.includes("do-not-print"), text);
  }
  assert.equal(c.agent!.apiKey!.reveal(), "sk-do-not-print");
});

test("nothing printed by these apps holds a key", () => {
  const text = printed.join("\n");
  assert.ok(text.includes("chat reply") && text.includes("heygen token failed"), "logs captured");
  for (
    const secret of [
      AGENT_API_KEY,
      HEYGEN_API_KEY,
      "sk-wrong-key-for-this-agent",
      "not-the-right-key",
    ]
  ) {
    assert.ok(!text.includes(secret), `a log line holds ${secret.slice(0, 4)}…`);
  }
});
