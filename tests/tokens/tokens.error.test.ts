// What the tokens function refuses, and how provider failures surface:
// invalid_grant marks needs_reauth and keeps everything; outages back off and
// answer 502/504 while a still-valid token keeps being served; bad input is a
// 4xx envelope, never a 500.
import assert from "node:assert/strict";
import { assertError } from "../helpers/assert.ts";
import { call, createUser, SERVICE_ROLE_KEY, sql, test } from "../helpers/stack.ts";
import {
  accessToken,
  connect,
  makeDue,
  provider,
  refreshLogs,
  secretRow,
  tokenRow,
} from "../oauth/flow.ts";

const user = await createUser("tokens-errors");
const token = user.token;

for (
  const [method, suffix] of [["GET", ""], ["DELETE", ""], ["POST", "/refresh"]] as const
) {
  test(`${method} /tokens/{id}${suffix} with a non-UUID id is 400`, async () => {
    for (const id of ["123", "not-a-uuid", "' or 1=1 --"]) {
      const res = await call(method, `/tokens/${encodeURIComponent(id)}${suffix}`, { token });
      assertError(res, 400, "validation_failed");
    }
  });
  test(`${method} /tokens/{id}${suffix} with an unknown id is 404`, async () => {
    assertError(
      await call(method, `/tokens/${crypto.randomUUID()}${suffix}`, { token }),
      404,
      "not_found",
    );
  });
}

const badQueries = [
  "?limit=0",
  "?limit=101",
  "?status=expired",
  "?provider=github",
  "?include_revoked=yes",
  "?cursor=not-a-cursor",
  "?cursor=WyJ4Il0",
];
for (const q of badQueries) {
  test(`list rejects ${q} with 400`, async () => {
    assertError(await call("GET", `/tokens${q}`, { token }), 400, "validation_failed");
  });
}

const badAccessBodies: Array<[string, unknown]> = [
  ["an unknown field", { account: "x" }],
  ["a bad token_id", { token_id: "nope" }],
  ["an unknown service", { service: "drive" }],
  ["an array", [1]],
];
for (const [name, body] of badAccessBodies) {
  test(`access-token rejects ${name} with 400`, async () => {
    assertError(await accessToken(user, "dev", body), 400, "validation_failed");
  });
}

test("access-token for an unknown provider is 400, for no connection 404", async () => {
  assertError(await accessToken(user, "github"), 400, "validation_failed");
  const nobody = await createUser("no-connections");
  assertError(await accessToken(nobody, "dev"), 404, "not_found");
  assertError(await accessToken(nobody, "google"), 404, "not_found");
});

test("access-token with a body that is not JSON is 415, malformed JSON 400", async () => {
  const res = await call("POST", "/tokens/dev/access-token", {
    token,
    body: "token_id=1",
    headers: { "Content-Type": "text/plain" },
  });
  assertError(res, 415, "unsupported_media_type");
  const bad = await call("POST", "/tokens/dev/access-token", {
    token,
    body: "{",
    headers: { "Content-Type": "application/json" },
  });
  assertError(bad, 400, "validation_failed");
});

test("access-token for a service the connection does not cover is 404", async () => {
  const u = await createUser("no-service");
  await connect(u, { services: ["gmail"] });
  assertError(await accessToken(u, "dev", { service: "calendar" }), 404, "not_found");
});

test("invalid_grant on refresh marks needs_reauth and keeps the row and its ciphertext", async () => {
  const u = await createUser("invalid-grant");
  const { token: t, email } = await connect(u);
  await provider.revokeGrants(email); // the user removed access at the provider
  await makeDue(t.id, 30);
  const res = await accessToken(u, "dev");
  assertError(res, 409, "needs_reauth");
  const row = await tokenRow(t.id);
  assert.equal(row.status, "needs_reauth");
  assert.equal(row.last_error_code, "invalid_grant");
  assert.ok(await secretRow(t.id), "nothing is deleted");
  assert.equal(row.has_refresh_token, true);
  const [log] = await refreshLogs(t.id);
  assert.equal(log.status, "needs_reauth");
  assert.equal(log.error_code, "invalid_grant");
  assert.equal(log.refresh_type, "automatic");
  const [activity] = await sql`select details from public.user_activities
                                where user_id = ${u.id} and activity_type = 'oauth.needs_reauth'`;
  assert.equal(activity.details.error_code, "invalid_grant");
  // Later calls answer at once, without asking the provider again.
  const before = (await provider.seen(email)).refresh_grants;
  assertError(await accessToken(u, "dev"), 409, "needs_reauth");
  assertError(
    await call("POST", `/tokens/${t.id}/refresh`, { token: u.token }),
    409,
    "needs_reauth",
  );
  assert.equal((await provider.seen(email)).refresh_grants, before);
  // Reconnecting heals it.
  const again = await connect(u, { email });
  assert.equal(again.token.id, t.id);
  assert.equal(again.token.status, "active");
  assert.equal((await accessToken(u, "dev")).status, 200);
});

test("a manual refresh answered with invalid_grant is 409 needs_reauth", async () => {
  const u = await createUser("manual-invalid");
  const { token: t, email } = await connect(u);
  await provider.fault(email, "refresh_token", "invalid_grant");
  assertError(
    await call("POST", `/tokens/${t.id}/refresh`, { token: u.token }),
    409,
    "needs_reauth",
  );
  assert.equal((await tokenRow(t.id)).status, "needs_reauth");
  assert.equal((await refreshLogs(t.id))[0].refresh_type, "manual");
});

test("a provider 500 on refresh is 502, logged, and backs off exponentially", async () => {
  const u = await createUser("refresh-500");
  const { token: t, email } = await connect(u);
  await provider.fault(email, "refresh_token", "500", { count: 2 });
  const first = await call("POST", `/tokens/${t.id}/refresh`, { token: u.token });
  assertError(first, 502, "provider_error");
  let row = await tokenRow(t.id);
  assert.equal(row.status, "active", "an outage is not the user's problem");
  assert.equal(row.refresh_failures, 1);
  const wait1 = (new Date(row.next_refresh_at).getTime() - Date.now()) / 1000;
  assert.ok(wait1 > 50 && wait1 <= 60, `first backoff ${wait1}s`);
  assertError(
    await call("POST", `/tokens/${t.id}/refresh`, { token: u.token }),
    502,
    "provider_error",
  );
  row = await tokenRow(t.id);
  assert.equal(row.refresh_failures, 2);
  const wait2 = (new Date(row.next_refresh_at).getTime() - Date.now()) / 1000;
  assert.ok(wait2 > 110 && wait2 <= 120, `second backoff ${wait2}s`);
  const logs = await refreshLogs(t.id);
  assert.deepEqual(logs.map((l) => [l.status, l.error_code, l.retry_count]), [
    ["failed", "unavailable", 0],
    ["failed", "unavailable", 1],
  ]);
  assert.ok(await secretRow(t.id));
  // The provider recovers: the next refresh succeeds and clears the backoff.
  assert.equal((await call("POST", `/tokens/${t.id}/refresh`, { token: u.token })).status, 200);
  row = await tokenRow(t.id);
  assert.equal(row.refresh_failures, 0);
  assert.equal(row.next_refresh_at, null);
});

test("a provider that hangs on refresh is 504 provider_timeout", async () => {
  const u = await createUser("refresh-hang");
  const { token: t, email } = await connect(u);
  await provider.fault(email, "refresh_token", "hang", { hang_ms: 6000 });
  assertError(
    await call("POST", `/tokens/${t.id}/refresh`, { token: u.token }),
    504,
    "provider_timeout",
  );
  const [log] = await refreshLogs(t.id);
  assert.equal(log.error_code, "timeout");
  assert.equal(log.status, "failed");
});

test("a connection closed mid-answer on refresh is 502", async () => {
  const u = await createUser("refresh-close");
  const { token: t, email } = await connect(u);
  await provider.fault(email, "refresh_token", "close");
  assertError(
    await call("POST", `/tokens/${t.id}/refresh`, { token: u.token }),
    502,
    "provider_error",
  );
});

test("a refresh that fails while the token still has time serves the current token", async () => {
  const u = await createUser("graceful");
  const { token: t, email } = await connect(u);
  const current = (await accessToken(u, "dev")).body.access_token;
  await makeDue(t.id, 300);
  await provider.fault(email, "refresh_token", "500");
  const res = await accessToken(u, "dev");
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.refreshed, false);
  assert.equal(res.body.access_token, current);
  assert.equal((await refreshLogs(t.id))[0].status, "failed");
});

test("a refresh that fails once the token has expired is 502", async () => {
  const u = await createUser("expired-outage");
  const { token: t, email } = await connect(u);
  await makeDue(t.id, 0);
  await provider.fault(email, "refresh_token", "500");
  assertError(await accessToken(u, "dev"), 502, "provider_error");
});

test("refreshing a revoked connection is 409 conflict", async () => {
  const u = await createUser("refresh-revoked");
  const { token: t } = await connect(u);
  await call("DELETE", `/tokens/${t.id}`, { token: u.token });
  assertError(await call("POST", `/tokens/${t.id}/refresh`, { token: u.token }), 409, "conflict");
  assertError(await accessToken(u, "dev", { token_id: t.id }), 404, "not_found");
});

test("refresh-due rejects a bad body with 400", async () => {
  for (const body of [{ limit: 0 }, { concurrency: 100 }, { limit: "ten" }]) {
    assertError(
      await call("POST", "/tokens/refresh-due", { token: SERVICE_ROLE_KEY, body }),
      400,
      "validation_failed",
    );
  }
});

test("refresh-due marks invalid_grant needs_reauth and backs off on outages", async () => {
  const u = await createUser("due-errors");
  const dead = await connect(u);
  const flaky = await connect(u);
  await provider.revokeGrants(dead.email);
  await provider.fault(flaky.email, "refresh_token", "500");
  await makeDue(dead.token.id, 120, { scheduler: true });
  await makeDue(flaky.token.id, 120, { scheduler: true });
  const res = await call("POST", "/tokens/refresh-due", { token: SERVICE_ROLE_KEY });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal((await tokenRow(dead.token.id)).status, "needs_reauth");
  const flakyRow = await tokenRow(flaky.token.id);
  assert.equal(flakyRow.status, "active");
  assert.equal(flakyRow.refresh_failures, 1);
  assert.ok(new Date(flakyRow.next_refresh_at) > new Date());
  assert.equal((await refreshLogs(flaky.token.id))[0].refresh_type, "scheduled");
  // In backoff: another run leaves it alone.
  await call("POST", "/tokens/refresh-due", { token: SERVICE_ROLE_KEY });
  assert.equal((await refreshLogs(flaky.token.id)).length, 1);
  assert.equal((await provider.seen(flaky.email)).refresh_grants, 1);
});

test("an unknown tokens route is 404, a wrong method 405", async () => {
  assertError(await call("GET", "/tokens/a/b/c", { token }), 404, "not_found");
  assertError(
    await call("PUT", `/tokens/${crypto.randomUUID()}`, { token }),
    405,
    "method_not_allowed",
  );
});
