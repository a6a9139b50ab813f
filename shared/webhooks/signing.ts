// Standard Webhooks signatures (https://www.standardwebhooks.com, symmetric
// scheme): HMAC-SHA256 over `${webhook-id}.${webhook-timestamp}.${body}` with
// the secret's bytes, sent as `v1,<base64>`; several signatures are separated
// by spaces (a rotated secret signs beside the new one during its grace).
// Secrets are `whsec_` + base64 of 32 random bytes (the spec: 24 to 64).
// Pure: no I/O, no clock unless one is passed.
import { constantTimeEqual } from "@oslojs/crypto/subtle";
import { decodeBase64, encodeBase64 } from "@oslojs/encoding";

export const SECRET_PREFIX = "whsec_";
const SECRET_BYTES = 32;
// What the database accepts too (private.set_webhook_secret).
export const SECRET_PATTERN = /^whsec_[A-Za-z0-9+/]{32,86}={0,2}$/;
// A message id or timestamp must not hold the separator (the spec's warning).
const MESSAGE_ID = /^[A-Za-z0-9_-]{1,128}$/;
export const DEFAULT_TOLERANCE_SECONDS = 5 * 60;

const encoder = new TextEncoder();

export function newSecret(): string {
  return SECRET_PREFIX + encodeBase64(crypto.getRandomValues(new Uint8Array(SECRET_BYTES)));
}

// The key bytes of a secret; the spec's libraries also take it without the prefix.
export function secretBytes(secret: string): Uint8Array {
  const b64 = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64(b64);
  } catch {
    throw new TypeError("a webhook secret is base64 after whsec_");
  }
  if (bytes.length < 24 || bytes.length > 64) {
    throw new TypeError("a webhook secret has 24 to 64 bytes");
  }
  return bytes;
}

function signedContent(msgId: string, timestamp: number, body: string): Uint8Array {
  if (!MESSAGE_ID.test(msgId)) throw new TypeError("webhook-id must be [A-Za-z0-9_-]{1,128}");
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new TypeError("webhook-timestamp is whole seconds since the epoch");
  }
  return encoder.encode(`${msgId}.${timestamp}.${body}`);
}

async function hmac(secret: string, content: Uint8Array): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey(
    "raw",
    secretBytes(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, content));
}

// One signature, `v1,<base64>`.
export async function sign(
  secret: string,
  msgId: string,
  timestamp: number,
  body: string,
): Promise<string> {
  return `v1,${encodeBase64(await hmac(secret, signedContent(msgId, timestamp, body)))}`;
}

export type WebhookHeaders = {
  "webhook-id": string;
  "webhook-timestamp": string;
  "webhook-signature": string;
};

// The three headers of a delivery, signed with every given secret in order.
export async function signedHeaders(
  secrets: readonly string[],
  msgId: string,
  timestamp: number,
  body: string,
): Promise<WebhookHeaders> {
  if (secrets.length === 0) throw new TypeError("no secret to sign with");
  const signatures = await Promise.all(secrets.map((s) => sign(s, msgId, timestamp, body)));
  return {
    "webhook-id": msgId,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": signatures.join(" "),
  };
}

export type Verification =
  | { ok: true; secretIndex: number }
  | { ok: false; reason: "missing_header" | "bad_timestamp" | "too_old" | "too_new" | "no_match" };

// A receiver's check: the timestamp within the tolerance of `now` (seconds),
// and at least one v1 signature made with one of the secrets. Constant-time.
export async function verify(
  secrets: readonly string[],
  headers: { id?: string | null; timestamp?: string | null; signature?: string | null },
  body: string,
  o: { now: number; toleranceSeconds?: number },
): Promise<Verification> {
  const { id, timestamp, signature } = headers;
  if (!id || !timestamp || !signature) return { ok: false, reason: "missing_header" };
  if (!/^\d{1,15}$/.test(timestamp)) return { ok: false, reason: "bad_timestamp" };
  const ts = Number(timestamp);
  const tolerance = o.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (ts < o.now - tolerance) return { ok: false, reason: "too_old" };
  if (ts > o.now + tolerance) return { ok: false, reason: "too_new" };
  let content: Uint8Array;
  try {
    content = signedContent(id, ts, body);
  } catch {
    return { ok: false, reason: "missing_header" };
  }
  const given = signature.split(" ").flatMap((part) => {
    const [version, value] = part.split(",", 2);
    if (version !== "v1" || !value) return [];
    try {
      return [decodeBase64(value)];
    } catch {
      return [];
    }
  });
  for (const [index, secret] of secrets.entries()) {
    const expected = await hmac(secret, content);
    let matched = false;
    for (const candidate of given) {
      matched = (candidate.length === expected.length && constantTimeEqual(candidate, expected)) ||
        matched;
    }
    if (matched) return { ok: true, secretIndex: index };
  }
  return { ok: false, reason: "no_match" };
}
