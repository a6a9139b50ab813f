// Parked grants: what the callback obtained and nobody has completed yet.
// Whatever does not become a connection is revoked at the provider, except
// when the same provider account is already connected: Google revokes a whole
// grant, and new tokens for a connected account belong to its grant too.
import { asService } from "../db/client.ts";
import { log } from "../core/log.ts";
import { accountConnected } from "../tokens/store.ts";
import { ProviderError } from "../providers/client.ts";
import { providerClient } from "../providers/registry.ts";
import { hashState, newState } from "./state.ts";
import { takeExpiredParkedGrants, type TakenGrant, takeParkedGrantsOf } from "./store.ts";

// A one-time completion code and the hash that is stored (like the state).
export function newCompletion(): { code: string; hash: string } {
  const code = newState();
  return { code, hash: hashState(code) };
}

export type Disposal = "revoked" | "not_supported" | "kept_for_connection" | "failed";

// Ends a grant that will not become a connection. Never throws for the
// provider's sake: the tokens are dropped here whatever it answers.
export async function disposeGrant(
  grant: Pick<TakenGrant, "provider" | "provider_user_id" | "access_token" | "refresh_token">,
  why: string,
): Promise<Disposal> {
  const client = providerClient(grant.provider);
  let outcome: Disposal = "failed";
  try {
    const shared = await asService((tx) =>
      accountConnected(tx, grant.provider, grant.provider_user_id)
    );
    if (shared) outcome = "kept_for_connection";
    else if (client) outcome = await client.revoke(grant.refresh_token ?? grant.access_token);
  } catch (err) {
    // A provider that fails, or a database that cannot say whether the
    // account is connected: the tokens are gone from here either way.
    log("warn", "oauth grant disposal failed", {
      provider: grant.provider,
      error_kind: err instanceof ProviderError ? err.kind : "internal",
    });
  }
  log(outcome === "failed" ? "warn" : "info", "oauth grant disposed", {
    provider: grant.provider,
    reason: why,
    outcome,
  });
  return outcome;
}

// Account deletion: every grant parked for the user.
export async function disposeParkedOf(userId: string): Promise<number> {
  const grants = await asService((tx) => takeParkedGrantsOf(tx, userId));
  for (const g of grants) await disposeGrant(g, "account_deleted");
  return grants.length;
}

// The cleanup: grants nobody completed in time, a bounded batch per call.
export async function disposeAbandoned(limit = 100): Promise<{ revoked: number; failed: number }> {
  const grants = await asService((tx) => takeExpiredParkedGrants(tx, limit));
  let failed = 0;
  for (const g of grants) if (await disposeGrant(g, "abandoned") === "failed") failed++;
  return { revoked: grants.length - failed, failed };
}
