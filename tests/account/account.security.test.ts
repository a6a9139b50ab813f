// The auth matrix over every documented account route.
import assert from "node:assert/strict";
import { ActivityPage, ApiKeyList } from "../../shared/account/schemas.ts";
import { SCOPES } from "../../shared/auth/scopes.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { fill, operations } from "../helpers/openapi.ts";
import { call, createApiKey, createUser, sql, test } from "../helpers/stack.ts";
import { badTokens } from "../helpers/tokens.ts";

const owner = await createUser("acct-owner");
const intruder = await createUser("acct-intruder");
const ops = await operations("account");
const tokens = await badTokens(owner);
const BODIES: Record<string, unknown> = {
  "PATCH /account/me": { display_name: "x" },
  "POST /account/api-keys": { name: "k", scopes: ["sessions:read"] },
  "PATCH /account/api-keys/{id}": { name: "k" },
  "POST /account/api-keys/{id}/reroll": { grace_seconds: 0 },
  "POST /account/api-key-roles": { name: "r", scopes: ["sessions:read"] },
  "PATCH /account/api-key-roles/{id}": { name: "r" },
};

test("the document lists every account route", () => {
  assert.deepEqual(ops.map((o) => `${o.method} ${o.path}`).sort(), [
    "DELETE /account/api-key-roles/{id}",
    "DELETE /account/api-keys/{id}",
    "DELETE /account/me",
    "GET /account/activity",
    "GET /account/admin/stats",
    "GET /account/api-key-roles",
    "GET /account/api-keys",
    "GET /account/api-keys/{id}/usage",
    "GET /account/me",
    "PATCH /account/api-key-roles/{id}",
    "PATCH /account/api-keys/{id}",
    "PATCH /account/me",
    "POST /account/api-key-roles",
    "POST /account/api-keys",
    "POST /account/api-keys/{id}/reroll",
  ]);
  assert.ok(ops.every((o) => o.secured));
});

for (const op of ops) {
  const key = `${op.method} ${op.path}`;
  for (const [name, token] of Object.entries(tokens)) {
    // Admin routes serve the service key too; tests/account/admin.test.ts covers them.
    if (op.path.includes("/admin/") && name.startsWith("service_role")) continue;
    test(`${key}: ${name} is 401`, async () => {
      const [before] = await sql`select count(*)::int as n from auth.users where id = ${owner.id}`;
      const res = await call(op.method, fill(op.path, crypto.randomUUID()), {
        token,
        body: BODIES[key],
      });
      assertError(res, 401, "unauthorized");
      const [after] = await sql`select count(*)::int as n from auth.users where id = ${owner.id}`;
      assert.equal(after.n, before.n);
    });
  }
}

test("DELETE /account/api-keys/{id}: another user's key is 404 and stays live", async () => {
  const key = await createApiKey(owner, ["sessions:read"]);
  assertError(
    await call("DELETE", `/account/api-keys/${key.id}`, { token: intruder.token }),
    404,
    "not_found",
  );
  const [row] = await sql`select revoked_at from public.api_keys where id = ${key.id}`;
  assert.equal(row.revoked_at, null);
  assert.equal((await call("GET", "/sessions", { headers: { "X-API-Key": key.key } })).status, 200);
});

test("another user's keys and activity are never listed", async () => {
  await createApiKey(owner, ["sessions:read"], { name: "owner's" });
  await createApiKey(intruder, ["sessions:read"], { name: "intruder's" });
  const keys = parsed(
    ApiKeyList,
    await call("GET", "/account/api-keys", { token: intruder.token }),
  );
  assert.ok(keys.data.length >= 1);
  assert.ok(keys.data.every((k) => k.name === "intruder's"));
  const activity = parsed(
    ActivityPage,
    await call("GET", "/account/activity", { token: intruder.token }),
  );
  assert.ok(activity.data.length >= 1);
  const [{ n }] =
    await sql`select count(*)::int as n from public.user_activities where user_id = ${intruder.id}`;
  assert.equal(activity.data.length, n);
});

test("routes that manage credentials refuse API keys, even with every scope", async () => {
  const all = await createApiKey(owner, [...SCOPES]);
  for (const op of ops.filter((o) => !o.scope)) {
    const res = await call(op.method, fill(op.path, crypto.randomUUID()), {
      headers: { "X-API-Key": all.key },
      body: BODIES[`${op.method} ${op.path}`],
    });
    assertError(res, 403, "forbidden");
  }
  const [{ n }] = await sql`select count(*)::int as n from auth.users where id = ${owner.id}`;
  assert.equal(n, 1, "the account survived");
});
