// Service callers (pg_cron, workers, operators' scripts) present one of the
// project's secret keys (sb_secret_…, from SUPABASE_SECRET_KEYS) or the legacy
// service_role JWT. Hosted functions hold no JWT secret, so neither can be
// verified as a token: each is compared with the keys the platform gives the
// function, in constant time. Both sides are hashed first, so the comparison
// takes as long whatever the candidate's length, and every key is compared.
import { sha256 } from "@oslojs/crypto/sha2";
import { constantTimeEqual } from "@oslojs/crypto/subtle";

const encoder = new TextEncoder();

export function serviceKeyMatcher(keys: readonly string[]): (candidate: string) => boolean {
  const digests = keys.map((k) => sha256(encoder.encode(k)));
  return (candidate) => {
    const digest = sha256(encoder.encode(candidate));
    let matched = false;
    for (const known of digests) matched = constantTimeEqual(known, digest) || matched;
    return matched;
  };
}
