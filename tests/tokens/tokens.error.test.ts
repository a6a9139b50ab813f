// What the tokens function refuses, and how provider failures surface:
// invalid_grant marks needs_reauth and keeps everything; outages back off and
// answer 502/504 while a still-valid token keeps being served; bad input is a
// 4xx envelope, never a 500. Around every provider fault a snapshot of all the
// user has stored shows that only what the failure is meant to move moved.
import assert from "node:assert/strict";
import {
  AccessToken,
  RefreshDueResult,
  RevokeResult,
  ServiceToken,
} from "../../shared/tokens/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { assertOnlyChanges, snapshotOf } from "../helpers/snapshot.ts";
import { call, createUser, SERVICE_ROLE_KEY, test } from "../helpers/stack.ts";
import {
  accessToken,
  connect,
  makeDue,
  provider,
  refreshLogs,
  tokenRow,
  userWithConnections,
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

// The token columns each kind of refresh failure is meant to move. An outage
// backs off: one more failure, a later next attempt, the error, and the first
// one turns the connection refresh_failing since now (its due time moves only
// when the backoff ends after it: see the refresh-due test). A dead grant (invalid_grant) ends the connection until the user
// reconnects; the backoff and the due time are cleared, or left cleared.
// Anything else that moves is a defect, the ciphertext above all.
const OUTAGE_MOVES = [
  "failing_since",
  "last_error_code",
  "next_refresh_at",
  "refresh_failures",
  "status",
  "updated_at",
];
const REAUTH_MOVES = ["last_error_code", "refresh_due_at", "status", "updated_at"];

test("invalid_grant on refresh marks needs_reauth and keeps everything stored, ciphertext included", async () => {
  const { user: u, dev } = await userWithConnections("invalid-grant");
  const { token: t, email } = dev;
  await provider.revokeGrants(email); // the user removed access at the provider
  await makeDue(t.id, 30);
  const before = await snapshotOf(u.id);
  const res = await accessToken(u, "dev");
  assertError(res, 409, "needs_reauth");
  const afterFault = await snapshotOf(u.id);
  // makeDue parked the token out of the scheduler's reach: needs_reauth clears that too.
  const changes = await assertOnlyChanges(before, afterFault, {
    "public.service_tokens": { changed: { [t.id]: [...REAUTH_MOVES, "next_refresh_at"].sort() } },
    "public.token_refresh_logs": { added: 1 },
    "public.user_activities": { added: 1 },
    "public.connection_events": { added: 1 },
  });
  const { after: row } = changes["public.service_tokens"].changed[0];
  assert.equal(changes["public.connection_events"].added[0].type, "connection.needs_reauth");
  assert.deepEqual([row.status, row.last_error_code, row.next_refresh_at], [
    "needs_reauth",
    "invalid_grant",
    null,
  ]);
  const [log] = changes["public.token_refresh_logs"].added;
  assert.deepEqual([log.token_id, log.status, log.error_code, log.refresh_type], [
    t.id,
    "needs_reauth",
    "invalid_grant",
    "automatic",
  ]);
  const [activity] = changes["public.user_activities"].added;
  assert.equal(activity.activity_type, "oauth.needs_reauth");
  assert.deepEqual(activity.details, {
    token_id: t.id,
    provider: "dev",
    error_code: "invalid_grant",
  });
  // Later calls answer at once, without asking the provider again, and change nothing.
  const seen = (await provider.seen(email)).refresh_grants;
  assertError(await accessToken(u, "dev"), 409, "needs_reauth");
  assertError(
    await call("POST", `/tokens/${t.id}/refresh`, { token: u.token }),
    409,
    "needs_reauth",
  );
  assert.equal((await provider.seen(email)).refresh_grants, seen);
  await assertOnlyChanges(afterFault, await snapshotOf(u.id), {});
  // Reconnecting heals it.
  const again = await connect(u, { email });
  assert.equal(again.token.id, t.id);
  assert.equal(again.token.status, "active");
  parsed(AccessToken, await accessToken(u, "dev"));
});

// Each way the provider can fail a manual refresh: the answer, and the error
// code that the refresh log, the token and the answer's details record.
const refreshFaults = [
  { mode: "500", status: 502, code: "provider_error", logged: "unavailable" },
  { mode: "hang", status: 504, code: "provider_timeout", logged: "timeout" },
  // Headers, then the connection dies mid-body: an answer that cannot be read.
  { mode: "close", status: 502, code: "provider_error", logged: "malformed" },
  { mode: "malformed", status: 502, code: "provider_error", logged: "malformed" },
  { mode: "invalid_grant", status: 409, code: "needs_reauth", logged: "invalid_grant" },
] as const;

for (const f of refreshFaults) {
  const reauth = f.mode === "invalid_grant";
  test(
    `a provider ${f.mode} on a manual refresh is ${f.status} ${f.code}; the token ${
      reauth ? "needs reauth" : "backs off"
    }, nothing else stored changes`,
    async () => {
      const { user: u, dev } = await userWithConnections(`refresh-${f.mode}`);
      const { token: t, email } = dev;
      await provider.fault(email, "refresh_token", f.mode, { hang_ms: 6000 });
      const before = await snapshotOf(u.id);
      const res = await call("POST", `/tokens/${t.id}/refresh`, { token: u.token });
      assertError(res, f.status, f.code);
      assert.equal(res.body.error.details.error_code, f.logged);
      const changes = await assertOnlyChanges(before, await snapshotOf(u.id), {
        "public.service_tokens": { changed: { [t.id]: reauth ? REAUTH_MOVES : OUTAGE_MOVES } },
        "public.token_refresh_logs": { added: 1 },
        "public.connection_events": { added: 1 },
        ...(reauth ? { "public.user_activities": { added: 1 } } : {}),
      });
      const { after: row } = changes["public.service_tokens"].changed[0];
      assert.equal(row.last_error_code, f.logged);
      if (reauth) {
        assert.equal(row.status, "needs_reauth");
        const [activity] = changes["public.user_activities"].added;
        assert.equal(activity.activity_type, "oauth.needs_reauth");
        const [event] = changes["public.connection_events"].added;
        assert.equal(event.type, "connection.needs_reauth");
      } else {
        // An outage is not the user's problem, but the app hears of it.
        assert.equal(row.status, "refresh_failing");
        assert.equal(
          changes["public.connection_events"].added[0].type,
          "connection.refresh_failing",
        );
        assert.equal(row.refresh_failures, 1);
        const wait = (Date.parse(row.next_refresh_at as string) - Date.now()) / 1000;
        assert.ok(wait > 50 && wait <= 60, `backoff ${wait}s`);
      }
      const [log] = changes["public.token_refresh_logs"].added;
      assert.deepEqual(
        [log.token_id, log.refresh_type, log.status, log.error_code, log.retry_count],
        [t.id, "manual", reauth ? "needs_reauth" : "failed", f.logged, 0],
      );
    },
  );
}

test("repeated provider 500s on refresh back off exponentially; a success clears the backoff", async () => {
  const u = await createUser("refresh-500");
  const { token: t, email } = await connect(u);
  await provider.fault(email, "refresh_token", "500", { count: 2 });
  const first = await call("POST", `/tokens/${t.id}/refresh`, { token: u.token });
  assertError(first, 502, "provider_error");
  let row = await tokenRow(t.id);
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
  // The provider recovers: the next refresh succeeds and clears the backoff.
  parsed(ServiceToken, await call("POST", `/tokens/${t.id}/refresh`, { token: u.token }));
  row = await tokenRow(t.id);
  assert.equal(row.refresh_failures, 0);
  assert.equal(row.next_refresh_at, null);
});

test("a refresh that fails while the token still has time serves the current token; only the backoff and the use move", async () => {
  const { user: u, dev } = await userWithConnections("graceful");
  const { token: t, email } = dev;
  const current = parsed(AccessToken, await accessToken(u, "dev")).access_token;
  await makeDue(t.id, 300);
  await provider.fault(email, "refresh_token", "500");
  const before = await snapshotOf(u.id);
  const grant = parsed(AccessToken, await accessToken(u, "dev"));
  assert.equal(grant.refreshed, false);
  assert.equal(grant.access_token, current);
  const changes = await assertOnlyChanges(before, await snapshotOf(u.id), {
    "public.service_tokens": {
      // The use makes it a recently used connection: proactively due.
      changed: { [t.id]: [...OUTAGE_MOVES, "last_used_at", "refresh_due_at", "use_count"].sort() },
    },
    "public.token_refresh_logs": { added: 1 },
    "public.connection_events": { added: 1 },
    // The vend itself is an activity (who asked, not refreshed).
    "public.user_activities": { added: 1 },
  });
  const { before: was, after: row } = changes["public.service_tokens"].changed[0];
  assert.equal(row.use_count, (was.use_count as number) + 1);
  assert.deepEqual(changes["public.user_activities"].added[0].details, {
    connection_id: t.id,
    provider: "dev",
    refreshed: false,
    asked_by: "user",
  });
  assert.equal(row.refresh_failures, 1);
  assert.equal(row.status, "refresh_failing", "refresh_failing still serves a valid token");
  assert.equal(changes["public.token_refresh_logs"].added[0].status, "failed");
  // Still failing: a later vend serves it again, without a second event.
  await provider.fault(email, "refresh_token", "500");
  const later = await snapshotOf(u.id);
  assert.equal(parsed(AccessToken, await accessToken(u, "dev")).access_token, current);
  const moves = ["last_used_at", "next_refresh_at", "refresh_due_at", "refresh_failures"];
  const again = await assertOnlyChanges(later, await snapshotOf(u.id), {
    "public.service_tokens": { changed: { [t.id]: [...moves, "updated_at", "use_count"] } },
    "public.token_refresh_logs": { added: 1 },
    "public.user_activities": { added: 1 },
  });
  const { after } = again["public.service_tokens"].changed[0];
  assert.deepEqual([after.status, after.refresh_failures], ["refresh_failing", 2]);
});

test("a refresh that fails once the token has expired is 502; only the backoff moves", async () => {
  const { user: u, dev } = await userWithConnections("expired-outage");
  const { token: t, email } = dev;
  await makeDue(t.id, 0);
  await provider.fault(email, "refresh_token", "500");
  const before = await snapshotOf(u.id);
  assertError(await accessToken(u, "dev"), 502, "provider_error");
  const changes = await assertOnlyChanges(before, await snapshotOf(u.id), {
    "public.service_tokens": { changed: { [t.id]: OUTAGE_MOVES } },
    "public.token_refresh_logs": { added: 1 },
    "public.connection_events": { added: 1 },
  });
  assert.equal(changes["public.service_tokens"].changed[0].after.refresh_failures, 1);
});

test("refreshing a revoked connection is 409 conflict", async () => {
  const u = await createUser("refresh-revoked");
  const { token: t } = await connect(u);
  parsed(RevokeResult, await call("DELETE", `/tokens/${t.id}`, { token: u.token }));
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

test("refresh-due marks invalid_grant needs_reauth and backs off on outages; nothing else moves", async () => {
  const { user: u, dev: dead } = await userWithConnections("due-errors");
  const flaky = await connect(u);
  await provider.revokeGrants(dead.email);
  await provider.fault(flaky.email, "refresh_token", "500");
  // Taken before making them due: once due, any run of refresh-due (other test
  // files call it too) may take them, and the snapshot must see that as well.
  const before = await snapshotOf(u.id);
  await makeDue(dead.token.id, 120, { scheduler: true });
  await makeDue(flaky.token.id, 120, { scheduler: true });
  parsed(RefreshDueResult, await call("POST", "/tokens/refresh-due", { token: SERVICE_ROLE_KEY }));
  const afterRun = await snapshotOf(u.id);
  // Moved by makeDue (a recent use makes them proactively due), not by the refresh.
  const due = ["expires_at", "issued_at", "last_used_at", "refresh_due_at"];
  const changes = await assertOnlyChanges(before, afterRun, {
    "public.service_tokens": {
      changed: {
        [dead.token.id]: [...new Set([...due, ...REAUTH_MOVES])].sort(),
        [flaky.token.id]: [...due, ...OUTAGE_MOVES].sort(),
      },
    },
    "public.token_refresh_logs": { added: 2 },
    "public.user_activities": { added: 1 },
    "public.connection_events": { added: 2 },
  });
  const rows = Object.fromEntries(
    changes["public.service_tokens"].changed.map((c) => [c.key, c.after]),
  );
  for (const row of Object.values(rows)) {
    // As makeDue left them: a failed refresh obtains no new expiry.
    const lifetime = Date.parse(row.expires_at as string) - Date.parse(row.issued_at as string);
    assert.equal(lifetime, (3600 + 120) * 1000);
  }
  assert.equal(rows[dead.token.id].status, "needs_reauth");
  assert.equal(rows[flaky.token.id].status, "refresh_failing");
  assert.deepEqual(
    changes["public.connection_events"].added.map((e) => [e.connection_id, e.type]).sort(),
    [[dead.token.id, "connection.needs_reauth"], [flaky.token.id, "connection.refresh_failing"]]
      .sort(),
  );
  assert.equal(rows[flaky.token.id].refresh_failures, 1);
  assert.ok(new Date(rows[flaky.token.id].next_refresh_at as string) > new Date());
  assert.deepEqual(
    changes["public.token_refresh_logs"].added.map((l) => [l.token_id, l.refresh_type, l.status])
      .sort(),
    [[dead.token.id, "scheduled", "needs_reauth"], [flaky.token.id, "scheduled", "failed"]].sort(),
  );
  // In backoff: another run leaves it alone.
  await call("POST", "/tokens/refresh-due", { token: SERVICE_ROLE_KEY });
  await assertOnlyChanges(afterRun, await snapshotOf(u.id), {});
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
