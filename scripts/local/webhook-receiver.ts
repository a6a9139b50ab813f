// The local webhook receiver of the dev and test stacks: where endpoints
// registered on the local stack send their deliveries. A real server process,
// bound to 127.0.0.1, holding what it received in memory. It verifies Standard
// Webhooks signatures with its own code (the README's example, not the
// functions' signer), so a test that sees `verified` has checked the signer
// against an independent verifier.
//
//   POST /hooks/<inbox>         a delivery: recorded, verified when the inbox has secrets;
//                               answers 200, 401 when no signature verifies, or the failure
//                               the inbox was told to give
//
// Test controls under /_control (local only):
//   PUT  /_control/inboxes/<inbox>   {"secrets": ["whsec_…"], "fail": {"count": 2, "status": 500},
//                                     "retry_after": "1"}: the secrets to verify with (any may
//                                     match), and the next `count` deliveries answered `status`
//   GET  /_control/inboxes/<inbox>   what the inbox received: headers, body, which secret each
//                                     signature verifies with, what it answered
//   GET  /_control/health
//
// Inboxes are per test (a random name), so test files running in parallel never see each
// other's deliveries. Memory is bounded: 500 inboxes, 200 deliveries each, oldest dropped.
//
// Environment: LOCAL_WEBHOOK_RECEIVER_PORT (required).

type Fail = { count: number; status: number };
type Inbox = { secrets: string[]; fail?: Fail; retryAfter?: string; received: Received[] };
type Received = {
  at: string;
  headers: Record<string, string | null>;
  body: string;
  // For each signature in webhook-signature, the index of the secret it verifies with.
  signatures: Array<{ signature: string; verifies_with: number | null }>;
  verified: boolean | null; // null: the inbox has no secret to verify with
  timestamp_ok: boolean;
  answered: number;
};

const MAX_INBOXES = 500;
const MAX_RECEIVED = 200;
const TOLERANCE_SECONDS = 300;
const port = Number(Deno.env.get("LOCAL_WEBHOOK_RECEIVER_PORT"));
if (!Number.isInteger(port) || port <= 0) {
  throw new Error("LOCAL_WEBHOOK_RECEIVER_PORT is required");
}

const inboxes = new Map<string, Inbox>();

function inbox(name: string): Inbox {
  let box = inboxes.get(name);
  if (!box) {
    box = { secrets: [], received: [] };
    inboxes.set(name, box);
    if (inboxes.size > MAX_INBOXES) inboxes.delete(inboxes.keys().next().value!);
  }
  return box;
}

// Standard Webhooks verification, as the README shows it: HMAC-SHA256 over
// `${id}.${timestamp}.${body}` with the secret's bytes, any `v1,<base64>`
// signature in the space-separated header may match (crypto.subtle.verify
// compares in constant time).
const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

async function verifiesWith(secret: string, id: string, ts: string, body: string, sig: string) {
  const [version, value] = sig.split(",");
  if (version !== "v1" || !value) return false;
  try {
    const key = await crypto.subtle.importKey(
      "raw",
      b64(secret.replace(/^whsec_/, "")),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    const data = new TextEncoder().encode(`${id}.${ts}.${body}`);
    return await crypto.subtle.verify("HMAC", key, b64(value), data);
  } catch {
    return false; // not base64
  }
}

const RECORDED_HEADERS = [
  "webhook-id",
  "webhook-timestamp",
  "webhook-signature",
  "content-type",
  "user-agent",
];

async function receive(name: string, req: Request): Promise<Response> {
  const box = inbox(name);
  const body = await req.text();
  const headers = Object.fromEntries(RECORDED_HEADERS.map((h) => [h, req.headers.get(h)]));
  const id = headers["webhook-id"] ?? "";
  const ts = headers["webhook-timestamp"] ?? "";
  const signatures = [];
  for (const signature of (headers["webhook-signature"] ?? "").split(" ").filter(Boolean)) {
    let verifies_with: number | null = null;
    for (const [i, secret] of box.secrets.entries()) {
      if (await verifiesWith(secret, id, ts, body, signature)) {
        verifies_with = i;
        break;
      }
    }
    signatures.push({ signature, verifies_with });
  }
  const timestamp_ok = /^\d+$/.test(ts) &&
    Math.abs(Date.now() / 1000 - Number(ts)) <= TOLERANCE_SECONDS;
  const verified = box.secrets.length === 0
    ? null
    : timestamp_ok && signatures.some((s) => s.verifies_with !== null);
  let answered = 200;
  const extra: Record<string, string> = {};
  if (box.fail && box.fail.count > 0) {
    box.fail.count--;
    answered = box.fail.status;
    if (box.retryAfter) extra["Retry-After"] = box.retryAfter;
  } else if (verified === false) {
    answered = 401;
  }
  box.received.push({
    at: new Date().toISOString(),
    headers,
    body,
    signatures,
    verified,
    timestamp_ok,
    answered,
  });
  if (box.received.length > MAX_RECEIVED) box.received.shift();
  return new Response(answered < 300 ? "ok" : "refused", { status: answered, headers: extra });
}

async function control(method: string, parts: string[], req: Request): Promise<Response> {
  if (parts[0] === "health") return Response.json({ status: "ok", inboxes: inboxes.size });
  if (parts[0] !== "inboxes" || !parts[1]) {
    return Response.json({ error: "no such control" }, { status: 404 });
  }
  const box = inbox(parts[1]);
  if (method === "GET") {
    return Response.json({ secrets: box.secrets.length, fail: box.fail, received: box.received });
  }
  if (method === "PUT") {
    const o = await req.json() as { secrets?: string[]; fail?: Fail; retry_after?: string };
    if (o.secrets) box.secrets = o.secrets;
    if (o.fail) box.fail = { count: o.fail.count, status: o.fail.status };
    box.retryAfter = o.retry_after;
    return Response.json({ ok: true });
  }
  return Response.json({ error: "method not allowed" }, { status: 405 });
}

const NAME = /^[A-Za-z0-9_-]{1,100}$/;

Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, async (req) => {
  const url = new URL(req.url);
  const parts = url.pathname.split("/").filter(Boolean);
  try {
    if (parts[0] === "_control") return await control(req.method, parts.slice(1), req);
    if (
      parts[0] === "hooks" && parts.length === 2 && NAME.test(parts[1]) && req.method === "POST"
    ) {
      return await receive(parts[1], req);
    }
    return Response.json({ error: "not found" }, { status: 404 });
  } catch (err) {
    return Response.json({ error: String(err) }, { status: 400 });
  }
});
console.log(JSON.stringify({
  level: "info",
  msg: "local webhook receiver listening (development only)",
  port,
}));
