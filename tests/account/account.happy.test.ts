import assert from "node:assert/strict";
import { ActivityPage, ApiKeyList, CreatedApiKey, Profile } from "../../shared/account/schemas.ts";
import { Session } from "../../shared/sessions/schemas.ts";
import { parsed } from "../helpers/assert.ts";
import { call, createApiKey, createUser, sql, test } from "../helpers/stack.ts";

test("me returns the profile made at sign-up", async () => {
  const user = await createUser("me");
  const me = parsed(Profile, await call("GET", "/account/me", { token: user.token }));
  assert.equal(me.id, user.id);
  assert.equal(me.email, user.email);
  assert.equal(me.timezone, "UTC");
  assert.deepEqual(me.preferences, {});
});

test("patch me changes the given fields and records the change", async () => {
  const user = await createUser("patch");
  const res = await call("PATCH", "/account/me", {
    token: user.token,
    body: { display_name: "Ada", timezone: "Europe/Berlin", preferences: { voice: "nova" } },
  });
  const patched = parsed(Profile, res);
  assert.equal(patched.display_name, "Ada");
  assert.equal(patched.timezone, "Europe/Berlin");
  assert.deepEqual(patched.preferences, { voice: "nova" });
  const cleared = parsed(
    Profile,
    await call("PATCH", "/account/me", { token: user.token, body: { display_name: null } }),
  );
  assert.equal(cleared.display_name, null);
  assert.equal(cleared.timezone, "Europe/Berlin");
  const [activity] = await sql`select details from public.user_activities
                                where user_id = ${user.id} and activity_type = 'account.updated'
                                order by id limit 1`;
  assert.deepEqual(activity.details.fields, ["display_name", "preferences", "timezone"]);
});

test("activity pages newest first and filters by type", async () => {
  const user = await createUser("activity");
  for (let i = 0; i < 3; i++) {
    await call("POST", "/sessions", { token: user.token, body: { title: `s${i}` } });
  }
  const s = parsed(
    Session,
    await call("POST", "/sessions", { token: user.token, body: { title: "archived" } }),
    201,
  );
  await call("POST", `/sessions/${s.id}/archive`, { token: user.token });
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const q: string = `?limit=2${cursor ? `&cursor=${cursor}` : ""}`;
    const page = parsed(
      ActivityPage,
      await call("GET", `/account/activity${q}`, { token: user.token }),
    );
    seen.push(...page.data.map((a) => a.activity_type));
    cursor = page.next_cursor;
  } while (cursor);
  assert.deepEqual(seen, ["session.archived", ...Array(4).fill("session.created")]);
  const filtered = parsed(
    ActivityPage,
    await call("GET", "/account/activity?type=session.archived", { token: user.token }),
  );
  assert.equal(filtered.data.length, 1);
  assert.equal(filtered.data[0].details.session_id, s.id);
});

test("an API key is shown once, stored as a hash, listed without the secret, and revoked", async () => {
  const user = await createUser("keys");
  const created = parsed(
    CreatedApiKey,
    await call("POST", "/account/api-keys", {
      token: user.token,
      body: { name: "laptop", scopes: ["sessions:read", "chat:write"] },
    }),
    201,
  );
  assert.match(created.key, /^opr_[a-z2-7]{32}$/);
  assert.equal(created.prefix, created.key.slice(0, 12));
  assert.equal(created.status, "active");

  const [row] = await sql`select * from public.api_keys where id = ${created.id}`;
  assert.ok(!JSON.stringify(row).includes(created.key.slice(12)), "secret part not stored");
  const hash = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(created.key)),
  );
  assert.deepEqual(new Uint8Array(row.key_hash), hash);

  const list = await call("GET", "/account/api-keys", { token: user.token });
  const listed = parsed(ApiKeyList, list);
  assert.equal(listed.data.length, 1);
  assert.equal(list.body.data[0].key, undefined);
  assert.ok(!JSON.stringify(list.body).includes(created.key));
  assert.deepEqual(listed.data[0].scopes, ["sessions:read", "chat:write"]);

  const byKey = await call("GET", "/sessions", { headers: { "X-API-Key": created.key } });
  assert.equal(byKey.status, 200);
  const revoked = await call("DELETE", `/account/api-keys/${created.id}`, {
    token: user.token,
  });
  assert.equal(revoked.status, 204);
  const again = await call("DELETE", `/account/api-keys/${created.id}`, { token: user.token });
  assert.equal(again.status, 204);
  const after = parsed(ApiKeyList, await call("GET", "/account/api-keys", { token: user.token }));
  assert.equal(after.data[0].status, "revoked");
  const refused = await call("GET", "/sessions", { headers: { "X-API-Key": created.key } });
  assert.equal(refused.status, 401);
  const types = await sql`select activity_type from public.user_activities
                           where user_id = ${user.id} and activity_type like 'api_key.%' order by id`;
  assert.deepEqual(types.map((t) => t.activity_type), ["api_key.created", "api_key.revoked"]);
});

test("a key acts as its owner under RLS, by header or as a bearer token", async () => {
  const user = await createUser("owner");
  const other = await createUser("other");
  await call("POST", "/sessions", { token: other.token, body: { title: "not yours" } });
  const key = await createApiKey(user, ["sessions:read", "sessions:write"]);
  const created = await call("POST", "/sessions", {
    headers: { "X-API-Key": key.key },
    body: { title: "via key" },
  });
  assert.equal(created.status, 201);
  assert.equal(created.body.user_id, user.id);
  const listed = await call("GET", "/sessions", { token: key.key });
  assert.deepEqual(listed.body.data.map((s: { id: string }) => s.id), [created.body.id]);
});

test("JWT and key together must name the same user", async () => {
  const user = await createUser("pair");
  const other = await createUser("stranger");
  const key = await createApiKey(user, ["sessions:read"]);
  const same = await call("GET", "/sessions", {
    token: user.token,
    headers: { "X-API-Key": key.key },
  });
  assert.equal(same.status, 200);
  const mixed = await call("GET", "/sessions", {
    token: other.token,
    headers: { "X-API-Key": key.key },
  });
  assert.equal(mixed.status, 401);
});

test("last_used_at is written on first use and not on every request", async () => {
  const user = await createUser("lastused");
  const key = await createApiKey(user, ["sessions:read"]);
  const [before] = await sql`select last_used_at from public.api_keys where id = ${key.id}`;
  assert.equal(before.last_used_at, null);
  await call("GET", "/sessions", { headers: { "X-API-Key": key.key } });
  const [first] =
    await sql`select last_used_at, xmin::text as version from public.api_keys where id = ${key.id}`;
  assert.ok(first.last_used_at);
  for (let i = 0; i < 5; i++) await call("GET", "/sessions", { headers: { "X-API-Key": key.key } });
  const [later] =
    await sql`select last_used_at, xmin::text as version from public.api_keys where id = ${key.id}`;
  assert.equal(later.version, first.version, "no row write after the first use");
});

test("an expiring key works until its expiry", async () => {
  const user = await createUser("expiring");
  const key = await createApiKey(user, ["sessions:read"], {
    expires_at: new Date(Date.now() + 3600_000).toISOString(),
  });
  assert.equal((await call("GET", "/sessions", { headers: { "X-API-Key": key.key } })).status, 200);
  // Moved into the past whole: a key always expires after it was created.
  await sql`update public.api_keys
               set created_at = now() - interval '1 hour', expires_at = now() - interval '1 second'
             where id = ${key.id}`;
  const res = await call("GET", "/sessions", { headers: { "X-API-Key": key.key } });
  assert.equal(res.status, 401);
  const list = parsed(ApiKeyList, await call("GET", "/account/api-keys", { token: user.token }));
  assert.equal(list.data[0].status, "expired");
});
