// Rate limits live in Postgres: the N+1th request in a window is refused with
// 429 and headers, buckets are per user and per key, and two gateway
// processes share them.
import assert from "node:assert/strict";
import { assertError } from "../helpers/assert.ts";
import { call, createApiKey, createUser, test } from "../helpers/stack.ts";

const [limit, windowSeconds] = (Deno.env.get("RATE_LIMIT_DEFAULT") ?? "300/60").split("/").map(
  Number,
);

async function startSecondGateway(): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = 20000 + Math.floor(Math.random() * 20000);
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
    stop: async () => {
      child.kill();
      await child.status;
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

test("the window is shared by two gateways, then 429 with headers; others unaffected", async () => {
  const user = await createUser("limited");
  const other = await createUser("unlimited");
  const key = await createApiKey(user, ["sessions:read"]);
  const second = await startSecondGateway();
  try {
    await awaitFreshWindow();
    const statuses: number[] = [];
    const hit = async (i: number) => {
      const base = i % 2 ? `${second.url}/functions/v1` : undefined;
      const res = base
        ? await fetch(`${base}/sessions/stats`, {
          headers: { Authorization: `Bearer ${user.token}` },
        })
        : await call("GET", "/sessions/stats", { token: user.token });
      if (res instanceof Response) await res.body?.cancel();
      statuses.push(res.status);
    };
    for (let i = 0; i < limit; i += 25) {
      await Promise.all(Array.from({ length: Math.min(25, limit - i) }, (_, j) => hit(i + j)));
    }
    assert.deepEqual(new Set(statuses), new Set([200]), "the first N pass on both gateways");

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
  assert.equal(list.status, 200);
  assert.equal(list.body.data.length, 0);
});
