import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { asService } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import type { AppEnv } from "../../http/context.ts";
import { AppError } from "../../http/errors.ts";
import { log } from "../../http/log.ts";
import { errorResponses, jsonResponse } from "../../http/openapi.ts";
import { limitByAddress } from "../../http/public-limit.ts";
import { requireEncryptionKey } from "../../tokens/vault.ts";
import { authorizeCallback, CallbackFailure } from "../callback.ts";
import { CallbackParams, CallbackQuery, CallbackResult } from "../schemas.ts";
import { hashState, STATE_PATTERN } from "../state.ts";
import { consumeState } from "../store.ts";

export const route = createRoute({
  method: "get",
  path: "/callback/{provider}",
  summary: "Where the provider sends the browser back (public)",
  description: "Consumes the state (single use; refused when unknown, replayed, expired or for " +
    "another provider), exchanges the code with the PKCE verifier, reads the account and parks " +
    "the grant, encrypted, for ten minutes. It stores no connection: the app finishes with POST " +
    "/oauth/complete, signed in as the user who started the authorization. Redirects to " +
    "redirect_to with status=authorized&provider&completion or status=error&code&reason; " +
    "answers JSON when the authorization had no redirect_to (or the state is unknown).",
  tags: ["oauth"],
  // Public (the browser arrives without a JWT): limited per client address.
  middleware: [limitByAddress, requireEncryptionKey] as const,
  request: { params: CallbackParams, query: CallbackQuery },
  responses: {
    200: jsonResponse("Authorized; complete it (no redirect_to)", CallbackResult),
    302: { description: "Back to redirect_to with status=authorized or status=error" },
    ...errorResponses(400, 429, 503),
    403: jsonResponse("The user denied access at the provider (access_denied)", CallbackResult),
    502: { description: "The provider failed or refused (provider_error)" },
    504: { description: "The provider did not answer in time (provider_timeout)" },
  },
});

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
      const authorized = await authorizeCallback(provider, state, q);
      log("info", "provider authorized; waiting for completion", {
        provider,
        user_id: state.user_id,
      });
      if (state.redirect_to) {
        const to = new URL(state.redirect_to);
        to.searchParams.set("status", "authorized");
        to.searchParams.set("provider", provider);
        to.searchParams.set("completion", authorized.completion);
        return c.redirect(to.href, 302);
      }
      return c.json({ status: "authorized" as const, provider, ...authorized }, 200);
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
