// The delivery worker (POST /webhooks/deliver; pg_cron queues it every
// minute). A few slots work at once; each repeatedly claims one due delivery
// (FOR UPDATE SKIP LOCKED, leased and counted as an attempt, in its own short
// transaction), sends it outside any transaction, and records the outcome:
// delivered, retried after an exponential backoff, or failed for good after
// the last attempt or a 410 Gone (which also disables the endpoint). A
// worker that dies mid-send leaves the delivery due again when its lease
// ends. Bounded per run in count and in time, inside the platform's limit.
import { asService } from "../db/client.ts";
import { webhookBody } from "../events/schemas.ts";
import { AppError } from "../core/errors.ts";
import { log } from "../core/log.ts";
import { backoffSeconds, webhooksConfig } from "./config.ts";
import { type SendOutcome, sendWebhook } from "./send.ts";
import {
  claimDeliveries,
  type ClaimedDelivery,
  disableGone,
  settleDelivery,
  type Settlement,
} from "./store.ts";
import { DNS_TIMEOUT_MS, type Resolver } from "./url-safety.ts";

export type DeliverSummary = {
  claimed: number;
  delivered: number;
  retrying: number;
  failed: number;
  errors: number;
  ms: number;
};

export async function deliverDue(
  o: { limit?: number; concurrency?: number; resolve?: Resolver } = {},
): Promise<DeliverSummary> {
  const config = webhooksConfig();
  const limit = o.limit ?? config.WEBHOOK_DELIVERY_BATCH_LIMIT;
  const concurrency = Math.min(o.concurrency ?? config.WEBHOOK_DELIVERY_CONCURRENCY, limit);
  // Longer than any one attempt can take: a lookup and the endpoint's timeout.
  const leaseSeconds = Math.ceil((config.WEBHOOK_TIMEOUT_MS + DNS_TIMEOUT_MS) / 1000) + 30;
  const started = performance.now();
  const deadline = started + config.WEBHOOK_DELIVERY_TIME_BUDGET_MS;
  const summary: DeliverSummary = {
    claimed: 0,
    delivered: 0,
    retrying: 0,
    failed: 0,
    errors: 0,
    ms: 0,
  };
  let reserved = 0;

  const slot = async () => {
    while (reserved < limit && performance.now() < deadline) {
      reserved++;
      let job: ClaimedDelivery | undefined;
      try {
        [job] = await asService((tx) => claimDeliveries(tx, 1, leaseSeconds));
      } catch (err) {
        reserved--;
        summary.errors++;
        log("error", "webhook delivery slot stopped", { error: errorText(err) });
        return;
      }
      if (!job) {
        reserved--;
        return; // nothing due and unclaimed
      }
      summary.claimed++;
      let outcome: SendOutcome;
      try {
        outcome = await sendWebhook(
          {
            url: job.url,
            secrets: job.secrets ?? [],
            msgId: job.event_id,
            body: webhookBody({
              type: job.event_type,
              created_at: job.event_created_at,
              user_id: job.event_user_id,
              data: job.event_data,
            }),
          },
          config,
          o.resolve,
        );
      } catch (err) {
        // Nothing was sent that we know of; the attempt counts as unreachable.
        log("error", "webhook send failed", { error: errorText(err) });
        outcome = {
          delivered: false,
          status_code: null,
          error: "unreachable",
          retry_after_seconds: null,
          duration_ms: 0,
        };
      }
      const settlement = settle(
        job,
        outcome,
        config.WEBHOOK_MAX_ATTEMPTS,
        (n) => backoffSeconds(config, n),
      );
      try {
        await asService(async (tx) => {
          await settleDelivery(tx, { id: job.delivery_id, attempt: job.attempt }, settlement);
          if (outcome.error === "gone") await disableGone(tx, job.endpoint_id);
        });
      } catch (err) {
        // The lease ends and the delivery is tried again: at least once.
        summary.errors++;
        log("error", "webhook delivery outcome not recorded", { error: errorText(err) });
        continue;
      }
      if (settlement.status === "delivered") summary.delivered++;
      else if (settlement.status === "pending") summary.retrying++;
      else summary.failed++;
      log(settlement.status === "delivered" ? "info" : "warn", "webhook delivery", {
        delivery_id: job.delivery_id,
        endpoint_id: job.endpoint_id,
        event_type: job.event_type,
        attempt: job.attempt,
        outcome: settlement.status,
        status_code: outcome.status_code,
        error: outcome.error,
        ms: outcome.duration_ms,
      });
    }
  };

  await Promise.all(Array.from({ length: concurrency }, slot));
  summary.ms = Math.round(performance.now() - started);
  log("info", "webhook deliver finished", { ...summary });
  if (summary.errors > 0 && summary.claimed === 0) {
    throw new AppError("service_unavailable", "every claim in this run failed", summary);
  }
  return summary;
}

// What an attempt's outcome means for its delivery.
export function settle(
  job: { attempt: number },
  outcome: SendOutcome,
  maxAttempts: number,
  backoff: (failures: number) => number,
): Settlement {
  if (outcome.delivered) return { status: "delivered", statusCode: outcome.status_code! };
  const error = outcome.error ?? "http_status";
  const final = error === "gone" || job.attempt >= maxAttempts;
  const wait = Math.max(backoff(job.attempt), outcome.retry_after_seconds ?? 0);
  return {
    status: final ? "failed" : "pending",
    statusCode: outcome.status_code,
    error,
    retryInSeconds: Math.min(wait, 7 * 86_400),
  };
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
