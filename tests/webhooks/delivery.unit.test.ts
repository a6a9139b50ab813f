// The delivery logic without the stack: what an outcome means for a delivery,
// the backoff, Retry-After, the configuration's caps, and one send against
// servers of the test's own on 127.0.0.1 (redirects, timeouts, refusals).
import assert from "node:assert/strict";
import { OUTBOUND_BUDGET_MS } from "../../shared/platform.ts";
import { backoffSeconds, parseWebhooksConfig } from "../../shared/webhooks/config.ts";
import { retryAfterSeconds, type SendOutcome, sendWebhook } from "../../shared/webhooks/send.ts";
import { newSecret, verify } from "../../shared/webhooks/signing.ts";
import { DNS_TIMEOUT_MS } from "../../shared/webhooks/url-safety.ts";
import { settle } from "../../shared/webhooks/worker.ts";

const defaults = parseWebhooksConfig({});
const outcome = (o: Partial<SendOutcome>): SendOutcome => ({
  delivered: false,
  status_code: null,
  error: null,
  retry_after_seconds: null,
  duration_ms: 1,
  ...o,
});
const backoff = (n: number) => backoffSeconds(defaults, n, 0);

Deno.test("defaults: loopback refused, 15 s timeout, 12 attempts, 30 s doubling to 6 h", () => {
  assert.equal(defaults.WEBHOOK_ALLOW_LOOPBACK, false);
  assert.equal(defaults.WEBHOOK_TIMEOUT_MS, 15_000);
  assert.equal(defaults.WEBHOOK_MAX_ATTEMPTS, 12);
  assert.deepEqual([1, 2, 3, 4, 10, 12].map(backoff), [30, 60, 120, 240, 15_360, 21_600]);
  assert.equal(parseWebhooksConfig({ WEBHOOK_ALLOW_LOOPBACK: "1" }).WEBHOOK_ALLOW_LOOPBACK, true);
});

Deno.test("jitter adds at most 10%", () => {
  for (const r of [0, 0.5, 0.999]) {
    const s = backoffSeconds(defaults, 3, r);
    assert.ok(s >= 120 && s <= 132, `${s}`);
  }
});

Deno.test("a run's budget, a lookup and one timeout fit the platform's limit; bad values stop the start", () => {
  const c = parseWebhooksConfig({ WEBHOOK_TIMEOUT_MS: "30000" });
  assert.ok(
    c.WEBHOOK_DELIVERY_TIME_BUDGET_MS + c.WEBHOOK_TIMEOUT_MS + DNS_TIMEOUT_MS <= OUTBOUND_BUDGET_MS,
  );
  const max = OUTBOUND_BUDGET_MS - 30_000 - DNS_TIMEOUT_MS;
  assert.equal(
    parseWebhooksConfig({ WEBHOOK_DELIVERY_TIME_BUDGET_MS: String(max) })
      .WEBHOOK_DELIVERY_TIME_BUDGET_MS,
    max,
  );
  for (
    const env of [
      { WEBHOOK_DELIVERY_TIME_BUDGET_MS: String(max + 1) },
      { WEBHOOK_TIMEOUT_MS: "30001" },
      { WEBHOOK_ALLOW_LOOPBACK: "yes" },
      { WEBHOOK_MAX_ATTEMPTS: "0" },
    ]
  ) {
    assert.throws(() => parseWebhooksConfig(env), new RegExp(Object.keys(env)[0]));
  }
});

Deno.test("an outcome settles a delivery: delivered, retried with backoff, or failed", () => {
  assert.deepEqual(
    settle({ attempt: 1 }, outcome({ delivered: true, status_code: 204 }), 12, backoff),
    {
      status: "delivered",
      statusCode: 204,
    },
  );
  assert.deepEqual(
    settle({ attempt: 2 }, outcome({ status_code: 500, error: "http_status" }), 12, backoff),
    { status: "pending", statusCode: 500, error: "http_status", retryInSeconds: 60 },
  );
  assert.deepEqual(
    settle({ attempt: 12 }, outcome({ error: "timeout" }), 12, backoff).status,
    "failed",
    "the last attempt",
  );
  assert.deepEqual(
    settle({ attempt: 1 }, outcome({ status_code: 410, error: "gone" }), 12, backoff).status,
    "failed",
    "410 Gone ends it at once",
  );
  const asked = settle(
    { attempt: 1 },
    outcome({ status_code: 429, error: "http_status", retry_after_seconds: 600 }),
    12,
    backoff,
  );
  assert.equal(
    (asked as { retryInSeconds: number }).retryInSeconds,
    600,
    "Retry-After when longer",
  );
  const huge = settle(
    { attempt: 1 },
    outcome({ status_code: 503, error: "http_status", retry_after_seconds: 10 ** 9 }),
    12,
    backoff,
  );
  assert.equal((huge as { retryInSeconds: number }).retryInSeconds, 7 * 86_400, "capped at a week");
});

Deno.test("Retry-After: seconds or an HTTP date", () => {
  const now = Date.parse("2026-11-30T12:00:00Z");
  assert.equal(retryAfterSeconds("120", now), 120);
  assert.equal(retryAfterSeconds("Mon, 30 Nov 2026 12:05:00 GMT", now), 300);
  assert.equal(retryAfterSeconds("Mon, 30 Nov 2026 11:00:00 GMT", now), 0);
  assert.equal(retryAfterSeconds("soon", now), null);
  assert.equal(retryAfterSeconds(null, now), null);
});

// A server of the test's own; answers as `handler` says.
async function withServer(
  handler: (req: Request) => Response | Promise<Response>,
  run: (url: string, seen: Request[]) => Promise<void>,
) {
  const seen: Request[] = [];
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    (req) => {
      seen.push(req);
      return handler(req);
    },
  );
  try {
    await run(`http://127.0.0.1:${server.addr.port}/hook`, seen);
  } finally {
    ac.abort();
    await server.finished;
  }
}

const local = parseWebhooksConfig({ WEBHOOK_ALLOW_LOOPBACK: "1", WEBHOOK_TIMEOUT_MS: "1000" });

Deno.test("a send is signed, and a 2xx is delivered", async () => {
  const secret = newSecret();
  let body = "";
  let headers = new Headers();
  await withServer(async (req) => {
    body = await req.text();
    headers = req.headers;
    return new Response(null, { status: 204 });
  }, async (url) => {
    const out = await sendWebhook(
      { url, secrets: [secret], msgId: "evt_1", body: '{"a":1}' },
      local,
    );
    assert.deepEqual([out.delivered, out.status_code, out.error], [true, 204, null]);
  });
  assert.equal(body, '{"a":1}');
  const check = await verify(
    [secret],
    {
      id: headers.get("webhook-id"),
      timestamp: headers.get("webhook-timestamp"),
      signature: headers.get("webhook-signature"),
    },
    body,
    { now: Math.floor(Date.now() / 1000) },
  );
  assert.deepEqual(check, { ok: true, secretIndex: 0 });
});

Deno.test("a redirect is a failure and is not followed", async () => {
  await withServer(
    (req) =>
      new URL(req.url).pathname === "/hook"
        ? Response.redirect("http://127.0.0.1:1/elsewhere", 302)
        : new Response("followed"),
    async (url, seen) => {
      const out = await sendWebhook(
        { url, secrets: [newSecret()], msgId: "evt_1", body: "{}" },
        local,
      );
      assert.deepEqual([out.delivered, out.status_code, out.error], [false, 302, "redirect"]);
      assert.equal(seen.length, 1);
    },
  );
});

Deno.test("an endpoint slower than the timeout is a timeout; a closed port is unreachable", async () => {
  let release = () => {};
  const gate = new Promise<void>((r) => (release = r));
  await withServer(async () => {
    await gate; // answers only after the send has given up
    return new Response("late");
  }, async (url) => {
    const out = await sendWebhook(
      { url, secrets: [newSecret()], msgId: "evt_1", body: "{}" },
      local,
    );
    release();
    assert.deepEqual([out.delivered, out.error], [false, "timeout"]);
  });
  const out = await sendWebhook(
    { url: "http://127.0.0.1:1/hook", secrets: [newSecret()], msgId: "evt_1", body: "{}" },
    local,
  );
  assert.deepEqual([out.delivered, out.error], [false, "unreachable"]);
});

Deno.test("without the local stack's flag a loopback URL is refused and nothing is sent", async () => {
  await withServer(() => new Response("ok"), async (url, seen) => {
    const out = await sendWebhook(
      { url, secrets: [newSecret()], msgId: "evt_1", body: "{}" },
      defaults,
    );
    assert.deepEqual([out.delivered, out.error, out.status_code], [false, "url_refused", null]);
    assert.equal(seen.length, 0);
  });
});
