// Drives the authorization-code flow the way a browser and its app do: POST
// /authorize as the user, open the provider's page, submit its consent form,
// follow the redirect to our callback, then POST /complete with the
// completion code as the same user. Plus the local OAuth server's controls.
import assert from "node:assert/strict";
import { ServiceToken } from "../../shared/tokens/schemas.ts";
import { parsed } from "../helpers/assert.ts";
import { rowCounts, snapshotOf } from "../helpers/snapshot.ts";
import {
  call,
  createUser,
  FUNCTIONS_URL,
  recordErrorResponse,
  sql,
  type TestUser,
} from "../helpers/stack.ts";

export const PROVIDER_URL = Deno.env.get("DEV_OAUTH_URL")!;

export const uniqueEmail = (label = "acct") => `${label}-${crypto.randomUUID()}@dev.local`;

// deno-lint-ignore no-explicit-any
type Json = any;

export type Callback = { status: number; location: URL | null; headers: Headers; body: Json };

export async function authorize(user: TestUser, body: Record<string, unknown>) {
  return await call("POST", "/oauth/authorize", { token: user.token, body });
}

// The provider's login/consent page, submitted like a person would: every
// scope box stays ticked except those in `untick`. Returns where the provider
// sends the browser (our callback, with code or error).
export async function consent(
  authorizationUrl: string,
  o: { email: string; decision?: "allow" | "deny"; untick?: string[] },
): Promise<URL> {
  const page = await fetch(authorizationUrl);
  const html = await page.text();
  assert.equal(page.status, 200, html);
  assert.match(page.headers.get("content-type") ?? "", /text\/html/);
  const request = html.match(/name="request" value="([^"]+)"/)?.[1];
  assert.ok(request, "the consent page has a form");
  const boxes = [...html.matchAll(/name="scope" value="([^"]+)" checked/g)].map((m) => m[1]);
  for (const scope of o.untick ?? []) assert.ok(boxes.includes(scope), `a box for ${scope}`);
  const form = new URLSearchParams({
    request,
    email: o.email,
    decision: o.decision ?? "allow",
    consent: "granular",
  });
  for (const scope of boxes) if (!o.untick?.includes(scope)) form.append("scope", scope);
  const res = await fetch(`${PROVIDER_URL}/authorize/decision`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: form,
    redirect: "manual",
  });
  await res.body?.cancel();
  assert.equal(res.status, 302);
  return new URL(res.headers.get("location")!);
}

// GET the callback without following its redirect.
export async function callback(url: URL | string): Promise<Callback> {
  const res = await fetch(url, { redirect: "manual" });
  const text = await res.text();
  recordErrorResponse(res.status, text);
  const body = res.headers.get("content-type")?.includes("json") && text ? JSON.parse(text) : text;
  const location = res.headers.get("location");
  return {
    status: res.status,
    location: location ? new URL(location) : null,
    headers: res.headers,
    body,
  };
}

export const callbackUrl = (provider: string, params: Record<string, string>) =>
  `${FUNCTIONS_URL}/oauth/callback/${provider}?${new URLSearchParams(params)}`;

export type Connected = {
  token: Json;
  email: string;
  callback: URL;
};

export async function complete(user: TestUser, completion: string) {
  return await call("POST", "/oauth/complete", { token: user.token, body: { completion } });
}

// The flow up to a parked grant: its completion code, not redeemed yet.
export async function park(
  user: TestUser,
  o: { provider?: string; services?: string[]; email?: string } = {},
) {
  const email = o.email ?? uniqueEmail();
  const started = await authorize(user, {
    provider: o.provider ?? "dev",
    services: o.services ?? ["gmail"],
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const back = await consent(started.body.authorization_url, { email });
  const res = await callback(back);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.status, "authorized");
  return { completion: res.body.completion as string, email, callback: back };
}

// The whole flow; the connection must succeed.
export async function connect(
  user: TestUser,
  o: { provider?: string; services?: string[]; email?: string } = {},
): Promise<Connected> {
  const { completion, email, callback: back } = await park(user, o);
  const done = await complete(user, completion);
  assert.equal(done.status, 201, JSON.stringify(done.body));
  assert.equal(done.body.status, "connected");
  return { token: done.body.token, email, callback: back };
}

// A user with something to lose before a fault: a dev connection that has
// already been refreshed once (so it has a log row and a replaced access
// token), and a Google connection that no fault test touches. Both have their
// ciphertext; the second provider keeps `accessToken(user, "dev")` unambiguous.
export async function userWithConnections(label: string) {
  const user = await createUser(label);
  const dev = await connect(user);
  const google = await connect(user, { provider: "google" });
  const refreshed = await call("POST", `/tokens/${dev.token.id}/refresh`, { token: user.token });
  parsed(ServiceToken, refreshed);
  const counts = rowCounts(await snapshotOf(user.id));
  assert.equal(counts["public.service_tokens"], 2);
  assert.equal(counts["private.token_secrets"], 2);
  assert.equal(counts["public.token_refresh_logs"], 1);
  return { user, dev, google };
}

export async function accessToken(user: TestUser, provider: string, body?: unknown) {
  return await call("POST", `/tokens/${provider}/access-token`, { token: user.token, body });
}

// Makes a token due for refresh: `secondsLeft` to live out of an hour. By
// default also parks it out of the scheduler's reach (backoff in the future),
// so that only the request under test refreshes it; pass scheduler: true to
// leave it for refresh-due, which takes it as a recently used connection
// (proactive refresh; a dormant one waits for its keep-alive, see dormant()).
export async function makeDue(id: string, secondsLeft = 60, o: { scheduler?: boolean } = {}) {
  await sql`update public.service_tokens
               set expires_at = now() + make_interval(secs => ${secondsLeft}),
                   issued_at = now() - interval '1 hour',
                   last_used_at = ${o.scheduler ? sql`now()` : sql`last_used_at`},
                   next_refresh_at = ${o.scheduler ? null : sql`now() + interval '1 hour'`}
             where id = ${id}`;
}

// Makes a connection dormant: last used `idleHours` ago, its access token
// obtained `tokenAgeHours` ago and long expired. The scheduler takes it once
// the token is as old as the provider's keep-alive (24 h for dev). The last
// use must be more than a day before the token's expiry, as the schedule
// leaves them (a use a day before would have made that token proactive).
export async function dormant(id: string, o: { idleHours: number; tokenAgeHours: number }) {
  await sql`update public.service_tokens
               set last_used_at = now() - make_interval(hours => ${o.idleHours}),
                   issued_at = now() - make_interval(hours => ${o.tokenAgeHours}),
                   expires_at = now() - make_interval(hours => ${o.tokenAgeHours})
                                + interval '1 hour',
                   next_refresh_at = null
             where id = ${id}`;
}

export async function tokenRow(id: string) {
  const [row] = await sql`select * from public.service_tokens where id = ${id}`;
  return row;
}

export async function refreshLogs(id: string) {
  return await sql`select * from public.token_refresh_logs where token_id = ${id} order by id`;
}

export async function secretRow(id: string) {
  const [row] = await sql`select * from private.token_secrets where token_id = ${id}`;
  return row;
}

// The local provider's test controls ------------------------------------------------------

export async function control(method: string, path: string, body?: unknown) {
  const res = await fetch(`${PROVIDER_URL}/_control${path}`, {
    method,
    headers: body ? { "Content-Type": "application/json" } : {},
    body: body ? JSON.stringify(body) : undefined,
  });
  const json = await res.json();
  assert.ok(res.ok, JSON.stringify(json));
  return json;
}

export const provider = {
  // What the provider saw for this account.
  seen: (email: string) => control("GET", `/accounts/${encodeURIComponent(email)}`),
  configure: (
    email: string,
    o: { access_token_ttl?: number; rotate_refresh_tokens?: boolean },
  ) => control("POST", `/accounts/${encodeURIComponent(email)}`, o),
  // The next `count` calls to `endpoint` for this account fail this way.
  fault: (
    email: string,
    endpoint: "authorization_code" | "refresh_token" | "revoke" | "userinfo",
    mode: "500" | "hang" | "invalid_grant" | "close" | "malformed",
    o: { count?: number; hang_ms?: number } = {},
  ) => control("POST", "/faults", { account: email, endpoint, mode, ...o }),
  // As if the user removed the app's access at the provider.
  revokeGrants: (email: string) =>
    control("POST", `/accounts/${encodeURIComponent(email)}/revoke-grants`, {}),
  userinfo: async (accessToken: string) => {
    const res = await fetch(`${PROVIDER_URL}/userinfo`, {
      headers: { Authorization: `Bearer ${accessToken}` },
    });
    return { status: res.status, body: await res.json() };
  },
};
