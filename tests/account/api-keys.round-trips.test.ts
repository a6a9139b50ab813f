// Database round trips per request with an API key on the routes converted to
// single-trip verification, and with a JWT on a fresh access-token: a gateway
// of its own reaches Postgres through the bench's counting relay
// (tests/bench/roundtrips.ts), which lists what the client sent in each turn.
// Its usage batches are held back (API_KEY_USAGE_FLUSH_MS) so that nothing
// but the requests under test talks to Postgres. Counts, never timings.
import assert from "node:assert/strict";
import { newSession, send } from "../chat/support.ts";
import { heldAction } from "../chat/tools-support.ts";
import { connect, park } from "../oauth/flow.ts";
import { startGateway } from "../helpers/gateway.ts";
import { API_URL, createApiKey, createUser, test } from "../helpers/stack.ts";
import { connectTo, range } from "../unified/support.ts";
import { newInbox, registerEndpoint } from "../webhooks/support.ts";

const port = Number(new URL(API_URL).port) + 22;
const base = `http://127.0.0.1:${port}/functions/v1`;
const dbUrl = new URL(Deno.env.get("SUPABASE_DB_URL")!);

const relay = new Deno.Command(Deno.execPath(), {
  args: ["run", "--no-config", "--allow-net", "tests/bench/roundtrips.ts", dbUrl.port],
  stdout: "piped",
  stderr: "null",
}).spawn();
const lines = relay.stdout.pipeThrough(new TextDecoderStream()).getReader();
const { value: first } = await lines.read();
const ports = JSON.parse(first!.trim().split("\n")[0]) as { relay: number; stats: number };
lines.releaseLock();
relay.stdout.cancel().catch(() => {});
const relayedUrl = new URL(dbUrl);
relayedUrl.port = String(ports.relay);

const gateway = await startGateway(port, {
  SUPABASE_DB_URL: relayedUrl.href,
  API_KEY_USAGE_FLUSH_MS: "600000",
});

type Turn = { seq: number; messages: string; sql: string[] };
const stats = `http://127.0.0.1:${ports.stats}`;
const turnCount = async () => (await (await fetch(stats)).json()).turns as number;
const turnsAfter = async (n: number) =>
  ((await (await fetch(`${stats}/turns?after=${n}`)).json()).turns as Turn[])
    // Statements only: a connection's startup and authentication are not the request's.
    .filter((t) => /\b[QP]\b/.test(t.messages));

// The turns one request took, after two warm-up requests (connections open).
// (A function gives each request a path, or a path and body, of its own,
// made before the count starts: a delete's endpoint, a completion's code.)
type Target = { path: string; body?: unknown };
async function turnsOf(
  method: string,
  path: string | (() => Promise<string | Target>),
  headers: Record<string, string>,
  body?: unknown,
) {
  const next = async (): Promise<Target> => {
    const made = typeof path === "string" ? path : await path();
    return typeof made === "string" ? { path: made, body } : made;
  };
  const go = async (target: Target) => {
    const res = await fetch(`${base}${target.path}`, {
      method,
      headers: {
        ...headers,
        ...(target.body !== undefined ? { "Content-Type": "application/json" } : {}),
      },
      body: target.body === undefined ? undefined : JSON.stringify(target.body),
    });
    const text = await res.text();
    assert.ok(res.status < 300, `${method} ${target.path}: ${res.status} ${text}`);
  };
  await go(await next());
  await go(await next());
  const last = await next();
  const before = await turnCount();
  await go(last);
  return await turnsAfter(before);
}

test("one round trip per request with an API key, its verification in the route's own message", async () => {
  const user = await createUser("round-trips");
  const session = await newSession(user);
  const sent = await send(user, session.id, { content: "hello" });
  assert.equal(sent.status, 201);
  const message = sent.body.assistant_message.id;
  await connect(user);
  const key = await createApiKey(user, [
    "sessions:read",
    "chat:write",
    "tokens:read",
    "tokens:access",
  ]);
  const routes: [string, string, unknown?][] = [
    ["GET", `/chat/${session.id}/messages/${message}`],
    ["PATCH", `/chat/${session.id}/messages/${message}`, { has_avatar_response: false }],
    ["GET", "/tokens/stats"],
    ["GET", "/tokens/events"],
    ["POST", "/tokens/dev/access-token", {}],
    ["GET", `/sessions/${session.id}`],
  ];
  for (const [method, path, body] of routes) {
    const turns = await turnsOf(method, path, { "X-API-Key": key.key }, body);
    assert.equal(turns.length, 1, `${method} ${path}: ${JSON.stringify(turns)}`);
    assert.match(turns[0].sql.join(" "), /verify_api_key/, `${method} ${path}`);
  }
});

test("a fresh access-token with a JWT: one round trip, no key verification", async () => {
  const user = await createUser("round-trips-jwt");
  await connect(user);
  const turns = await turnsOf("POST", "/tokens/dev/access-token", {
    Authorization: `Bearer ${user.token}`,
  }, {});
  // The JWT's rate limit is leased per isolate; a lease refill is its own trip.
  const work = turns.filter((t) => !/rate_limit_take/.test(t.sql.join(" ")));
  assert.equal(work.length, 1, JSON.stringify(turns));
  assert.doesNotMatch(work[0].sql.join(" "), /verify_api_key/);
});

// A unified route's trips: the connections read, then the token vend (the
// provider call is not the database's). The key rides on the first; the JWT's
// lease refills are trips of their own, left out.
test("unified routes: an API key adds no round trip, its verification rides on the connections read", async () => {
  const user = await createUser("round-trips-unified");
  await connectTo(user, "google");
  const key = await createApiKey(user, ["calendar:read", "mail:read", "mail:write"]);
  const routes: [string, string, unknown?][] = [
    ["GET", `/unified/calendar/events?${range(0, 2)}`],
    ["GET", "/unified/mail/messages?limit=2"],
    ["POST", "/unified/mail/drafts", {
      to: ["pat@example.com"],
      subject: "Trips",
      body_text: "Hi",
    }],
  ];
  for (const [method, path, body] of routes) {
    const jwt = (await turnsOf(method, path, { Authorization: `Bearer ${user.token}` }, body))
      .filter((t) => !/rate_limit_take/.test(t.sql.join(" ")));
    const keyed = await turnsOf(method, path, { "X-API-Key": key.key }, body);
    assert.equal(jwt.length, 2, `${method} ${path} with the JWT: ${JSON.stringify(jwt)}`);
    assert.equal(keyed.length, jwt.length, `${method} ${path}: ${JSON.stringify(keyed)}`);
    assert.ok(jwt.every((t) => !/verify_api_key/.test(t.sql.join(" "))));
    const [read, vend] = keyed.map((t) => t.sql.join(" "));
    // The relay keeps a message's first 100 characters: the verification's.
    assert.match(read, /verify_api_key/, `${method} ${path}`);
    assert.doesNotMatch(vend, /verify_api_key/, `${method} ${path}: verified once`);
  }
});

test("webhook owner routes: one round trip with an API key, its verification in the message", async () => {
  const user = await createUser("round-trips-webhooks");
  const { endpoint } = await registerEndpoint(user, "round-trips");
  const key = await createApiKey(user, ["webhooks:read", "webhooks:write"]);
  const fresh = async () =>
    `/webhooks/endpoints/${(await registerEndpoint(user, "round-trips-delete")).endpoint.id}`;
  const routes: [string, string | (() => Promise<string>), unknown?][] = [
    ["GET", "/webhooks/endpoints"],
    ["GET", `/webhooks/endpoints/${endpoint.id}`],
    ["GET", `/webhooks/endpoints/${endpoint.id}/deliveries`],
    ["PATCH", `/webhooks/endpoints/${endpoint.id}`, { description: "trips" }],
    ["DELETE", fresh],
  ];
  for (const [method, path, body] of routes) {
    const turns = await turnsOf(method, path, { "X-API-Key": key.key }, body);
    assert.equal(turns.length, 1, `${method} ${path}: ${JSON.stringify(turns)}`);
    assert.match(turns[0].sql.join(" "), /verify_api_key/, `${method} ${path}`);
  }
});

test("webhook transactions (register, rotate, test): an API key adds no round trip", async () => {
  const user = await createUser("round-trips-webhook-tx");
  const { endpoint } = await registerEndpoint(user, "round-trips-tx");
  const key = await createApiKey(user, ["webhooks:write"]);
  // Six registrations and the first endpoint: within the cap of ten.
  const url = () => newInbox("round-trips-tx").url;
  const routes: [string, string, (() => unknown)?][] = [
    ["POST", "/webhooks/endpoints", () => ({ url: url() })],
    ["POST", `/webhooks/endpoints/${endpoint.id}/rotate-secret`, () => ({ grace_seconds: 0 })],
    ["POST", `/webhooks/endpoints/${endpoint.id}/test`],
  ];
  for (const [method, label, bodyOf] of routes) {
    const body = bodyOf?.();
    const jwt = (await turnsOf(method, label, { Authorization: `Bearer ${user.token}` }, body))
      .filter((t) => !/rate_limit_take/.test(t.sql.join(" ")));
    const keyed = await turnsOf(method, label, { "X-API-Key": key.key }, body);
    assert.equal(keyed.length, jwt.length, `${label}: ${JSON.stringify({ jwt, keyed })}`);
    assert.ok(jwt.every((t) => !/verify_api_key/.test(t.sql.join(" "))), label);
    assert.equal(keyed[0].sql[0], "begin", `${label}: ${JSON.stringify(keyed)}`);
    assert.match(keyed[0].sql[1], /verify_api_key/, label);
    assert.ok(keyed.slice(1).every((t) => !/verify_api_key/.test(t.sql.join(" "))), label);
  }
});

test("POST /oauth/authorize: an API key adds no round trip, its verification in the first message", async () => {
  const user = await createUser("round-trips-oauth");
  const key = await createApiKey(user, ["tokens:write"]);
  const body = { provider: "dev", services: ["gmail"] };
  const path = "/oauth/authorize";
  const jwt = (await turnsOf("POST", path, { Authorization: `Bearer ${user.token}` }, body))
    .filter((t) => !/rate_limit_take/.test(t.sql.join(" ")));
  const keyed = await turnsOf("POST", path, { "X-API-Key": key.key }, body);
  assert.equal(keyed.length, jwt.length, JSON.stringify({ jwt, keyed }));
  assert.ok(jwt.every((t) => !/verify_api_key/.test(t.sql.join(" "))), JSON.stringify(jwt));
  assert.match(keyed[0].sql.join(" "), /verify_api_key/);
  assert.ok(keyed.slice(1).every((t) => !/verify_api_key/.test(t.sql.join(" "))));
});

test("POST /oauth/complete: an API key adds no round trip, its verification in the first write", async () => {
  const user = await createUser("round-trips-complete");
  const key = await createApiKey(user, ["tokens:write"]);
  const code = async () => ({
    path: "/oauth/complete",
    body: { completion: (await park(user)).completion },
  });
  const jwt = (await turnsOf("POST", code, { Authorization: `Bearer ${user.token}` }))
    .filter((t) => !/rate_limit_take/.test(t.sql.join(" ")));
  const keyed = await turnsOf("POST", code, { "X-API-Key": key.key });
  assert.equal(keyed.length, jwt.length, JSON.stringify({ jwt, keyed }));
  assert.ok(jwt.every((t) => !/verify_api_key/.test(t.sql.join(" "))), JSON.stringify(jwt));
  const first = keyed[0].sql;
  assert.equal(first[0], "begin", JSON.stringify(keyed));
  assert.match(first[1], /verify_api_key/, JSON.stringify(keyed));
  assert.ok(keyed.slice(1).every((t) => !/verify_api_key/.test(t.sql.join(" "))));
});

test("chat actions (read, reject): an API key adds no round trip, its verification in the first message", async () => {
  const user = await createUser("round-trips-actions");
  const session = await newSession(user);
  const key = await createApiKey(user, ["sessions:read", "chat:write"]);
  // A fresh held action per request: a rejected one stays rejected.
  const held = async () => (await heldAction(user, session.id)).actionId;
  const requests: [string, () => Promise<string>][] = [
    ["GET", async () => `/chat/actions/${await held()}`],
    ["POST", async () => `/chat/actions/${await held()}/reject`],
  ];
  const work = (turns: Turn[]) => turns.filter((t) => !/rate_limit_take/.test(t.sql.join(" ")));
  for (const [method, path] of requests) {
    const jwt = work(await turnsOf(method, path, { Authorization: `Bearer ${user.token}` }));
    const keyed = work(await turnsOf(method, path, { "X-API-Key": key.key }));
    const label = `${method} /chat/actions: ${JSON.stringify(keyed)}`;
    assert.equal(keyed.length, jwt.length, label);
    assert.match(keyed[0].sql.join(" "), /verify_api_key/, label);
    assert.ok(keyed.slice(1).every((t) => !/verify_api_key/.test(t.sql.join(" "))), label);
    assert.ok(jwt.every((t) => !/verify_api_key/.test(t.sql.join(" "))), label);
  }
});

test("stop the gateway and the relay", async () => {
  gateway.kill();
  const status = await gateway.status;
  assert.equal(status.signal, "SIGTERM", `the gateway exited early: ${status.code}`);
  relay.kill();
  await relay.status;
});
