// Route middleware: authenticates the caller and puts the principal on the
// context. A route that needs a user lists requireUser in its definition.
import { createMiddleware } from "hono/factory";
import { config } from "../config.ts";
import { AppError } from "../http/errors.ts";
import type { AppEnv } from "../http/context.ts";
import { createVerifier } from "./jwt.ts";
import { type Principal, principalFromClaims } from "./principal.ts";
import type { RateClass, Scope } from "./scopes.ts";

let verify: ReturnType<typeof createVerifier> | undefined;

function verifier() {
  const c = config();
  return verify ??= createVerifier({
    secret: c.SUPABASE_JWT_SECRET,
    jwksUrl: c.JWKS_URL,
    issuers: c.JWT_ISSUERS,
  });
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = header?.match(/^Bearer\s+(\S+)\s*$/i);
  return match?.[1];
}

async function authenticate(header: string | undefined): Promise<Principal | null> {
  const token = bearerToken(header);
  if (!token) {
    throw new AppError("unauthorized", "a bearer token is required", undefined, {
      "WWW-Authenticate": "Bearer",
    });
  }
  return principalFromClaims(await verifier()(token));
}

function refuse(message: string): AppError {
  return new AppError("unauthorized", message, undefined, { "WWW-Authenticate": "Bearer" });
}

// A signed-in user acting for themselves. `scope` is the permission an API key
// needs for this route; `rateClass` picks the rate-limit bucket.
export function requireUser(scope: Scope, rateClass: RateClass = "default") {
  return createMiddleware<AppEnv>(async (c, next) => {
    const principal = await authenticate(c.req.header("Authorization"));
    if (principal?.kind !== "user") throw refuse("this route needs a signed-in user's token");
    principal.scope = scope;
    principal.rateClass = rateClass;
    c.set("user", principal);
    c.set("principal", principal);
    await next();
  });
}

// Machine routes: the service_role key (pg_cron, workers), or also an admin
// user when `admins` is set.
export function requireService(opts: { admins?: boolean } = {}) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const principal = await authenticate(c.req.header("Authorization"));
    if (!principal) throw refuse("this route needs a service or admin token");
    const allowed = principal.kind === "service" || (opts.admins === true && principal.isAdmin);
    if (!allowed) {
      throw new AppError(
        "forbidden",
        "this route is for the service" + (opts.admins ? " or admins" : ""),
      );
    }
    c.set("principal", principal);
    await next();
  });
}
