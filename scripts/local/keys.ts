// Local signing material, identical to what `supabase start` uses, so that
// clients and scripts work against either stack unchanged.
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";

export const LOCAL_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";
const DEMO_EXP = 1983812996;

async function hs256(payload: Record<string, unknown>, secret = LOCAL_JWT_SECRET) {
  return await new SignJWT(payload)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(secret));
}

// The CLI's demo keys: {"iss":"supabase-demo","role":...,"exp":1983812996}.
export const anonKey = () => hs256({ iss: "supabase-demo", role: "anon", exp: DEMO_EXP });
export const serviceRoleKey = () =>
  hs256({ iss: "supabase-demo", role: "service_role", exp: DEMO_EXP });

export type UserTokenOptions = {
  userId: string;
  email: string;
  apiUrl: string;
  ttlSeconds?: number;
  appMetadata?: Record<string, unknown>;
  signingKey?: JWK; // ES256 private JWK; HS256 with the local secret when absent
};

// A user access token shaped like GoTrue's.
export async function userToken(o: UserTokenOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({
    role: "authenticated",
    email: o.email,
    app_metadata: { provider: "email", providers: ["email"], ...o.appMetadata },
    user_metadata: {},
    aal: "aal1",
    session_id: crypto.randomUUID(),
    is_anonymous: false,
  })
    .setSubject(o.userId)
    .setAudience("authenticated")
    .setIssuer(`${o.apiUrl}/auth/v1`)
    .setIssuedAt(now)
    .setExpirationTime(now + (o.ttlSeconds ?? 3600));
  if (o.signingKey) {
    return await jwt.setProtectedHeader({ alg: "ES256", typ: "JWT", kid: o.signingKey.kid })
      .sign(await importJWK(o.signingKey, "ES256"));
  }
  return await jwt.setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(LOCAL_JWT_SECRET));
}

// The stack's asymmetric signing key, created once per stack directory.
export async function loadOrCreateSigningKey(path: string): Promise<JWK> {
  try {
    return JSON.parse(await Deno.readTextFile(path));
  } catch {
    const { privateKey } = await generateKeyPair("ES256", { extractable: true });
    const jwk = {
      ...(await exportJWK(privateKey)),
      kid: crypto.randomUUID(),
      alg: "ES256",
      use: "sig",
    };
    await Deno.writeTextFile(path, JSON.stringify(jwk), { mode: 0o600 });
    return jwk;
  }
}

export function publicJwk({ d: _d, ...pub }: JWK): JWK {
  return pub;
}
