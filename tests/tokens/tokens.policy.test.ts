// The refresh policy and connection health against the local OAuth server:
// dormant connections get a keep-alive and nothing before it, recently used
// ones are refreshed proactively, transient failures go refresh_failing then
// exhausted (no more scheduled retries; a manual refresh still works), and a
// needs_reauth connection recovers on reconnect; each change of state is an
// event delivered as a signed webhook (verified by the local receiver,
// retried after a 500). Time moves by rewriting rows, never by sleeping.
//
// Other test files and pg_cron run refresh-due too: the assertions are about
// what the provider saw and what the rows say, not about which run did it.
import assert from "node:assert/strict";
import { AccessToken, RefreshDueResult, ServiceToken } from "../../shared/tokens/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { call, createUser, SERVICE_ROLE_KEY, sql, test } from "../helpers/stack.ts";
import {
  accessToken,
  connect,
  dormant,
  makeDue,
  provider,
  refreshLogs,
  tokenRow,
} from "../oauth/flow.ts";
import { bodyOf, receiver, registerEndpoint, retryNow, settleAll } from "../webhooks/support.ts";

const refreshDue = async () =>
  parsed(RefreshDueResult, await call("POST", "/tokens/refresh-due", { token: SERVICE_ROLE_KEY }));

// Runs refresh-due until the connection's row satisfies `done` (another run
// may hold it for a moment), at most a few times.
async function runUntil(id: string, done: (row: Record<string, unknown>) => boolean) {
  for (let i = 0; i < 20; i++) {
    const row = await tokenRow(id);
    if (done(row)) return row;
    // 502 is a run whose every attempt failed, which is what some tests want.
    await call("POST", "/tokens/refresh-due", { token: SERVICE_ROLE_KEY });
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`connection ${id} never reached the expected state`);
}

// Timestamps as the test's driver hands them over (Date or ISO string).
const time = (a: unknown) => new Date(a as string | Date).getTime();
const seconds = (a: unknown, b: unknown) => (time(a) - time(b)) / 1000;

test("a dormant connection gets its keep-alive refresh once its token is as old as the keep-alive, then waits a keep-alive again", async () => {
  const user = await createUser("keepalive");
  const { token, email } = await connect(user);
  // Unused for three days; its access token was obtained 25 h ago (dev: 24 h).
  await dormant(token.id, { idleHours: 72, tokenAgeHours: 25 });
  const due = await tokenRow(token.id);
  assert.equal(seconds(due.refresh_due_at, due.issued_at), 24 * 3600, "due at issued + 24 h");
  const row = await runUntil(token.id, (r) => r.last_refreshed_at !== null);
  assert.equal((await provider.seen(email)).refresh_grants, 1);
  const logs = await refreshLogs(token.id);
  assert.deepEqual(logs.map((l) => [l.refresh_type, l.status]), [["scheduled", "success"]]);
  // Still dormant: the next one is a keep-alive away, not 10 minutes before expiry.
  assert.equal(row.status, "active");
  assert.equal(seconds(row.refresh_due_at, row.issued_at), 24 * 3600);
  await refreshDue();
  assert.equal((await provider.seen(email)).refresh_grants, 1);
});

test("a dormant connection is not refreshed before its keep-alive is due, even with its access token long expired", async () => {
  const user = await createUser("keepalive-early");
  const { token, email } = await connect(user);
  await dormant(token.id, { idleHours: 72, tokenAgeHours: 23 });
  const before = await tokenRow(token.id);
  assert.ok(time(before.expires_at) < Date.now(), "its access token expired 22 h ago");
  await refreshDue();
  await refreshDue();
  assert.equal((await provider.seen(email)).refresh_grants, 0, "the provider saw nothing");
  assert.equal((await refreshLogs(token.id)).length, 0);
  // Asked for, it is refreshed on demand, and being used makes it proactive.
  const grant = parsed(AccessToken, await accessToken(user, "dev"));
  assert.equal(grant.refreshed, true);
  assert.equal((await provider.seen(email)).refresh_grants, 1);
  const row = await tokenRow(token.id);
  assert.equal(seconds(row.expires_at, row.refresh_due_at), 600, "10 minutes before expiry");
});

test("a recently used connection is refreshed proactively before its token expires", async () => {
  const user = await createUser("proactive");
  const { token, email } = await connect(user);
  parsed(AccessToken, await accessToken(user, "dev")); // a use, now
  // Its token (1 h) has 5 minutes left: inside the 10-minute lead.
  await sql`update public.service_tokens
               set expires_at = now() + interval '5 minutes', issued_at = now() - interval '55 minutes'
             where id = ${token.id}`;
  const row = await runUntil(token.id, (r) => r.last_refreshed_at !== null);
  assert.equal((await provider.seen(email)).refresh_grants, 1);
  assert.ok(time(row.expires_at) > Date.now() + 50 * 60_000, "a new hour-long token");
  assert.equal(seconds(row.expires_at, row.refresh_due_at), 600);
  const logs = await refreshLogs(token.id);
  assert.deepEqual(logs.map((l) => [l.refresh_type, l.status]), [["scheduled", "success"]]);
});

const HEALTH_EVENTS = [
  "connection.refresh_failing",
  "connection.exhausted",
  "connection.recovered",
  "connection.needs_reauth",
];

// Delivers every pending delivery of the endpoint, making each retry due at
// once, and answers what the receiver got.
async function delivered(endpointId: string, inbox: string) {
  const rows = await settleAll(endpointId, { onRetry: retryNow });
  assert.ok(rows.every((r) => r.status === "delivered"), JSON.stringify(rows));
  const got = await receiver.received(inbox);
  assert.ok(got.every((r) => r.verified === true), "every delivery verifies with the secret");
  return { rows, got };
}

test("refresh_failing, then exhausted after failing for 72 h: events and signed webhooks (retried after a 500); exhausted is left alone by the schedule, a manual refresh recovers it", async () => {
  const user = await createUser("exhausted");
  const { endpoint, secret, inbox } = await registerEndpoint(user, "health", {
    event_types: HEALTH_EVENTS,
  });
  await receiver.configure(inbox, { secrets: [secret], fail: { count: 1, status: 500 } });
  const { token, email } = await connect(user);
  await provider.fault(email, "refresh_token", "500", { count: 2 });

  // The first failure: refresh_failing since now, with a backoff.
  await makeDue(token.id, 120, { scheduler: true });
  let row = await runUntil(token.id, (r) => r.status === "refresh_failing");
  assert.equal(row.refresh_failures, 1);
  assert.ok(row.failing_since);
  assert.equal(time(row.refresh_due_at), time(row.next_refresh_at), "due after the backoff");
  // Still failing 73 h later, its backoff over: the next failure exhausts it.
  await sql`update public.service_tokens
               set failing_since = now() - interval '73 hours', next_refresh_at = now()
             where id = ${token.id}`;
  row = await runUntil(token.id, (r) => r.status === "exhausted");
  assert.equal(row.refresh_failures, 2);
  assert.equal(row.refresh_due_at, null, "never due");
  assert.equal((await provider.seen(email)).refresh_grants, 2);

  // The schedule leaves it alone; a vend does not call the provider either.
  await refreshDue();
  assert.equal((await provider.seen(email)).refresh_grants, 2);
  const refused = await accessToken(user, "dev");
  assertError(refused, 409, "connection_exhausted");
  assert.equal(refused.body.error.details.error_code, "unavailable");
  assert.equal((await provider.seen(email)).refresh_grants, 2);

  // The user asks for a refresh (the provider works again): active, recovered.
  const refreshed = parsed(
    ServiceToken,
    await call("POST", `/tokens/${token.id}/refresh`, { token: user.token }),
  );
  assert.deepEqual(
    [refreshed.status, refreshed.refresh_failures, refreshed.failing_since],
    ["active", 0, null],
  );
  assert.ok(refreshed.refresh_due_at);

  const events = await call("GET", `/tokens/events?connection_id=${token.id}`, {
    token: user.token,
  });
  assert.equal(events.status, 200);
  const byType = Object.fromEntries(
    events.body.data.map((e: { type: string; data: unknown }) => [e.type, e.data]),
  );
  assert.deepEqual(Object.keys(byType).sort(), [
    "connection.connected",
    "connection.exhausted",
    "connection.recovered",
    "connection.refresh_failing",
  ]);
  assert.equal(byType["connection.refresh_failing"].error_code, "unavailable");
  assert.equal(byType["connection.exhausted"].refresh_failures, 2);
  assert.equal(byType["connection.recovered"].previous_status, "exhausted");
  assert.equal(byType["connection.recovered"].reconnected, false);

  // Each event delivered once it was answered 200; the first delivery the
  // receiver saw (whichever the worker sent first) got its 500 and was retried.
  const { rows, got } = await delivered(endpoint.id, inbox);
  assert.deepEqual(rows.map((r) => r.event_type), [
    "connection.refresh_failing",
    "connection.exhausted",
    "connection.recovered",
  ]);
  assert.equal(rows.reduce((n, r) => n + (r.attempts as number), 0), 4, "one retry");
  assert.deepEqual(got.map((r) => r.answered).sort(), [200, 200, 200, 500]);
  const failed = got.find((r) => r.answered === 500)!;
  const retried = got.filter((r) => r.headers["webhook-id"] === failed.headers["webhook-id"]);
  assert.deepEqual(retried.map((r) => r.answered), [500, 200], "the same webhook-id, retried");
  const exhausted = got.find((r) => bodyOf(r).type === "connection.exhausted")!;
  assert.deepEqual(bodyOf(exhausted).data, { user_id: user.id, ...byType["connection.exhausted"] });
});

test("needs_reauth, then active on reconnect: both events as signed webhooks", async () => {
  const user = await createUser("reauth-recover");
  const { endpoint, inbox } = await registerEndpoint(user, "reauth", {
    event_types: HEALTH_EVENTS,
  });
  const { token, email } = await connect(user);
  await provider.revokeGrants(email);
  await makeDue(token.id, 120, { scheduler: true });
  const dead = await runUntil(token.id, (r) => r.status === "needs_reauth");
  assert.equal(dead.refresh_due_at, null);

  const again = await connect(user, { email });
  assert.equal(again.token.id, token.id);
  assert.equal(again.token.status, "active");
  assert.ok(again.token.refresh_due_at, "scheduled again");

  const { rows, got } = await delivered(endpoint.id, inbox);
  assert.deepEqual(rows.map((r) => r.event_type), [
    "connection.needs_reauth",
    "connection.recovered",
  ]);
  const recovered = bodyOf(got.find((r) => bodyOf(r).type === "connection.recovered")!);
  assert.deepEqual(
    [recovered.data.previous_status, recovered.data.status, recovered.data.reconnected],
    ["needs_reauth", "active", true],
  );
  assert.ok(got.every((r) => r.headers["webhook-signature"]?.startsWith("v1,")));
});

test("a refresh_failing connection recovers on its next scheduled refresh, with one event", async () => {
  const user = await createUser("failing-recovers");
  const { token, email } = await connect(user);
  await provider.fault(email, "refresh_token", "500", { count: 1 });
  await makeDue(token.id, 120, { scheduler: true });
  await runUntil(token.id, (r) => r.status === "refresh_failing");
  await sql`update public.service_tokens set next_refresh_at = now() where id = ${token.id}`;
  const row = await runUntil(token.id, (r) => r.status === "active");
  assert.deepEqual([row.refresh_failures, row.failing_since], [0, null]);
  const types = await sql`select type from public.connection_events
                           where connection_id = ${token.id} order by created_at`;
  assert.deepEqual(types.map((t) => t.type), [
    "connection.connected",
    "connection.refresh_failing",
    "connection.recovered",
  ]);
});

test("an exhausted connection still serves an access token that is valid, without calling the provider", async () => {
  const user = await createUser("exhausted-valid");
  const { token, email } = await connect(user);
  await sql`update public.service_tokens
               set status = 'exhausted', failing_since = now() - interval '80 hours',
                   refresh_failures = 9, last_error_code = 'unavailable'
             where id = ${token.id}`;
  const grant = parsed(AccessToken, await accessToken(user, "dev"));
  assert.equal(grant.refreshed, false);
  assert.equal((await provider.seen(email)).refresh_grants, 0);
  // Forcing a refresh is a refresh: refused as the schedule's verdict stands.
  assertError(await accessToken(user, "dev", { force_refresh: true }), 409, "connection_exhausted");
  assert.equal((await provider.seen(email)).refresh_grants, 0);
});

test("reconnecting a refresh_failing connection recovers it and keeps the services its grant still covers", async () => {
  const user = await createUser("failing-reconnect");
  const { token, email } = await connect(user, { services: ["gmail"] });
  await sql`update public.service_tokens
               set status = 'refresh_failing', failing_since = now(), refresh_failures = 2,
                   last_error_code = 'unavailable', next_refresh_at = now() + interval '2 minutes'
             where id = ${token.id}`;
  const again = await connect(user, { email, services: ["calendar"] });
  assert.equal(again.token.id, token.id);
  assert.deepEqual(
    [again.token.status, again.token.refresh_failures, again.token.failing_since],
    ["active", 0, null],
  );
  assert.deepEqual(again.token.services, ["calendar", "gmail"]);
  const [event] = await sql`select data from public.connection_events
                             where connection_id = ${token.id} and type = 'connection.recovered'`;
  assert.deepEqual([event.data.previous_status, event.data.reconnected], ["refresh_failing", true]);
});
