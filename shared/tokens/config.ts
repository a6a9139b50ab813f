// Token maintenance settings, parsed once per isolate from the environment.
import { z } from "zod";
import { OUTBOUND_BUDGET_MS } from "../platform.ts";

const schema = z.object({
  // A vend refreshes an access token first when it expires within this many
  // seconds (or within half its lifetime, whichever is shorter).
  TOKEN_REFRESH_WINDOW_SECONDS: z.coerce.number().int().min(30).max(86_400).default(600),
  // refresh-due: at most this many tokens per run, this many at once, and stop
  // claiming new ones after this long (pg_cron calls it every minute).
  TOKEN_REFRESH_BATCH_LIMIT: z.coerce.number().int().min(1).max(10_000).default(500),
  TOKEN_REFRESH_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(4),
  // A refresh claimed just before the budget ends may still take one provider
  // timeout (at most a third of the outbound budget), and the run answers only
  // at its end: budget plus that must stay inside the platform's limit.
  TOKEN_REFRESH_TIME_BUDGET_MS: z.coerce.number().int().min(1_000)
    .max(Math.floor((OUTBOUND_BUDGET_MS * 2) / 3)).default(45_000),
  // After n consecutive failures the scheduled refresh waits base * 2^(n-1), capped.
  TOKEN_REFRESH_BACKOFF_BASE_SECONDS: z.coerce.number().int().min(1).max(3_600).default(60),
  TOKEN_REFRESH_BACKOFF_MAX_SECONDS: z.coerce.number().int().min(1).max(86_400).default(3_600),
  // A connection whose refreshes have failed (for a passing reason) for this
  // long is exhausted: the schedule stops retrying it until the user
  // reconnects or asks for a refresh. When the scheduler takes a connection
  // (active window, keep-alive) is the database's policy table
  // (private.token_refresh_policy): its trigger keeps refresh_due_at.
  TOKEN_EXHAUSTED_AFTER_HOURS: z.coerce.number().int().min(1).max(24 * 90).default(72),
  // cleanup: refresh logs and revoked connections are kept this long.
  TOKEN_LOG_RETENTION_DAYS: z.coerce.number().int().min(1).max(3_650).default(30),
  REVOKED_TOKEN_RETENTION_DAYS: z.coerce.number().int().min(1).max(3_650).default(30),
});

export type TokensConfig = z.infer<typeof schema>;

export function parseTokensConfig(env: Record<string, string | undefined>): TokensConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid tokens configuration: ${problems.join("; ")}`);
  }
  return parsed.data;
}

let cached: TokensConfig | undefined;

export function tokensConfig(): TokensConfig {
  return cached ??= parseTokensConfig(Deno.env.toObject());
}

export function backoffSeconds(config: TokensConfig, failures: number): number {
  const exp = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(
    config.TOKEN_REFRESH_BACKOFF_BASE_SECONDS * 2 ** exp,
    config.TOKEN_REFRESH_BACKOFF_MAX_SECONDS,
  );
}
