// The costly route classes (chat: an LLM call; heygen: a paid streaming
// token) are counted per owner: the user's JWT and every one of their API keys
// take from one window, so more keys never buy more quota; other users are
// untouched. (A key's own bucket, kept as well, is tested in pgTAP 100.)
import assert from "node:assert/strict";
import { assertError } from "../helpers/assert.ts";
import {
  call,
  type CallOptions,
  createApiKey,
  createUser,
  test,
  type TestUser,
} from "../helpers/stack.ts";

const parse = (name: string, fallback: string) =>
  (Deno.env.get(name) ?? fallback).split("/").map(Number);
const classes = [
  { name: "heygen", spec: parse("RATE_LIMIT_HEYGEN", "10/60") },
  { name: "chat", spec: parse("RATE_LIMIT_CHAT", "30/60") },
];

// Keeps a burst inside one fixed window of every class under test.
async function awaitFreshWindow() {
  const margin = 20;
  for (const { spec: [, windowSeconds] } of classes) {
    const intoWindow = (Date.now() / 1000) % windowSeconds;
    if (windowSeconds - intoWindow < margin) {
      await new Promise((r) => setTimeout(r, (windowSeconds - intoWindow + 0.5) * 1000));
    }
  }
}

// The owner's JWT and three of their keys, used in turn.
async function credentialsOf(owner: TestUser): Promise<CallOptions[]> {
  const keys = [];
  for (const name of ["laptop", "ci", "phone"]) {
    keys.push(await createApiKey(owner, ["chat:write"], { name }));
  }
  return [{ token: owner.token }, ...keys.map((k) => ({ headers: { "X-API-Key": k.key } }))];
}

// A request of the class, as cheap as it can be: a HeyGen token (the local
// stand-in), or a chat send to a session that does not exist (404, counted all
// the same: every request counts).
function costly(name: string, as: CallOptions) {
  return name === "heygen"
    ? call("POST", "/chat/heygen/token", as)
    : call("POST", `/chat/${crypto.randomUUID()}/messages`, { ...as, body: { content: "hi" } });
}
const served = (name: string) => (name === "heygen" ? 200 : 404);

for (const { name, spec: [limit] } of classes) {
  test(`${name}: a JWT and three API keys share the owner's ${limit} per window; the N+1th is 429`, async () => {
    const owner = await createUser(`quota-${name}`);
    const bystander = await createUser(`quota-${name}-bystander`);
    const creds = await credentialsOf(owner);
    await awaitFreshWindow();

    // The first four, one per credential, count down one window.
    const firsts = [];
    for (const as of creds) firsts.push(await costly(name, as));
    assert.deepEqual(firsts.map((r) => r.status), Array(4).fill(served(name)));
    assert.deepEqual(
      firsts.map((r) => r.headers.get("ratelimit-remaining")),
      [1, 2, 3, 4].map((n) => String(limit - n)),
      "every credential takes from the owner's one window",
    );

    const statuses: number[] = [];
    for (let i = 4; i < limit; i += 25) {
      const batch = Array.from({ length: Math.min(25, limit - i) }, (_, j) => creds[(i + j) % 4]);
      statuses.push(
        ...(await Promise.all(batch.map((as) => costly(name, as)))).map((r) => r.status),
      );
    }
    assert.deepEqual(new Set(statuses), new Set([served(name)]), "all N pass");

    for (const [i, as] of creds.entries()) {
      const refused = await costly(name, as);
      assertError(refused, 429, "rate_limited");
      assert.equal(refused.headers.get("ratelimit-remaining"), "0", `credential ${i}`);
      assert.ok(Number(refused.headers.get("retry-after")) >= 1);
    }

    const other = await costly(name, { token: bystander.token });
    assert.equal(other.status, served(name), "another user has a window of their own");
    assert.equal(other.headers.get("ratelimit-remaining"), String(limit - 1));
  });
}
