// Rate limits per caller and route class, counted in Postgres so every
// isolate shares them, and taken by the route middleware before anything else
// runs, so every request counts and a refused one does nothing. Hits are taken
// from the database in leases (see leaseSize) and handed out locally; the
// costly classes instead count each request per owner (see takeOwnerHit).
import { z } from "zod";
import type { RateClass } from "./scopes.ts";
import type { UserPrincipal } from "./principal.ts";
import { db } from "../db/client.ts";
import { lit, sql, type SqlText, textOf } from "../db/literal.ts";
import { AppError } from "../core/errors.ts";

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
  RATE_LIMIT_PUBLIC: spec.default({ limit: 120, windowSeconds: 60 }),
  // The unified API: every request spends the user's quota at Google or Microsoft.
  RATE_LIMIT_PROVIDER: spec.default({ limit: 120, windowSeconds: 60 }),
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
    public: c.RATE_LIMIT_PUBLIC,
    provider: c.RATE_LIMIT_PROVIDER,
  };
}

let limits: Record<RateClass, Limit> | undefined;

export function rateLimits(): Record<RateClass, Limit> {
  return limits ??= parseRateLimits(Deno.env.toObject());
}

// Classes whose requests cost money (an agent call, a HeyGen token). Counted
// per owner: the user's JWT and all of their API keys share one window, so
// more keys never buy more quota (issue 12).
export const COSTLY_CLASSES: ReadonlySet<RateClass> = new Set<RateClass>(["chat", "heygen"]);

// API keys and users have separate buckets: a leaked key cannot exhaust its
// owner's interactive quota (in the costly classes it can: it shares the
// owner's window, on top of its own bucket). Public routes count per client
// address (public-limit.ts, bucket "ip:<address>").
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

// Hits taken per database call: 5% of the limit. What one isolate holds and
// does not use before the window ends is lost to the caller, so it is kept
// small next to the limit; limits under 40 are counted hit by hit, exactly.
export function leaseSize(limit: number): number {
  return Math.max(1, Math.floor(limit / 20));
}

// What this isolate holds of a bucket's current window.
type Lease = { tokens: number; limit: number; remaining: number; expiresAt: number };
const leases = new Map<string, Lease>();
const refilling = new Map<string, Promise<void>>();

// Counts one request of the caller in its class; 429 once the window is
// exhausted (this isolate then refuses locally until the window ends).
export function takeHit(user: UserPrincipal, rateClass: RateClass): Promise<RateState> {
  return COSTLY_CLASSES.has(rateClass)
    ? takeOwnerHit(user, rateClass)
    : takeLeasedHit(bucketOf(user), rateClass);
}

// A hit from the lease this isolate holds of a window: the headers' state,
// or "none" when no token is left (refused at once when the window is known
// to be exhausted and no refill is under way).
function hitFromLease(key: string): RateState | "none" {
  const lease = leases.get(key);
  const now = Date.now();
  if (!lease || now >= lease.expiresAt) return "none";
  const reset = Math.ceil((lease.expiresAt - now) / 1000);
  if (lease.tokens > 0) {
    lease.tokens--;
    return { limit: lease.limit, remaining: lease.remaining + lease.tokens, reset };
  }
  if (lease.remaining === 0 && !refilling.has(key)) throw rateLimited(lease.limit, reset);
  return "none";
}

// Keeps a lease taken from the database, less the hits already used of it.
function keep(key: string, row: LeaseRow, used: number): RateState {
  const tokens = Math.max(0, row.granted - used);
  leases.set(key, {
    tokens,
    limit: row.rate_limit,
    remaining: row.remaining,
    expiresAt: Date.now() + row.reset_ms,
  });
  if (leases.size > 10_000) forgetExpired();
  return {
    limit: row.rate_limit,
    remaining: row.remaining + tokens,
    reset: Math.ceil(row.reset_ms / 1000),
  };
}

// A hit of a bucket from the lease this isolate holds, or from a new one.
export async function takeLeasedHit(bucket: string, rateClass: RateClass): Promise<RateState> {
  const key = `${rateClass} ${bucket}`;
  for (;;) {
    const hit = hitFromLease(key);
    if (hit !== "none") return hit;
    await (refilling.get(key) ?? refill(key, bucket, rateClass));
  }
}

function refill(key: string, bucket: string, rateClass: RateClass): Promise<void> {
  const { limit, windowSeconds } = rateLimits()[rateClass];
  const taking = takeLease(bucket, rateClass, limit, windowSeconds, leaseSize(limit))
    .then((row) => {
      keep(key, row, 0);
    })
    .finally(() => refilling.delete(key));
  refilling.set(key, taking);
  return taking;
}

export type LeaseRow = { rate_limit: number; granted: number; remaining: number; reset_ms: number };

// One statement of literals outside any transaction (a parameterized one would
// cost postgres.js a describe round trip); the values are ours.
async function takeLease(
  bucket: string,
  rateClass: RateClass,
  limit: number,
  windowSeconds: number,
  want: number,
): Promise<LeaseRow> {
  const [row] = await db().unsafe<LeaseRow[]>(
    textOf(sql`select * from private.rate_limit_take(${lit.text(bucket)}, ${lit.text(rateClass)},
       ${lit.int(limit)}::int, ${lit.int(windowSeconds)}::int, ${lit.int(want)}::int)`),
  );
  return row;
}

// Windows of the costly classes this isolate saw exhausted, until they end.
const exhausted = new Map<string, { limit: number; until: number }>();

type OwnerHitRow = LeaseRow & { owner_exists: boolean };

// A costly request: one statement per request, no lease, so the count is
// exact across isolates and every request checks that its user still exists
// (a deleted user's JWT is valid until it expires; nothing paid may run for
// it). The statement counts the hit in the owner's window and, for an API
// key, in the key's own bucket too. Literals, as in takeLease.
async function takeOwnerHit(user: UserPrincipal, rateClass: RateClass): Promise<RateState> {
  const hit = deferOwnerHit(user, rateClass);
  const [row] = await db().unsafe(textOf(hit.statement));
  return hit.settle(row);
}

// The owner's hit as a statement a route sends first in its own round trip
// (shared/db/client.ts queryAsUserAfter), and how to read its row: throws 429
// or 401, or gives the headers' state. Refuses at once, without a statement,
// while this isolate knows the window is exhausted.
export type DeferredHit = {
  statement: SqlText;
  settle: (row: Record<string, unknown> | undefined) => RateState;
};

export function deferOwnerHit(user: UserPrincipal, rateClass: RateClass): DeferredHit {
  const key = `${rateClass} ${bucketOf(user)}`;
  const known = exhausted.get(key);
  if (known && Date.now() < known.until) {
    throw rateLimited(known.limit, Math.ceil((known.until - Date.now()) / 1000));
  }
  const { limit, windowSeconds } = rateLimits()[rateClass];
  return {
    statement: sql`select * from private.rate_limit_take_owner(${lit.uuid(user.userId)},
       ${lit.uuid(user.apiKeyId ?? null)}, ${lit.text(rateClass)},
       ${lit.int(limit)}::int, ${lit.int(windowSeconds)}::int)`,
    settle: (found) => {
      const row = found as OwnerHitRow;
      if (!row.owner_exists) {
        throw new AppError(
          "unauthorized",
          "the token is for a user that no longer exists",
          undefined,
          { "WWW-Authenticate": "Bearer" },
        );
      }
      const reset = Math.ceil(row.reset_ms / 1000);
      if (row.granted === 0) {
        exhausted.set(key, { limit: row.rate_limit, until: Date.now() + row.reset_ms });
        if (exhausted.size > 10_000) forgetExpired();
        throw rateLimited(row.rate_limit, reset);
      }
      return { limit: row.rate_limit, remaining: row.remaining, reset };
    },
  };
}

// An API key's hit in a leased class, for a verification that runs inside the
// request's own round trip (shared/auth/key-check.ts): from this isolate's
// lease when it holds one (want 0), else the statement takes a lease of
// `want` hits and keepLease stores what this request did not use. Refuses at
// once while this isolate knows the window is exhausted.
export function leasedHitLocally(
  bucket: string,
  rateClass: RateClass,
): { state: RateState; want: 0 } | { want: number } {
  const hit = hitFromLease(`${rateClass} ${bucket}`);
  return hit === "none"
    ? { want: leaseSize(rateLimits()[rateClass].limit) }
    : { state: hit, want: 0 };
}

// Stores a lease a verification took (granted > 0), less the hit its own
// request used, and gives the headers' state.
export function keepLease(bucket: string, rateClass: RateClass, row: LeaseRow): RateState {
  return keep(`${rateClass} ${bucket}`, row, 1);
}

function forgetExpired(): void {
  const now = Date.now();
  for (const [key, lease] of leases) if (lease.expiresAt <= now) leases.delete(key);
  for (const [key, window] of exhausted) if (window.until <= now) exhausted.delete(key);
}

export function rateLimited(limit: number, reset: number): AppError {
  return new AppError("rate_limited", "too many requests, retry later", undefined, {
    "Retry-After": String(reset),
    ...rateHeaders({ limit, remaining: 0, reset }),
  });
}
