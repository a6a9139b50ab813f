// Webhook delivery settings, parsed once per isolate from the environment.
import { z } from "zod";
import { OUTBOUND_BUDGET_MS } from "../platform.ts";
import { DNS_TIMEOUT_MS } from "./url-safety.ts";

const flag = z.enum(["0", "1", "true", "false"]).default("0").transform((v) =>
  v === "1" || v === "true"
);

// The longest wait for one endpoint's answer (Standard Webhooks recommends
// 15 to 30 s).
const MAX_TIMEOUT_MS = 30_000;

const schema = z.object({
  // Only the local stack sets it: http to 127.0.0.1/localhost/[::1] and
  // loopback addresses become acceptable webhook targets. Never in production.
  WEBHOOK_ALLOW_LOOPBACK: flag,
  WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(MAX_TIMEOUT_MS).default(15_000),
  // Attempts per delivery, the first included; then it is failed for good.
  WEBHOOK_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(50).default(12),
  // After n failed attempts the next waits base * 2^(n-1), capped, plus up to 10% jitter.
  WEBHOOK_BACKOFF_BASE_SECONDS: z.coerce.number().int().min(1).max(3_600).default(30),
  WEBHOOK_BACKOFF_MAX_SECONDS: z.coerce.number().int().min(1).max(86_400).default(21_600),
  // POST /webhooks/deliver: at most this many deliveries per run, this many at
  // once, and no new claim after the budget. A delivery claimed just before
  // the budget ends may still take a DNS lookup and one endpoint timeout, and
  // the run answers at its end: all of it stays inside the platform's limit.
  WEBHOOK_DELIVERY_BATCH_LIMIT: z.coerce.number().int().min(1).max(5_000).default(200),
  WEBHOOK_DELIVERY_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(8),
  WEBHOOK_DELIVERY_TIME_BUDGET_MS: z.coerce.number().int().min(1_000)
    .max(OUTBOUND_BUDGET_MS - MAX_TIMEOUT_MS - DNS_TIMEOUT_MS).default(60_000),
  // How long a rotated-out secret keeps signing when the request names no grace.
  WEBHOOK_SECRET_GRACE_SECONDS: z.coerce.number().int().min(0).max(604_800).default(86_400),
});

export type WebhooksConfig = z.infer<typeof schema>;

export function parseWebhooksConfig(env: Record<string, string | undefined>): WebhooksConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid webhooks configuration: ${problems.join("; ")}`);
  }
  return parsed.data;
}

let cached: WebhooksConfig | undefined;

export function webhooksConfig(): WebhooksConfig {
  return cached ??= parseWebhooksConfig(Deno.env.toObject());
}

// Seconds until the next attempt after `failures` failed ones: exponential,
// capped, with up to 10% added so endpoints that failed together do not all
// come back in the same second. `random` is in [0, 1).
export function backoffSeconds(
  c: WebhooksConfig,
  failures: number,
  random = Math.random(),
): number {
  const exp = Math.min(Math.max(failures - 1, 0), 30);
  const base = Math.min(c.WEBHOOK_BACKOFF_BASE_SECONDS * 2 ** exp, c.WEBHOOK_BACKOFF_MAX_SECONDS);
  return Math.ceil(base * (1 + 0.1 * random));
}
