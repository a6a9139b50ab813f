// Retries: a failing receiver gets the delivery again after an exponential
// backoff (recorded, not waited for: the test makes each retry due once its
// backoff is on record), until it answers 2xx, the attempts run out, or it
// answers 410 Gone. A URL that turned private is refused before anything is sent.
import assert from "node:assert/strict";
import { createUser, sql, test } from "../helpers/stack.ts";
import { connect } from "../oauth/flow.ts";
import {
  deliveries,
  newInbox,
  receiver,
  registerEndpoint,
  retryNow,
  settleAll,
} from "./support.ts";

// The stack's defaults (shared/webhooks/config.ts): base 30 s, 12 attempts, up to 10% jitter.
const BASE = 30;
const MAX_ATTEMPTS = 12;
const backoffRange = (failures: number) => {
  const base = BASE * 2 ** (failures - 1);
  return [base, Math.ceil(base * 1.1)];
};

test("a receiver answering 500 twice gets the delivery retried with backoff, then delivered", async () => {
  const user = await createUser("wh-retry");
  const { endpoint, inbox } = await registerEndpoint(user, "retry");
  await receiver.configure(inbox, { fail: { count: 2, status: 500 } });
  await connect(user);

  const waits: Array<[number, number]> = [];
  const rows = await settleAll(endpoint.id, {
    onRetry: async (row) => {
      assert.equal(row.last_status_code, 500);
      assert.equal(row.last_error, "http_status");
      waits.push([row.attempts as number, row.wait_seconds as number]);
      await retryNow(row);
    },
  });
  assert.deepEqual(rows.map((r) => [r.status, r.attempts, r.last_status_code, r.last_error]), [
    ["delivered", 3, 200, null],
  ]);
  // Exponential: 30-33 s after the first failure, 60-66 s after the second.
  assert.deepEqual(waits.map(([n]) => n), [1, 2]);
  for (const [failures, wait] of waits) {
    const [low, high] = backoffRange(failures);
    assert.ok(wait >= low && wait <= high, `after ${failures} failure(s) it waited ${wait} s`);
  }

  const got = await receiver.received(inbox);
  assert.deepEqual(got.map((r) => r.answered), [500, 500, 200]);
  assert.ok(got.every((r) => r.verified === true), "every attempt is signed");
  assert.equal(new Set(got.map((r) => r.headers["webhook-id"])).size, 1, "one webhook-id");
  assert.equal(new Set(got.map((r) => r.body)).size, 1, "the same body each time");
  const stamps = got.map((r) => Number(r.headers["webhook-timestamp"]));
  assert.deepEqual(stamps, stamps.toSorted(), "each attempt signs its own timestamp");
});

test("a 503 with Retry-After waits as long as the receiver asked", async () => {
  const user = await createUser("wh-retry-after");
  const { endpoint, inbox } = await registerEndpoint(user, "retry-after");
  await receiver.configure(inbox, { fail: { count: 1, status: 503 }, retry_after: "900" });
  await connect(user);
  const waits: number[] = [];
  await settleAll(endpoint.id, {
    onRetry: async (row) => {
      waits.push(row.wait_seconds as number);
      await retryNow(row);
    },
  });
  assert.deepEqual(waits, [900]);
});

test("after the last attempt a delivery fails for good", async () => {
  const user = await createUser("wh-exhausted");
  const { endpoint, inbox } = await registerEndpoint(user, "exhausted");
  await receiver.configure(inbox, { fail: { count: 1000, status: 500 } });
  await connect(user);
  const rows = await settleAll(endpoint.id, {
    onRetry: async (row) => {
      // Skip ahead: as if it had failed every attempt but the last.
      await sql`update public.webhook_deliveries
                   set attempts = ${MAX_ATTEMPTS - 1}, next_attempt_at = now()
                 where id = ${row.id as string} and attempts = ${row.attempts as number}`;
    },
  });
  assert.deepEqual(rows.map((r) => [r.status, r.attempts, r.last_status_code, r.delivered_at]), [
    ["failed", MAX_ATTEMPTS, 500, null],
  ]);
  assert.equal((await receiver.received(inbox)).length, 2);
});

test("410 Gone: the delivery fails at once and the endpoint is disabled; enabling resumes", async () => {
  const user = await createUser("wh-gone");
  const { endpoint, inbox } = await registerEndpoint(user, "gone");
  await receiver.configure(inbox, { fail: { count: 1, status: 410 } });
  const { token } = await connect(user);
  const rows = await settleAll(endpoint.id);
  assert.deepEqual(rows.map((r) => [r.status, r.attempts, r.last_status_code, r.last_error]), [
    ["failed", 1, 410, "gone"],
  ]);
  const [row] = await sql`select enabled, disabled_reason from public.webhook_endpoints
                           where id = ${endpoint.id}`;
  assert.deepEqual([row.enabled, row.disabled_reason], [false, "gone"]);
  // Nothing more is queued for it...
  await sql`update public.service_tokens set connected_at = now() where id = ${token.id}`;
  assert.equal((await deliveries(endpoint.id)).length, 1);
  // ...until its owner enables it again.
  await sql`update public.webhook_endpoints set enabled = true, disabled_reason = null
             where id = ${endpoint.id}`;
  await sql`update public.service_tokens set connected_at = now() where id = ${token.id}`;
  const after = await settleAll(endpoint.id);
  assert.deepEqual(after.map((r) => [r.event_type, r.status]), [
    ["connection.connected", "failed"],
    ["connection.reconnected", "delivered"],
  ]);
});

test("an endpoint whose address turned private is refused at delivery: nothing is sent", async () => {
  const user = await createUser("wh-private");
  // As if its name now resolved to a private address: stored behind the
  // API's back (the API refuses such a URL at registration).
  const [endpoint] = await sql`
    insert into public.webhook_endpoints (user_id, url) values (${user.id}, 'https://10.0.0.7/hook')
    returning id`;
  await sql`select private.set_webhook_secret(${endpoint.id}::uuid, ${user.id}::uuid,
              'whsec_' || encode(extensions.gen_random_bytes(32), 'base64'), 0)`;
  await connect(user);
  const waits: number[] = [];
  await settleAll(endpoint.id, {
    onRetry: async (row) => {
      assert.deepEqual([row.last_error, row.last_status_code], ["url_refused", null]);
      waits.push(row.wait_seconds as number);
      // Give up here: make it the last attempt.
      await sql`update public.webhook_deliveries set attempts = ${MAX_ATTEMPTS - 1},
                       next_attempt_at = now()
                 where id = ${row.id as string} and attempts = ${row.attempts as number}`;
    },
  });
  assert.equal(waits.length, 1);
  const [low, high] = backoffRange(1);
  assert.ok(waits[0] >= low && waits[0] <= high, `waited ${waits[0]} s`);
  const [row] = await deliveries(endpoint.id);
  assert.deepEqual([row.status, row.last_error], ["failed", "url_refused"]);
});

test("an endpoint without a secret (made behind the API's back) is never sent anything unsigned", async () => {
  const user = await createUser("wh-no-secret");
  const inbox = newInbox("no-secret");
  const [endpoint] = await sql`
    insert into public.webhook_endpoints (user_id, url) values (${user.id}, ${inbox.url})
    returning id`;
  await connect(user);
  const errors: unknown[] = [];
  await settleAll(endpoint.id, {
    onRetry: async (row) => {
      errors.push(row.last_error);
      await sql`update public.webhook_deliveries set attempts = ${MAX_ATTEMPTS - 1},
                       next_attempt_at = now()
                 where id = ${row.id as string} and attempts = ${row.attempts as number}`;
    },
  });
  assert.deepEqual(errors, ["no_secret"]);
  assert.deepEqual(await receiver.received(inbox.name), []);
});
