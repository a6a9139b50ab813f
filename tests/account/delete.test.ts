// Deleting an account leaves no row of the user in any table, and is idempotent.
import assert from "node:assert/strict";
import { Session } from "../../shared/sessions/schemas.ts";
import { parsed } from "../helpers/assert.ts";
import { connect, provider } from "../oauth/flow.ts";
import { rowCounts, snapshotOf } from "../helpers/snapshot.ts";
import { addMessages, call, createApiKey, createUser, sql, test } from "../helpers/stack.ts";

// Every row of the user (every table with a user_id, found from the catalog,
// plus the profile and token secrets), the auth user, and the rate-limit
// buckets of the user and their keys.
async function rowsOf(userId: string, keyIds: string[]): Promise<Record<string, number>> {
  const [{ n: users }] = await sql`select count(*)::int as n from auth.users where id = ${userId}`;
  const buckets_ = [`user:${userId}`, ...keyIds.map((id) => `key:${id}`)];
  const [{ n: buckets }] = await sql`select count(*)::int as n from private.rate_limits
                                      where bucket in ${sql(buckets_)}`;
  return {
    ...rowCounts(await snapshotOf(userId)),
    "auth.users": users,
    "private.rate_limits": buckets,
  };
}

test("DELETE /account/me removes every row of the user, and only theirs", async () => {
  const user = await createUser("leaving");
  const bystander = await createUser("staying");
  const keys: Record<string, string[]> = {};
  for (const u of [user, bystander]) {
    const s = parsed(
      Session,
      await call("POST", "/sessions", { token: u.token, body: { title: "mine" } }),
      201,
    );
    await addMessages(u, s.id, 2);
    const key = await createApiKey(u, ["sessions:read"]);
    await call("GET", "/sessions", { headers: { "X-API-Key": key.key } });
    keys[u.id] = [key.id];
  }
  const before = await rowsOf(user.id, keys[user.id]);
  for (
    const table of [
      "public.chat_sessions",
      "public.messages",
      "public.api_keys",
      "public.user_activities",
      "private.rate_limits",
    ]
  ) {
    assert.ok(before[table] > 0, `${table} has rows before`);
  }
  const bystanderBefore = await rowsOf(bystander.id, keys[bystander.id]);

  const res = await call("DELETE", "/account/me", { token: user.token });
  assert.equal(res.status, 204);

  const after = await rowsOf(user.id, keys[user.id]);
  for (const [table, n] of Object.entries(after)) {
    assert.equal(n, 0, `${table} still has ${n} rows`);
  }
  assert.deepEqual(await rowsOf(bystander.id, keys[bystander.id]), bystanderBefore);

  const again = await call("DELETE", "/account/me", { token: user.token });
  assert.equal(again.status, 204, "deleting again is a no-op");
});

test("DELETE /account/me revokes every provider grant first, even when one provider fails", async () => {
  const user = await createUser("leaving-connected");
  const google = await connect(user, { provider: "google" });
  const dev = await connect(user, { provider: "dev", services: ["calendar"] });
  const microsoft = await connect(user, { provider: "microsoft", services: ["outlook"] });
  await provider.fault(dev.email, "revoke", "500");

  const res = await call("DELETE", "/account/me", { token: user.token });
  assert.equal(res.status, 204);

  assert.deepEqual(
    (await provider.seen(google.email)).revocations.map((r: { kind: string }) => r.kind),
    [
      "refresh_token",
    ],
  );
  assert.equal((await provider.seen(google.email)).active_refresh_tokens, 0);
  assert.equal(
    (await provider.seen(microsoft.email)).revocations.length,
    0,
    "Microsoft has no endpoint",
  );
  const [{ n }] =
    await sql`select count(*)::int as n from public.service_tokens where user_id = ${user.id}`;
  assert.equal(n, 0);
  const [{ secrets }] = await sql`select count(*)::int as secrets from private.token_secrets
                                   where token_id in (${google.token.id}, ${dev.token.id}, ${microsoft.token.id})`;
  assert.equal(secrets, 0, "no ciphertext survives");
});
