// The tokens function on connections made through the real flow: listing,
// statistics, access tokens for the agent (fresh or refreshed first), manual
// and scheduled refresh with rotation persisted, revocation at the provider,
// and the retention cleanup.
import assert from "node:assert/strict";
import {
  AccessToken,
  CleanupResult,
  RefreshDueResult,
  RevokeResult,
  ServiceToken,
  TokenPage,
  TokenStats,
} from "../../shared/tokens/schemas.ts";
import { parsed } from "../helpers/assert.ts";
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

test("GET /tokens lists the caller's connections, newest first, in pages", async () => {
  const user = await createUser("list");
  const ids: string[] = [];
  for (let i = 0; i < 3; i++) ids.push((await connect(user)).token.id);
  const google = (await connect(user, { provider: "google" })).token.id;
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const q: string = cursor ? `?limit=2&cursor=${cursor}` : "?limit=2";
    const page = parsed(TokenPage, await call("GET", `/tokens${q}`, { token: user.token }));
    seen.push(...page.data.map((t) => t.id));
    cursor = page.next_cursor;
  } while (cursor);
  assert.deepEqual(seen, [google, ...ids.reverse()]);
  const onlyGoogle = parsed(
    TokenPage,
    await call("GET", "/tokens?provider=google", { token: user.token }),
  );
  assert.deepEqual(onlyGoogle.data.map((t) => t.id), [google]);
  for (const t of onlyGoogle.data) {
    assert.ok(!JSON.stringify(t).match(/devat_|devrt_/), "metadata only");
  }
});

test("revoked connections are hidden unless asked for", async () => {
  const user = await createUser("list-revoked");
  const { token } = await connect(user);
  await connect(user);
  parsed(RevokeResult, await call("DELETE", `/tokens/${token.id}`, { token: user.token }));
  const ids = async (q: string) =>
    parsed(TokenPage, await call("GET", `/tokens${q}`, { token: user.token })).data.map((t) =>
      t.id
    );
  assert.ok(!(await ids("")).includes(token.id));
  assert.ok((await ids("?include_revoked=true")).includes(token.id));
  assert.deepEqual(await ids("?status=revoked"), [token.id]);
});

test("GET /tokens/{id} returns the connection", async () => {
  const user = await createUser("get");
  const { token } = await connect(user, { services: ["calendar"] });
  const res = await call("GET", `/tokens/${token.id}`, { token: user.token });
  assert.deepEqual(parsed(ServiceToken, res), token);
});

test("GET /tokens/stats counts by provider and status, expiring soon, and refresh success", async () => {
  const user = await createUser("stats");
  const a = (await connect(user)).token.id;
  const b = (await connect(user, { provider: "google" })).token.id;
  const c = (await connect(user, { provider: "google" })).token.id;
  parsed(RevokeResult, await call("DELETE", `/tokens/${c}`, { token: user.token }));
  parsed(ServiceToken, await call("POST", `/tokens/${a}/refresh`, { token: user.token }));
  await sql`insert into public.token_refresh_logs (token_id, user_id, provider, refresh_type, status)
            values (${b}, ${user.id}, 'google', 'scheduled', 'failed')`;
  await makeDue(b, 120);
  // b's refreshes fail for now: still expiring soon, counted as refresh_failing.
  await sql`update public.service_tokens
               set status = 'refresh_failing', failing_since = now(), refresh_failures = 1
             where id = ${b}`;
  const stats = parsed(TokenStats, await call("GET", "/tokens/stats", { token: user.token }));
  assert.equal(stats.total, 3);
  const none = { needs_reauth: 0, exhausted: 0 };
  assert.deepEqual(stats.by_status, { active: 1, refresh_failing: 1, ...none, revoked: 1 });
  assert.deepEqual(stats.by_provider, {
    dev: { active: 1, refresh_failing: 0, ...none, revoked: 0, total: 1 },
    google: { active: 0, refresh_failing: 1, ...none, revoked: 1, total: 2 },
  });
  assert.equal(stats.expiring_soon, 1);
  assert.equal(stats.refresh.attempts_24h, 2);
  assert.equal(stats.refresh.succeeded_24h, 1);
  assert.equal(stats.refresh.failed_24h, 1);
  assert.equal(stats.refresh.success_rate_24h, 0.5);
  assert.ok(stats.refresh.last_refresh_at);
});

test("stats of a user without connections are zeros", async () => {
  const user = await createUser("stats-empty");
  const res = await call("GET", "/tokens/stats", { token: user.token });
  assert.deepEqual(parsed(TokenStats, res), {
    total: 0,
    by_status: { active: 0, refresh_failing: 0, needs_reauth: 0, exhausted: 0, revoked: 0 },
    by_provider: {},
    expiring_soon: 0,
    refresh: {
      attempts_24h: 0,
      succeeded_24h: 0,
      failed_24h: 0,
      success_rate_24h: null,
      last_refresh_at: null,
    },
  });
});

test("access-token hands out the stored token when it is fresh, and counts the use", async () => {
  const user = await createUser("access");
  const { token, email } = await connect(user);
  const res = await accessToken(user, "dev");
  const grant = parsed(AccessToken, res);
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal(grant.token_type, "Bearer");
  assert.equal(grant.refreshed, false);
  assert.equal(grant.token_id, token.id);
  assert.equal(grant.provider_email, email);
  assert.deepEqual(grant.services, ["gmail"]);
  assert.ok(grant.expires_in > 3500 && grant.expires_in <= 3600);
  assert.equal((await provider.userinfo(grant.access_token)).body.email, email);
  const again = parsed(AccessToken, await accessToken(user, "dev"));
  assert.equal(again.access_token, grant.access_token);
  const row = await tokenRow(token.id);
  assert.equal(Number(row.use_count), 2);
  assert.ok(row.last_used_at);
  assert.equal((await provider.seen(email)).refresh_grants, 0, "no refresh needed");
});

test("access-token refreshes first when the token expires within the window", async () => {
  const user = await createUser("access-due");
  const { token, email } = await connect(user);
  const before = parsed(AccessToken, await accessToken(user, "dev")).access_token;
  await makeDue(token.id, 120);
  const grant = parsed(AccessToken, await accessToken(user, "dev"));
  assert.equal(grant.refreshed, true);
  assert.notEqual(grant.access_token, before);
  assert.ok(grant.expires_in > 3500);
  assert.equal((await provider.userinfo(grant.access_token)).status, 200);
  assert.equal((await provider.seen(email)).refresh_grants, 1);
  const logs = await refreshLogs(token.id);
  assert.equal(logs.length, 1);
  assert.equal(logs[0].refresh_type, "automatic");
  assert.equal(logs[0].status, "success");
  assert.equal(logs[0].rotated, false);
  assert.ok(logs[0].new_expires_at > logs[0].previous_expires_at);
  assert.ok(logs[0].duration_ms >= 0);
  const row = await tokenRow(token.id);
  assert.ok(row.last_refreshed_at);
  assert.equal(row.next_refresh_at, null, "a success clears the backoff");
});

test("access-token picks the connection by service or by id", async () => {
  const user = await createUser("access-pick");
  const mail = await connect(user, { services: ["gmail"] });
  const cal = await connect(user, { services: ["calendar"] });
  const byService = parsed(AccessToken, await accessToken(user, "dev", { service: "calendar" }));
  assert.equal(byService.token_id, cal.token.id);
  const byId = parsed(AccessToken, await accessToken(user, "dev", { token_id: mail.token.id }));
  assert.equal(byId.token_id, mail.token.id);
  // By default: the most recently used active connection.
  assert.equal(parsed(AccessToken, await accessToken(user, "dev")).token_id, mail.token.id);
});

test("a manual refresh is logged as manual and recorded as an activity", async () => {
  const user = await createUser("manual");
  const { token, email } = await connect(user);
  const oldAccess = parsed(AccessToken, await accessToken(user, "dev")).access_token;
  const res = await call("POST", `/tokens/${token.id}/refresh`, { token: user.token });
  const refreshed = parsed(ServiceToken, res);
  assert.equal(refreshed.id, token.id);
  assert.ok(refreshed.last_refreshed_at);
  assert.ok(!JSON.stringify(res.body).match(/devat_|devrt_/), "no token in the answer");
  assert.equal((await provider.seen(email)).refresh_grants_ok, 1);
  const fresh = parsed(AccessToken, await accessToken(user, "dev")).access_token;
  assert.notEqual(fresh, oldAccess);
  assert.equal((await provider.userinfo(oldAccess)).status, 200, "the old one simply expires");
  const [log] = await refreshLogs(token.id);
  assert.equal(log.refresh_type, "manual");
  assert.equal(log.status, "success");
  const [activity] = await sql`select details from public.user_activities
                                where user_id = ${user.id} and activity_type = 'oauth.refreshed'`;
  assert.deepEqual(activity.details, {
    token_id: token.id,
    provider: "dev",
    refresh_type: "manual",
  });
});

test("Microsoft rotates refresh tokens: the new one is persisted and the next refresh uses it", async () => {
  const user = await createUser("rotate");
  const { token, email } = await connect(user, { provider: "microsoft", services: ["outlook"] });
  const stored = async () =>
    (await sql`select extensions.pgp_sym_decrypt(s.refresh_token, v.decrypted_secret) as r
                 from private.token_secrets s, vault.decrypted_secrets v
                where s.token_id = ${token.id} and v.name = 'token_encryption_key'`)[0].r;
  const first = await stored();
  parsed(ServiceToken, await call("POST", `/tokens/${token.id}/refresh`, { token: user.token }));
  const second = await stored();
  assert.notEqual(second, first, "the rotated refresh token replaced the old one");
  // The provider invalidated the first one; only the persisted one works now.
  parsed(ServiceToken, await call("POST", `/tokens/${token.id}/refresh`, { token: user.token }));
  const seen = await provider.seen(email);
  assert.equal(seen.refresh_grants_ok, 2);
  assert.equal(seen.refresh_grants_failed, 0);
  // Microsoft's refresh names the granted scopes again.
  assert.ok(seen.refresh_scopes[0].includes("https://graph.microsoft.com/Mail.ReadWrite"));
  const logs = await refreshLogs(token.id);
  assert.deepEqual(logs.map((l) => l.rotated), [true, true]);
});

test("rotation on the dev provider, switched on per account", async () => {
  const user = await createUser("rotate-dev");
  const { token, email } = await connect(user);
  await provider.configure(email, { rotate_refresh_tokens: true });
  for (let i = 0; i < 3; i++) {
    await makeDue(token.id, 60);
    assert.equal(parsed(AccessToken, await accessToken(user, "dev")).refreshed, true);
  }
  const seen = await provider.seen(email);
  assert.equal(seen.refresh_grants_ok, 3);
  assert.equal(seen.active_refresh_tokens, 1);
  assert.deepEqual((await refreshLogs(token.id)).map((l) => l.rotated), [true, true, true]);
});

test("refresh-due refreshes due tokens as scheduled work", async () => {
  const user = await createUser("due");
  const { token, email } = await connect(user);
  await makeDue(token.id, 300, { scheduler: true });
  const res = await call("POST", "/tokens/refresh-due", { token: SERVICE_ROLE_KEY, body: {} });
  assert.equal(parsed(RefreshDueResult, res).errors, 0);
  const logs = await refreshLogs(token.id);
  assert.equal(logs.length, 1, "refreshed once (by this run or by the pg_cron one)");
  assert.equal(logs[0].refresh_type, "scheduled");
  assert.equal(logs[0].status, "success");
  assert.equal((await provider.seen(email)).refresh_grants, 1);
  const row = await tokenRow(token.id);
  assert.ok(new Date(row.expires_at).getTime() - Date.now() > 3500_000);
});

test("revoking a Google connection revokes the grant at Google and destroys the tokens", async () => {
  const user = await createUser("revoke-google");
  const { token, email } = await connect(user, { provider: "google" });
  const issued = parsed(AccessToken, await accessToken(user, "google")).access_token;
  const res = await call("DELETE", `/tokens/${token.id}`, { token: user.token });
  const revoked = parsed(RevokeResult, res);
  assert.equal(revoked.provider_revocation, "revoked");
  assert.equal(revoked.token.status, "revoked");
  assert.equal(revoked.token.has_refresh_token, false);
  assert.ok(revoked.token.revoked_at);
  assert.equal(revoked.token.revoked_reason, "user_request");
  const seen = await provider.seen(email);
  assert.deepEqual(seen.revocations.map((r: { kind: string }) => r.kind), ["refresh_token"]);
  assert.equal(seen.active_refresh_tokens, 0);
  assert.equal((await provider.userinfo(issued)).status, 401, "the grant is dead at the provider");
  assert.equal(await secretRow(token.id), undefined, "the ciphertext is destroyed");
  assert.equal((await accessToken(user, "google")).status, 404);
  const [activity] = await sql`select details from public.user_activities
                                where user_id = ${user.id} and activity_type = 'oauth.revoked'`;
  assert.equal(activity.details.token_id, token.id);
  // Revoking again changes nothing and calls nobody.
  const again = await call("DELETE", `/tokens/${token.id}`, { token: user.token });
  assert.equal(parsed(RevokeResult, again).provider_revocation, "skipped");
  assert.equal((await provider.seen(email)).revocations.length, 1);
});

test("Microsoft has no revocation endpoint: the revocation is local and recorded", async () => {
  const user = await createUser("revoke-ms");
  const { token, email } = await connect(user, { provider: "microsoft", services: ["calendar"] });
  const res = await call("DELETE", `/tokens/${token.id}`, { token: user.token });
  assert.equal(parsed(RevokeResult, res).provider_revocation, "not_supported");
  assert.equal((await tokenRow(token.id)).provider_revocation, "not_supported");
  assert.equal((await provider.seen(email)).revocations.length, 0);
  assert.equal(await secretRow(token.id), undefined);
});

test("a provider failing the revocation is reported; the local revocation happens anyway", async () => {
  const user = await createUser("revoke-fail");
  const { token, email } = await connect(user);
  await provider.fault(email, "revoke", "500");
  const res = await call("DELETE", `/tokens/${token.id}`, { token: user.token });
  const revoked = parsed(RevokeResult, res);
  assert.equal(revoked.provider_revocation, "failed");
  assert.equal(revoked.token.status, "revoked");
  assert.equal(await secretRow(token.id), undefined);
});

test("a revoked account can be connected again", async () => {
  const user = await createUser("revive");
  const first = await connect(user);
  parsed(RevokeResult, await call("DELETE", `/tokens/${first.token.id}`, { token: user.token }));
  const again = await connect(user, { email: first.email });
  assert.equal(again.token.id, first.token.id);
  assert.equal(again.token.status, "active");
  assert.equal(again.token.revoked_at, null);
  assert.equal(again.token.provider_revocation, null);
  parsed(AccessToken, await accessToken(user, "dev"));
});

test("cleanup removes what retention allows and never a live refresh token", async () => {
  const user = await createUser("cleanup");
  const live = await connect(user);
  const reauth = await connect(user);
  const gone = await connect(user);
  // A long-expired access token on a live connection is routine.
  await sql`update public.service_tokens
               set expires_at = now() - interval '200 days', issued_at = now() - interval '201 days',
                   next_refresh_at = now() + interval '1 hour'
             where id = ${live.token.id}`;
  await sql`update public.service_tokens set status = 'needs_reauth' where id = ${reauth.token.id}`;
  parsed(RevokeResult, await call("DELETE", `/tokens/${gone.token.id}`, { token: user.token }));
  await sql`update public.service_tokens set revoked_at = now() - interval '31 days'
             where id = ${gone.token.id}`;
  await sql`insert into public.token_refresh_logs
              (token_id, user_id, provider, refresh_type, status, created_at)
            values (${live.token.id}, ${user.id}, 'dev', 'scheduled', 'success', now() - interval '31 days')`;
  await call("POST", "/oauth/authorize", {
    token: user.token,
    body: { provider: "dev", services: ["gmail"] },
  });
  await sql`update public.oauth_states set created_at = now() - interval '20 minutes',
                                          expires_at = now() - interval '10 minutes'
             where user_id = ${user.id}`;

  const res = await call("POST", "/tokens/cleanup", { token: SERVICE_ROLE_KEY });
  const counts = parsed(CleanupResult, res);
  for (
    const k of ["expired_states", "old_refresh_logs", "revoked_tokens", "stray_secrets"] as const
  ) {
    assert.equal(typeof counts[k], "number");
  }
  assert.equal(await tokenRow(gone.token.id), undefined, "the old revoked row is gone");
  assert.ok(await secretRow(live.token.id), "the live connection keeps its tokens");
  assert.ok(await secretRow(reauth.token.id), "needs_reauth keeps its tokens");
  assert.equal((await tokenRow(live.token.id)).status, "active");
  const [{ n }] =
    await sql`select count(*)::int as n from public.oauth_states where user_id = ${user.id}`;
  assert.equal(n, 0, "the expired state is gone");
  const logs = await refreshLogs(live.token.id);
  assert.equal(logs.length, 0, "the old log row is gone");
  // The live connection still works: its refresh token was never touched.
  await sql`update public.service_tokens set next_refresh_at = null where id = ${live.token.id}`;
  const fresh = await accessToken(user, "dev", { token_id: live.token.id });
  assert.equal(parsed(AccessToken, fresh).refreshed, true);
});

test("an admin may run the cleanup too", async () => {
  const admin = await createUser("admin", { role: "admin" });
  parsed(CleanupResult, await call("POST", "/tokens/cleanup", { token: admin.token }));
});

test("revokeAllForUser (for account deletion) revokes every live connection at its provider", async () => {
  const { revokeAllForUser } = await import("../../shared/tokens/revoke.ts");
  const user = await createUser("delete-account");
  const google = await connect(user, { provider: "google" });
  const ms = await connect(user, { provider: "microsoft", services: ["outlook"] });
  const results = await revokeAllForUser(user.id, "account_deleted");
  assert.deepEqual(
    results.map((r) => [r.token.provider, r.provider_revocation, r.token.revoked_reason]).sort(),
    [["google", "revoked", "account_deleted"], ["microsoft", "not_supported", "account_deleted"]],
  );
  assert.equal((await provider.seen(google.email)).active_refresh_tokens, 0);
  assert.equal(await secretRow(google.token.id), undefined);
  assert.equal(await secretRow(ms.token.id), undefined);
  assert.deepEqual(
    await revokeAllForUser(user.id, "account_deleted"),
    [],
    "nothing left to revoke",
  );
});
