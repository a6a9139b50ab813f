import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { App } from "../../http/app.ts";
import type { AppEnv } from "../../auth/context.ts";
import { AppError } from "../../core/errors.ts";
import { errorResponses, jsonResponse } from "../../http/openapi.ts";
import { limitByAddress } from "../../http/public-limit.ts";
import { requireEncryptionKey } from "../../tokens/vault.ts";
import { handleCallback, redirectFor } from "../callback.ts";
import { CallbackParams, CallbackQuery, CallbackResult } from "../schemas.ts";

export const route = createRoute({
  method: "get",
  path: "/callback/{provider}",
  summary: "Where the provider sends the browser back (public)",
  description: "Consumes the state (single use; refused when unknown, replayed, expired or for " +
    "another provider), exchanges the code with the PKCE verifier, reads the account and parks " +
    "the grant, encrypted, for ten minutes. It stores no connection: the app finishes with POST " +
    "/oauth/complete, signed in as the user who started the authorization. Redirects to " +
    "redirect_to with status=authorized&provider&completion&services, " +
    "status=partial&provider&completion&services&missing (the user unticked some scopes at " +
    "consent; services and missing are spelled as in the request: gmail for full access, " +
    "gmail:read for read-only), or status=error&code&reason (reason=wrong_account, code " +
    "conflict, when a connection_id authorization came back with another account); " +
    "answers JSON when the authorization had no redirect_to (or the state is unknown).",
  tags: ["oauth"],
  // Public (the browser arrives without a JWT): limited per client address.
  middleware: [limitByAddress, requireEncryptionKey] as const,
  request: { params: CallbackParams, query: CallbackQuery },
  responses: {
    200: jsonResponse("Authorized; complete it (no redirect_to)", CallbackResult),
    302: { description: "Back to redirect_to with status=authorized, partial or error" },
    ...errorResponses(400, 429, 503),
    403: jsonResponse("The user denied access at the provider (access_denied)", CallbackResult),
    409: {
      description: "Extending a connection, the user signed in to another account " +
        "(conflict, reason wrong_account); the grant is not kept",
    },
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
    const outcome = await handleCallback(c.req.valid("param").provider, c.req.valid("query"));
    const to = redirectFor(outcome);
    if (to) return c.redirect(to.href, 302);
    if (!outcome.ok) {
      const { code, message, reason } = outcome.failure;
      throw new AppError(code, message, { reason });
    }
    return c.json({ provider: outcome.provider, ...outcome.authorized }, 200);
  });
}
