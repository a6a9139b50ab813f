// Route middleware: authenticates the caller and puts the principal on the
// context. A user route names the scope an API key needs and its rate class.
import { createMiddleware } from "hono/factory";
import { config } from "../config.ts";
import { AppError } from "../core/errors.ts";
import type { AppEnv } from "./context.ts";
import { COSTLY_CLASSES, deferOwnerHit, rateHeaders, takeHit } from "./rate-limit.ts";
import type { KeyPending } from "../db/client.ts";
import { looksLikeApiKey, resolveApiKey } from "./api-keys.ts";
import { type KeyRequest, planKeyCheck, type VerifiedKey, verifyKeyNow } from "./key-check.ts";
import { createVerifier } from "./jwt.ts";
import { type Principal, principalFromClaims, type UserPrincipal } from "./principal.ts";
import type { RateClass, Scope } from "./scopes.ts";
import { serviceKeyMatcher } from "./service-keys.ts";

// A key principal whose verification rides on the route's first message.
type PendingKeyPrincipal = UserPrincipal & KeyPending;

let verify: ReturnType<typeof createVerifier> | undefined;
let isServiceKey: ((candidate: string) => boolean) | undefined;

// The isolate's one JWT verifier (it keeps the verified-token cache).
export function verifier() {
  const c = config();
  return verify ??= createVerifier({
    secret: c.LEGACY_JWT_SECRET,
    jwksUrl: c.JWKS_URL,
    issuers: c.JWT_ISSUERS,
  });
}

const SERVICE: Principal = { kind: "service", claims: { role: "service_role" } };

function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

function refuse(message: string): AppError {
  return new AppError("unauthorized", message, undefined, { "WWW-Authenticate": "Bearer" });
}

type Credentials = { jwt?: string; apiKey?: string };

// A key may come as X-API-Key or as a bearer token that is not a JWT.
function credentials(
  authorization: string | undefined,
  apiKeyHeader: string | undefined,
): Credentials {
  const bearer = bearerToken(authorization);
  if (authorization !== undefined && bearer === undefined) {
    throw refuse("the Authorization header is malformed");
  }
  const bearerIsKey = bearer !== undefined && looksLikeApiKey(bearer);
  if (bearerIsKey && apiKeyHeader !== undefined) throw refuse("send one API key, not two");
  return { jwt: bearerIsKey ? undefined : bearer, apiKey: bearerIsKey ? bearer : apiKeyHeader };
}

function keyPrincipal(v: VerifiedKey): UserPrincipal {
  return {
    kind: "user",
    userId: v.userId,
    isAdmin: false, // keys never carry admin rights
    isAnonymous: false, // anonymous users cannot create keys (API and database)
    apiKeyId: v.keyId,
    scopes: v.scopes,
    claims: v.claims,
  };
}

// A key whose verification rides on the route's first message (one-trip
// routes): who it names is known only once that message has run, and reading
// it before is a bug in the route, so it throws.
function pendingKeyPrincipal(req: KeyRequest): PendingKeyPrincipal {
  let verified: UserPrincipal | undefined;
  const need = (): UserPrincipal => {
    if (verified) return verified;
    throw new Error(
      "the API key is not verified yet: read the caller after the route's first query",
    );
  };
  const principal: PendingKeyPrincipal = {
    kind: "user",
    isAdmin: false,
    isAnonymous: false,
    get userId() {
      return need().userId;
    },
    get apiKeyId() {
      return need().apiKeyId;
    },
    get scopes() {
      return need().scopes;
    },
    get claims() {
      return need().claims;
    },
  };
  principal.keyCheck = planKeyCheck(req, (v) => (verified = keyPrincipal(v)));
  return principal;
}

// Routes no key may use (session-only and service routes) only tell an
// invalid key (401) from a valid one they refuse (403): the key is resolved,
// not verified, so it spends nothing and counts no use.
async function keyForRefusal(key: string, fromJwt: Principal | null | undefined) {
  const resolved = await resolveApiKey(key);
  if (!resolved) throw refuse("the API key is invalid, expired or revoked");
  if (fromJwt?.kind === "user" && fromJwt.userId !== resolved.userId) {
    throw refuse("the token and the API key belong to different users");
  }
  return keyPrincipal({
    keyId: resolved.id,
    userId: resolved.userId,
    scopes: resolved.scopes,
    claims: { sub: resolved.userId, role: "authenticated", aud: "authenticated" },
  });
}

type KeyRoute = Omit<KeyRequest, "key" | "expectUser"> & { oneTrip: boolean };

// Both given: both must be valid and name the same user; the key's scopes apply.
// A key is verified here, alone, unless the route takes it into its own message.
async function authenticate(
  c: { req: { header(name: string): string | undefined } },
  route?: KeyRoute,
): Promise<Principal | null> {
  const { jwt, apiKey } = credentials(c.req.header("Authorization"), c.req.header("X-API-Key"));
  if (!jwt && !apiKey) throw refuse("a bearer token or an API key is required");
  isServiceKey ??= serviceKeyMatcher(config().SERVICE_KEYS);
  if (jwt && !apiKey && isServiceKey(jwt)) return SERVICE;
  const fromJwt = jwt ? principalFromClaims(await verifier()(jwt)) : undefined;
  if (!apiKey) return fromJwt ?? null;
  if (jwt && fromJwt?.kind !== "user") throw refuse("the token does not name a user");
  if (!looksLikeApiKey(apiKey)) throw refuse("the API key is invalid, expired or revoked");
  if (!route) return await keyForRefusal(apiKey, fromJwt);
  const req: KeyRequest = {
    key: apiKey,
    expectUser: fromJwt?.kind === "user" ? fromJwt.userId : undefined,
    scope: route.scope,
    rateClass: route.rateClass,
    onHeaders: route.onHeaders,
  };
  if (route.oneTrip) return pendingKeyPrincipal(req);
  return keyPrincipal(await verifyKeyNow(req));
}

export type UserRouteOptions = {
  // Routes that manage credentials or the account itself refuse API keys.
  sessionOnly?: boolean;
  // Routes that create or vend credentials (API keys, provider connections
  // and their tokens, paid HeyGen tokens) refuse anonymous sign-ins: see
  // docs/decisions.md, "What anonymous users may do".
  refuseAnonymous?: boolean;
  // A costly route that sends the owner's rate-limit hit itself, first in its
  // own first round trip (c.get("deferredHit")), and sets the headers.
  deferRateLimit?: boolean;
  // Routes the service may also call, acting as an owner of its own (the
  // service's webhook endpoints, which receive every user's events). The
  // handler then finds a service principal and no user.
  // (A string says in the OpenAPI document what the service may do here.)
  allowService?: true | string;
  // The route's first database access is one message (queryAsUser,
  // queryAsServiceFor) or a transaction begun by asServiceFor or
  // asUserWithKey, and nothing before it reads the caller: an API key is
  // verified inside that message (shared/auth/key-check.ts), not before it.
  oneTrip?: boolean;
};

export function requireUser(
  scope: Scope,
  rateClass: RateClass = "default",
  opts: UserRouteOptions = {},
) {
  return createMiddleware<AppEnv>(async (c, next) => {
    // Session-only routes refuse keys below, whatever the key: they verify
    // none (no credits spent, no usage counted).
    const principal = await authenticate(
      c,
      opts.sessionOnly ? undefined : {
        scope,
        rateClass,
        oneTrip: opts.oneTrip === true,
        onHeaders: (headers) => {
          for (const [name, value] of Object.entries(headers)) c.header(name, value);
        },
      },
    );
    if (principal?.kind === "service" && opts.allowService) {
      c.set("principal", principal);
      return await next();
    }
    if (principal?.kind !== "user") throw refuse("this route needs a signed-in user's token");
    const pendingKey = (principal as PendingKeyPrincipal).keyCheck !== undefined;
    if (pendingKey) {
      // Scope, limits and credits are the verification's; it sets the headers.
      c.set("user", principal);
      c.set("principal", principal);
      return await next();
    }
    if (principal.apiKeyId && opts.sessionOnly) {
      throw new AppError(
        "forbidden",
        "this route needs the user's own session token, not an API key",
      );
    }
    if (principal.isAnonymous && opts.refuseAnonymous) {
      throw new AppError(
        "anonymous_not_allowed",
        "anonymous users cannot do this: sign up first (link an e-mail address or a provider " +
          "identity to this anonymous user, then use its new token)",
      );
    }
    if (principal.scopes && !principal.scopes.includes(scope)) {
      throw new AppError("insufficient_scope", `this API key lacks the ${scope} scope`, {
        required: scope,
      });
    }
    // Before the route runs, so a refused request does nothing and every
    // answer, errors included, carries the headers; or, for a route that asks,
    // first in the route's own round trip. A key's verification has counted
    // its hit already.
    if (opts.deferRateLimit && COSTLY_CLASSES.has(rateClass) && !principal.apiKeyId) {
      c.set("deferredHit", deferOwnerHit(principal, rateClass));
    } else if (!principal.apiKeyId) {
      const rate = await takeHit(principal, rateClass);
      for (const [name, value] of Object.entries(rateHeaders(rate))) c.header(name, value);
    }
    c.set("user", principal);
    c.set("principal", principal);
    await next();
  });
}

// Machine routes: the service_role key (pg_cron, workers), or also an admin
// user when `admins` is set. API keys never reach these.
export function requireService(opts: { admins?: boolean } = {}) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const principal = await authenticate(c);
    if (!principal) throw refuse("this route needs a service or admin token");
    const allowed = principal.kind === "service" ||
      (opts.admins === true && principal.isAdmin && !principal.apiKeyId);
    if (!allowed) {
      throw new AppError(
        "forbidden",
        `this route is for the service${opts.admins ? " or admins" : ""}`,
      );
    }
    c.set("principal", principal);
    await next();
  });
}
