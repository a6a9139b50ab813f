// API keys v2, the errors: bad input is a 400 that keeps the key as it was,
// another user's key or role is a 404, a key that is no longer live does not
// change (409), keys cannot manage keys or roles.
import assert from "node:assert/strict";
import { assertError } from "../helpers/assert.ts";
import { waitFor } from "../chat/support.ts";
import { call, createApiKey, createUser, sql, test } from "../helpers/stack.ts";

const owner = await createUser("v2-err-owner");
const other = await createUser("v2-err-other");

const deep = (levels: number): unknown => levels <= 1 ? {} : { a: deep(levels - 1) };

for (
  const [label, body] of [
    ["meta 33 levels deep", { meta: deep(33) }],
    ["meta over 4 KiB", { meta: { x: "y".repeat(5000) } }],
    ["meta that is not an object", { meta: [1, 2] }],
    ["an unknown limit name", { limits: [{ name: "sessions", limit: 1, window: 60 }] }],
    ["a repeated limit name", {
      limits: [{ name: "all", limit: 1, window: 60 }, { name: "all", limit: 2, window: 60 }],
    }],
    ["a limit window over a day", { limits: [{ name: "all", limit: 1, window: 86_401 }] }],
    ["negative credits", { credits: { remaining: -1 } }],
    ["a refill day on a daily refill", {
      credits: { remaining: 1, refill: { interval: "daily", amount: 1, day: 3 } },
    }],
    ["a refill amount of zero", {
      credits: { remaining: 1, refill: { interval: "monthly", amount: 0 } },
    }],
    ["an empty external_id", { external_id: "" }],
    ["an unknown scope", { scopes: ["admin:all"] }],
    ["an expiry in the past", { expires_at: "2020-01-01T00:00:00Z" }],
    ["an unknown field", { owner: "someone" }],
  ] as const
) {
  test(`PATCH refuses ${label} with 400 and keeps the key`, async () => {
    const key = await createApiKey(owner, ["sessions:read"]);
    const [before] = await sql`select * from public.api_keys where id = ${key.id}`;
    const res = await call("PATCH", `/account/api-keys/${key.id}`, { token: owner.token, body });
    assertError(res, 400, "validation_failed");
    const [after] = await sql`select * from public.api_keys where id = ${key.id}`;
    assert.deepEqual(after, before);
  });
}

test("create refuses neither scopes nor a role, and another user's role", async () => {
  assertError(
    await call("POST", "/account/api-keys", {
      token: owner.token,
      body: { name: "k", scopes: [] },
    }),
    400,
    "validation_failed",
  );
  const theirs = await call("POST", "/account/api-key-roles", {
    token: other.token,
    body: { name: "theirs", scopes: ["sessions:read"] },
  });
  assert.equal(theirs.status, 201);
  const res = await call("POST", "/account/api-keys", {
    token: owner.token,
    body: { name: "k", scopes: [], role_id: theirs.body.id },
  });
  assertError(res, 400, "validation_failed");
});

test("another user's key is 404 for PATCH, reroll and usage, and is not changed", async () => {
  const key = await createApiKey(other, ["sessions:read"]);
  const [before] = await sql`select * from public.api_keys where id = ${key.id}`;
  for (
    const [method, path, body] of [
      ["PATCH", `/account/api-keys/${key.id}`, { name: "mine now" }],
      ["POST", `/account/api-keys/${key.id}/reroll`, { grace_seconds: 0 }],
      ["GET", `/account/api-keys/${key.id}/usage`, undefined],
    ] as const
  ) {
    assertError(await call(method, path, { token: owner.token, body }), 404, "not_found");
  }
  const [after] = await sql`select * from public.api_keys where id = ${key.id}`;
  assert.deepEqual(after, before);
});

test("a revoked or expired key does not change: 409", async () => {
  const revoked = await createApiKey(owner, ["sessions:read"]);
  await call("DELETE", `/account/api-keys/${revoked.id}`, { token: owner.token });
  const res = await call("PATCH", `/account/api-keys/${revoked.id}`, {
    token: owner.token,
    body: { name: "back" },
  });
  assertError(res, 409, "conflict");
  assert.equal(res.body.error.details.status, "revoked");
  const expired = await createApiKey(owner, ["sessions:read"]);
  await sql`update public.api_keys
               set created_at = now() - interval '1 hour', expires_at = now() - interval '1 second'
             where id = ${expired.id}`;
  assertError(
    await call("PATCH", `/account/api-keys/${expired.id}`, {
      token: owner.token,
      body: { expires_at: new Date(Date.now() + 86_400_000).toISOString() },
    }),
    409,
    "conflict",
  );
  assertError(
    await call("POST", `/account/api-keys/${expired.id}/reroll`, {
      token: owner.token,
      body: { grace_seconds: 0 },
    }),
    409,
    "conflict",
  );
});

test("reroll refuses a grace period over 24 h", async () => {
  const key = await createApiKey(owner, ["sessions:read"]);
  assertError(
    await call("POST", `/account/api-keys/${key.id}/reroll`, {
      token: owner.token,
      body: { grace_seconds: 86_401 },
    }),
    400,
    "validation_failed",
  );
  assert.equal(
    (await call("GET", "/sessions", { headers: { "X-API-Key": key.key } })).status,
    200,
  );
});

test("roles: built-in roles cannot be changed, names are unique, a referenced role stays", async () => {
  const list = await call("GET", "/account/api-key-roles", { token: owner.token });
  const reader = list.body.data.find((r: { name: string }) => r.name === "reader");
  assertError(
    await call("PATCH", `/account/api-key-roles/${reader.id}`, {
      token: owner.token,
      body: { scopes: ["account:write"] },
    }),
    404,
    "not_found",
  );
  assertError(
    await call("DELETE", `/account/api-key-roles/${reader.id}`, { token: owner.token }),
    404,
    "not_found",
  );
  const made = await call("POST", "/account/api-key-roles", {
    token: owner.token,
    body: { name: "dup", scopes: ["sessions:read"] },
  });
  assert.equal(made.status, 201);
  assertError(
    await call("POST", "/account/api-key-roles", {
      token: owner.token,
      body: { name: "dup", scopes: ["sessions:read"] },
    }),
    409,
    "conflict",
  );
  await createApiKey(owner, [], { role_id: made.body.id });
  assertError(
    await call("DELETE", `/account/api-key-roles/${made.body.id}`, { token: owner.token }),
    409,
    "conflict",
  );
  assertError(
    await call("POST", "/account/api-key-roles", {
      token: owner.token,
      body: { name: "Bad Name", scopes: ["sessions:read"] },
    }),
    400,
    "validation_failed",
  );
});

test("an API key cannot change, reroll or give itself a role, even with every scope", async () => {
  const key = await createApiKey(owner, ["account:read", "account:write", "sessions:read"]);
  for (
    const [method, path, body] of [
      ["PATCH", `/account/api-keys/${key.id}`, { scopes: ["tokens:access"] }],
      ["POST", `/account/api-keys/${key.id}/reroll`, { grace_seconds: 0 }],
      ["POST", "/account/api-key-roles", { name: "self", scopes: ["tokens:access"] }],
    ] as const
  ) {
    assertError(
      await call(method, path, { headers: { "X-API-Key": key.key }, body }),
      403,
      "forbidden",
    );
  }
});

test("a refused key in the route's own message: an expired key is 401, and counted", async () => {
  const key = await createApiKey(owner, ["sessions:read"]);
  await sql`update public.api_keys
               set created_at = now() - interval '1 hour', expires_at = now() - interval '1 second'
             where id = ${key.id}`;
  assertError(
    await call("GET", "/sessions", { headers: { "X-API-Key": key.key } }),
    401,
    "unauthorized",
  );
  // Counted in the API's next batch (and maybe already rolled up by pg_cron).
  const events = await waitFor("the refusal counted", async () => {
    const rows = await sql`select outcome, sum(requests)::int as n from (
                             select outcome, requests from private.api_key_events where key_id = ${key.id}
                             union all
                             select outcome, requests from public.api_key_usage where key_id = ${key.id}
                           ) x group by outcome`;
    return rows.length ? rows : undefined;
  });
  assert.deepEqual(events.map((e) => `${e.outcome}: ${e.n}`), ["expired: 1"]);
});
