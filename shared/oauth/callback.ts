// The callback's work once its state is consumed: exchange the code, learn
// the account, and park the grant for the user who started the authorization
// to complete (shared/oauth/complete.ts). Nothing here stores a connection:
// whoever's browser arrives, only the starting user's session can finish.
import { asService } from "../db/client.ts";
import type { ErrorCode } from "../http/errors.ts";
import { secretWork } from "../tokens/access.ts";
import { hasConnection } from "../tokens/store.ts";
import { type ProviderAccount, ProviderError, type TokenSet } from "./client.ts";
import { disposeGrant, newCompletion } from "./grants.ts";
import { type ProviderId, servicesCovered } from "./providers.ts";
import { providerClient } from "./registry.ts";
import { type ConsumedState, parkGrant } from "./store.ts";

// Why a callback failed, as it appears in reason= and in the JSON details.
export type CallbackReason =
  | "unknown_state"
  | "expired"
  | "wrong_provider"
  | "access_denied"
  | "authorization_error"
  | "no_code"
  | "provider_disabled"
  | "exchange_rejected"
  | "exchange_failed"
  | "account_unavailable"
  | "account_closed";

export class CallbackFailure extends Error {
  constructor(readonly code: ErrorCode, readonly reason: CallbackReason, message: string) {
    super(message);
  }
}

const fail = (code: ErrorCode, reason: CallbackReason, message: string) =>
  new CallbackFailure(code, reason, message);

function fromProvider(err: unknown, step: "exchange" | "account"): CallbackFailure {
  if (!(err instanceof ProviderError)) throw err;
  if (err.kind === "timeout") {
    return fail(
      "provider_timeout",
      step === "exchange" ? "exchange_failed" : "account_unavailable",
      "the provider did not answer in time",
    );
  }
  if (step === "account") {
    return fail("provider_error", "account_unavailable", "the provider did not say who you are");
  }
  return err.kind === "invalid_grant" || err.kind === "rejected"
    ? fail("provider_error", "exchange_rejected", "the provider refused the authorization code")
    : fail("provider_error", "exchange_failed", "the provider failed to exchange the code");
}

export type Authorized = { completion: string; complete_by: string };

// Ten minutes to complete, as long as a state lives.
const COMPLETE_WITHIN_MS = 10 * 60_000;

export async function authorizeCallback(
  provider: ProviderId,
  state: ConsumedState,
  q: { code?: string; error?: string },
): Promise<Authorized> {
  if (state.expired) throw fail("invalid_state", "expired", "the authorization took too long");
  if (state.provider !== provider) {
    throw fail("invalid_state", "wrong_provider", "the state belongs to another provider");
  }
  if (q.error !== undefined) {
    throw q.error === "access_denied"
      ? fail("access_denied", "access_denied", "access was denied at the provider")
      : fail("provider_error", "authorization_error", "the provider reported an error");
  }
  if (!q.code) throw fail("provider_error", "no_code", "the provider sent no code");
  const client = providerClient(provider);
  if (!client) throw fail("provider_error", "provider_disabled", `${provider} is not enabled`);

  let tokens: TokenSet;
  try {
    tokens = await client.exchange(q.code, state.code_verifier);
  } catch (err) {
    throw fromProvider(err, "exchange");
  }
  let account: ProviderAccount;
  try {
    account = await client.account(tokens);
  } catch (err) {
    // Tokens we cannot keep are revoked, unless the user already has an
    // account connected at this provider: Google revokes a whole grant, and a
    // reconnect's tokens may belong to the grant already stored, which
    // revoking would end too.
    const shared = await asService((tx) => hasConnection(tx, state.user_id, provider))
      .catch(() => true);
    if (!shared) await client.revoke(tokens.refreshToken ?? tokens.accessToken).catch(() => {});
    throw fromProvider(err, "account");
  }
  return await park(
    provider,
    state,
    tokens,
    account,
    servicesCovered(client.provider, tokens.scopes ?? state.scopes, state.services),
  );
}

async function park(
  provider: ProviderId,
  state: ConsumedState,
  tokens: TokenSet,
  account: ProviderAccount,
  services: ReturnType<typeof servicesCovered>,
): Promise<Authorized> {
  const { code, hash } = newCompletion();
  const parked = await secretWork(() =>
    asService((tx) =>
      parkGrant(tx, {
        completionHash: hash,
        userId: state.user_id,
        provider,
        services: [...services].sort(),
        accountId: account.id,
        email: account.email,
        grantedScopes: tokens.scopes ?? state.scopes,
        expiresAt: tokens.expiresAt,
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken,
      })
    )
  );
  if (!parked) {
    // The account was deleted, or is being deleted, since the flow began.
    await disposeGrant({
      provider,
      provider_user_id: account.id,
      access_token: tokens.accessToken,
      refresh_token: tokens.refreshToken,
    }, "account_closed");
    throw fail("conflict", "account_closed", "the account that started this is being deleted");
  }
  return { completion: code, complete_by: new Date(Date.now() + COMPLETE_WITHIN_MS).toISOString() };
}
