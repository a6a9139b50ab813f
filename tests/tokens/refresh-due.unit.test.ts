// How a refresh-due run answers: 200 with its summary while anything worked,
// 502 when every refresh failed at the provider, 503 when every attempt
// failed before reaching one. pg_cron's call records the status in
// net._http_response, so a run that achieved nothing shows as a failure.
import assert from "node:assert/strict";
import type { z } from "zod";
import { AppError } from "../../shared/core/errors.ts";
import type { RefreshDueResult } from "../../shared/tokens/schemas.ts";
import { assertSomethingWorked } from "../../shared/tokens/worker.ts";

type Summary = z.infer<typeof RefreshDueResult>;

const run = (s: Partial<Summary>): Summary => ({
  claimed: 0,
  refreshed: 0,
  failed: 0,
  needs_reauth: 0,
  errors: 0,
  ms: 1,
  ...s,
});

Deno.test("a run with nothing due, or with any refresh or verdict, answers 200", () => {
  for (
    const s of [
      run({}),
      run({ claimed: 3, refreshed: 1, failed: 2 }),
      run({ claimed: 2, needs_reauth: 1, failed: 1 }),
      run({ claimed: 1, refreshed: 1, errors: 3 }),
    ]
  ) assert.doesNotThrow(() => assertSomethingWorked(s), JSON.stringify(s));
});

Deno.test("a run whose every refresh failed at the provider is 502 with its summary", () => {
  const s = run({ claimed: 4, failed: 4 });
  assert.throws(
    () => assertSomethingWorked(s),
    (e: AppError) => e.code === "provider_error" && e.status === 502 && e.details === s,
  );
});

Deno.test("a run whose every attempt failed before a provider is 503", () => {
  assert.throws(
    () => assertSomethingWorked(run({ errors: 4 })),
    (e: AppError) => e.code === "service_unavailable" && e.status === 503,
  );
});
