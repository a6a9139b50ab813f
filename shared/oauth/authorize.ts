// Starting a connection (POST /oauth/authorize): check what the caller asks
// for against the provider's data, store a hashed single-use state with the
// PKCE verifier, and build the provider's authorization URL.
import type { z } from "@hono/zod-openapi";
import type { UserPrincipal } from "../auth/principal.ts";
import { asService, asUser } from "../db/client.ts";
import { AppError } from "../http/errors.ts";
import { knownScopes, type Service, servicesCovered } from "../providers/definitions.ts";
import { enabledProvider } from "../providers/registry.ts";
import { oauthConfig } from "./config.ts";
import { allowedRedirect } from "./redirect.ts";
import type { AuthorizeRequest, AuthorizeResponse } from "./schemas.ts";
import { hashState, newCodeVerifier, newState } from "./state.ts";
import { createState, pendingStates } from "./store.ts";

// Authorizations a user may have in flight at once; each lives ten minutes.
export const MAX_PENDING = 10;

const invalid = (path: string, message: string) =>
  new AppError("validation_failed", message, { issues: [{ path, message }] });

export async function startAuthorization(
  user: UserPrincipal,
  body: z.infer<typeof AuthorizeRequest>,
): Promise<z.infer<typeof AuthorizeResponse>> {
  // The user's own transaction first: it counts the request against the
  // auth rate limit, and RLS shows only the caller's pending states.
  if (await asUser(user, pendingStates) >= MAX_PENDING) {
    throw new AppError(
      "rate_limited",
      `${MAX_PENDING} authorizations are already in progress; finish one or wait ten minutes`,
      undefined,
      { "Retry-After": "600" },
    );
  }
  const client = enabledProvider(body.provider);
  const def = client.provider;

  const services = [...new Set(body.services ?? [])];
  for (const s of services) {
    if (!def.services[s]) throw invalid("services", `${def.id} does not offer ${s}`);
  }
  const known = new Set(knownScopes(def));
  for (const scope of body.scopes ?? []) {
    if (!known.has(scope)) throw invalid("scopes", `${def.id} does not list the scope ${scope}`);
  }
  const wanted: Service[] = [
    ...new Set([...services, ...servicesCovered(def, body.scopes ?? [])]),
  ];
  if (wanted.length === 0) {
    throw invalid("services", "ask for at least one service, or all the scopes of one");
  }
  const scopes = [
    ...new Set([
      ...def.identityScopes,
      ...wanted.flatMap((s) => def.services[s] ?? []),
      ...(body.scopes ?? []),
    ]),
  ];
  const redirectTo = redirectTarget(body.redirect_to);

  const state = newState();
  const codeVerifier = newCodeVerifier();
  const { expires_at } = await asService((tx) =>
    createState(tx, {
      stateHash: hashState(state),
      userId: user.userId,
      provider: def.id,
      services: wanted,
      scopes,
      codeVerifier,
      redirectTo,
    })
  );
  return {
    authorization_url: client.authorizationUrl(state, codeVerifier, scopes).href,
    provider: def.id,
    services: wanted,
    scopes,
    expires_at,
  };
}

function redirectTarget(redirectTo: string | undefined): string | null {
  if (redirectTo === undefined) return null;
  const ok = allowedRedirect(redirectTo, oauthConfig().redirectAllowlist);
  if (!ok) throw invalid("redirect_to", "redirect_to is not on the allow-list");
  return ok.href;
}
