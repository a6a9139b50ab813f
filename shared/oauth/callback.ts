// The callback's work (GET /oauth/callback/{provider}): consume the state,
// exchange the code, learn the account, and park the grant for the user who
// started the authorization to complete (shared/oauth/complete.ts). Nothing
// here stores a connection: whoever's browser arrives, only the starting
// user's session can finish. The answer is where to send the browser (the
// app's redirect_to with the outcome in its query) or, without one, JSON.
import { asService } from "../db/client.ts";
import { AppError, type ErrorCode } from "../core/errors.ts";
import { log } from "../core/log.ts";
import { secretWork } from "../tokens/access.ts";
import { connectionAccount, hasConnection, priorAccess } from "../tokens/store.ts";
import { type ProviderAccount, ProviderError, type TokenSet } from "../providers/client.ts";
import { disposeGrant, newCompletion } from "./grants.ts";
import {
  type AccessMap,
  type AccessReport,
  accessReport,
  type ProviderId,
  specsOf,
} from "../providers/definitions.ts";
import { providerClient } from "../providers/registry.ts";
import { hashState, STATE_PATTERN } from "./state.ts";
import { type ConsumedState, consumeState, parkGrant } from "./store.ts";

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
  | "account_closed"
  | "wrong_account";

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

export type Authorized = {
  status: "authorized" | "partial";
  completion: string;
  complete_by: string;
  service_access: AccessMap;
  missing_access: AccessMap;
};

// Ten minutes to complete, as long as a state lives.
const COMPLETE_WITHIN_MS = 10 * 60_000;

export type CallbackOutcome =
  & { provider: ProviderId; redirectTo: string | null }
  & ({ ok: true; authorized: Authorized } | { ok: false; failure: CallbackFailure });

// Unknown or malformed states throw (there is nowhere safe to redirect);
// every later failure is an outcome, redirected to the app when it gave
// redirect_to.
export async function handleCallback(
  provider: ProviderId,
  q: { state?: string; code?: string; error?: string },
): Promise<CallbackOutcome> {
  if (!q.state || !STATE_PATTERN.test(q.state)) {
    throw new AppError("invalid_state", "the state is missing or malformed", {
      reason: "unknown_state",
    });
  }
  // Consumed in its own transaction: whatever happens next, it is spent.
  const state = await asService((tx) => consumeState(tx, hashState(q.state!)));
  if (!state) {
    throw new AppError("invalid_state", "the state is unknown, already used or expired", {
      reason: "unknown_state",
    });
  }
  const redirectTo = state.redirect_to;
  try {
    const authorized = await authorizeCallback(provider, state, q);
    log("info", "provider authorized; waiting for completion", {
      provider,
      user_id: state.user_id,
    });
    return { ok: true, provider, redirectTo, authorized };
  } catch (err) {
    if (!(err instanceof CallbackFailure)) throw err;
    log("warn", "provider connection failed", {
      provider,
      user_id: state.user_id,
      error_code: err.code, // "code" alone is masked by the logger (OAuth codes are secrets)
      reason: err.reason,
    });
    return { ok: false, provider, redirectTo, failure: err };
  }
}

// The app's redirect_to with the outcome in its query; null without one.
export function redirectFor(outcome: CallbackOutcome): URL | null {
  if (!outcome.redirectTo) return null;
  const to = new URL(outcome.redirectTo);
  if (outcome.ok) {
    const a = outcome.authorized;
    to.searchParams.set("status", a.status);
    to.searchParams.set("provider", outcome.provider);
    to.searchParams.set("completion", a.completion);
    // Services in the request's own spelling: "gmail" full, "gmail:read" read-only.
    to.searchParams.set("services", specsOf(a.service_access).join(","));
    if (a.status === "partial") to.searchParams.set("missing", specsOf(a.missing_access).join(","));
  } else {
    to.searchParams.set("status", "error");
    to.searchParams.set("code", outcome.failure.code);
    to.searchParams.set("reason", outcome.failure.reason);
    to.searchParams.set("provider", outcome.provider);
  }
  return to;
}

async function authorizeCallback(
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
  const granted = tokens.scopes ?? state.scopes;
  const { prior, target } = await asService(async (tx) => ({
    prior: await priorAccess(tx, state.user_id, provider, account.id),
    target: state.connection_id
      ? await connectionAccount(tx, state.connection_id, state.user_id)
      : undefined,
  }));
  if (state.connection_id && target !== account.id) {
    // Extending a connection with another account's grant would merge two
    // accounts: the grant is disposed of, and the app told why.
    await disposeGrant({
      provider,
      provider_user_id: account.id,
      access_token: tokens.accessToken,
      refresh_token: tokens.refreshToken,
    }, "wrong_account");
    throw fail(
      "conflict",
      "wrong_account",
      "you signed in to another account than the connection being extended; connect it " +
        "without connection_id, or sign in to the same account",
    );
  }
  const report = accessReport(client.provider, granted, state.access, prior);
  return await park(provider, state, { ...tokens, scopes: granted }, account, report);
}

async function park(
  provider: ProviderId,
  state: ConsumedState,
  tokens: TokenSet & { scopes: string[] },
  account: ProviderAccount,
  report: AccessReport,
): Promise<Authorized> {
  const { code, hash } = newCompletion();
  const parked = await secretWork(() =>
    asService((tx) =>
      parkGrant(tx, {
        completionHash: hash,
        userId: state.user_id,
        provider,
        services: report.services,
        requested: state.access,
        accountId: account.id,
        email: account.email,
        grantedScopes: tokens.scopes,
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
  return {
    status: report.partial ? "partial" : "authorized",
    completion: code,
    complete_by: new Date(Date.now() + COMPLETE_WITHIN_MS).toISOString(),
    service_access: report.access,
    missing_access: report.missing,
  };
}
