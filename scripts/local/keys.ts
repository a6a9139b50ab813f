// Local signing material. The API keys are identical to what `supabase start`
// uses, so clients and scripts work against either stack unchanged. User
// tokens are ES256, signed by the stack's own key and served as its JWKS, like
// a project on asymmetric signing keys: no function is given a JWT secret.
import { exportJWK, generateKeyPair, importJWK, type JWK, SignJWT } from "jose";

// The CLI's demo secret: it signs the legacy anon and service_role keys below
// (which functions compare as opaque strings) and nothing the functions verify.
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
  // An anonymous sign-in: GoTrue marks its tokens is_anonymous: true.
  isAnonymous?: boolean;
  signingKey: JWK; // the stack's ES256 private JWK (stackSigningKey)
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
    is_anonymous: o.isAnonymous ?? false,
  })
    .setSubject(o.userId)
    .setAudience("authenticated")
    .setIssuer(`${o.apiUrl}/auth/v1`)
    .setIssuedAt(now)
    .setExpirationTime(now + (o.ttlSeconds ?? 3600));
  return await jwt.setProtectedHeader({ alg: "ES256", typ: "JWT", kid: o.signingKey.kid })
    .sign(await importJWK(o.signingKey, "ES256"));
}

// The running stack's signing key (scripts/lib.sh exports SIGNING_KEY_FILE).
export async function stackSigningKey(): Promise<JWK> {
  const path = Deno.env.get("SIGNING_KEY_FILE");
  if (!path) throw new Error("SIGNING_KEY_FILE is not set: run this through scripts/");
  return JSON.parse(await Deno.readTextFile(path));
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
