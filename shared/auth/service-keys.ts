// Service callers (pg_cron, workers, operators' scripts) present one of the
// project's secret keys (sb_secret_…, from SUPABASE_SECRET_KEYS) or the legacy
// service_role JWT. Hosted functions hold no JWT secret, so neither can be
// verified as a token: each is compared with the keys the platform gives the
// function, in constant time. Both sides are hashed first, so the comparison
// takes as long whatever the candidate's length, and every key is compared.
import { sha256 } from "@oslojs/crypto/sha2";
import { constantTimeEqual } from "@oslojs/crypto/subtle";

const encoder = new TextEncoder();

// Candidates recently found to match no key (in practice: user JWTs, sent
// with every request), so the hot path does not hash the same token again
// (a JS SHA-256 per request, the auth middleware's largest cost after the
// JWT cache). Only misses are kept: a service key never enters the set, so a
// lookup compares a candidate with earlier candidates, never with a key.
// Bounded in entries and in the size of each, like the JWT cache.
const REMEMBERED_MISSES = 256;
const MAX_REMEMBERED_LENGTH = 8192;

export function serviceKeyMatcher(keys: readonly string[]): (candidate: string) => boolean {
  const digests = keys.map((k) => sha256(encoder.encode(k)));
  const misses = new Set<string>();
  return (candidate) => {
    if (misses.has(candidate)) return false;
    const digest = sha256(encoder.encode(candidate));
    let matched = false;
    for (const known of digests) matched = constantTimeEqual(known, digest) || matched;
    if (!matched && candidate.length <= MAX_REMEMBERED_LENGTH) {
      if (misses.size >= REMEMBERED_MISSES) misses.delete(misses.values().next().value!);
      misses.add(candidate);
    }
    return matched;
  };
}
