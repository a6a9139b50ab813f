// The authorization-code flow against the local OAuth server, for the dev
// provider and the local stand-ins of Google and Microsoft.
import assert from "node:assert/strict";
import { sha256 } from "@oslojs/crypto/sha2";
import { encodeBase64urlNoPadding, encodeHexLowerCase } from "@oslojs/encoding";
import { AccessToken } from "../../shared/tokens/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { call, createUser, sql, test } from "../helpers/stack.ts";
import {
  accessToken,
  authorize,
  callback,
  complete,
  connect,
  consent,
  provider,
  PROVIDER_URL,
  secretRow,
  tokenRow,
  uniqueEmail,
} from "./flow.ts";

const hex = (s: string) => encodeHexLowerCase(sha256(new TextEncoder().encode(s)));

test("GET /providers lists the enabled providers, their services and scopes, without a token", async () => {
  const res = await call("GET", "/oauth/providers");
  assert.equal(res.status, 200);
  const byId = Object.fromEntries(
    res.body.data.map((p: { id: string }) => [p.id, p]),
  );
  assert.deepEqual(Object.keys(byId).sort(), ["dev", "google", "microsoft"]);
  assert.deepEqual(byId.google.services.map((s: { service: string }) => s.service), [
    "gmail",
    "calendar",
  ]);
  assert.deepEqual(byId.google.services[0].scopes, [
    "https://www.googleapis.com/auth/gmail.modify",
  ]);
  assert.deepEqual(byId.google.services[0].read_scopes, [
    "https://www.googleapis.com/auth/gmail.readonly",
  ]);
  assert.deepEqual(byId.microsoft.services.map((s: { service: string }) => s.service), [
    "outlook",
    "calendar",
  ]);
  assert.ok(byId.microsoft.identity_scopes.includes("offline_access"));
  assert.equal(byId.google.supports_revocation, true);
  assert.equal(byId.microsoft.supports_revocation, false);
  assert.equal(byId.dev.supports_revocation, true);
  // Nothing secret in the listing.
  assert.doesNotMatch(JSON.stringify(res.body), /secret|client_id/i);
});

test("POST /authorize returns the provider URL with PKCE S256 and stores only the state's hash", async () => {
  const user = await createUser("authz");
  const res = await authorize(user, {
    provider: "dev",
    services: ["gmail", "calendar"],
    redirect_to: "http://127.0.0.1:3000/settings/connections",
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.headers.get("cache-control"), "no-store");
  const url = new URL(res.body.authorization_url);
  assert.equal(`${url.origin}${url.pathname}`, `${PROVIDER_URL}/authorize`);
  const q = url.searchParams;
  assert.equal(q.get("response_type"), "code");
  assert.equal(q.get("client_id"), "oprina-local");
  assert.equal(q.get("code_challenge_method"), "S256");
  assert.match(q.get("code_challenge")!, /^[A-Za-z0-9_-]{43}$/);
  assert.match(q.get("redirect_uri")!, /\/functions\/v1\/oauth\/callback\/dev$/);
  assert.deepEqual(q.get("scope")!.split(" "), [
    "openid",
    "email",
    "profile",
    "offline_access",
    "dev.mail",
    "dev.calendar",
  ]);
  assert.deepEqual(res.body.services, ["gmail", "calendar"]);
  const state = q.get("state")!;
  assert.match(state, /^[A-Za-z0-9_-]{43}$/);

  const rows = await sql`select * from public.oauth_states where user_id = ${user.id}`;
  assert.equal(rows.length, 1);
  const row = rows[0];
  assert.equal(row.state_hash, hex(state), "the hash of the state is stored");
  assert.ok(!JSON.stringify(row).includes(state), "the state itself is not stored");
  assert.equal(row.provider, "dev");
  assert.equal(row.redirect_to, "http://127.0.0.1:3000/settings/connections");
  // The challenge in the URL is S256 of the stored verifier, which never left the server.
  assert.equal(
    encodeBase64urlNoPadding(sha256(new TextEncoder().encode(row.code_verifier))),
    q.get("code_challenge"),
  );
  assert.ok(!res.body.authorization_url.includes(row.code_verifier));
  const ttl = (new Date(row.expires_at).getTime() - new Date(row.created_at).getTime()) / 1000;
  assert.equal(ttl, 600, "ten minutes");
  assert.equal(new Date(res.body.expires_at).getTime(), new Date(row.expires_at).getTime());
});

test("Google's authorize URL asks for offline access, consent and incremental scopes", async () => {
  const user = await createUser("authz-google");
  const res = await authorize(user, { provider: "google", services: ["calendar"] });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const q = new URL(res.body.authorization_url).searchParams;
  assert.equal(q.get("client_id"), "local-google");
  assert.equal(q.get("access_type"), "offline");
  assert.equal(q.get("prompt"), "consent");
  assert.equal(q.get("include_granted_scopes"), "true");
  assert.deepEqual(q.get("scope")!.split(" "), [
    "openid",
    "email",
    "profile",
    "https://www.googleapis.com/auth/calendar",
  ]);
});

test("Microsoft's authorize URL asks for offline_access and Graph scopes", async () => {
  const user = await createUser("authz-ms");
  const res = await authorize(user, { provider: "microsoft", services: ["outlook"] });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const q = new URL(res.body.authorization_url).searchParams;
  assert.equal(q.get("client_id"), "local-microsoft");
  const scopes = q.get("scope")!.split(" ");
  assert.ok(scopes.includes("offline_access"));
  assert.ok(scopes.includes("https://graph.microsoft.com/Mail.ReadWrite"));
  assert.ok(scopes.includes("https://graph.microsoft.com/Mail.Send"));
  assert.equal(q.get("access_type"), null);
  // A user who consented before still sees which account is being connected.
  assert.equal(q.get("prompt"), "select_account");
});

test("services can be asked for by their scopes", async () => {
  const user = await createUser("authz-scopes");
  const res = await authorize(user, { provider: "dev", scopes: ["dev.calendar"] });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.deepEqual(res.body.services, ["calendar"]);
});

test("the full flow connects a dev account and stores its tokens encrypted", async () => {
  const user = await createUser("flow");
  const email = uniqueEmail("flow");
  const started = await authorize(user, { provider: "dev", services: ["gmail", "calendar"] });
  const back = await consent(started.body.authorization_url, { email });
  assert.equal(back.pathname, "/functions/v1/oauth/callback/dev");
  const code = back.searchParams.get("code")!;
  assert.ok(code);
  const res = await callback(back);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.headers.get("cache-control"), "no-store");
  assert.equal(res.body.status, "authorized");
  assert.equal(res.body.provider, "dev");
  assert.ok(Date.parse(res.body.complete_by) > Date.now());
  // Nothing is connected until the user who started completes it.
  const [{ n: before }] = await sql`select count(*)::int as n from public.service_tokens
                                     where user_id = ${user.id}`;
  assert.equal(before, 0);
  const done = await complete(user, res.body.completion);
  assert.equal(done.status, 201, JSON.stringify(done.body));
  const token = done.body.token;
  assert.equal(done.body.status, "connected");
  assert.equal(done.body.provider, "dev");
  assert.equal(token.user_id, user.id);
  assert.equal(token.provider, "dev");
  assert.deepEqual(token.services, ["calendar", "gmail"]);
  assert.equal(token.provider_email, email);
  assert.match(token.provider_account_id, /^dev-[0-9a-f]{24}$/);
  assert.equal(token.status, "active");
  assert.equal(token.has_refresh_token, true);
  assert.deepEqual(token.granted_scopes, [
    "openid",
    "email",
    "profile",
    "offline_access",
    "dev.mail",
    "dev.calendar",
  ]);
  const lifetime = (Date.parse(token.expires_at) - Date.now()) / 1000;
  assert.ok(lifetime > 3500 && lifetime <= 3600, `${lifetime}`);
  assert.ok(!JSON.stringify(res.body).includes("devat_"), "no access token in the answer");
  assert.ok(!JSON.stringify(res.body).includes("devrt_"), "no refresh token in the answer");

  // The state is gone (single use).
  const [{ n }] =
    await sql`select count(*)::int as n from public.oauth_states where user_id = ${user.id}`;
  assert.equal(n, 0);

  // The provider saw one exchange, and the token it issued works there.
  const seen = await provider.seen(email);
  assert.equal(seen.code_exchanges, 1);
  assert.equal(seen.code_exchange_failures, 0);
  const issued = await accessToken(user, "dev");
  const plain = parsed(AccessToken, issued).access_token;
  assert.match(plain, /^devat_/);
  assert.equal((await provider.userinfo(plain)).status, 200);

  // Ciphertext, checked in SQL: AES-256 PGP packets under the Vault key,
  // not containing the token, and decrypting to it.
  const secret = await secretRow(token.id);
  assert.equal(secret.key_version, 1);
  const bytes = new Uint8Array(secret.access_token);
  assert.equal(bytes[0], 0xc3, "a PGP symmetric-key session packet");
  assert.equal(bytes[2], 4, "packet version 4");
  assert.equal(bytes[3], 9, "cipher AES-256");
  assert.ok(!new TextDecoder("latin1").decode(bytes).includes(plain.slice(6)));
  assert.ok(secret.refresh_token, "refresh token stored");
  const [dec] = await sql`
    select extensions.pgp_sym_decrypt(s.access_token, v.decrypted_secret) as access_token,
           extensions.pgp_sym_decrypt(s.refresh_token, v.decrypted_secret) as refresh_token
      from private.token_secrets s, vault.decrypted_secrets v
     where s.token_id = ${token.id} and v.name = 'token_encryption_key'`;
  assert.equal(dec.access_token, plain);
  assert.match(dec.refresh_token, /^devrt_/);

  // No plaintext token anywhere in the public schema's rows for this user.
  const dump = await sql`
    select row_to_json(t)::text as j from public.service_tokens t where user_id = ${user.id}
    union all select row_to_json(l)::text from public.token_refresh_logs l where user_id = ${user.id}
    union all select row_to_json(a)::text from public.user_activities a where user_id = ${user.id}`;
  for (const { j } of dump) {
    assert.ok(!j.includes(plain) && !j.includes(dec.refresh_token) && !j.includes(code));
  }

  // The connection is recorded as an activity.
  const [activity] = await sql`
    select details from public.user_activities
     where user_id = ${user.id} and activity_type = 'oauth.connected'`;
  assert.deepEqual(activity.details, {
    token_id: token.id,
    provider: "dev",
    services: ["calendar", "gmail"],
    reconnected: false,
  });
});

test("with redirect_to the callback sends the browser back with a completion code", async () => {
  const user = await createUser("flow-redirect");
  const started = await authorize(user, {
    provider: "dev",
    services: ["calendar"],
    redirect_to: "http://localhost:3000/connected?tab=accounts",
  });
  const res = await callback(
    await consent(started.body.authorization_url, { email: uniqueEmail() }),
  );
  assert.equal(res.status, 302);
  const to = res.location!;
  assert.equal(`${to.origin}${to.pathname}`, "http://localhost:3000/connected");
  assert.equal(to.searchParams.get("tab"), "accounts");
  assert.equal(to.searchParams.get("status"), "authorized");
  assert.equal(to.searchParams.get("provider"), "dev");
  assert.equal(res.headers.get("referrer-policy"), "no-referrer");
  assert.doesNotMatch(to.href, /[?&]code=|state=|devat_|devrt_/);
  const done = await complete(user, to.searchParams.get("completion")!);
  assert.equal(done.status, 201, JSON.stringify(done.body));
  const row = await tokenRow(done.body.token.id);
  assert.equal(row.user_id, user.id);
  // Single use.
  assertError(await complete(user, to.searchParams.get("completion")!), 404, "not_found");
});

test("a mobile app's private-use scheme gets the browser back with a completion code", async () => {
  const user = await createUser("flow-mobile");
  const started = await authorize(user, {
    provider: "dev",
    services: ["calendar"],
    redirect_to: "com.oprina.test:/oauth/done",
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const res = await callback(
    await consent(started.body.authorization_url, { email: uniqueEmail("mobile") }),
  );
  assert.equal(res.status, 302);
  const to = res.location!;
  assert.equal(to.protocol, "com.oprina.test:");
  assert.equal(to.pathname, "/oauth/done");
  assert.equal(to.searchParams.get("status"), "authorized");
  // The app, woken by the scheme, finishes with the user's own session.
  const done = await complete(user, to.searchParams.get("completion")!);
  assert.equal(done.status, 201, JSON.stringify(done.body));
  assert.equal(done.body.token.user_id, user.id);
});

test("connecting the same account again renews the one connection and keeps its services", async () => {
  const user = await createUser("reconnect");
  const email = uniqueEmail("reconnect");
  const first = await connect(user, { services: ["gmail"], email });
  const firstSecret = await secretRow(first.token.id);
  const second = await connect(user, { services: ["calendar"], email });
  assert.equal(second.token.id, first.token.id, "same row for the same provider account");
  assert.deepEqual(second.token.services, ["calendar", "gmail"]);
  assert.ok(Date.parse(second.token.connected_at) > Date.parse(first.token.connected_at));
  const secret = await secretRow(first.token.id);
  assert.notDeepEqual(
    new Uint8Array(secret.access_token),
    new Uint8Array(firstSecret.access_token),
  );
  const activities = await sql`
    select details ->> 'reconnected' as reconnected from public.user_activities
     where user_id = ${user.id} and activity_type = 'oauth.connected' order by id`;
  assert.deepEqual(activities.map((a) => a.reconnected), ["false", "true"]);
  // Another provider account of the same user is another connection.
  const other = await connect(user, { services: ["gmail"] });
  assert.notEqual(other.token.id, first.token.id);
});

test("Google (local stand-in): connect, then its grant shows in the token", async () => {
  const user = await createUser("google");
  const { token, email } = await connect(user, { provider: "google", services: ["gmail"] });
  assert.equal(token.provider, "google");
  assert.deepEqual(token.services, ["gmail"]);
  assert.equal(token.provider_email, email);
  assert.equal(token.has_refresh_token, true, "access_type=offline gave a refresh token");
});

test("Microsoft (local stand-in): connect outlook and calendar", async () => {
  const user = await createUser("microsoft");
  const { token } = await connect(user, {
    provider: "microsoft",
    services: ["outlook", "calendar"],
  });
  assert.equal(token.provider, "microsoft");
  assert.deepEqual(token.services, ["calendar", "outlook"]);
  assert.equal(token.has_refresh_token, true, "offline_access gave a refresh token");
});

test("the same provider account may be connected by two users, separately", async () => {
  const a = await createUser("shared-a");
  const b = await createUser("shared-b");
  const email = uniqueEmail("shared");
  const ta = await connect(a, { email });
  const tb = await connect(b, { email });
  assert.notEqual(ta.token.id, tb.token.id);
  assert.equal(ta.token.user_id, a.id);
  assert.equal(tb.token.user_id, b.id);
});
