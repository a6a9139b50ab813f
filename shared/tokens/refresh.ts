// One refresh of one token, inside a service transaction that holds the
// token's row lock (lockToken or claimDueToken). Because the lock is held
// through the provider call, concurrent callers wait and then find the token
// fresh: a provider sees one refresh, not one per caller. The new access token
// and a rotated refresh token are stored in the same transaction that records
// the new expiry, and every attempt is logged.
//
// Provider failures are returned, not thrown, so the caller can commit what
// they changed (backoff, needs_reauth, the log row) before answering.
import type { Tx } from "../db/client.ts";
import { AppError } from "../core/errors.ts";
import { log } from "../core/log.ts";
import { ProviderError } from "../providers/client.ts";
import { providerClient } from "../providers/registry.ts";
import { backoffSeconds, tokensConfig } from "./config.ts";
import {
  type LockedToken,
  logRefresh,
  markNeedsReauth,
  markRefreshed,
  markRefreshFailed,
  readSecrets,
  storeSecrets,
  type TokenRow,
} from "./store.ts";

export type RefreshType = "automatic" | "manual" | "scheduled";

export type RefreshOutcome =
  | { status: "success"; token: TokenRow; accessToken: string; rotated: boolean }
  | { status: "needs_reauth"; token: TokenRow; errorCode: string }
  | { status: "failed"; token: TokenRow; errorCode: string; timeout: boolean };

export async function refreshLocked(
  tx: Tx,
  token: LockedToken,
  type: RefreshType,
): Promise<RefreshOutcome> {
  const started = performance.now();
  const base = {
    token,
    type,
    previousExpiresAt: token.expires_at,
    retryCount: token.refresh_failures,
  };
  const elapsed = () => performance.now() - started;

  // The writes after a provider answer are independent: they go out together
  // on the transaction's connection (one round trip, not three).
  const reauth = async (errorCode: string, message: string): Promise<RefreshOutcome> => {
    const [updated] = await Promise.all([
      markNeedsReauth(tx, token.id, errorCode),
      logRefresh(tx, {
        ...base,
        status: "needs_reauth",
        newExpiresAt: null,
        rotated: false,
        errorCode,
        errorMessage: message,
        durationMs: elapsed(),
      }),
    ]);
    log("warn", "token needs reauthorization", {
      connection_id: token.id,
      provider: token.provider,
      refresh_type: type,
      error_code: errorCode,
    });
    return { status: "needs_reauth", token: updated, errorCode };
  };

  const fail = async (
    errorCode: string,
    message: string,
    timeout = false,
  ): Promise<RefreshOutcome> => {
    const config = tokensConfig();
    const wait = backoffSeconds(config, token.refresh_failures + 1);
    const [updated] = await Promise.all([
      markRefreshFailed(tx, token.id, errorCode, wait, config.TOKEN_EXHAUSTED_AFTER_HOURS),
      logRefresh(tx, {
        ...base,
        status: "failed",
        newExpiresAt: null,
        rotated: false,
        errorCode,
        errorMessage: message,
        durationMs: elapsed(),
      }),
    ]);
    log("warn", "token refresh failed", {
      connection_id: token.id,
      provider: token.provider,
      refresh_type: type,
      error_code: errorCode,
      retry_in_s: wait,
      status: updated.status,
    });
    return { status: "failed", token: updated, errorCode, timeout };
  };

  const client = providerClient(token.provider);
  if (!client) return await fail("provider_disabled", `${token.provider} is not configured`);
  const secrets = await readSecrets(tx, token.id, true);
  if (!secrets?.refresh_token) {
    return await reauth("no_refresh_token", "the provider never issued a refresh token");
  }

  let fresh;
  try {
    fresh = await client.refresh(secrets.refresh_token, token.granted_scopes);
  } catch (err) {
    if (!(err instanceof ProviderError)) throw err;
    if (err.kind === "invalid_grant") return await reauth("invalid_grant", err.message);
    return await fail(err.oauthError ?? err.kind, err.message, err.kind === "timeout");
  }

  // A new refresh token (rotation) replaces the old one here, in this
  // transaction; without one the stored refresh token stays as it is.
  const rotated = fresh.refreshToken !== null && fresh.refreshToken !== secrets.refresh_token;
  const [, updated] = await Promise.all([
    storeSecrets(tx, token.id, fresh.accessToken, rotated ? fresh.refreshToken : null),
    markRefreshed(tx, token.id, fresh.expiresAt, fresh.scopes),
    logRefresh(tx, {
      ...base,
      status: "success",
      newExpiresAt: fresh.expiresAt.toISOString(),
      rotated,
      errorCode: null,
      errorMessage: null,
      durationMs: elapsed(),
    }),
  ]);
  return { status: "success", token: updated, accessToken: fresh.accessToken, rotated };
}

// The HTTP answer for an outcome that is not a success.
export function outcomeError(outcome: Exclude<RefreshOutcome, { status: "success" }>): AppError {
  if (outcome.status === "needs_reauth") return needsReauth(outcome.errorCode);
  if (outcome.timeout) {
    return new AppError("provider_timeout", "the provider did not answer in time; retry later", {
      error_code: outcome.errorCode,
    });
  }
  return new AppError("provider_error", "the provider could not refresh the token; retry later", {
    error_code: outcome.errorCode,
  });
}

export function connectionExhausted(
  token: Pick<TokenRow, "id" | "last_error_code" | "failing_since">,
): AppError {
  return new AppError(
    "connection_exhausted",
    "refreshing this connection has failed for too long; the user must reconnect it or ask " +
      `for a refresh (POST /tokens/${token.id}/refresh)`,
    { error_code: token.last_error_code, failing_since: token.failing_since },
  );
}

export function needsReauth(errorCode: string | null): AppError {
  return new AppError(
    "needs_reauth",
    "the provider no longer accepts this connection; the user must reconnect it",
    { error_code: errorCode },
  );
}
