// Route middleware: authenticates the caller and puts the principal on the
// context. A route that needs a user lists requireUser in its definition.
import { createMiddleware } from "hono/factory";
import { config } from "../config.ts";
import { AppError } from "../http/errors.ts";
import type { AppEnv } from "../http/context.ts";
import { createVerifier } from "./jwt.ts";
import { principalFromClaims } from "./principal.ts";

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

export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const token = bearerToken(c.req.header("Authorization"));
  if (!token) {
    throw new AppError("unauthorized", "a bearer token is required", undefined, {
      "WWW-Authenticate": "Bearer",
    });
  }
  const principal = principalFromClaims(await verifier()(token));
  if (principal?.kind !== "user") {
    throw new AppError("unauthorized", "this route needs a signed-in user's token", undefined, {
      "WWW-Authenticate": "Bearer",
    });
  }
  c.set("user", principal);
  await next();
});
