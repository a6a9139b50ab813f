// The local OAuth server is a real OAuth 2.0 / OIDC provider: these tests talk
// to it directly, as a client would, to show it enforces what the flow tests
// rely on (PKCE, single-use codes, client authentication, rotation, RFC 7009).
import assert from "node:assert/strict";
import { sha256 } from "@oslojs/crypto/sha2";
import { encodeBase64urlNoPadding } from "@oslojs/encoding";
import { FUNCTIONS_URL, test } from "../helpers/stack.ts";
import { provider, PROVIDER_URL, uniqueEmail } from "./flow.ts";

const CLIENT = "oprina-local";
const SECRET = Deno.env.get("DEV_OAUTH_CLIENT_SECRET")!;
const REDIRECT = `${FUNCTIONS_URL}/oauth/callback/dev`;
const basic = (id = CLIENT, secret = SECRET) => `Basic ${btoa(`${id}:${secret}`)}`;

function pkce() {
  const verifier = encodeBase64urlNoPadding(crypto.getRandomValues(new Uint8Array(32)));
  const challenge = encodeBase64urlNoPadding(sha256(new TextEncoder().encode(verifier)));
  return { verifier, challenge };
}

function authorizeUrl(params: Record<string, string>) {
  return `${PROVIDER_URL}/authorize?${new URLSearchParams({
    response_type: "code",
    client_id: CLIENT,
    redirect_uri: REDIRECT,
    state: "s".repeat(43),
    scope: "openid email offline_access dev.mail",
    code_challenge_method: "S256",
    ...params,
  })}`;
}

// Authorization code for a fresh account, through the consent form: as an
// old client (no granular marker: everything asked is granted), or with the
// boxes of `ticked` ticked.
async function code(
  email = uniqueEmail("server"),
  o: { params?: Record<string, string>; ticked?: string[] } = {},
) {
  const { verifier, challenge } = pkce();
  const page = await (await fetch(authorizeUrl({ code_challenge: challenge, ...o.params })))
    .text();
  const request = page.match(/name="request" value="([^"]+)"/)![1];
  const form = new URLSearchParams({ request, email, decision: "allow" });
  if (o.ticked) {
    form.set("consent", "granular");
    for (const scope of o.ticked) form.append("scope", scope);
  }
  const res = await fetch(`${PROVIDER_URL}/authorize/decision`, {
    method: "POST",
    body: form,
    redirect: "manual",
  });
  await res.body?.cancel();
  const back = new URL(res.headers.get("location")!);
  assert.equal(back.searchParams.get("state"), "s".repeat(43));
  return { code: back.searchParams.get("code")!, verifier, email };
}

async function token(form: Record<string, string>, auth: string | null = basic()) {
  const res = await fetch(`${PROVIDER_URL}/token`, {
    method: "POST",
    headers: auth ? { Authorization: auth } : {},
    body: new URLSearchParams(form),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const exchange = (c: { code: string; verifier: string }, extra: Record<string, string> = {}) =>
  token({
    grant_type: "authorization_code",
    code: c.code,
    code_verifier: c.verifier,
    redirect_uri: REDIRECT,
    ...extra,
  });

test("the discovery document names the endpoints and S256 only", async () => {
  const doc = await (await fetch(`${PROVIDER_URL}/.well-known/openid-configuration`)).json();
  assert.equal(doc.issuer, PROVIDER_URL);
  assert.equal(doc.token_endpoint, `${PROVIDER_URL}/token`);
  assert.equal(doc.revocation_endpoint, `${PROVIDER_URL}/revoke`);
  assert.deepEqual(doc.code_challenge_methods_supported, ["S256"]);
});

test("a code exchanges once, with the verifier, for tokens and an ID token", async () => {
  const c = await code();
  const res = await exchange(c);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal(res.body.token_type, "Bearer");
  assert.equal(res.body.expires_in, 3600);
  assert.match(res.body.access_token, /^devat_/);
  assert.match(res.body.refresh_token, /^devrt_/);
  assert.equal(res.body.id_token.split(".").length, 3);
  // Replaying the code fails and revokes what it issued (RFC 6749 4.1.2).
  const again = await exchange(c);
  assert.equal(again.status, 400);
  assert.equal(again.body.error, "invalid_grant");
  assert.equal((await provider.userinfo(res.body.access_token)).status, 401);
});

test("client authentication is required and checked", async () => {
  const c = await code();
  assert.equal((await exchange(c, {})).status, 200);
  const c2 = await code();
  const wrong = await token({
    grant_type: "authorization_code",
    code: c2.code,
    code_verifier: c2.verifier,
    redirect_uri: REDIRECT,
  }, basic(CLIENT, "wrong"));
  assert.equal(wrong.status, 401);
  assert.equal(wrong.body.error, "invalid_client");
  const none = await token({ grant_type: "authorization_code", code: c2.code }, null);
  assert.equal(none.status, 401);
  const post = await token({
    grant_type: "authorization_code",
    code: c2.code,
    code_verifier: c2.verifier,
    redirect_uri: REDIRECT,
    client_id: CLIENT,
    client_secret: SECRET,
  }, null);
  assert.equal(post.status, 200, "client_secret_post works too");
});

test("the redirect_uri must match the one the code was issued for", async () => {
  const c = await code();
  const res = await exchange(c, { redirect_uri: `${REDIRECT}/other` });
  assert.equal(res.body.error, "invalid_grant");
});

test("authorize refuses unregistered redirect URIs without redirecting, and requires PKCE", async () => {
  const bad = await fetch(
    authorizeUrl({ redirect_uri: "https://evil.example/cb", code_challenge: pkce().challenge }),
    {
      redirect: "manual",
    },
  );
  await bad.body?.cancel();
  assert.equal(bad.status, 400);
  assert.equal(bad.headers.get("location"), null);
  const noPkce = await fetch(
    authorizeUrl({ code_challenge_method: "plain", code_challenge: "x".repeat(43) }),
    {
      redirect: "manual",
    },
  );
  await noPkce.body?.cancel();
  assert.equal(noPkce.status, 302);
  const to = new URL(noPkce.headers.get("location")!);
  assert.equal(to.searchParams.get("error"), "invalid_request");
});

test("the consent page escapes what it shows", async () => {
  const page = await (await fetch(authorizeUrl({
    code_challenge: pkce().challenge,
    login_hint: '"><script>alert(1)</script>',
    scope: "openid <b>bold</b>",
  }))).text();
  assert.ok(!page.includes("<script>alert(1)</script>"));
  assert.ok(!page.includes("<b>bold</b>"));
});

test("refresh: rotation invalidates the old refresh token; unknown ones are invalid_grant", async () => {
  const c = await code();
  await provider.configure(c.email, { rotate_refresh_tokens: true });
  const first = (await exchange(c)).body;
  const r1 = await token({ grant_type: "refresh_token", refresh_token: first.refresh_token });
  assert.equal(r1.status, 200);
  assert.notEqual(r1.body.refresh_token, first.refresh_token);
  const reuse = await token({ grant_type: "refresh_token", refresh_token: first.refresh_token });
  assert.equal(reuse.body.error, "invalid_grant");
  const r2 = await token({ grant_type: "refresh_token", refresh_token: r1.body.refresh_token });
  assert.equal(r2.status, 200);
  assert.equal(
    (await token({ grant_type: "refresh_token", refresh_token: "devrt_nope" })).body.error,
    "invalid_grant",
  );
  const wider = await token({
    grant_type: "refresh_token",
    refresh_token: r2.body.refresh_token,
    scope: "openid admin",
  });
  assert.equal(wider.body.error, "invalid_scope", "a refresh cannot widen the grant");
});

test("RFC 7009: revoking a refresh token ends the grant; unknown tokens still answer 200", async () => {
  const c = await code();
  const t = (await exchange(c)).body;
  const revoke = (tok: string, auth = basic()) =>
    fetch(`${PROVIDER_URL}/revoke`, {
      method: "POST",
      headers: { Authorization: auth },
      body: new URLSearchParams({ token: tok, token_type_hint: "refresh_token" }),
    });
  const res = await revoke(t.refresh_token);
  await res.body?.cancel();
  assert.equal(res.status, 200);
  assert.equal((await provider.userinfo(t.access_token)).status, 401);
  const refresh = await token({ grant_type: "refresh_token", refresh_token: t.refresh_token });
  assert.equal(refresh.body.error, "invalid_grant");
  const unknown = await revoke("devrt_unknown");
  await unknown.body?.cancel();
  assert.equal(unknown.status, 200);
  const unauth = await revoke(t.access_token, basic(CLIENT, "wrong"));
  await unauth.body?.cancel();
  assert.equal(unauth.status, 401);
  const seen = await provider.seen(c.email);
  assert.deepEqual(seen.revocations.map((r: { kind: string }) => r.kind), ["refresh_token"]);
});

test("short lifetimes and forced faults are per account", async () => {
  const c = await code();
  await provider.configure(c.email, { access_token_ttl: 5 });
  await provider.fault(c.email, "refresh_token", "500");
  const t = (await exchange(c)).body;
  assert.equal(t.expires_in, 5);
  const other = await code();
  const o = (await exchange(other)).body;
  assert.equal(o.expires_in, 3600, "another account is unaffected");
  assert.equal(
    (await token({ grant_type: "refresh_token", refresh_token: o.refresh_token })).status,
    200,
  );
  const failed = await fetch(`${PROVIDER_URL}/token`, {
    method: "POST",
    headers: { Authorization: basic() },
    body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: t.refresh_token }),
  });
  await failed.body?.cancel();
  assert.equal(failed.status, 500);
  assert.equal(
    (await token({ grant_type: "refresh_token", refresh_token: t.refresh_token })).status,
    200,
    "one fault, then normal",
  );
});

test("granular consent: unticked scopes are not granted, and the token answer's scope says so", async () => {
  const scope = "openid email offline_access dev.mail dev.calendar";
  const page = await (await fetch(authorizeUrl({ code_challenge: pkce().challenge, scope })))
    .text();
  // Identity scopes have no box: they cannot be unticked.
  assert.match(page, /type="checkbox" name="scope" value="dev.calendar" checked/);
  assert.doesNotMatch(page, /name="scope" value="openid"/);
  const c = await code(uniqueEmail("granular"), { params: { scope }, ticked: ["dev.mail"] });
  const res = await exchange(c);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body.scope.split(" "), ["openid", "email", "offline_access", "dev.mail"]);
});

test("include_granted_scopes adds the account's live grants to the new one (Google's incremental auth)", async () => {
  const email = uniqueEmail("incremental");
  const first = await exchange(await code(email, { params: { scope: "openid dev.mail" } }));
  assert.equal(first.body.scope, "openid dev.mail");
  const params = { scope: "openid dev.calendar", include_granted_scopes: "true" };
  const second = await exchange(await code(email, { params }));
  assert.deepEqual(second.body.scope.split(" ").sort(), ["dev.calendar", "dev.mail", "openid"]);
  // Without the parameter only what is asked is granted.
  const third = await exchange(await code(email, { params: { scope: "openid dev.calendar" } }));
  assert.equal(third.body.scope, "openid dev.calendar");
});
