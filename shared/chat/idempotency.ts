// Idempotency-Key: the header's format and the fingerprint of a request. The
// same key with the same request replays the first result; with another
// request it is refused (422).
import { encodeHexLowerCase } from "@oslojs/encoding";

export const IDEMPOTENCY_SCOPE = "chat.send";
// Printable ASCII without spaces, as the table's check constraint says.
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

// JSON with object keys sorted at every level, so equal requests hash equally
// whatever order their fields came in.
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

export async function requestHash(value: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(canonicalJson(value));
  return encodeHexLowerCase(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)));
}
