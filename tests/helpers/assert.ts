import assert from "node:assert/strict";
import type { Call } from "./stack.ts";

// Every failure answers with the envelope, the request id echoed in the header.
export function assertError(res: Call, status: number, code: string): void {
  assert.equal(
    res.status,
    status,
    `expected ${status} ${code}, got ${res.status}: ${JSON.stringify(res.body)}`,
  );
  assert.equal(res.body?.error?.code, code, JSON.stringify(res.body));
  assert.equal(typeof res.body.error.message, "string");
  assert.ok(res.body.error.request_id, "request_id in body");
  assert.equal(res.headers.get("x-request-id"), res.body.error.request_id);
}
