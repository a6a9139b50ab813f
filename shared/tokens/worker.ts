// The scheduled refresh (POST /tokens/refresh-due, called by pg_cron every
// minute). A few slots work at once; each slot repeatedly opens a transaction,
// claims one due token with FOR UPDATE SKIP LOCKED, refreshes it and commits.
// Due is the stored refresh_due_at (the policy lives in the database: recently
// used connections proactively, dormant ones on their keep-alive), so a run
// costs one index probe per refresh, not a scan of every connection.
// Concurrent runs therefore never refresh the same token twice: a claimed
// token is locked, and once committed it is no longer due. A failed refresh
// sets next_refresh_at (exponential backoff), which moves refresh_due_at, so
// it is not retried in the same run either; an exhausted one is not due at all.
import type { z } from "@hono/zod-openapi";
import { asService } from "../db/client.ts";
import { AppError } from "../core/errors.ts";
import { log } from "../core/log.ts";
import { tokensConfig } from "./config.ts";
import { refreshLocked, type RefreshOutcome } from "./refresh.ts";
import type { RefreshDueResult } from "./schemas.ts";
import { claimDueToken } from "./store.ts";
import { isMissingKey, missingKeyError } from "./vault.ts";

type Summary = z.infer<typeof RefreshDueResult>;

export async function refreshDue(
  o: { limit?: number; concurrency?: number } = {},
): Promise<Summary> {
  const config = tokensConfig();
  const limit = o.limit ?? config.TOKEN_REFRESH_BATCH_LIMIT;
  const concurrency = Math.min(o.concurrency ?? config.TOKEN_REFRESH_CONCURRENCY, limit);
  const started = performance.now();
  const deadline = started + config.TOKEN_REFRESH_TIME_BUDGET_MS;
  const summary: Summary = {
    claimed: 0,
    refreshed: 0,
    failed: 0,
    needs_reauth: 0,
    errors: 0,
    ms: 0,
  };
  let reserved = 0;
  let missingKey = false;

  const slot = async () => {
    while (reserved < limit && performance.now() < deadline && !missingKey) {
      reserved++;
      let outcome: RefreshOutcome | undefined;
      try {
        outcome = await asService(async (tx) => {
          const token = await claimDueToken(tx);
          return token && await refreshLocked(tx, token, "scheduled");
        });
      } catch (err) {
        reserved--;
        summary.errors++;
        if (isMissingKey(err)) missingKey = true;
        log("error", "refresh-due slot stopped", {
          error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        });
        return;
      }
      if (!outcome) {
        reserved--;
        return; // nothing left that is due and unclaimed
      }
      summary.claimed++;
      if (outcome.status === "success") summary.refreshed++;
      else if (outcome.status === "needs_reauth") summary.needs_reauth++;
      else summary.failed++;
    }
  };

  await Promise.all(Array.from({ length: concurrency }, slot));
  summary.ms = Math.round(performance.now() - started);
  log("info", "refresh-due finished", { ...summary });
  if (missingKey && summary.claimed === 0) throw missingKeyError();
  assertSomethingWorked(summary);
  return summary;
}

// A run whose every attempt failed answers 5xx, so the scheduler's record
// (net._http_response for pg_cron's call, the dashboard's invocations) shows
// it: a provider that refuses every refresh (say, an expired client secret)
// or a database that fails every claim. A needs_reauth answer is a verdict,
// not a failure of the run.
export function assertSomethingWorked(s: Summary): void {
  const attempts = s.claimed + s.errors;
  if (attempts === 0 || s.refreshed + s.needs_reauth > 0) return;
  throw s.failed > 0
    ? new AppError("provider_error", "every refresh in this run failed at the provider", s)
    : new AppError("service_unavailable", "every refresh in this run failed", s);
}
