// Verifying an API key for one request, in SQL (private.verify_api_key):
// lookup by hash, revocation, expiry, the key's and its role's scopes, the
// route class's rate limit, the key's named limits and its credits; it sets
// the owner's claims or raises the refusal. The check is a statement and a
// way to read its answer, so it can go two ways:
//   - first in the request's own message (shared/db/client.ts keyTrip), the
//     route's statements after it in the same transaction: one round trip;
//   - alone, before the route runs (routes not converted yet): one more trip.
// The refusal is the same either way (refusal below), and either way the
// outcome is counted for the key's usage (usage-counts.ts).
import { z } from "zod";
import { encodeHexLowerCase } from "@oslojs/encoding";
import { db } from "../db/client.ts";
import type { KeyCheck } from "../db/client.ts";
import { lit, sql, textOf } from "../db/literal.ts";
import { AppError } from "../core/errors.ts";
import {
  COSTLY_CLASSES,
  keepLease,
  leasedHitLocally,
  rateLimited,
  rateLimits,
  type RateState,
} from "./rate-limit.ts";
import { hashApiKey } from "./api-keys.ts";
import { countUse, type Outcome } from "./usage-counts.ts";
import type { UserPrincipal } from "./principal.ts";
import type { RateClass, Scope } from "./scopes.ts";

// Credits each request of a class spends (API_KEY_COST_<CLASS>): the costly
// classes 1 by default, the others nothing.
const costSchema = z.object({
  API_KEY_COST_DEFAULT: z.coerce.number().int().min(0).max(1_000_000).default(0),
  API_KEY_COST_AUTH: z.coerce.number().int().min(0).max(1_000_000).default(0),
  API_KEY_COST_CHAT: z.coerce.number().int().min(0).max(1_000_000).default(1),
  API_KEY_COST_HEYGEN: z.coerce.number().int().min(0).max(1_000_000).default(1),
  API_KEY_COST_PROVIDER: z.coerce.number().int().min(0).max(1_000_000).default(0),
});

export function parseKeyCosts(env: Record<string, string | undefined>): Record<RateClass, number> {
  const parsed = costSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid configuration: ${problems.join("; ")}`);
  }
  const c = parsed.data;
  return {
    default: c.API_KEY_COST_DEFAULT,
    auth: c.API_KEY_COST_AUTH,
    chat: c.API_KEY_COST_CHAT,
    heygen: c.API_KEY_COST_HEYGEN,
    provider: c.API_KEY_COST_PROVIDER,
    public: 0,
  };
}

let costs: Record<RateClass, number> | undefined;
export const keyCosts = () => costs ??= parseKeyCosts(Deno.env.toObject());

const Named = z.object({
  name: z.string(),
  limit: z.number(),
  remaining: z.number(),
  reset_ms: z.number(),
});

// private.verify_api_key's answer for a valid key.
const Verdict = z.object({
  key_id: z.string(),
  user_id: z.string(),
  scopes: z.array(z.string()),
  claims: z.record(z.string(), z.unknown()),
  credits: z.number().nullable(),
  refill_at: z.string().nullable(),
  named: Named.nullable(),
  rate: z.object({ limit: z.number(), remaining: z.number(), reset_ms: z.number() }).optional(),
  lease: z.object({
    limit: z.number(),
    granted: z.number(),
    remaining: z.number(),
    reset_ms: z.number(),
  }).optional(),
});
type Verdict = z.infer<typeof Verdict>;

// What a valid key makes of the request's principal.
export type VerifiedKey = {
  keyId: string;
  userId: string;
  scopes: Scope[];
  claims: UserPrincipal["claims"];
};

// Keys this isolate has seen (id and owner), by key hash: a hash names one
// key for good, so the class's lease (bucket "key:<id>") can be used before
// the trip, and a refusal from it still counted for the key.
const keyIds = new Map<string, { keyId: string; userId: string }>();

// SHA-256 of the keys this isolate saw in the last few seconds, with its hex:
// a busy key is hashed once, not per request. Only the hash is remembered (a
// function of the key, nothing about its validity): whether the key is live,
// revoked or expired is the database's answer on every request.
const HASH_TTL_MS = 10_000;
const hashes = new Map<string, { hash: Uint8Array; hex: string; until: number }>();

function hashOf(key: string): { hash: Uint8Array; hex: string } {
  const now = Date.now();
  const cached = hashes.get(key);
  if (cached && cached.until > now) return cached;
  if (hashes.size >= 1_000) {
    for (const [k, v] of hashes) if (v.until <= now) hashes.delete(k);
    if (hashes.size >= 1_000) hashes.clear();
  }
  const hash = hashApiKey(key);
  const entry = { hash, hex: encodeHexLowerCase(hash), until: now + HASH_TTL_MS };
  hashes.set(key, entry);
  return entry;
}

const refuse = (message: string) =>
  new AppError("unauthorized", message, undefined, { "WWW-Authenticate": "Bearer" });

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

// The refusal of an outcome, from the verdict's detail (the same JSON the
// refusal raises as its DETAIL).
export function refusal(outcome: string, detail: Record<string, unknown> | null): AppError {
  switch (outcome) {
    case "insufficient_scope":
      return new AppError(
        "insufficient_scope",
        `this API key lacks the ${detail?.required} scope`,
        { required: detail?.required },
      );
    case "rate_limited": {
      const err = rateLimited(Number(detail?.limit), seconds(Number(detail?.reset_ms)));
      return detail?.name
        ? new AppError(err.code, `the API key's ${detail.name} limit is used up, retry later`, {
          limit: detail.name,
        }, err.headers)
        : err;
    }
    case "usage_exceeded": {
      const refillAt = typeof detail?.refill_at === "string" ? detail.refill_at : null;
      const headers: Record<string, string> = { "API-Key-Credits-Remaining": "0" };
      if (refillAt) {
        headers["Retry-After"] = String(seconds(Date.parse(refillAt) - Date.now()));
        headers["API-Key-Credits-Refill"] = new Date(refillAt).toISOString();
      }
      return new AppError(
        "usage_exceeded",
        refillAt
          ? "this API key has no credits left until its refill"
          : "this API key has no credits left",
        {
          remaining: Number(detail?.remaining ?? 0),
          cost: Number(detail?.cost ?? 0),
          refill_at: refillAt ? new Date(refillAt).toISOString() : null,
        },
        headers,
      );
    }
    case "user_mismatch":
      return refuse("the token and the API key belong to different users");
    default:
      return refuse("the API key is invalid, expired or revoked");
  }
}

// SQLSTATEs of private.api_key_refuse. Its DETAIL is the refusal as JSON:
// the outcome, the key and owner (for the usage counts) and the particulars.
const REFUSALS = new Set(["AK401", "AK403", "AKR29", "AKU29"]);
const COUNTED = new Set<string>([
  "revoked",
  "expired",
  "insufficient_scope",
  "rate_limited",
  "usage_exceeded",
]);

function refusalOf(err: unknown): AppError | undefined {
  const { code, detail } = (err ?? {}) as { code?: string; detail?: string };
  if (!code || !REFUSALS.has(code)) return undefined;
  let parsed: Record<string, unknown> = {};
  try {
    parsed = detail ? JSON.parse(detail) : {};
  } catch {
    parsed = {};
  }
  const outcome = String(parsed.outcome ?? "invalid");
  if (COUNTED.has(outcome) && typeof parsed.key_id === "string") {
    countUse(parsed.key_id, String(parsed.user_id), outcome as Outcome);
  }
  return refusal(outcome, parsed);
}

export type KeyRequest = {
  key: string;
  scope: Scope;
  rateClass: RateClass;
  // A JWT sent beside the key names this user: the key must be theirs.
  expectUser?: string;
  // Receives the response headers the verification decides.
  onHeaders: (headers: Record<string, string>) => void;
};

// Plans one verification: the statement (which also decides, from this
// isolate's lease, how many hits it takes) and how to read its answer.
export function planKeyCheck(
  req: KeyRequest,
  onVerified: (key: VerifiedKey) => void,
): KeyCheck {
  const { hash, hex } = hashOf(req.key);
  const { limit, windowSeconds } = rateLimits()[req.rateClass];
  const costly = COSTLY_CLASSES.has(req.rateClass);
  const known = keyIds.get(hex);
  const local = costly || !known ? undefined : localHit(known, req.rateClass);
  const want = costly ? 0 : local ? local.want : Math.max(1, Math.floor(limit / 20));
  const prelude = sql`select private.verify_api_key(${lit.bytea(hash)}, ${lit.text(req.scope)},
    ${lit.text(req.rateClass)}, ${lit.int(keyCosts()[req.rateClass])}::int,
    ${costly ? lit.int(limit) : lit.int(null)}::int, ${
    costly ? lit.int(windowSeconds) : lit.int(null)
  }::int,
    ${lit.int(limit)}::int, ${lit.int(windowSeconds)}::int, ${lit.int(want)}::int,
    ${lit.uuid(req.expectUser ?? null)}) as verdict`;
  const settle = (row: unknown) => {
    const verdict = Verdict.parse((row as { verdict?: unknown })?.verdict);
    keyIds.set(hex, { keyId: verdict.key_id, userId: verdict.user_id });
    if (keyIds.size > 10_000) keyIds.clear();
    countUse(verdict.key_id, verdict.user_id, "valid");
    const classState: RateState | undefined = verdict.rate
      ? {
        limit: verdict.rate.limit,
        remaining: verdict.rate.remaining,
        reset: seconds(verdict.rate.reset_ms),
      }
      : verdict.lease
      ? keepLease(`key:${verdict.key_id}`, req.rateClass, {
        rate_limit: verdict.lease.limit,
        granted: verdict.lease.granted,
        remaining: verdict.lease.remaining,
        reset_ms: verdict.lease.reset_ms,
      })
      : local && "state" in local
      ? (local.state as RateState)
      : undefined;
    req.onHeaders(headersOf(verdict, classState));
    onVerified({
      keyId: verdict.key_id,
      userId: verdict.user_id,
      scopes: verdict.scopes as Scope[],
      claims: verdict.claims as UserPrincipal["claims"],
    });
  };
  return { prelude, settle, refusal: refusalOf };
}

// A hit from this isolate's lease of the key's bucket; a refusal here (the
// window is known to be used up) is counted like one from the database.
function localHit(known: { keyId: string; userId: string }, rateClass: RateClass) {
  try {
    return leasedHitLocally(`key:${known.keyId}`, rateClass);
  } catch (err) {
    countUse(known.keyId, known.userId, "rate_limited");
    throw err;
  }
}

// RateLimit-* of the limit closest to refusing: the class's or the key's
// tightest named limit, whichever has fewer requests left.
function headersOf(verdict: Verdict, classState: RateState | undefined): Record<string, string> {
  const named = verdict.named
    ? {
      limit: verdict.named.limit,
      remaining: verdict.named.remaining,
      reset: seconds(verdict.named.reset_ms),
    }
    : undefined;
  const closest = [classState, named].filter((s): s is RateState => s !== undefined)
    .sort((a, b) => a.remaining - b.remaining)[0];
  const headers: Record<string, string> = {};
  if (closest) {
    headers["RateLimit-Limit"] = String(closest.limit);
    headers["RateLimit-Remaining"] = String(Math.max(0, closest.remaining));
    headers["RateLimit-Reset"] = String(closest.reset);
  }
  if (typeof verdict.credits === "number") {
    headers["API-Key-Credits-Remaining"] = String(verdict.credits);
  }
  return headers;
}

// The verification alone, as one statement before the route (routes whose
// work is not one message yet, and routes that read the caller's id first).
export async function verifyKeyNow(req: KeyRequest): Promise<VerifiedKey> {
  let verified: VerifiedKey | undefined;
  const check = planKeyCheck(req, (v) => (verified = v));
  try {
    const [row] = await db().unsafe(textOf(check.prelude));
    check.settle(row);
  } catch (err) {
    throw check.refusal(err) ?? err;
  }
  return verified!;
}
