// Verifies Supabase Auth JWTs: the project's asymmetric signing keys from its
// JWKS, or HS256 only when a legacy project secret is configured. The algorithm family is
// chosen from the key material we hold, never from the token alone, so a
// token "signed" with a public key as an HMAC secret cannot pass.
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  jwtVerify,
} from "jose";
import { AppError } from "../core/errors.ts";

export type Claims = JWTPayload & {
  role?: string;
  email?: string;
  is_anonymous?: boolean;
  app_metadata?: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
};

export type VerifierOptions = { secret?: string; jwksUrl: URL; issuers: string[] };

const ASYMMETRIC = ["ES256", "RS256", "EdDSA"];
const MAX_TOKEN_LENGTH = 8192;

// Verified tokens are remembered per isolate until they expire (at most a
// minute, so a rotated signing key takes effect soon): a client sends the same
// token with every request, and checking it again is most of the auth cost.
const CACHE_MS = 60_000;
const CACHE_ENTRIES = 10_000;

export function createVerifier(opts: VerifierOptions): (token: string) => Promise<Claims> {
  const verify = signatureVerifier(opts);
  const cache = new Map<string, { claims: Claims; until: number }>();
  return async (token) => {
    const now = Date.now();
    const hit = cache.get(token);
    if (hit && hit.until > now) return hit.claims;
    const claims = await verify(token);
    const until = Math.min((claims.exp ?? 0) * 1000, now + CACHE_MS);
    if (cache.size >= CACHE_ENTRIES) cache.delete(cache.keys().next().value!);
    cache.set(token, { claims, until });
    return claims;
  };
}

function signatureVerifier(opts: VerifierOptions): (token: string) => Promise<Claims> {
  // Imported once: jose would import a raw secret again on every call.
  const secret = opts.secret
    ? crypto.subtle.importKey(
      "raw",
      new TextEncoder().encode(opts.secret),
      {
        name: "HMAC",
        hash: "SHA-256",
      },
      false,
      ["verify"],
    )
    : undefined;
  const jwks = createRemoteJWKSet(opts.jwksUrl, {
    cooldownDuration: 30_000,
    timeoutDuration: 5_000,
  });

  return async (token) => {
    if (token.length > MAX_TOKEN_LENGTH) throw unauthorized("token is too large");
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw unauthorized("token is malformed");
    }
    try {
      // GoTrue always sets exp; a token without one would never expire (and
      // could not be cached until its exp), so it is refused.
      const options = { issuer: opts.issuers, clockTolerance: 5, requiredClaims: ["exp"] };
      if (alg === "HS256" && secret) {
        return (await jwtVerify<Claims>(token, await secret, { ...options, algorithms: ["HS256"] }))
          .payload;
      }
      if (alg && ASYMMETRIC.includes(alg)) {
        return (await jwtVerify<Claims>(token, jwks, { ...options, algorithms: ASYMMETRIC }))
          .payload;
      }
      throw unauthorized("token algorithm is not accepted");
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (err instanceof errors.JWTExpired) throw unauthorized("token has expired");
      if (err instanceof errors.JWTClaimValidationFailed && err.reason === "missing") {
        throw unauthorized(`token has no ${err.claim} claim`);
      }
      // Not a verdict on the token: the key set could not be fetched.
      if (err instanceof errors.JWKSTimeout || !(err instanceof errors.JOSEError)) {
        throw new AppError("service_unavailable", "signing keys are unavailable, retry shortly");
      }
      throw unauthorized("token is invalid");
    }
  };
}

function unauthorized(message: string): AppError {
  return new AppError("unauthorized", message, undefined, { "WWW-Authenticate": "Bearer" });
}
