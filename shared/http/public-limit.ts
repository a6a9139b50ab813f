// Routes anyone may call without credentials (health, the OpenAPI document
// and docs page, the OAuth providers and callback) are limited per client
// address, in the same Postgres-backed windows as signed-in callers
// (rate-limit.ts, class "public", RATE_LIMIT_PUBLIC): before this, each of
// them could be called without bound, and health and the callback touch the
// database every time.
import { createMiddleware } from "hono/factory";
import { clientAddress } from "./client-address.ts";
import type { AppEnv } from "../auth/context.ts";
import { rateHeaders, takeLeasedHit } from "../auth/rate-limit.ts";

export const limitByAddress = createMiddleware<AppEnv>(async (c, next) => {
  const address = clientAddress(c.req.header("X-Forwarded-For"));
  // Taken before the route runs: a refused request does nothing, and every
  // answer, errors included, says what is left.
  const rate = await takeLeasedHit(`ip:${address}`, "public");
  for (const [name, value] of Object.entries(rateHeaders(rate))) c.header(name, value);
  await next();
});
