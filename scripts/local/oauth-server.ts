// The local OAuth 2.0 / OpenID Connect provider of the dev stack: the `dev`
// provider, and a stand-in for Google and Microsoft in tests. A real server
// process, bound to 127.0.0.1, holding its state in memory:
//
//   GET  /authorize            login and consent page (a person clicks Allow or Deny, and may
//                              untick any scope beyond the identity ones, as Google's granular
//                              consent allows); include_granted_scopes=true adds the scopes this
//                              account already granted the client (Google's incremental auth)
//   POST /authorize/decision   the page's form; redirects back with ?code&state or ?error&state;
//                              the token answer's scope field lists what was granted
//   POST /token                authorization_code (PKCE S256 required) and refresh_token grants,
//                              client_secret_basic or client_secret_post; refresh-token rotation
//                              per client or per account
//   GET  /userinfo             OIDC userinfo for a bearer access token
//   POST /revoke               RFC 7009 revocation (a refresh token revokes its whole grant)
//   GET  /.well-known/openid-configuration
//
// Test controls under /_control (local only; see controlRoutes below): per-account token
// lifetimes and rotation, forced faults (HTTP 500, hang, invalid_grant, connection close,
// malformed JSON) on one endpoint for one account, revoking an account's grants as if the user
// did it at the provider, and counters of what the server saw.
//
// Environment:
//   OAUTH_SERVER_PORT              port on 127.0.0.1 (required)
//   OAUTH_SERVER_CLIENTS           comma-separated `client_id:client_secret[:rotate]`
//   OAUTH_SERVER_REDIRECT_PREFIXES comma-separated URL prefixes a redirect_uri must start with
//   OAUTH_SERVER_ACCESS_TTL        default access-token lifetime in seconds (3600)
import { SignJWT } from "jose";
import { sha256 } from "@oslojs/crypto/sha2";
import { encodeBase64urlNoPadding, encodeHexLowerCase } from "@oslojs/encoding";

type Client = { id: string; secret: string; rotate: boolean };

type Account = {
  email: string;
  sub: string;
  accessTtl?: number;
  rotate?: boolean;
  counters: Counters;
};

type Counters = {
  authorizations: number;
  denials: number;
  code_exchanges: number;
  code_exchange_failures: number;
  refresh_grants: number;
  refresh_grants_ok: number;
  refresh_grants_failed: number;
  refresh_scopes: string[];
  revocations: { kind: "refresh_token" | "access_token" | "unknown"; at: string }[];
  userinfo_calls: number;
  faults_served: number;
};

type AuthRequest = {
  client: Client;
  redirectUri: string;
  state: string | null;
  scopes: string[];
  challenge: string;
  nonce: string | null;
  offline: boolean;
  loginHint: string | null;
  includeGranted: boolean;
  expiresAt: number;
};

type Code = {
  client: Client;
  redirectUri: string;
  challenge: string;
  scopes: string[];
  account: Account;
  offline: boolean;
  nonce: string | null;
  expiresAt: number;
  used: boolean;
  grant?: string;
};

type Grant = { id: string; client: Client; account: Account; scopes: string[]; revoked: boolean };
type RefreshToken = { grant: Grant; status: "active" | "rotated" | "revoked" };
type AccessToken = { grant: Grant; scopes: string[]; expiresAt: number; revoked: boolean };

type FaultEndpoint = "authorization_code" | "refresh_token" | "revoke" | "userinfo";
type FaultMode = "500" | "hang" | "invalid_grant" | "close" | "malformed";
type Fault = { mode: FaultMode; remaining: number; hangMs: number };

const port = Number(Deno.env.get("OAUTH_SERVER_PORT"));
if (!Number.isInteger(port) || port <= 0) {
  console.error("oauth-server: OAUTH_SERVER_PORT is required");
  Deno.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;
const defaultTtl = Number(Deno.env.get("OAUTH_SERVER_ACCESS_TTL") ?? 3600);
const redirectPrefixes = (Deno.env.get("OAUTH_SERVER_REDIRECT_PREFIXES") ?? "")
  .split(",").map((s) => s.trim()).filter(Boolean);
const clients = new Map<string, Client>();
for (const spec of (Deno.env.get("OAUTH_SERVER_CLIENTS") ?? "").split(",").filter(Boolean)) {
  const [id, secret, flag] = spec.trim().split(":");
  if (!id || !secret) throw new Error(`oauth-server: bad client spec "${id}:…"`);
  clients.set(id, { id, secret, rotate: flag === "rotate" });
}

const accounts = new Map<string, Account>();
const authRequests = new Map<string, AuthRequest>();
const codes = new Map<string, Code>();
const grants = new Map<string, Grant>();
const refreshTokens = new Map<string, RefreshToken>();
const accessTokens = new Map<string, AccessToken>();
const faults = new Map<string, Fault>(); // `${email}|${endpoint}`
const hanging = new Set<AbortController>();

const random = (bytes = 32) =>
  encodeBase64urlNoPadding(crypto.getRandomValues(new Uint8Array(bytes)));
const now = () => Date.now();
const enc = new TextEncoder();

function account(email: string): Account {
  const key = email.trim().toLowerCase();
  let a = accounts.get(key);
  if (!a) {
    a = {
      email: key,
      sub: `dev-${encodeHexLowerCase(sha256(enc.encode(key))).slice(0, 24)}`,
      counters: emptyCounters(),
    };
    accounts.set(key, a);
  }
  return a;
}

function emptyCounters(): Counters {
  return {
    authorizations: 0,
    denials: 0,
    code_exchanges: 0,
    code_exchange_failures: 0,
    refresh_grants: 0,
    refresh_grants_ok: 0,
    refresh_grants_failed: 0,
    refresh_scopes: [],
    revocations: [],
    userinfo_calls: 0,
    faults_served: 0,
  };
}

// Responses ------------------------------------------------------------------------------

const noStore = { "Cache-Control": "no-store", Pragma: "no-cache" };

function json(body: unknown, status = 200, headers: Record<string, string> = {}) {
  return Response.json(body, { status, headers: { ...noStore, ...headers } });
}

function oauthError(error: string, description: string, status = 400) {
  const headers: Record<string, string> = status === 401
    ? { "WWW-Authenticate": 'Basic realm="oauth-server"' }
    : {};
  return json({ error, error_description: description }, status, headers);
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function page(title: string, body: string, status = 200) {
  return new Response(
    `<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font: 16px/1.5 system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; padding: 0 1rem; color: #222 }
  .card { border: 1px solid #ddd; border-radius: 12px; padding: 1.5rem 2rem; box-shadow: 0 2px 8px #0001 }
  h1 { font-size: 1.3rem; margin-top: 0 } code { background: #f4f4f4; padding: 0 .25rem; border-radius: 4px }
  input[type=email] { width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box }
  button { font-size: 1rem; padding: .5rem 1.25rem; margin: 1rem .5rem 0 0; border-radius: 8px; border: 1px solid #999; cursor: pointer }
  button[value=allow] { background: #1a73e8; color: white; border-color: #1a73e8 }
  small { color: #666 }
</style></head><body><div class="card">${body}</div></body></html>`,
    { status, headers: { "Content-Type": "text/html; charset=utf-8", ...noStore } },
  );
}

function redirect(to: string, params: Record<string, string | null>) {
  const url = new URL(to);
  for (const [k, v] of Object.entries(params)) if (v !== null) url.searchParams.set(k, v);
  return new Response(null, { status: 302, headers: { Location: url.href, ...noStore } });
}

// Faults ---------------------------------------------------------------------------------

// Returns the forced response for this account and endpoint, if one is armed.
async function fault(
  acct: Account | undefined,
  endpoint: FaultEndpoint,
  signal: AbortSignal,
): Promise<Response | null> {
  if (!acct) return null;
  const key = `${acct.email}|${endpoint}`;
  const f = faults.get(key);
  if (!f) return null;
  if (--f.remaining <= 0) faults.delete(key);
  acct.counters.faults_served++;
  switch (f.mode) {
    case "500":
      return new Response("upstream exploded (forced by the test controls)", { status: 500 });
    case "invalid_grant":
      return oauthError("invalid_grant", "forced by the test controls");
    case "malformed":
      return new Response("{not json", {
        status: 200,
        headers: { "Content-Type": "application/json" },
      });
    case "close":
      // Headers go out, then the connection dies mid-body.
      return new Response(breakingBody('{"access_token":"'), {
        status: 200,
        headers: { "Content-Type": "application/json" },
      });
    case "hang": {
      const ac = new AbortController();
      hanging.add(ac);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, f.hangMs);
        const stop = () => {
          clearTimeout(timer);
          resolve();
        };
        signal.addEventListener("abort", stop, { once: true });
        ac.signal.addEventListener("abort", stop, { once: true });
      });
      hanging.delete(ac);
      return new Response("gave up hanging", { status: 504 });
    }
  }
}

// A body that breaks off after its first bytes. Deno 2.1.4's server drops what
// it has not yet written when a body errors, headers included: a body that
// failed at once, or in the same turn as its first bytes, closed the
// connection before any answer, which a client rightly sees as an unreachable
// provider. A timer turn between the bytes and the error lets the server put
// both the headers and the bytes on the wire first.
const BREAK_AFTER_MS = 10;

function breakingBody(first: string): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start: (c) => c.enqueue(enc.encode(first)),
    async pull(c) {
      await new Promise((resolve) => setTimeout(resolve, BREAK_AFTER_MS));
      c.error(new Error("forced close"));
    },
  });
}

// Client authentication (RFC 6749 2.3.1) -------------------------------------------------

function authenticateClient(req: Request, form: URLSearchParams): Client | null {
  let id = form.get("client_id");
  let secret = form.get("client_secret");
  const header = req.headers.get("Authorization");
  if (header?.startsWith("Basic ")) {
    try {
      const decoded = atob(header.slice(6).trim());
      const at = decoded.indexOf(":");
      if (at < 0) return null;
      id = decodeURIComponent(decoded.slice(0, at));
      secret = decodeURIComponent(decoded.slice(at + 1));
    } catch {
      return null;
    }
  }
  const client = id ? clients.get(id) : undefined;
  if (!client || !secret || !timingSafeEqual(secret, client.secret)) return null;
  return client;
}

function timingSafeEqual(a: string, b: string): boolean {
  const x = enc.encode(a), y = enc.encode(b);
  if (x.length !== y.length) return false;
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i] ^ y[i];
  return diff === 0;
}

const allowedRedirect = (uri: string) => {
  try {
    const u = new URL(uri);
    return !u.hash && redirectPrefixes.some((p) => u.href.startsWith(p));
  } catch {
    return false;
  }
};

// Endpoints ------------------------------------------------------------------------------

function authorizePage(url: URL): Response {
  const q = url.searchParams;
  const client = clients.get(q.get("client_id") ?? "");
  const redirectUri = q.get("redirect_uri") ?? "";
  // Without a known client and a registered redirect URI we must not redirect (RFC 6749 4.1.2.1).
  if (!client) return page("Unknown application", "<h1>Unknown application</h1>", 400);
  if (!allowedRedirect(redirectUri)) {
    return page("Bad redirect", "<h1>This redirect_uri is not registered</h1>", 400);
  }
  const state = q.get("state");
  const fail = (error: string, description: string) =>
    redirect(redirectUri, { error, error_description: description, state });
  if (q.get("response_type") !== "code") {
    return fail("unsupported_response_type", "only response_type=code");
  }
  const challenge = q.get("code_challenge");
  if (!challenge || q.get("code_challenge_method") !== "S256") {
    return fail("invalid_request", "PKCE with code_challenge_method=S256 is required");
  }
  if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
    return fail("invalid_request", "code_challenge is malformed");
  }
  const scopes = (q.get("scope") ?? "").split(" ").filter(Boolean);
  const id = random(16);
  authRequests.set(id, {
    client,
    redirectUri,
    state,
    scopes,
    challenge,
    nonce: q.get("nonce"),
    offline: scopes.includes("offline_access") || q.get("access_type") === "offline",
    loginHint: q.get("login_hint"),
    includeGranted: q.get("include_granted_scopes") === "true",
    expiresAt: now() + 10 * 60_000,
  });
  const email = q.get("login_hint") ?? "dev@example.com";
  // Identity scopes are always granted; every other one is a ticked box the
  // person may untick.
  const scopeList =
    scopes.map((s) =>
      IDENTITY_SCOPES.has(s) ? `<li><code>${escapeHtml(s)}</code></li>` : `<li><label><input
  type="checkbox" name="scope" value="${escapeHtml(s)}" checked> <code>${
        escapeHtml(s)
      }</code></label></li>`
    ).join("") || "<li><em>no scopes</em></li>";
  return page(
    "Sign in to the dev provider",
    `<h1>Oprina dev provider</h1>
<form method="post" action="/authorize/decision">
<p><strong>${escapeHtml(client.id)}</strong> wants to access your account:</p>
<ul>${scopeList}</ul>
  <input type="hidden" name="request" value="${id}">
  <input type="hidden" name="consent" value="granular">
  <label>Sign in as<br><input type="email" name="email" required value="${
      escapeHtml(email)
    }"></label>
  <div><button type="submit" name="decision" value="allow">Allow</button>
  <button type="submit" name="decision" value="deny">Deny</button></div>
</form>
<p><small>Local development provider: any e-mail signs in, no password.${
      refreshNote(q)
    }</small></p>`,
  );
}

function refreshNote(q: URLSearchParams) {
  return q.get("access_type") === "offline" || q.get("scope")?.includes("offline_access")
    ? " A refresh token will be issued."
    : "";
}

async function decide(req: Request): Promise<Response> {
  const form = new URLSearchParams(await req.text());
  const id = form.get("request") ?? "";
  const ar = authRequests.get(id);
  authRequests.delete(id);
  if (!ar || ar.expiresAt < now()) {
    return page("Expired", "<h1>This sign-in request expired; start again.</h1>", 400);
  }
  if (form.get("decision") !== "allow") {
    const email = form.get("email");
    if (email) account(email).counters.denials++;
    return redirect(ar.redirectUri, {
      error: "access_denied",
      error_description: "the user denied the request",
      state: ar.state,
    });
  }
  const email = (form.get("email") ?? "").trim();
  if (!/^[^@\s]+@[^@\s]+$/.test(email) || email.length > 254) {
    return page("Bad e-mail", "<h1>Enter an e-mail address</h1>", 400);
  }
  const acct = account(email);
  acct.counters.authorizations++;
  const code = random();
  codes.set(code, {
    client: ar.client,
    redirectUri: ar.redirectUri,
    challenge: ar.challenge,
    scopes: grantedScopes(ar, form, acct),
    account: acct,
    offline: ar.offline,
    nonce: ar.nonce,
    expiresAt: now() + 60_000,
    used: false,
  });
  return redirect(ar.redirectUri, { code, state: ar.state });
}

// Identity scopes cannot be unticked (Google's granular consent leaves them too).
const IDENTITY_SCOPES = new Set(["openid", "email", "profile", "offline_access"]);

// What the person granted: the ticked boxes of a granular form (a form without
// the marker grants everything asked), plus, with include_granted_scopes, the
// scopes of this account's live grants to the same client.
function grantedScopes(ar: AuthRequest, form: URLSearchParams, acct: Account): string[] {
  const ticked = new Set(form.getAll("scope"));
  const granted = form.get("consent") === "granular"
    ? ar.scopes.filter((s) => IDENTITY_SCOPES.has(s) || ticked.has(s))
    : ar.scopes;
  if (!ar.includeGranted) return granted;
  const earlier = [...grants.values()]
    .filter((g) => g.account === acct && g.client.id === ar.client.id && !g.revoked)
    .flatMap((g) => g.scopes);
  return [...new Set([...granted, ...earlier])];
}

async function issue(grant: Grant, scopes: string[], withRefresh: boolean, nonce: string | null) {
  const acct = grant.account;
  const ttl = acct.accessTtl ?? defaultTtl;
  const accessToken = `devat_${random()}`;
  accessTokens.set(accessToken, { grant, scopes, expiresAt: now() + ttl * 1000, revoked: false });
  const body: Record<string, unknown> = {
    access_token: accessToken,
    token_type: "Bearer",
    expires_in: ttl,
    scope: scopes.join(" "),
  };
  if (withRefresh) {
    const refreshToken = `devrt_${random()}`;
    refreshTokens.set(refreshToken, { grant, status: "active" });
    body.refresh_token = refreshToken;
  }
  if (scopes.includes("openid")) {
    const t = Math.floor(now() / 1000);
    body.id_token = await new SignJWT({
      email: acct.email,
      email_verified: true,
      ...(nonce ? { nonce } : {}),
    })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer(issuer).setSubject(acct.sub).setAudience(grant.client.id)
      .setIssuedAt(t).setExpirationTime(t + ttl)
      .sign(enc.encode(grant.client.secret));
  }
  return body;
}

async function token(req: Request): Promise<Response> {
  const type = req.headers.get("Content-Type") ?? "";
  if (!type.startsWith("application/x-www-form-urlencoded")) {
    return oauthError("invalid_request", "use application/x-www-form-urlencoded");
  }
  const form = new URLSearchParams(await req.text());
  const client = authenticateClient(req, form);
  if (!client) return oauthError("invalid_client", "client authentication failed", 401);
  switch (form.get("grant_type")) {
    case "authorization_code":
      return await exchangeCode(req, client, form);
    case "refresh_token":
      return await refreshGrant(req, client, form);
    default:
      return oauthError("unsupported_grant_type", "authorization_code or refresh_token");
  }
}

async function exchangeCode(req: Request, client: Client, form: URLSearchParams) {
  const code = codes.get(form.get("code") ?? "");
  const forced = await fault(code?.account, "authorization_code", req.signal);
  if (forced) return forced;
  if (!code) return oauthError("invalid_grant", "unknown authorization code");
  const acct = code.account;
  acct.counters.code_exchanges++;
  const reject = (description: string) => {
    acct.counters.code_exchange_failures++;
    return oauthError("invalid_grant", description);
  };
  if (code.used) {
    // A replayed code revokes what it issued (RFC 6749 4.1.2).
    if (code.grant) revokeGrant(code.grant);
    return reject("authorization code already used");
  }
  code.used = true;
  if (code.expiresAt < now()) return reject("authorization code expired");
  if (code.client.id !== client.id) return reject("code was issued to another client");
  if (form.get("redirect_uri") !== code.redirectUri) return reject("redirect_uri mismatch");
  const verifier = form.get("code_verifier");
  if (!verifier) return reject("code_verifier is required (PKCE)");
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier)) return reject("code_verifier is malformed");
  if (encodeBase64urlNoPadding(sha256(enc.encode(verifier))) !== code.challenge) {
    return reject("code_verifier does not match code_challenge");
  }
  const grant: Grant = {
    id: random(12),
    client,
    account: acct,
    scopes: code.scopes,
    revoked: false,
  };
  code.grant = grant.id;
  grants.set(grant.id, grant);
  return json(await issue(grant, code.scopes, code.offline, code.nonce));
}

async function refreshGrant(req: Request, client: Client, form: URLSearchParams) {
  const presented = form.get("refresh_token") ?? "";
  const rt = refreshTokens.get(presented);
  const acct = rt?.grant.account;
  if (acct) {
    acct.counters.refresh_grants++;
    acct.counters.refresh_scopes.push(form.get("scope") ?? "");
  }
  const forced = await fault(acct, "refresh_token", req.signal);
  if (forced) {
    if (acct) acct.counters.refresh_grants_failed++;
    return forced;
  }
  const reject = (description: string) => {
    if (acct) acct.counters.refresh_grants_failed++;
    return oauthError("invalid_grant", description);
  };
  if (!rt) return reject("unknown refresh token");
  if (rt.grant.client.id !== client.id) return reject("refresh token was issued to another client");
  if (rt.status !== "active" || rt.grant.revoked) return reject(`refresh token is ${rt.status}`);
  let scopes = rt.grant.scopes;
  const asked = (form.get("scope") ?? "").split(" ").filter(Boolean);
  if (asked.length) {
    const extra = asked.filter((s) => !rt.grant.scopes.includes(s));
    if (extra.length) {
      acct!.counters.refresh_grants_failed++;
      return oauthError("invalid_scope", `not originally granted: ${extra.join(" ")}`);
    }
    scopes = asked;
  }
  const rotate = acct!.rotate ?? client.rotate;
  const body = await issue(rt.grant, scopes, rotate, null);
  if (rotate) rt.status = "rotated";
  acct!.counters.refresh_grants_ok++;
  return json(body);
}

function revokeGrant(grantId: string) {
  const grant = grants.get(grantId);
  if (!grant) return;
  grant.revoked = true;
  for (const rt of refreshTokens.values()) if (rt.grant === grant) rt.status = "revoked";
  for (const at of accessTokens.values()) if (at.grant === grant) at.revoked = true;
}

async function revoke(req: Request): Promise<Response> {
  const form = new URLSearchParams(await req.text());
  const client = authenticateClient(req, form);
  if (!client) return oauthError("invalid_client", "client authentication failed", 401);
  const presented = form.get("token") ?? "";
  if (!presented) return oauthError("invalid_request", "token is required");
  const rt = refreshTokens.get(presented);
  const at = accessTokens.get(presented);
  const acct = rt?.grant.account ?? at?.grant.account;
  const forced = await fault(acct, "revoke", req.signal);
  if (forced) return forced;
  // RFC 7009 2.2: unknown or foreign tokens still answer 200.
  if (rt && rt.grant.client.id === client.id) {
    revokeGrant(rt.grant.id);
    rt.grant.account.counters.revocations.push({
      kind: "refresh_token",
      at: new Date().toISOString(),
    });
  } else if (at && at.grant.client.id === client.id) {
    at.revoked = true;
    at.grant.account.counters.revocations.push({
      kind: "access_token",
      at: new Date().toISOString(),
    });
  }
  return new Response(null, { status: 200, headers: noStore });
}

async function userinfo(req: Request): Promise<Response> {
  const bearer = req.headers.get("Authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1] ?? "";
  const at = accessTokens.get(bearer);
  const forced = await fault(at?.grant.account, "userinfo", req.signal);
  if (forced) return forced;
  if (!at || at.revoked || at.expiresAt < now()) {
    return new Response(JSON.stringify({ error: "invalid_token" }), {
      status: 401,
      headers: { "WWW-Authenticate": 'Bearer error="invalid_token"', ...noStore },
    });
  }
  const acct = at.grant.account;
  acct.counters.userinfo_calls++;
  const info: Record<string, unknown> = { sub: acct.sub };
  if (at.scopes.includes("email")) Object.assign(info, { email: acct.email, email_verified: true });
  if (at.scopes.includes("profile")) info.name = acct.email.split("@")[0];
  return json(info);
}

function discovery(): Response {
  return json({
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    userinfo_endpoint: `${issuer}/userinfo`,
    revocation_endpoint: `${issuer}/revoke`,
    response_types_supported: ["code"],
    grant_types_supported: ["authorization_code", "refresh_token"],
    code_challenge_methods_supported: ["S256"],
    token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    revocation_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
    subject_types_supported: ["public"],
    id_token_signing_alg_values_supported: ["HS256"],
    scopes_supported: ["openid", "email", "profile", "offline_access"],
  });
}

// Test controls --------------------------------------------------------------------------

const ENDPOINTS: FaultEndpoint[] = ["authorization_code", "refresh_token", "revoke", "userinfo"];
const MODES: FaultMode[] = ["500", "hang", "invalid_grant", "close", "malformed"];

async function control(req: Request, url: URL): Promise<Response> {
  const parts = url.pathname.split("/").filter(Boolean).slice(1); // drop "_control"
  const body = req.method === "POST" ? await req.json().catch(() => ({})) : {};
  if (parts[0] === "health") return json({ status: "ok", clients: [...clients.keys()] });
  if (parts[0] === "accounts" && parts[1]) {
    const acct = account(decodeURIComponent(parts[1]));
    if (req.method === "GET" && parts.length === 2) {
      return json({
        email: acct.email,
        sub: acct.sub,
        access_token_ttl: acct.accessTtl ?? defaultTtl,
        rotate_refresh_tokens: acct.rotate ?? null,
        active_refresh_tokens: [...refreshTokens.values()]
          .filter((r) => r.grant.account === acct && r.status === "active" && !r.grant.revoked)
          .length,
        ...acct.counters,
      });
    }
    if (req.method === "POST" && parts.length === 2) {
      if (body.access_token_ttl !== undefined) {
        const ttl = Number(body.access_token_ttl);
        if (!Number.isInteger(ttl) || ttl < 1) return json({ error: "bad access_token_ttl" }, 400);
        acct.accessTtl = ttl;
      }
      if (body.rotate_refresh_tokens !== undefined) acct.rotate = !!body.rotate_refresh_tokens;
      if (body.reset_counters) acct.counters = emptyCounters();
      return json({ ok: true });
    }
    if (req.method === "POST" && parts[2] === "revoke-grants") {
      // The user removed the app's access at the provider.
      let n = 0;
      for (const g of grants.values()) {
        if (g.account === acct && !g.revoked) {
          revokeGrant(g.id);
          n++;
        }
      }
      return json({ revoked_grants: n });
    }
  }
  if (parts[0] === "faults" && req.method === "POST") {
    const { account: email, endpoint, mode } = body;
    if (typeof email !== "string" || !ENDPOINTS.includes(endpoint) || !MODES.includes(mode)) {
      return json({ error: `need account, endpoint (${ENDPOINTS}), mode (${MODES})` }, 400);
    }
    faults.set(`${account(email).email}|${endpoint}`, {
      mode,
      remaining: Number(body.count ?? 1),
      hangMs: Number(body.hang_ms ?? 15_000),
    });
    return json({ ok: true });
  }
  if (parts[0] === "faults" && req.method === "DELETE") {
    const email = url.searchParams.get("account")?.toLowerCase();
    for (const key of [...faults.keys()]) {
      if (!email || key.startsWith(`${email}|`)) faults.delete(key);
    }
    return json({ ok: true });
  }
  return json({ error: "no such control" }, 404);
}

// Server ---------------------------------------------------------------------------------

async function handle(req: Request): Promise<Response> {
  const url = new URL(req.url);
  const route = `${req.method} ${url.pathname}`;
  if (url.pathname.startsWith("/_control/")) return await control(req, url);
  switch (route) {
    case "GET /.well-known/openid-configuration":
      return discovery();
    case "GET /authorize":
      return authorizePage(url);
    case "POST /authorize/decision":
      return await decide(req);
    case "POST /token":
      return await token(req);
    case "GET /userinfo":
    case "POST /userinfo":
      return await userinfo(req);
    case "POST /revoke":
      return await revoke(req);
    case "GET /":
      return page(
        "Oprina dev OAuth provider",
        `<h1>Oprina dev OAuth provider</h1><p>Issuer <code>${issuer}</code>. Start a connection
from the API (<code>POST /functions/v1/oauth/authorize</code> with provider <code>dev</code>) and
open the returned URL.</p>`,
      );
    default:
      return json({ error: "not_found" }, 404);
  }
}

// Forget spent codes, expired requests and tokens now and then.
setInterval(() => {
  const t = now();
  for (const [k, v] of authRequests) if (v.expiresAt < t) authRequests.delete(k);
  for (const [k, v] of codes) if (v.expiresAt < t - 600_000) codes.delete(k);
  for (const [k, v] of accessTokens) if (v.expiresAt < t - 600_000) accessTokens.delete(k);
}, 60_000);

const server = Deno.serve({
  hostname: "127.0.0.1",
  port,
  onListen: () =>
    console.log(JSON.stringify({ level: "info", msg: "oauth server listening", issuer })),
  onError: (err) => {
    if ((err as Error)?.message !== "forced close") {
      console.error(JSON.stringify({ level: "error", msg: "oauth server", error: String(err) }));
    }
    return new Response("internal error", { status: 500 });
  },
}, handle);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    for (const h of hanging) h.abort();
    server.shutdown().finally(() => Deno.exit(0));
  });
}
