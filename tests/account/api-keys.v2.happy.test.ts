// API keys v2 (issue 16), the happy paths: verification in the request's own
// message, credits and their refill, named limits, meta and identity, PATCH,
// reroll, roles and usage.
import assert from "node:assert/strict";
import {
  ApiKey,
  ApiKeyList,
  ApiKeyRole,
  ApiKeyRoleList,
  ApiKeyUsage,
  CreatedApiKey,
} from "../../shared/account/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { waitFor } from "../chat/support.ts";
import { call, createApiKey, createUser, sql, test, type TestUser } from "../helpers/stack.ts";

const withKey = (key: string, method = "GET", path = "/sessions", body?: unknown) =>
  call(method, path, { headers: { "X-API-Key": key }, body });

async function newSession(user: TestUser): Promise<string> {
  const res = await call("POST", "/sessions", { token: user.token, body: { title: "keys" } });
  assert.equal(res.status, 201);
  return res.body.id;
}

// The usage counts of a key as written so far (the API writes them in batches,
// about once a second): waits until they reach `total`.
async function usageRows(keyId: string, total: number) {
  return await waitFor(`${total} requests counted for ${keyId}`, async () => {
    const rows = await sql`select outcome, sum(requests)::int as n from (
                             select outcome, requests from private.api_key_events where key_id = ${keyId}
                             union all
                             select outcome, requests from public.api_key_usage where key_id = ${keyId}
                           ) x group by outcome order by outcome`;
    const counted = rows.reduce((sum, r) => sum + r.n, 0);
    return counted >= total ? Object.fromEntries(rows.map((r) => [r.outcome, r.n])) : undefined;
  });
}

const activities = async (userId: string, type: string) =>
  await sql`select details from public.user_activities
             where user_id = ${userId} and activity_type = ${type} order by id`;

test("a key is verified in the request's own message, and its uses are counted in batches", async () => {
  const user = await createUser("v2-onetrip");
  const key = await createApiKey(user, ["sessions:read"]);
  for (let i = 0; i < 3; i++) {
    const res = await withKey(key.key);
    assert.equal(res.status, 200);
    assert.ok(res.headers.get("RateLimit-Limit"));
  }
  assert.deepEqual(await usageRows(key.id, 3), { valid: 3 });
});

test("create takes meta, external_id, limits and credits, and lists them", async () => {
  const user = await createUser("v2-create");
  const created = await createApiKey(user, ["sessions:read"], {
    meta: { plan: "pro", tags: ["a", { b: 1 }] },
    external_id: "device-42",
    limits: [{ name: "chat", limit: 10, window: 60 }],
    credits: { remaining: 100, refill: { interval: "monthly", amount: 100, day: 15 } },
  });
  assert.deepEqual(created.meta, { plan: "pro", tags: ["a", { b: 1 }] });
  assert.equal(created.external_id, "device-42");
  assert.deepEqual(created.limits, [{ name: "chat", limit: 10, window: 60 }]);
  assert.equal(created.credits_remaining, 100);
  assert.equal(created.credits_refill_interval, "monthly");
  assert.equal(created.credits_refill_day, 15);
  const list = parsed(ApiKeyList, await call("GET", "/account/api-keys", { token: user.token }));
  assert.deepEqual(list.data[0].meta, created.meta);
});

test("credits: each costed request spends one; at zero 429 usage_exceeded with the refill time", async () => {
  const user = await createUser("v2-credits");
  const session = await newSession(user);
  const key = await createApiKey(user, ["chat:write", "sessions:read"], {
    credits: { remaining: 2, refill: { interval: "daily", amount: 5 } },
  });
  for (const left of [1, 0]) {
    const res = await withKey(key.key, "POST", `/chat/${session}/messages`, { content: "hi" });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers.get("API-Key-Credits-Remaining"), String(left));
  }
  const refused = await withKey(key.key, "POST", `/chat/${session}/messages`, { content: "hi" });
  assertError(refused, 429, "usage_exceeded");
  const refill = Date.parse(refused.body.error.details.refill_at);
  assert.ok(refill > Date.now());
  assert.ok(Number(refused.headers.get("Retry-After")) >= 1);
  assert.equal(refused.headers.get("API-Key-Credits-Refill"), new Date(refill).toISOString());
  // Uncosted classes spend nothing and are not refused.
  assert.equal((await withKey(key.key)).status, 200);
  // Nothing was stored for the refused send.
  const [{ n }] =
    await sql`select count(*)::int as n from public.messages where session_id = ${session}`;
  assert.equal(n, 4);
  // The day turns: the next costed request refills to the amount, then spends one.
  await sql`update public.api_keys set credits_refilled_at = now() - interval '2 days'
             where id = ${key.id}`;
  const after = await withKey(key.key, "POST", `/chat/${session}/messages`, { content: "hi" });
  assert.equal(after.status, 201);
  assert.equal(after.headers.get("API-Key-Credits-Remaining"), "4");
});

test("credits are exact under concurrency: 12 parallel sends on 5 credits, exactly 5 succeed", async () => {
  const user = await createUser("v2-credits-race");
  const session = await newSession(user);
  const key = await createApiKey(user, ["chat:write"], { credits: { remaining: 5 } });
  const results = await Promise.all(
    Array.from(
      { length: 12 },
      () => withKey(key.key, "POST", `/chat/${session}/messages`, { content: "race" }),
    ),
  );
  const statuses = results.map((r) => r.status).sort();
  assert.deepEqual(statuses, [...Array(5).fill(201), ...Array(7).fill(429)]);
  for (const r of results.filter((r) => r.status === 429)) {
    assert.equal(r.body.error.code, "usage_exceeded");
  }
  const [row] = await sql`select credits_remaining from public.api_keys where id = ${key.id}`;
  assert.equal(row.credits_remaining, 0);
});

test("named limits: the key's own limit refuses on top of the owner's, headers show the closest", async () => {
  const user = await createUser("v2-named");
  const key = await createApiKey(user, ["sessions:read"], {
    limits: [{ name: "all", limit: 3, window: 3600 }],
  });
  const first = await withKey(key.key);
  assert.equal(first.status, 200);
  assert.equal(first.headers.get("RateLimit-Limit"), "3");
  assert.equal(first.headers.get("RateLimit-Remaining"), "2");
  assert.equal((await withKey(key.key)).status, 200);
  assert.equal((await withKey(key.key)).status, 200);
  const refused = await withKey(key.key);
  assertError(refused, 429, "rate_limited");
  assert.deepEqual(refused.body.error.details, { limit: "all" });
  assert.ok(Number(refused.headers.get("Retry-After")) >= 1);
  // The user's own session is not limited by the key's limit.
  assert.equal((await call("GET", "/sessions", { token: user.token })).status, 200);
});

test("named limits hold across parallel requests: a 4/3600 limit lets exactly 4 of 10 through", async () => {
  const user = await createUser("v2-named-race");
  const key = await createApiKey(user, ["sessions:read"], {
    limits: [{ name: "default", limit: 4, window: 3600 }],
  });
  const results = await Promise.all(Array.from({ length: 10 }, () => withKey(key.key)));
  assert.equal(results.filter((r) => r.status === 200).length, 4);
  assert.equal(results.filter((r) => r.status === 429).length, 6);
});

test("PATCH changes a live key at once and records the change", async () => {
  const user = await createUser("v2-patch");
  const key = await createApiKey(user, ["sessions:read", "account:read"]);
  assert.equal((await withKey(key.key)).status, 200);
  const patched = parsed(
    ApiKey,
    await call("PATCH", `/account/api-keys/${key.id}`, {
      token: user.token,
      body: {
        name: "renamed",
        scopes: ["account:read"],
        meta: { v: 2 },
        external_id: "user-7",
        limits: [{ name: "all", limit: 50, window: 60 }],
        credits: { remaining: 9 },
      },
    }),
  );
  assert.equal(patched.name, "renamed");
  assert.deepEqual(patched.scopes, ["account:read"]);
  assert.equal(patched.credits_remaining, 9);
  assertError(await withKey(key.key), 403, "insufficient_scope");
  assert.equal((await withKey(key.key, "GET", "/account/me")).status, 200);
  const [updated] = await activities(user.id, "api_key.updated");
  assert.deepEqual(updated.details.fields, [
    "credits_remaining",
    "external_id",
    "limits",
    "meta",
    "name",
    "scopes",
  ]);
  // credits: null makes the key unlimited again.
  const unlimited = parsed(
    ApiKey,
    await call("PATCH", `/account/api-keys/${key.id}`, {
      token: user.token,
      body: { credits: null, expires_at: null },
    }),
  );
  assert.equal(unlimited.credits_remaining, null);
});

test("reroll: a new secret, the old one works through the grace period, then dies", async () => {
  const user = await createUser("v2-reroll");
  const key = await createApiKey(user, ["sessions:read"], { credits: { remaining: 50 } });
  const rolled = parsed(
    CreatedApiKey,
    await call("POST", `/account/api-keys/${key.id}/reroll`, {
      token: user.token,
      body: { grace_seconds: 3600 },
    }),
  );
  assert.equal(rolled.id, key.id);
  assert.notEqual(rolled.key, key.key);
  assert.equal(rolled.credits_remaining, 50, "the key keeps its credits");
  assert.ok(rolled.previous_expires_at);
  assert.equal((await withKey(rolled.key)).status, 200);
  assert.equal((await withKey(key.key)).status, 200, "the old secret still works");
  await sql`update public.api_keys set previous_expires_at = now() - interval '1 second'
             where id = ${key.id}`;
  assertError(await withKey(key.key), 401, "unauthorized");
  assert.equal((await withKey(rolled.key)).status, 200);
  // Without a grace period the old secret dies at once.
  const again = parsed(
    CreatedApiKey,
    await call("POST", `/account/api-keys/${key.id}/reroll`, {
      token: user.token,
      body: { grace_seconds: 0 },
    }),
  );
  assertError(await withKey(rolled.key), 401, "unauthorized");
  assert.equal((await withKey(again.key)).status, 200);
  const rerolls = await activities(user.id, "api_key.rerolled");
  assert.equal(rerolls.length, 2);
  assert.equal(rerolls[0].details.previous_prefix, key.prefix);
});

test("revoking a rerolled key ends the old secret in its grace period too", async () => {
  const user = await createUser("v2-reroll-revoke");
  const key = await createApiKey(user, ["sessions:read"]);
  await call("POST", `/account/api-keys/${key.id}/reroll`, {
    token: user.token,
    body: { grace_seconds: 3600 },
  });
  assert.equal((await withKey(key.key)).status, 200);
  await call("DELETE", `/account/api-keys/${key.id}`, { token: user.token });
  assertError(await withKey(key.key), 401, "unauthorized");
});

test("roles: a key holds its role's scopes, and a changed role changes its keys at once", async () => {
  const user = await createUser("v2-roles");
  const builtIn = parsed(
    ApiKeyRoleList,
    await call("GET", "/account/api-key-roles", { token: user.token }),
  );
  assert.deepEqual(builtIn.data.filter((r) => r.built_in).map((r) => r.name), [
    "assistant",
    "reader",
  ]);
  const role = parsed(
    ApiKeyRole,
    await call("POST", "/account/api-key-roles", {
      token: user.token,
      body: { name: "dashboard", scopes: ["sessions:read"] },
    }),
    201,
  );
  const key = await createApiKey(user, [], { role_id: role.id });
  assert.equal((await withKey(key.key)).status, 200);
  assertError(await withKey(key.key, "GET", "/account/me"), 403, "insufficient_scope");
  await call("PATCH", `/account/api-key-roles/${role.id}`, {
    token: user.token,
    body: { scopes: ["account:read"] },
  });
  assertError(await withKey(key.key), 403, "insufficient_scope");
  assert.equal((await withKey(key.key, "GET", "/account/me")).status, 200);
  // A built-in role, by reference.
  const reader = builtIn.data.find((r) => r.name === "reader")!;
  const readerKey = await createApiKey(user, [], { role_id: reader.id });
  assert.equal((await withKey(readerKey.key)).status, 200);
  const types = (await sql`select activity_type from public.user_activities
                            where user_id = ${user.id} and activity_type like 'api_key_role.%'
                            order by id`).map((r) => r.activity_type);
  assert.deepEqual(types, ["api_key_role.created", "api_key_role.updated"]);
});

test("usage: per day and outcome, for the owner", async () => {
  const user = await createUser("v2-usage");
  const key = await createApiKey(user, ["sessions:read"], {
    limits: [{ name: "all", limit: 3, window: 3600 }],
  });
  await withKey(key.key); // valid
  await withKey(key.key, "GET", "/account/me"); // insufficient_scope
  await withKey(key.key); // valid
  await withKey(key.key); // valid: the third under a limit of 3 (a refusal takes no hit)
  await withKey(key.key); // rate_limited
  await usageRows(key.id, 5);
  const usage = parsed(
    ApiKeyUsage,
    await call("GET", `/account/api-keys/${key.id}/usage`, { token: user.token }),
  );
  assert.equal(usage.days.length, 1);
  const [today] = usage.days;
  assert.equal(today.day, new Date().toISOString().slice(0, 10));
  assert.equal(today.valid, 3);
  assert.equal(today.insufficient_scope, 1);
  assert.equal(today.rate_limited, 1);
  assert.equal(today.total, 5);
  // Rolled up by pg_cron's job: the same counts, now in public.api_key_usage.
  await sql`select private.api_key_usage_rollup()`;
  const rolled = parsed(
    ApiKeyUsage,
    await call("GET", `/account/api-keys/${key.id}/usage`, { token: user.token }),
  );
  assert.deepEqual(rolled.days.map((d) => d.total), [5]);
  const [row] = await sql`select sum(requests)::int as n from public.api_key_usage
                           where key_id = ${key.id}`;
  assert.equal(row.n, 5);
  // Revoked keys count too.
  await call("DELETE", `/account/api-keys/${key.id}`, { token: user.token });
  assertError(await withKey(key.key), 401, "unauthorized");
  await usageRows(key.id, 6);
  const revoked = parsed(
    ApiKeyUsage,
    await call("GET", `/account/api-keys/${key.id}/usage`, { token: user.token }),
  );
  assert.equal(revoked.days.at(-1)!.revoked, 1);
  const [admin] = await sql`select requests from admin.api_key_usage_per_day
                             where day = current_date and outcome = 'revoked'`;
  assert.ok(admin.requests >= 1);
});
