// GET /<fn>/health: whether this function reaches its database. The answer is
// kept per isolate for HEALTH_CACHE_SECONDS (and callers arriving meanwhile
// share one check), so a monitor polling every second, or a crowd of them,
// costs the database one `select 1` per window, not one per call.
import type { Context } from "hono";
import { config } from "../config.ts";
import { db } from "../db/client.ts";
import type { AppEnv } from "../auth/context.ts";
import { log } from "../core/log.ts";

export type DbHealth = { ok: boolean; ms: number; checked_at: string };

type Clock = () => number;

// A check of the database, remembered for ttlMs from when it started; a
// failure is remembered too, so an outage is not hammered by health checks.
export function cachedCheck(probe: () => Promise<unknown>, ttlMs: number, now: Clock = Date.now) {
  let last: { startedAt: number; result: Promise<DbHealth> } | undefined;
  return (): Promise<DbHealth> => {
    if (last && now() - last.startedAt < ttlMs) return last.result;
    const startedAt = now();
    const result = probe().then(
      () => ({ ok: true, ms: now() - startedAt, checked_at: new Date(startedAt).toISOString() }),
      (err) => {
        log("error", "health check failed", { error: String((err as Error)?.message ?? err) });
        return { ok: false, ms: now() - startedAt, checked_at: new Date(startedAt).toISOString() };
      },
    );
    last = { startedAt, result };
    return result;
  };
}

let check: (() => Promise<DbHealth>) | undefined;

export function health(fn: string) {
  return async (c: Context<AppEnv>) => {
    check ??= cachedCheck(() => db()`select 1`, config().HEALTH_CACHE_SECONDS * 1000);
    const result = await check();
    const body = {
      status: result.ok ? "ok" : "degraded",
      function: fn,
      version: config().APP_VERSION,
      db: result,
    };
    return c.json(body, result.ok ? 200 : 503);
  };
}
