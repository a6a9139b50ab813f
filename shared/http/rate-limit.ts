// Rate limits per caller and route class, counted in Postgres inside the
// request's own transaction (see db/client.ts), so every isolate shares them.
import { z } from "zod";
import type { RateClass } from "../auth/scopes.ts";
import type { UserPrincipal } from "../auth/principal.ts";

export type Limit = { limit: number; windowSeconds: number };
export type RateState = { limit: number; remaining: number; reset: number };

const spec = z.string().regex(/^\d+\/\d+$/, 'use "<requests>/<seconds>", e.g. 300/60')
  .transform((s) => {
    const [limit, windowSeconds] = s.split("/").map(Number);
    return { limit, windowSeconds };
  })
  .refine((l) => l.limit > 0 && l.windowSeconds > 0, "both numbers must be positive");

const schema = z.object({
  RATE_LIMIT_DEFAULT: spec.default({ limit: 300, windowSeconds: 60 }),
  RATE_LIMIT_AUTH: spec.default({ limit: 20, windowSeconds: 60 }),
  RATE_LIMIT_CHAT: spec.default({ limit: 30, windowSeconds: 60 }),
  RATE_LIMIT_HEYGEN: spec.default({ limit: 10, windowSeconds: 60 }),
});

export function parseRateLimits(env: Record<string, string | undefined>): Record<RateClass, Limit> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid configuration: ${problems.join("; ")}`);
  }
  const c = parsed.data;
  return {
    default: c.RATE_LIMIT_DEFAULT,
    auth: c.RATE_LIMIT_AUTH,
    chat: c.RATE_LIMIT_CHAT,
    heygen: c.RATE_LIMIT_HEYGEN,
  };
}

let limits: Record<RateClass, Limit> | undefined;

export function rateLimits(): Record<RateClass, Limit> {
  return limits ??= parseRateLimits(Deno.env.toObject());
}

// API keys and users have separate buckets: a leaked key cannot exhaust its
// owner's interactive quota.
export function bucketOf(user: UserPrincipal): string {
  return user.apiKeyId ? `key:${user.apiKeyId}` : `user:${user.userId}`;
}

export function rateHeaders(state: RateState): Record<string, string> {
  return {
    "RateLimit-Limit": String(state.limit),
    "RateLimit-Remaining": String(Math.max(0, state.remaining)),
    "RateLimit-Reset": String(state.reset),
  };
}
