import { createRoute } from "@hono/zod-openapi";
import { asService, asUser } from "../../db/client.ts";
import type { App } from "../../http/app.ts";
import { AppError } from "../../http/errors.ts";
import {
  errorResponses,
  errorResponsesWith,
  jsonBody,
  jsonResponse,
  REFUSES_ANONYMOUS,
  userAccess,
} from "../../http/openapi.ts";
import { oauthConfig } from "../config.ts";
import { knownScopes, type Service, servicesCovered } from "../providers.ts";
import { allowedRedirect } from "../redirect.ts";
import { enabledProvider } from "../registry.ts";
import { AuthorizeRequest, AuthorizeResponse } from "../schemas.ts";
import { hashState, newCodeVerifier, newState } from "../state.ts";
import { createState, pendingStates } from "../store.ts";

export const route = createRoute({
  method: "post",
  path: "/authorize",
  summary: "Start connecting a provider account: returns the URL to send the browser to",
  description: "Stores the SHA-256 of a random state (single use, ten minutes, bound to the " +
    "caller) with the PKCE S256 verifier, and returns the provider's authorization URL.",
  tags: ["oauth"],
  // Connecting a provider account is not for anonymous users.
  ...userAccess("tokens:write", "auth", { refuseAnonymous: true }),
  request: { body: jsonBody(AuthorizeRequest) },
  responses: {
    200: jsonResponse("Where to send the user", AuthorizeResponse),
    ...errorResponses(400, 401, 413, 429),
    ...errorResponsesWith(REFUSES_ANONYMOUS)(403),
  },
});

// Authorizations a user may have in flight at once; each lives ten minutes.
export const MAX_PENDING = 10;

const invalid = (path: string, message: string) =>
  new AppError("validation_failed", message, { issues: [{ path, message }] });

export function register(app: App) {
  app.openapi(route, async (c) => {
    const body = c.req.valid("json");
    // The user's own transaction first: it counts the request against the
    // auth rate limit, and RLS shows only the caller's pending states.
    if (await asUser(c.get("user"), pendingStates) >= MAX_PENDING) {
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

    let redirectTo: string | null = null;
    if (body.redirect_to !== undefined) {
      const ok = allowedRedirect(body.redirect_to, oauthConfig().redirectAllowlist);
      if (!ok) throw invalid("redirect_to", "redirect_to is not on the allow-list");
      redirectTo = ok.href;
    }

    const state = newState();
    const codeVerifier = newCodeVerifier();
    const { expires_at } = await asService((tx) =>
      createState(tx, {
        stateHash: hashState(state),
        userId: c.get("user").userId,
        provider: def.id,
        services: wanted,
        scopes,
        codeVerifier,
        redirectTo,
      })
    );
    c.header("Cache-Control", "no-store");
    return c.json({
      authorization_url: client.authorizationUrl(state, codeVerifier, scopes).href,
      provider: def.id,
      services: wanted,
      scopes,
      expires_at,
    }, 200);
  });
}
