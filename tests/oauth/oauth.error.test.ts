// What the oauth function refuses: bad authorize input, redirect targets off
// the allow-list, and every way a callback can be wrong (state replay, expiry,
// another provider, another user, provider errors, PKCE mismatch, provider
// outages on the exchange and on userinfo, which spend the state and change
// nothing else the user has stored).
import assert from "node:assert/strict";
import { hashState } from "../../shared/oauth/state.ts";
import { assertError } from "../helpers/assert.ts";
import { assertOnlyChanges, type Snapshot, snapshotOf } from "../helpers/snapshot.ts";
import { call, createUser, sql, test, type TestUser } from "../helpers/stack.ts";
import {
  authorize,
  callback,
  callbackUrl,
  complete,
  connect,
  consent,
  provider,
  uniqueEmail,
  userWithConnections,
} from "./flow.ts";

const user = await createUser("oauth-errors");

// Connections and grants parked for completion: a failed callback leaves neither.
const connectionsOf = async (u: TestUser) =>
  (await sql`select ((select count(*) from public.service_tokens where user_id = ${u.id})
                  + (select count(*) from private.parked_grants where user_id = ${u.id}))::int as n`)[
    0
  ]
    .n as number;

// authorize ------------------------------------------------------------------------------

const badBodies: Array<[string, unknown]> = [
  ["an unknown provider", { provider: "github", services: ["gmail"] }],
  ["no services nor scopes", { provider: "dev" }],
  ["an empty services list", { provider: "dev", services: [] }],
  ["an unknown service", { provider: "dev", services: ["drive"] }],
  ["a service the provider does not offer", { provider: "google", services: ["outlook"] }],
  ["a scope the provider does not list", { provider: "google", scopes: ["https://evil/scope"] }],
  ["only identity scopes", { provider: "dev", scopes: ["openid", "email"] }],
  ["an extra field", { provider: "dev", services: ["gmail"], user_id: crypto.randomUUID() }],
  ["services not an array", { provider: "dev", services: "gmail" }],
  ["a body that is an array", [{ provider: "dev" }]],
];
for (const [name, body] of badBodies) {
  test(`authorize rejects ${name} with 400 and stores no state`, async () => {
    const u = await createUser("bad-authz");
    assertError(await authorize(u, body as Record<string, unknown>), 400, "validation_failed");
    const [{ n }] =
      await sql`select count(*)::int as n from public.oauth_states where user_id = ${u.id}`;
    assert.equal(n, 0);
  });
}

const offList = [
  "https://evil.example/connected",
  "http://127.0.0.1:3001/connected",
  "https://127.0.0.1:3000/connected",
  "http://127.0.0.1:3000.evil.example/connected",
  "http://127.0.0.1:3000@evil.example/connected",
  "http://user:pw@127.0.0.1:3000/connected",
  "javascript:alert(1)",
  "data:text/html,hi",
  "//evil.example/connected",
  "/relative/path",
  "not a url",
  `http://127.0.0.1:3000/${"x".repeat(2100)}`,
];
for (const redirect_to of offList) {
  test(`authorize refuses redirect_to ${redirect_to.slice(0, 60)} (off the allow-list)`, async () => {
    const res = await authorize(user, { provider: "dev", services: ["gmail"], redirect_to });
    assertError(res, 400, "validation_failed");
  });
}

test("authorize accepts allow-listed redirect_to, normalized", async () => {
  const res = await authorize(user, {
    provider: "dev",
    services: ["gmail"],
    redirect_to: "http://127.0.0.1:3000/a/../settings",
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const [row] = await sql`select redirect_to from public.oauth_states
                           where user_id = ${user.id} order by created_at desc limit 1`;
  assert.equal(row.redirect_to, "http://127.0.0.1:3000/settings");
});

test("authorize rejects malformed JSON and other content types", async () => {
  assertError(
    await call("POST", "/oauth/authorize", {
      token: user.token,
      body: '{"provider":',
      headers: { "Content-Type": "application/json" },
    }),
    400,
    "validation_failed",
  );
  assertError(
    await call("POST", "/oauth/authorize", {
      token: user.token,
      body: "provider=dev",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    }),
    415,
    "unsupported_media_type",
  );
});

test("at most ten authorizations may be in flight per user (429)", async () => {
  const u = await createUser("pending");
  for (let i = 0; i < 10; i++) {
    assert.equal((await authorize(u, { provider: "dev", services: ["gmail"] })).status, 200);
  }
  const res = await authorize(u, { provider: "dev", services: ["gmail"] });
  assertError(res, 429, "rate_limited");
  assert.equal(res.headers.get("retry-after"), "600");
  // Expired ones do not count.
  await sql`update public.oauth_states set created_at = now() - interval '11 minutes',
                                          expires_at = now() - interval '1 minute'
             where user_id = ${u.id}`;
  assert.equal((await authorize(u, { provider: "dev", services: ["gmail"] })).status, 200);
});

// callback: the state ------------------------------------------------------------------------

async function pending(u: TestUser, body: Record<string, unknown> = {}) {
  const res = await authorize(u, { provider: "dev", services: ["gmail"], ...body });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.authorization_url as string;
}

test("a callback without a state, or with a malformed one, is 400 invalid_state", async () => {
  const cases: Record<string, string>[] = [
    { code: "abc" },
    { code: "abc", state: "short" },
    { state: "a b c" },
  ];
  for (const params of cases) {
    const res = await callback(callbackUrl("dev", params));
    assertError(res, 400, "invalid_state");
  }
});

test("an unknown state is 400 invalid_state and connects nothing", async () => {
  const res = await callback(callbackUrl("dev", { code: "x", state: "A".repeat(43) }));
  assertError(res, 400, "invalid_state");
  assert.equal(res.body.error.details.reason, "unknown_state");
});

test("a state is single use: replaying the callback is refused", async () => {
  const u = await createUser("replay");
  const back = await consent(await pending(u), { email: uniqueEmail() });
  const first = await callback(back);
  assert.equal(first.status, 200);
  const again = await callback(back);
  assertError(again, 400, "invalid_state");
  assert.equal((await complete(u, first.body.completion)).status, 201);
  assert.equal(await connectionsOf(u), 1);
});

test("two callbacks racing with one state: exactly one connects", async () => {
  const u = await createUser("race");
  const back = await consent(await pending(u), { email: uniqueEmail() });
  const results = await Promise.all([callback(back), callback(back), callback(back)]);
  assert.deepEqual(results.map((r) => r.status).sort(), [200, 400, 400]);
  const won = results.find((r) => r.status === 200)!;
  assert.equal((await complete(u, won.body.completion)).status, 201);
  assert.equal(await connectionsOf(u), 1);
});

test("an expired state is refused (and spent), redirecting with code=invalid_state", async () => {
  const u = await createUser("expired");
  const back = await consent(
    await pending(u, { redirect_to: "http://127.0.0.1:3000/done" }),
    { email: uniqueEmail() },
  );
  await sql`update public.oauth_states set created_at = now() - interval '11 minutes',
                                          expires_at = now() - interval '1 minute'
             where user_id = ${u.id}`;
  const res = await callback(back);
  assert.equal(res.status, 302);
  assert.equal(res.location!.searchParams.get("status"), "error");
  assert.equal(res.location!.searchParams.get("code"), "invalid_state");
  assert.equal(res.location!.searchParams.get("reason"), "expired");
  assert.equal(await connectionsOf(u), 0);
  const [{ n }] =
    await sql`select count(*)::int as n from public.oauth_states where user_id = ${u.id}`;
  assert.equal(n, 0, "the expired state is consumed too");
});

test("a state used at another provider's callback is refused and spent", async () => {
  const u = await createUser("wrong-provider");
  const back = await consent(await pending(u), { email: uniqueEmail() });
  const wrong = new URL(back);
  wrong.pathname = wrong.pathname.replace(/\/dev$/, "/google");
  const res = await callback(wrong);
  assertError(res, 400, "invalid_state");
  assert.equal(res.body.error.details.reason, "wrong_provider");
  assertError(await callback(back), 400, "invalid_state");
  assert.equal(await connectionsOf(u), 0);
});

test("an unknown provider in the callback path is 400", async () => {
  const res = await callback(callbackUrl("github", { code: "x", state: "A".repeat(43) }));
  assertError(res, 400, "validation_failed");
});

// callback: the provider's answer -----------------------------------------------------------

test("the user denying access is 403 access_denied, or status=error with a redirect", async () => {
  const u = await createUser("deny");
  const denied = await consent(await pending(u), { email: uniqueEmail(), decision: "deny" });
  assert.equal(denied.searchParams.get("error"), "access_denied");
  const res = await callback(denied);
  assertError(res, 403, "access_denied");

  const redirected = await consent(
    await pending(u, { redirect_to: "http://localhost:3000/c" }),
    { email: uniqueEmail(), decision: "deny" },
  );
  const r = await callback(redirected);
  assert.equal(r.status, 302);
  assert.equal(r.location!.searchParams.get("status"), "error");
  assert.equal(r.location!.searchParams.get("code"), "access_denied");
  assert.equal(await connectionsOf(u), 0);
});

test("another provider error= is 502 provider_error and never echoes the provider's text", async () => {
  const u = await createUser("provider-error");
  const url = new URL(await pending(u));
  const state = url.searchParams.get("state")!;
  const res = await callback(callbackUrl("dev", {
    state,
    error: "server_error<script>",
    error_description: "<b>boom</b>",
  }));
  assertError(res, 502, "provider_error");
  assert.equal(res.body.error.details.reason, "authorization_error");
  assert.doesNotMatch(JSON.stringify(res.body), /script|boom/);
});

test("a callback without a code is 502 provider_error no_code", async () => {
  const u = await createUser("no-code");
  const state = new URL(await pending(u)).searchParams.get("state")!;
  const res = await callback(callbackUrl("dev", { state }));
  assertError(res, 502, "provider_error");
  assert.equal(res.body.error.details.reason, "no_code");
});

test("a wrong PKCE verifier makes the provider refuse the code: nothing is connected", async () => {
  const u = await createUser("pkce");
  const email = uniqueEmail("pkce");
  const back = await consent(await pending(u), { email });
  await sql`update public.oauth_states set code_verifier = ${
    "w".repeat(43)
  } where user_id = ${u.id}`;
  const res = await callback(back);
  assertError(res, 502, "provider_error");
  assert.equal(res.body.error.details.reason, "exchange_rejected");
  const seen = await provider.seen(email);
  assert.equal(seen.code_exchange_failures, 1);
  assert.equal(await connectionsOf(u), 0);
});

test("the local provider enforces PKCE: no verifier, or a wrong one, is invalid_grant", async () => {
  const u = await createUser("pkce-direct");
  const auth = new URL(await pending(u));
  const redirect_uri = auth.searchParams.get("redirect_uri")!;
  for (const verifier of [null, "v".repeat(43)]) {
    const back = await consent(
      await pending(u),
      { email: uniqueEmail("pkce-direct") },
    );
    const form = new URLSearchParams({
      grant_type: "authorization_code",
      code: back.searchParams.get("code")!,
      redirect_uri,
      client_id: "oprina-local",
      client_secret: Deno.env.get("DEV_OAUTH_CLIENT_SECRET")!,
    });
    if (verifier) form.set("code_verifier", verifier);
    const res = await fetch(`${Deno.env.get("DEV_OAUTH_URL")}/token`, {
      method: "POST",
      body: form,
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error, "invalid_grant");
  }
});

const outages: Array<["500" | "hang" | "close" | "malformed", number, string]> = [
  ["500", 502, "provider_error"],
  ["hang", 504, "provider_timeout"],
  ["close", 502, "provider_error"],
  ["malformed", 502, "provider_error"],
];

// What a callback that fails after its state was accepted may change: the
// state is spent (single use, whatever happens next), and nothing else. The
// user's earlier connections keep their rows and ciphertext to the byte.
async function assertOnlyStateSpent(u: TestUser, before: Snapshot, authorizationUrl: string) {
  const changes = await assertOnlyChanges(before, await snapshotOf(u.id), {
    "public.oauth_states": { removed: 1 },
  });
  const [spent] = changes["public.oauth_states"].removed;
  const state = new URL(authorizationUrl).searchParams.get("state")!;
  assert.equal(spent.state_hash, hashState(state));
}

for (const [mode, status, code] of outages) {
  test(`the provider failing the code exchange (${mode}) is ${status} ${code}; the state is spent, nothing else changes`, async () => {
    const { user: u } = await userWithConnections(`exchange-${mode}`);
    const email = uniqueEmail(`exchange-${mode}`);
    const url = await pending(u);
    const back = await consent(url, { email });
    await provider.fault(email, "authorization_code", mode, { hang_ms: 6000 });
    const before = await snapshotOf(u.id);
    const res = await callback(back);
    assertError(res, status, code);
    assert.equal(res.body.error.details.reason, "exchange_failed");
    await assertOnlyStateSpent(u, before, url);
    assert.equal((await provider.seen(email)).faults_served, 1);
  });
}

// A user with an account connected at Google only, or at Google and dev; the
// failing flow is at dev, which revokes per RFC 7009.
async function userConnectedAt(label: string, providers: string[]) {
  const u = await createUser(label);
  for (const p of providers) await connect(u, { provider: p });
  return u;
}

for (
  const [label, connected, revoked] of [
    ["no account there yet: the grant is revoked", ["google"], 1],
    ["an account already connected there: the grant is kept", ["google", "dev"], 0],
  ] as const
) {
  test(`the provider failing userinfo is 502, the state is spent, nothing else changes; ${label}`, async () => {
    const u = await userConnectedAt(`userinfo-${revoked}`, [...connected]);
    const email = uniqueEmail("userinfo");
    const url = await pending(u, { redirect_to: "http://127.0.0.1:3000/x" });
    const back = await consent(url, { email });
    await provider.fault(email, "userinfo", "500");
    const before = await snapshotOf(u.id);
    assert.equal(before["public.service_tokens"].length, connected.length);
    const res = await callback(back);
    assert.equal(res.status, 302);
    assert.equal(res.location!.searchParams.get("code"), "provider_error");
    assert.equal(res.location!.searchParams.get("reason"), "account_unavailable");
    await assertOnlyStateSpent(u, before, url);
    const seen = await provider.seen(email);
    assert.equal(seen.revocations.length, revoked);
    assert.equal(seen.active_refresh_tokens, 1 - revoked);
  });
}
