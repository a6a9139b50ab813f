// The unified routes verify an API key in their first message, the read of
// the caller's connections (shared/unified/connections.ts), not alone before
// it. For each route: a key with the scope is served and spends its named
// limit, the limit spent is 429, a key without the scope is 403 and a revoked
// one 401, and a refused key reaches no provider. Another user's key finds
// none of the owner's connections (RLS with the claims the verification set).
// The round-trip count is in tests/account/api-keys.round-trips.test.ts.
import assert from "node:assert/strict";
import { SCOPES } from "../../shared/auth/scopes.ts";
import { assertError } from "../helpers/assert.ts";
import { type Operation, operations } from "../helpers/openapi.ts";
import { type Call, call, createApiKey, createUser, sql, test } from "../helpers/stack.ts";
import { calls, connectTo, type RouteRequest, validRequests } from "./support.ts";

const ops = await operations("unified");
const owner = await createUser("unified-key-trip");
const conn = await connectTo(owner, "google");
const valid = await validRequests(owner);

const withKey = (op: Operation, r: RouteRequest, key: string) =>
  call(op.method, `/unified${r.path}`, { headers: { "X-API-Key": key }, body: r.body });

const ok = (res: Call) =>
  assert.ok(res.status >= 200 && res.status < 300, `${res.status} ${JSON.stringify(res.body)}`);

// Nothing reached the provider while `refused` ran.
async function unseen(refused: () => Promise<void>) {
  const before = await calls(conn.email);
  await refused();
  assert.deepEqual(await calls(conn.email), before, "a refused key reached the provider");
}

test("the document lists the eight unified routes", () => {
  assert.equal(ops.length, 8);
});

for (const op of ops) {
  const label = `${op.method} ${op.path}`;
  test(`${label} verifies a key in its first message: limits, scope, revocation`, async () => {
    const key = await createApiKey(owner, [op.scope!], {
      limits: [{ name: "all", limit: 2, window: 3600 }],
      credits: { remaining: 5 },
    });
    const first = await withKey(op, await valid(op), key.key);
    ok(first);
    assert.equal(first.headers.get("RateLimit-Limit"), "2", "the named limit counted it");
    assert.equal(first.headers.get("RateLimit-Remaining"), "1");
    assert.equal(first.headers.get("API-Key-Credits-Remaining"), "5", "provider costs nothing");
    ok(await withKey(op, await valid(op), key.key));
    const third = await valid(op);
    await unseen(async () => {
      const limited = await withKey(op, third, key.key);
      assertError(limited, 429, "rate_limited");
      assert.deepEqual(limited.body.error.details, { limit: "all" });
    });

    const narrow = await createApiKey(owner, SCOPES.filter((s) => s !== op.scope));
    const r = await valid(op);
    await unseen(async () => {
      const refused = await withKey(op, r, narrow.key);
      assertError(refused, 403, "insufficient_scope");
      assert.equal(refused.body.error.details.required, op.scope);
    });

    const revoked = await createApiKey(owner, [op.scope!]);
    ok(await withKey(op, await valid(op), revoked.key));
    const gone = await call("DELETE", `/account/api-keys/${revoked.id}`, { token: owner.token });
    assert.equal(gone.status, 204);
    const again = await valid(op);
    await unseen(async () => {
      assertError(await withKey(op, again, revoked.key), 401, "unauthorized");
    });

    const [row] = await sql`select credits_remaining from public.api_keys where id = ${key.id}`;
    assert.equal(row.credits_remaining, 5);
  });
}

test("another user's key finds none of the owner's connections or items", async () => {
  const stranger = await createUser("unified-key-trip-stranger");
  const key = await createApiKey(stranger, ["calendar:read", "mail:read"]);
  const byId = ops.filter((o) => o.method === "GET" && o.path.includes("{id}"));
  assert.equal(byId.length, 2);
  await unseen(async () => {
    for (const op of byId) {
      assertError(await withKey(op, await valid(op), key.key), 404, "not_found");
    }
    const list = ops.find((o) => o.path === "/unified/calendar/events" && o.method === "GET")!;
    const r = await valid(list);
    const named = { ...r, path: `${r.path}&connection_id=${conn.id}` };
    assertError(await withKey(list, named, key.key), 404, "not_found");
  });
});

test("a key's vend is recorded as asked by the key", async () => {
  const op = ops.find((o) => o.path === "/unified/mail/messages" && o.method === "GET")!;
  const key = await createApiKey(owner, ["mail:read"]);
  const before = await sql`select count(*)::int as n from public.user_activities
                            where user_id = ${owner.id} and activity_type = 'token.vended'
                              and details->>'asked_by' = ${`api_key:${key.id}`}`;
  assert.equal(before[0].n, 0);
  ok(await withKey(op, await valid(op), key.key));
  const after = await sql`select count(*)::int as n from public.user_activities
                           where user_id = ${owner.id} and activity_type = 'token.vended'
                             and details->>'asked_by' = ${`api_key:${key.id}`}`;
  assert.equal(after[0].n, 1);
});
