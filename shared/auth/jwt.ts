// Verifies Supabase Auth JWTs: HS256 with the legacy project secret, or the
// project's asymmetric signing keys from its JWKS. The algorithm family is
// chosen from the key material we hold, never from the token alone, so a
// token "signed" with a public key as an HMAC secret cannot pass.
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JWTPayload,
  jwtVerify,
} from "jose";
import { AppError } from "../http/errors.ts";

export type Claims = JWTPayload & {
  role?: string;
  email?: string;
  app_metadata?: Record<string, unknown>;
  user_metadata?: Record<string, unknown>;
};

export type VerifierOptions = { secret?: string; jwksUrl: URL; issuers: string[] };

const ASYMMETRIC = ["ES256", "RS256", "EdDSA"];
const MAX_TOKEN_LENGTH = 8192;

export function createVerifier(opts: VerifierOptions): (token: string) => Promise<Claims> {
  const secret = opts.secret ? new TextEncoder().encode(opts.secret) : undefined;
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
      const options = { issuer: opts.issuers, clockTolerance: 5 };
      if (alg === "HS256" && secret) {
        return (await jwtVerify<Claims>(token, secret, { ...options, algorithms: ["HS256"] }))
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
