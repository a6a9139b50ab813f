import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { asService } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import type { AppEnv } from "../../http/context.ts";
import { AppError, type ErrorCode } from "../../http/errors.ts";
import { log } from "../../http/log.ts";
import { errorResponses, jsonResponse } from "../../http/openapi.ts";
import { limitByAddress } from "../../http/public-limit.ts";
import { secretWork } from "../../tokens/access.ts";
import { hasConnection, saveConnection, type TokenRow } from "../../tokens/store.ts";
import { requireEncryptionKey } from "../../tokens/vault.ts";
import { type ProviderAccount, ProviderError, type TokenSet } from "../client.ts";
import { servicesCovered } from "../providers.ts";
import { providerClient } from "../registry.ts";
import { CallbackParams, CallbackQuery, CallbackResult } from "../schemas.ts";
import { hashState, STATE_PATTERN } from "../state.ts";
import { type ConsumedState, consumeState } from "../store.ts";

export const route = createRoute({
  method: "get",
  path: "/callback/{provider}",
  summary: "Where the provider sends the browser back (public)",
  description: "Consumes the state (single use; refused when unknown, replayed, expired or for " +
    "another provider), exchanges the code with the PKCE verifier, reads the account and stores " +
    "the connection for the user who started the authorization. Redirects to redirect_to with " +
    "status=connected&provider&token_id or status=error&code&reason; answers JSON when the " +
    "authorization had no redirect_to (or the state is unknown).",
  tags: ["oauth"],
  // Public (the browser arrives without a JWT): limited per client address.
  middleware: [limitByAddress, requireEncryptionKey] as const,
  request: { params: CallbackParams, query: CallbackQuery },
  responses: {
    200: jsonResponse("Connected (no redirect_to)", CallbackResult),
    302: { description: "Back to redirect_to with status=connected or status=error" },
    ...errorResponses(400, 429, 503),
    403: jsonResponse("The user denied access at the provider (access_denied)", CallbackResult),
    502: { description: "The provider failed or refused (provider_error)" },
    504: { description: "The provider did not answer in time (provider_timeout)" },
  },
});

// Why a callback failed, as it appears in reason= and in the JSON details.
type Reason =
  | "unknown_state"
  | "expired"
  | "wrong_provider"
  | "access_denied"
  | "authorization_error"
  | "no_code"
  | "provider_disabled"
  | "exchange_rejected"
  | "exchange_failed"
  | "account_unavailable";

class CallbackFailure extends Error {
  constructor(readonly code: ErrorCode, readonly reason: Reason, message: string) {
    super(message);
  }
}

const fail = (code: ErrorCode, reason: Reason, message: string) =>
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

function noStore(c: Context<AppEnv>) {
  c.header("Cache-Control", "no-store");
  c.header("Referrer-Policy", "no-referrer");
}

export function register(app: App) {
  app.openapi(route, async (c) => {
    noStore(c);
    const { provider } = c.req.valid("param");
    const q = c.req.valid("query");
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
    try {
      const token = await complete(provider, state, q);
      log("info", "provider connected", {
        provider,
        connection_id: token.id,
        user_id: token.user_id,
      });
      if (state.redirect_to) {
        const to = new URL(state.redirect_to);
        to.searchParams.set("status", "connected");
        to.searchParams.set("provider", provider);
        to.searchParams.set("token_id", token.id);
        return c.redirect(to.href, 302);
      }
      return c.json({ status: "connected" as const, provider, token }, 200);
    } catch (err) {
      if (!(err instanceof CallbackFailure)) throw err;
      log("warn", "provider connection failed", {
        provider,
        user_id: state.user_id,
        error_code: err.code, // "code" alone is masked by the logger (OAuth codes are secrets)
        reason: err.reason,
      });
      if (state.redirect_to) {
        const to = new URL(state.redirect_to);
        to.searchParams.set("status", "error");
        to.searchParams.set("code", err.code);
        to.searchParams.set("reason", err.reason);
        to.searchParams.set("provider", provider);
        return c.redirect(to.href, 302);
      }
      throw new AppError(err.code, err.message, { reason: err.reason });
    }
  });
}

async function complete(
  provider: ConsumedState["provider"],
  state: ConsumedState,
  q: { code?: string; error?: string },
): Promise<TokenRow> {
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
  return await secretWork(() =>
    asService((tx) =>
      saveConnection(tx, {
        userId: state.user_id,
        provider,
        services: servicesCovered(client.provider, granted, state.services).sort(),
        accountId: account.id,
        email: account.email,
        grantedScopes: granted,
        expiresAt: tokens.expiresAt,
        accessToken: tokens.accessToken,
        refreshToken: tokens.refreshToken,
      })
    )
  );
}
