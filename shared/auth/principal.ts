// Who is calling, once authenticated. Every handler works from this, never
// from raw headers.
import type { Claims } from "./jwt.ts";
import type { Scope } from "./scopes.ts";

export type UserPrincipal = {
  kind: "user";
  userId: string;
  isAdmin: boolean;
  // An anonymous sign-in (Supabase Auth's is_anonymous claim). Never a key's
  // owner: anonymous users cannot create keys.
  isAnonymous: boolean;
  claims: Claims;
  // Set when the caller authenticated with an API key: its id and scopes.
  apiKeyId?: string;
  scopes?: readonly Scope[];
};

export type ServicePrincipal = { kind: "service"; claims: Claims };

export type Principal = UserPrincipal | ServicePrincipal;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Maps verified claims to a principal; null for tokens that name no caller we
// serve (the anon key, a user token without a user id).
export function principalFromClaims(claims: Claims): Principal | null {
  if (claims.role === "service_role") return { kind: "service", claims };
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (
    claims.role === "authenticated" && audiences.includes("authenticated") &&
    typeof claims.sub === "string" && UUID.test(claims.sub)
  ) {
    return {
      kind: "user",
      userId: claims.sub,
      isAdmin: claims.app_metadata?.role === "admin",
      isAnonymous: claims.is_anonymous === true,
      claims,
    };
  }
  return null;
}
