// Rate limits live in Postgres and are taken in leases: one gateway refuses
// exactly the N+1th request of a window, two gateways together never let more
// than N through (and at most a lease each fewer), with 429 and headers;
// buckets are per user and per key; every request counts, errors included;
// and a route without a transaction of its own is limited too.
import assert from "node:assert/strict";
import { leaseSize } from "../../shared/auth/rate-limit.ts";
import { SessionPage } from "../../shared/sessions/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { API_URL, call, createApiKey, createUser, test } from "../helpers/stack.ts";

const parse = (name: string, fallback: string) =>
  (Deno.env.get(name) ?? fallback).split("/").map(Number);
const [limit, windowSeconds] = parse("RATE_LIMIT_DEFAULT", "300/60");
const [heygenLimit] = parse("RATE_LIMIT_HEYGEN", "10/60");

async function startSecondGateway(): Promise<{ url: string; stop: () => Promise<void> }> {
  // Next to the stack's own services (API + 7 and + 8), below the ephemeral range.
  const port = Number(new URL(API_URL).port) + 20;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/gateway.ts"],
    env: { GATEWAY_PORT: String(port), NET_WORKER: "off" },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try {
      const res = await fetch(`${url}/health`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    // A second gateway that ended on its own (a crash, a port it could not
    // bind) fails the test: its answers were not its own.
    stop: async () => {
      try {
        child.kill();
      } catch { /* reported below */ }
      const status = await child.status;
      assert.equal(status.signal, "SIGTERM", `the second gateway exited early: ${status.code}`);
    },
  };
}

// Keeps the burst inside one fixed window.
async function awaitFreshWindow() {
  const intoWindow = (Date.now() / 1000) % windowSeconds;
  if (windowSeconds - intoWindow < 15) {
    await new Promise((r) => setTimeout(r, (windowSeconds - intoWindow + 0.5) * 1000));
  }
}

test("two gateways share the window: at most N pass, then 429 with headers; others unaffected", async () => {
  const user = await createUser("limited");
  const other = await createUser("unlimited");
  const key = await createApiKey(user, ["sessions:read"]);
  const second = await startSecondGateway();
  try {
    await awaitFreshWindow();
    const statuses: [number[], number[]] = [[], []];
    const hit = async (i: number) => {
      const gateway = i % 2;
      const res = gateway
        ? await fetch(`${second.url}/functions/v1/sessions/stats`, {
          headers: { Authorization: `Bearer ${user.token}` },
        })
        : await call("GET", "/sessions/stats", { token: user.token });
      if (res instanceof Response) await res.body?.cancel();
      statuses[gateway].push(res.status);
    };
    // Past the limit by two leases, so both gateways run dry.
    const total = limit + 2 * leaseSize(limit);
    for (let i = 0; i < total; i += 25) {
      await Promise.all(Array.from({ length: Math.min(25, total - i) }, (_, j) => hit(i + j)));
    }
    const passed = statuses.flat().filter((s) => s === 200).length;
    assert.deepEqual(new Set(statuses.flat()), new Set([200, 429]));
    assert.ok(passed <= limit, `${passed} passed, more than the limit ${limit}`);
    // Each gateway may end the window holding part of a lease it never used.
    const slack = 2 * (leaseSize(limit) - 1);
    assert.ok(passed >= limit - slack, `${passed} passed, fewer than ${limit} - ${slack}`);

    const refused = await call("GET", "/sessions/stats", { token: user.token });
    assertError(refused, 429, "rate_limited");
    const retryAfter = Number(refused.headers.get("retry-after"));
    assert.ok(retryAfter >= 1 && retryAfter <= windowSeconds);
    assert.equal(refused.headers.get("ratelimit-limit"), String(limit));
    assert.equal(refused.headers.get("ratelimit-remaining"), "0");
    const viaSecond = await fetch(`${second.url}/functions/v1/sessions/stats`, {
      headers: { Authorization: `Bearer ${user.token}` },
    });
    await viaSecond.body?.cancel();
    assert.equal(viaSecond.status, 429);

    const otherUser = await call("GET", "/sessions/stats", { token: other.token });
    assert.equal(otherUser.status, 200);
    assert.equal(otherUser.headers.get("ratelimit-limit"), String(limit));
    assert.equal(otherUser.headers.get("ratelimit-remaining"), String(limit - 1));
    const byKey = await call("GET", "/sessions/stats", { headers: { "X-API-Key": key.key } });
    assert.equal(byKey.status, 200, "a key has its own bucket");
  } finally {
    await second.stop();
  }
});

test("one gateway refuses exactly the N+1th request", async () => {
  const user = await createUser("exact");
  await awaitFreshWindow();
  const statuses: number[] = [];
  for (let i = 0; i < limit + 5; i += 50) {
    const batch = await Promise.all(
      Array.from(
        { length: Math.min(50, limit + 5 - i) },
        () => call("GET", "/sessions/stats", { token: user.token }),
      ),
    );
    statuses.push(...batch.map((r) => r.status));
  }
  assert.equal(statuses.filter((s) => s === 200).length, limit);
  assert.equal(statuses.filter((s) => s === 429).length, 5);
});

test("every request counts, failures included, and error answers carry the headers", async () => {
  const user = await createUser("failing");
  await awaitFreshWindow();
  const missing = `/sessions/${crypto.randomUUID()}`;
  const first = await call("GET", missing, { token: user.token });
  const bad = await call("GET", "/sessions/not-a-uuid", { token: user.token });
  const ok = await call("GET", "/sessions/stats", { token: user.token });
  assertError(first, 404, "not_found");
  assertError(bad, 400, "validation_failed");
  assert.equal(ok.status, 200);
  assert.deepEqual(
    [first, bad, ok].map((r) => r.headers.get("ratelimit-remaining")),
    [limit - 1, limit - 2, limit - 3].map(String),
  );
});

test("HeyGen tokens are limited although the route opens no transaction", async () => {
  const user = await createUser("avatar");
  await awaitFreshWindow();
  const statuses: number[] = [];
  for (let i = 0; i <= heygenLimit; i++) {
    statuses.push((await call("POST", "/chat/heygen/token", { token: user.token })).status);
  }
  assert.deepEqual(statuses, [...Array(heygenLimit).fill(200), 429]);
});

test("a refused request changes nothing", async () => {
  const user = await createUser("refused-write");
  await awaitFreshWindow();
  for (let i = 0; i < limit; i += 50) {
    await Promise.all(
      Array.from(
        { length: Math.min(50, limit - i) },
        () => call("GET", "/sessions/stats", { token: user.token }),
      ),
    );
  }
  const res = await call("POST", "/sessions", {
    token: user.token,
    body: { title: "over the limit" },
  });
  assertError(res, 429, "rate_limited");
  const list = await call("GET", "/sessions?include_archived=true", {
    headers: { "X-API-Key": (await createApiKey(user, ["sessions:read"])).key },
  });
  assert.equal(parsed(SessionPage, list).data.length, 0);
});
