// Starting a connection (POST /oauth/authorize): check what the caller asks
// for against the provider's data, store a hashed single-use state with the
// PKCE verifier, and build the provider's authorization URL.
import type { z } from "@hono/zod-openapi";
import type { UserPrincipal } from "../auth/principal.ts";
import { asService, queryAsUser } from "../db/client.ts";
import { AppError, notFound } from "../core/errors.ts";
import {
  type AccessMap,
  coverage,
  knownScopes,
  parseSpec,
  type ProviderDefinition,
  scopesFor,
  type Service,
  unionAccess,
} from "../providers/definitions.ts";
import { enabledProvider } from "../providers/registry.ts";
import { oauthConfig } from "./config.ts";
import { allowedRedirect } from "./redirect.ts";
import type { AuthorizeRequest, AuthorizeResponse } from "./schemas.ts";
import { hashState, newCodeVerifier, newState } from "./state.ts";
import { connectionToExtend, createState, type Extensible, pendingStates } from "./store.ts";

// Authorizations a user may have in flight at once; each lives ten minutes.
export const MAX_PENDING = 10;

const invalid = (path: string, message: string) =>
  new AppError("validation_failed", message, { issues: [{ path, message }] });

export async function startAuthorization(
  user: UserPrincipal,
  body: z.infer<typeof AuthorizeRequest>,
): Promise<z.infer<typeof AuthorizeResponse>> {
  // The user's own message first, one round trip (an API key is verified in
  // it): RLS shows only the caller's pending states and connections (another
  // user's connection_id is not found). Nothing before it reads the caller.
  const [[counted], found] = await queryAsUser(
    user,
    pendingStates(),
    ...(body.connection_id ? [connectionToExtend(body.connection_id)] : []),
  ) as unknown as [[{ n: number }], Extensible[]?];
  const pending = counted.n;
  const extending = found?.[0];
  if (pending >= MAX_PENDING) {
    throw new AppError(
      "rate_limited",
      `${MAX_PENDING} authorizations are already in progress; finish one or wait ten minutes`,
      undefined,
      { "Retry-After": "600" },
    );
  }
  const client = enabledProvider(body.provider);
  const def = client.provider;
  if (body.connection_id) checkExtensible(extending, def.id);

  const access = requestedAccess(def, body);
  const scopes = scopesToAsk(def, access, extending, body.scopes ?? []);
  const services = Object.keys(access) as Service[];
  const redirectTo = redirectTarget(body.redirect_to);

  const state = newState();
  const codeVerifier = newCodeVerifier();
  const { expires_at } = await asService((tx) =>
    createState(tx, {
      stateHash: hashState(state),
      userId: user.userId,
      provider: def.id,
      services,
      access,
      connectionId: body.connection_id ?? null,
      scopes,
      codeVerifier,
      redirectTo,
    })
  );
  return {
    authorization_url: client.authorizationUrl(state, codeVerifier, scopes).href,
    provider: def.id,
    services,
    access,
    connection_id: body.connection_id ?? null,
    scopes,
    expires_at,
  };
}

// The scope parameter. Extending a connection, the provider adds the earlier
// grant itself (Google's include_granted_scopes), or is asked for the earlier
// and the new levels together (Microsoft, dev).
function scopesToAsk(
  def: ProviderDefinition,
  access: AccessMap,
  extending: Extensible | undefined,
  extra: string[],
): string[] {
  const asked = extending && def.incremental === "union"
    ? unionAccess(extending.service_access, access)
    : access;
  return [...new Set([...def.identityScopes, ...scopesFor(def, asked), ...extra])];
}

// Per service, the level asked for: from services ("gmail", "gmail:read")
// and from extra scopes that make up a service's set.
function requestedAccess(
  def: ProviderDefinition,
  body: z.infer<typeof AuthorizeRequest>,
): AccessMap {
  const access: AccessMap = {};
  for (const spec of body.services ?? []) {
    const [service, level] = parseSpec(spec);
    if (!def.services[service]) throw invalid("services", `${def.id} does not offer ${service}`);
    if (access[service] && access[service] !== level) {
      throw invalid("services", `${service} is asked for twice, at two levels: name it once`);
    }
    access[service] = level;
  }
  const known = new Set(knownScopes(def));
  for (const scope of body.scopes ?? []) {
    if (!known.has(scope)) throw invalid("scopes", `${def.id} does not list the scope ${scope}`);
  }
  const all = unionAccess(access, coverage(def, body.scopes ?? []));
  if (Object.keys(all).length === 0) {
    throw invalid("services", "ask for at least one service, or all the scopes of one");
  }
  return all;
}

function checkExtensible(
  connection: Extensible | undefined,
  provider: ProviderDefinition["id"],
): asserts connection is Extensible {
  if (!connection) throw notFound("connection");
  if (connection.provider !== provider) {
    throw invalid("connection_id", `the connection is a ${connection.provider} connection`);
  }
  if (connection.status === "revoked") {
    throw new AppError(
      "conflict",
      "the connection is revoked; connect again without connection_id",
    );
  }
}

function redirectTarget(redirectTo: string | undefined): string | null {
  if (redirectTo === undefined) return null;
  const ok = allowedRedirect(redirectTo, oauthConfig().redirectAllowlist);
  if (!ok) throw invalid("redirect_to", "redirect_to is not on the allow-list");
  return ok.href;
}
