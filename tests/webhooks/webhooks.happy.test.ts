// Connection events and their signed webhooks, end to end on the stack: the
// OAuth flow against the local provider makes the events, the worker delivers
// them to the local receiver, which verifies every signature with its own
// code and the endpoint's secret.
import assert from "node:assert/strict";
import { assertError } from "../helpers/assert.ts";
import { call, createUser, test } from "../helpers/stack.ts";
import { connect, provider } from "../oauth/flow.ts";
import { bodyOf, deliveries, receiver, registerEndpoint, settleAll } from "./support.ts";

const events = async (token: string, query = "") =>
  await call("GET", `/tokens/events${query}`, { token });

test("connect: a connection.connected event the user reads, delivered signed to their endpoint", async () => {
  const user = await createUser("wh-connect");
  const { endpoint, secret, inbox } = await registerEndpoint(user, "connect");
  assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
  assert.equal(endpoint.user_id, user.id);
  assert.deepEqual(endpoint.event_types, []);
  assert.equal(endpoint.enabled, true);

  const { token } = await connect(user);
  const res = await events(user.token);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.data.length, 1);
  const [event] = res.body.data;
  assert.equal(event.type, "connection.connected");
  assert.equal(event.connection_id, token.id);
  assert.equal(event.user_id, user.id);
  assert.deepEqual(event.data, {
    connection_id: token.id,
    provider: "dev",
    services: ["gmail"],
    status: "active",
    previous_status: null,
  });

  const rows = await settleAll(endpoint.id);
  assert.deepEqual(rows.map((r) => [r.status, r.attempts, r.last_status_code]), [[
    "delivered",
    1,
    200,
  ]]);
  const [got] = await receiver.received(inbox);
  assert.equal(got.verified, true, JSON.stringify(got));
  assert.equal(got.timestamp_ok, true);
  assert.equal(got.headers["webhook-id"], event.id, "the webhook-id is the event's id");
  assert.equal(got.headers["content-type"], "application/json");
  assert.match(got.headers["user-agent"] ?? "", /^Oprina-Webhooks\//);
  assert.equal(got.signatures.length, 1);
  assert.deepEqual(bodyOf(got), {
    type: "connection.connected",
    timestamp: event.created_at,
    data: { user_id: user.id, ...event.data },
  });

  // The owner sees the delivery; the endpoint never shows its secret again.
  const listed = await call("GET", `/webhooks/endpoints/${endpoint.id}/deliveries`, {
    token: user.token,
  });
  assert.equal(listed.status, 200, JSON.stringify(listed.body));
  assert.deepEqual(
    listed.body.data.map((d: Record<string, unknown>) => [d.event_id, d.event_type, d.status]),
    [[event.id, "connection.connected", "delivered"]],
  );
  for (const path of ["/webhooks/endpoints", `/webhooks/endpoints/${endpoint.id}`]) {
    const read = await call("GET", path, { token: user.token });
    assert.equal(read.status, 200);
    assert.ok(!JSON.stringify(read.body).includes(secret), `${path} shows the secret`);
    assert.ok(!JSON.stringify(read.body).includes("whsec_"), path);
  }
});

test("needs_reauth on invalid_grant, recovered on reconnect, reconnected, revoked: each an event and a signed delivery", async () => {
  const user = await createUser("wh-lifecycle");
  const { endpoint, inbox } = await registerEndpoint(user, "lifecycle");
  const { token, email } = await connect(user);

  await provider.fault(email, "refresh_token", "invalid_grant");
  assertError(
    await call("POST", `/tokens/${token.id}/refresh`, { token: user.token }),
    409,
    "needs_reauth",
  );
  const back = await connect(user, { email }); // needs_reauth -> active
  assert.equal(back.token.id, token.id);
  assert.equal(back.token.status, "active");
  await connect(user, { email }); // active -> active: a reconnect
  const revoked = await call("DELETE", `/tokens/${token.id}`, { token: user.token });
  assert.equal(revoked.status, 200, JSON.stringify(revoked.body));

  const res = await events(user.token, `?connection_id=${token.id}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const list = res.body.data.toReversed(); // oldest first
  assert.deepEqual(
    list.map((e: Record<string, unknown>) => e.type),
    [
      "connection.connected",
      "connection.needs_reauth",
      "connection.recovered",
      "connection.reconnected",
      "connection.revoked",
    ],
  );
  const byType = Object.fromEntries(
    list.map((e: { type: string; data: Record<string, unknown> }) => [e.type, e.data]),
  );
  assert.equal(byType["connection.needs_reauth"].error_code, "invalid_grant");
  assert.equal(byType["connection.needs_reauth"].status, "needs_reauth");
  assert.equal(byType["connection.recovered"].previous_status, "needs_reauth");
  assert.equal(byType["connection.recovered"].reconnected, true);
  assert.equal(byType["connection.reconnected"].previous_status, "active");
  assert.equal(byType["connection.revoked"].status, "revoked");
  assert.equal(byType["connection.revoked"].provider_revocation, "revoked");

  const rows = await settleAll(endpoint.id);
  assert.ok(rows.every((r) => r.status === "delivered"), JSON.stringify(rows));
  assert.equal(rows.length, 5);
  const got = await receiver.received(inbox);
  assert.equal(got.length, 5);
  assert.ok(got.every((r) => r.verified === true), JSON.stringify(got));
  // Each event once, under its own id (the worker may send them in any order).
  assert.deepEqual(
    got.map((r) => [r.headers["webhook-id"], bodyOf(r).type]).sort(),
    list.map((e: Record<string, unknown>) => [e.id, e.type]).sort(),
  );
});

test("events come in cursor pages, filtered by type or connection, and only the caller's", async () => {
  const user = await createUser("wh-pages");
  const other = await createUser("wh-pages-other");
  const first = await connect(user);
  const second = await connect(user, { provider: "google" });
  await connect(other);
  await call("DELETE", `/tokens/${first.token.id}`, { token: user.token });

  const page1 = await events(user.token, "?limit=2");
  assert.equal(page1.status, 200, JSON.stringify(page1.body));
  assert.deepEqual(
    page1.body.data.map((e: Record<string, unknown>) => e.type),
    ["connection.revoked", "connection.connected"],
  );
  const page2 = await events(
    user.token,
    `?limit=2&cursor=${encodeURIComponent(page1.body.next_cursor)}`,
  );
  assert.deepEqual(page2.body.data.map((e: Record<string, unknown>) => e.connection_id), [
    first.token.id,
  ]);
  assert.equal(page2.body.next_cursor, null);
  const all = [...page1.body.data, ...page2.body.data];
  assert.ok(all.every((e) => e.user_id === user.id));
  assert.equal(new Set(all.map((e) => e.id)).size, 3);

  const connected = await events(user.token, "?type=connection.connected");
  assert.deepEqual(
    connected.body.data.map((e: Record<string, unknown>) => e.connection_id).sort(),
    [first.token.id, second.token.id].sort(),
  );
  const ofSecond = await events(user.token, `?connection_id=${second.token.id}`);
  assert.deepEqual(ofSecond.body.data.map((e: Record<string, unknown>) => e.type), [
    "connection.connected",
  ]);
  // Another user's connection id finds nothing, like an unknown one.
  const theirs = await events(other.token, `?connection_id=${first.token.id}`);
  assert.deepEqual(theirs.body.data, []);
  assertError(await events(user.token, "?cursor=nonsense"), 400, "validation_failed");
  assertError(await events(user.token, "?type=connection.renamed"), 400, "validation_failed");
});

test("rotation: both secrets sign during the grace, each signature verifies with its own; then only the new", async () => {
  const user = await createUser("wh-rotate");
  const { endpoint, secret: old, inbox } = await registerEndpoint(user, "rotate");
  const rotated = await call("POST", `/webhooks/endpoints/${endpoint.id}/rotate-secret`, {
    token: user.token,
    body: { grace_seconds: 3600 },
  });
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  const fresh = rotated.body.secret as string;
  assert.notEqual(fresh, old);
  const expires = Date.parse(rotated.body.previous_secret_expires_at);
  assert.ok(expires > Date.now() + 3500_000 && expires <= Date.now() + 3600_000);
  await receiver.configure(inbox, { secrets: [fresh, old] });

  // A test delivery and an event's delivery, each with two signatures.
  const tested = await call("POST", `/webhooks/endpoints/${endpoint.id}/test`, {
    token: user.token,
  });
  assert.equal(tested.status, 200, JSON.stringify(tested.body));
  assert.equal(tested.body.delivered, true);
  await connect(user);
  await settleAll(endpoint.id);
  const got = await receiver.received(inbox);
  assert.equal(got.length, 2);
  for (const r of got) {
    assert.equal(r.verified, true);
    assert.deepEqual(r.signatures.map((s) => s.verifies_with), [0, 1], JSON.stringify(r));
  }
  const shown = await call("GET", `/webhooks/endpoints/${endpoint.id}`, { token: user.token });
  assert.equal(Date.parse(shown.body.previous_secret_expires_at), expires);

  // Without grace the old secret stops at once.
  const again = await call("POST", `/webhooks/endpoints/${endpoint.id}/rotate-secret`, {
    token: user.token,
    body: { grace_seconds: 0 },
  });
  assert.equal(again.body.previous_secret_expires_at, null);
  await receiver.configure(inbox, { secrets: [again.body.secret, fresh, old] });
  await call("POST", `/webhooks/endpoints/${endpoint.id}/test`, { token: user.token });
  const last = (await receiver.received(inbox)).at(-1)!;
  assert.deepEqual(last.signatures.map((s) => s.verifies_with), [0]);
});

test("a test delivery: a signed webhook.test now, nothing stored; a failing receiver is reported", async () => {
  const user = await createUser("wh-test");
  const { endpoint, inbox } = await registerEndpoint(user, "test");
  const res = await call("POST", `/webhooks/endpoints/${endpoint.id}/test`, { token: user.token });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.delivered, true);
  assert.equal(res.body.status_code, 200);
  assert.equal(res.body.error, null);
  assert.match(res.body.webhook_id, /^test_[0-9a-f-]{36}$/);
  const [got] = await receiver.received(inbox);
  assert.equal(got.verified, true);
  assert.equal(got.headers["webhook-id"], res.body.webhook_id);
  const body = bodyOf(got);
  assert.equal(body.type, "webhook.test");
  assert.equal(body.data.endpoint_id, endpoint.id);
  assert.deepEqual(await deliveries(endpoint.id), [], "a test delivery is not stored");

  await receiver.configure(inbox, { fail: { count: 1, status: 500 } });
  const failed = await call("POST", `/webhooks/endpoints/${endpoint.id}/test`, {
    token: user.token,
  });
  assert.deepEqual(
    [failed.body.delivered, failed.body.status_code, failed.body.error],
    [false, 500, "http_status"],
  );
});

test("endpoints: a filter narrows what is delivered, a disabled one gets nothing, delete removes it", async () => {
  const user = await createUser("wh-manage");
  const onlyRevoked = await registerEndpoint(user, "only-revoked", {
    event_types: ["connection.revoked"],
    description: "revocations",
  });
  const switched = await registerEndpoint(user, "switched");
  const off = await call("PATCH", `/webhooks/endpoints/${switched.endpoint.id}`, {
    token: user.token,
    body: { enabled: false },
  });
  assert.equal(off.status, 200, JSON.stringify(off.body));
  assert.deepEqual([off.body.enabled, off.body.disabled_reason], [false, "user"]);

  const { token } = await connect(user); // connected: neither endpoint takes it
  assert.deepEqual(await deliveries(onlyRevoked.endpoint.id), []);
  assert.deepEqual(await deliveries(switched.endpoint.id), []);

  const on = await call("PATCH", `/webhooks/endpoints/${switched.endpoint.id}`, {
    token: user.token,
    body: { enabled: true, description: "back" },
  });
  assert.deepEqual([on.body.enabled, on.body.disabled_reason, on.body.description], [
    true,
    null,
    "back",
  ]);
  await call("DELETE", `/tokens/${token.id}`, { token: user.token });
  for (const e of [onlyRevoked, switched]) {
    const rows = await settleAll(e.endpoint.id);
    assert.deepEqual(rows.map((r) => [r.event_type, r.status]), [[
      "connection.revoked",
      "delivered",
    ]]);
  }

  const list = await call("GET", "/webhooks/endpoints", { token: user.token });
  assert.deepEqual(
    list.body.data.map((e: Record<string, unknown>) => e.id),
    [onlyRevoked.endpoint.id, switched.endpoint.id],
  );
  const removed = await call("DELETE", `/webhooks/endpoints/${onlyRevoked.endpoint.id}`, {
    token: user.token,
  });
  assert.equal(removed.status, 204);
  assertError(
    await call("GET", `/webhooks/endpoints/${onlyRevoked.endpoint.id}`, { token: user.token }),
    404,
    "not_found",
  );
  assertError(
    await call("DELETE", `/webhooks/endpoints/${onlyRevoked.endpoint.id}`, { token: user.token }),
    404,
    "not_found",
  );
  assert.deepEqual(await deliveries(onlyRevoked.endpoint.id), []);
  assertError(
    await call("PATCH", `/webhooks/endpoints/${switched.endpoint.id}`, {
      token: user.token,
      body: {},
    }),
    400,
    "validation_failed",
  );
});

test("at most ten endpoints per user: the eleventh is 409 conflict", async () => {
  const user = await createUser("wh-cap");
  for (let i = 0; i < 10; i++) await registerEndpoint(user, `cap-${i}`);
  const res = await call("POST", "/webhooks/endpoints", {
    token: user.token,
    body: { url: "http://127.0.0.1:1/hooks/eleventh" },
  });
  assertError(res, 409, "conflict");
  assert.equal(res.body.error.details.limit, 10);
});
