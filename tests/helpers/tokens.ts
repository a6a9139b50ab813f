// Hostile and edge-case tokens for the auth matrix. Each is a real JWT (or a
// deliberate non-JWT) built with jose, never a hard-coded string.
import { exportJWK, generateKeyPair, importJWK, SignJWT } from "jose";
import { encodeBase64urlNoPadding } from "@oslojs/encoding";
import { LOCAL_JWT_SECRET, stackSigningKey, userToken } from "../../scripts/local/keys.ts";
import { ANON_KEY, API_URL, SERVICE_ROLE_KEY, type TestUser } from "./stack.ts";

const b64 = (o: unknown) => encodeBase64urlNoPadding(new TextEncoder().encode(JSON.stringify(o)));
const now = () => Math.floor(Date.now() / 1000);

function claims(user: TestUser, extra: Record<string, unknown> = {}) {
  return {
    sub: user.id,
    role: "authenticated",
    aud: "authenticated",
    iss: `${API_URL}/auth/v1`,
    email: user.email,
    iat: now(),
    exp: now() + 600,
    ...extra,
  };
}

async function hs256(payload: Record<string, unknown>, secret = LOCAL_JWT_SECRET) {
  return await new SignJWT(payload).setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(secret));
}

// Signed by the stack's own key, so only the claim under test is wrong.
async function es256(payload: Record<string, unknown>) {
  const key = await stackSigningKey();
  return await new SignJWT(payload).setProtectedHeader({ alg: "ES256", typ: "JWT", kid: key.kid })
    .sign(await importJWK(key, "ES256"));
}

// Tokens that must be refused with 401, by name.
export async function badTokens(user: TestUser): Promise<Record<string, string | undefined>> {
  const good = await es256(claims(user));
  const [h, , s] = good.split(".");
  const stranger = await generateKeyPair("ES256");
  const publicJwk = JSON.stringify((({ d: _d, ...pub }) => pub)(await stackSigningKey()));
  return {
    "no token": undefined,
    "not a JWT": "not-a-jwt",
    "expired": await es256(claims(user, { iat: now() - 7200, exp: now() - 3600 })),
    "not yet valid": await es256(claims(user, { nbf: now() + 3600 })),
    "wrong audience": await es256(claims(user, { aud: "somebody-else" })),
    "wrong issuer": await es256(claims(user, { iss: "https://evil.example/auth/v1" })),
    // No function holds a JWT secret (hosted gives none), so HS256 is refused
    // whatever the secret, the CLI's well-known demo secret included.
    "HS256 with the demo secret": await hs256(claims(user)),
    "HS256 with another secret": await hs256(
      claims(user),
      "another-secret-that-is-at-least-32-chars!",
    ),
    "alg none": `${b64({ alg: "none", typ: "JWT" })}.${b64(claims(user))}.`,
    "HS256 keyed with the public JWK": await hs256(claims(user), publicJwk),
    "tampered payload": `${h}.${b64(claims(user, { sub: crypto.randomUUID() }))}.${s}`,
    "ES256 from an unknown key": await new SignJWT(claims(user))
      .setProtectedHeader({
        alg: "ES256",
        kid: (await exportJWK(stranger.publicKey)).kid ?? "stranger",
      })
      .sign(stranger.privateKey),
    "oversize": await es256(claims(user, { pad: "x".repeat(10_000) })),
    "anon key": ANON_KEY,
    "service_role key on a user route": SERVICE_ROLE_KEY,
    "user token without sub": await es256({ ...claims(user), sub: undefined }),
    // Well signed and otherwise valid, but it would never expire.
    "user token without exp": await es256({ ...claims(user), exp: undefined }),
  };
}

// A valid user token signed with the stack's asymmetric key (found via JWKS).
export async function es256Token(user: TestUser): Promise<string> {
  return await userToken({
    userId: user.id,
    email: user.email,
    apiUrl: API_URL,
    signingKey: await stackSigningKey(),
  });
}
