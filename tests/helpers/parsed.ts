// A success answer read through the schema its route documents: the status
// is asserted, the body must parse, and it must hold nothing the schema does
// not name (zod drops unknown keys; comparing with the raw body notices).
import assert from "node:assert/strict";
import type { z } from "zod";

export function parsed<S extends z.ZodType>(
  schema: S,
  res: { status: number; body: unknown },
  status = 200,
): z.output<S> {
  assert.equal(
    res.status,
    status,
    `expected ${status}, got ${res.status}: ${JSON.stringify(res.body)}`,
  );
  const result = schema.safeParse(res.body);
  assert.ok(
    result.success,
    `the body does not match the schema: ${result.error?.message}\n${JSON.stringify(res.body)}`,
  );
  assert.deepEqual(
    result.data,
    res.body,
    `the body holds only what the schema names: ${JSON.stringify(res.body)}`,
  );
  return result.data;
}
