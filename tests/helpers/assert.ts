import assert from "node:assert/strict";
import { z } from "zod";
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

// A value as its exported schema declares it: every field there with its
// declared type, and no field there that the schema does not declare (object
// schemas drop unknown keys, so the parse must give back the whole value).
// Returns the value typed.
export function shaped<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const result = schema.safeParse(value);
  assert.ok(
    result.success,
    `does not match its schema:\n${result.error && z.prettifyError(result.error)}\n` +
      JSON.stringify(value),
  );
  assert.deepEqual(result.data, value, "carries fields its schema does not declare");
  return result.data;
}

// A 2xx body read through the route's exported schema: the status is the one
// expected and the body is shaped as the schema says.
export function parsed<S extends z.ZodType>(
  schema: S,
  res: Pick<Call, "status" | "body">,
  status = 200,
): z.output<S> {
  assert.equal(
    res.status,
    status,
    `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`,
  );
  return shaped(schema, res.body);
}
