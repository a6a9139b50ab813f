// Providers as data, resolved against the environment: enabled only with
// both credentials, endpoints overridable, https off loopback, a clear error
// naming the variable otherwise. Plus the redirect allow-list and the token
// maintenance settings. Pure functions: no stack needed.
import assert from "node:assert/strict";
import { parseOAuthConfig } from "../../shared/oauth/config.ts";
import {
  accessReport,
  coverage,
  PROVIDERS,
  scopesFor,
  specsOf,
} from "../../shared/providers/definitions.ts";
import { allowedRedirect } from "../../shared/oauth/redirect.ts";
import { backoffSeconds, parseTokensConfig } from "../../shared/tokens/config.ts";

const base = { SUPABASE_URL: "https://ref.supabase.co" };
const google = { GOOGLE_CLIENT_ID: "id.apps", GOOGLE_CLIENT_SECRET: "s" };

Deno.test("no credentials, no providers; the callback follows SUPABASE_URL", () => {
  const c = parseOAuthConfig(base);
  assert.equal(c.providers.size, 0);
  assert.equal(c.callbackBase, "https://ref.supabase.co/functions/v1/oauth/callback");
  assert.deepEqual(c.redirectAllowlist, []);
  assert.equal(c.httpTimeoutMs, 10_000);
});

Deno.test("a provider needs both its client id and secret", () => {
  assert.throws(
    () => parseOAuthConfig({ ...base, GOOGLE_CLIENT_ID: "x" }),
    /GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET/,
  );
  assert.throws(
    () => parseOAuthConfig({ ...base, MICROSOFT_CLIENT_SECRET: "x" }),
    /MICROSOFT_CLIENT_ID and MICROSOFT_CLIENT_SECRET/,
  );
});

Deno.test("Google's default endpoints, revocation included", () => {
  const g = parseOAuthConfig({ ...base, ...google }).providers.get("google")!;
  assert.deepEqual(g.endpoints, {
    authorization: "https://accounts.google.com/o/oauth2/v2/auth",
    token: "https://oauth2.googleapis.com/token",
    userinfo: "https://openidconnect.googleapis.com/v1/userinfo",
    revocation: "https://oauth2.googleapis.com/revoke",
  });
  assert.deepEqual(g.authorizeParams, {
    access_type: "offline",
    prompt: "consent",
    include_granted_scopes: "true",
  });
});

Deno.test("Microsoft: tenant configurable (default common), no revocation endpoint", () => {
  const env = { ...base, MICROSOFT_CLIENT_ID: "app", MICROSOFT_CLIENT_SECRET: "s" };
  const common = parseOAuthConfig(env).providers.get("microsoft")!;
  assert.equal(
    common.endpoints.token,
    "https://login.microsoftonline.com/common/oauth2/v2.0/token",
  );
  assert.equal(common.endpoints.revocation, null);
  assert.ok(common.identityScopes.includes("offline_access"));
  const tenant = parseOAuthConfig({ ...env, MICROSOFT_TENANT: "contoso.onmicrosoft.com" })
    .providers.get("microsoft")!;
  assert.equal(
    tenant.endpoints.authorization,
    "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize",
  );
  assert.throws(
    () => parseOAuthConfig({ ...env, MICROSOFT_TENANT: "../evil" }),
    /MICROSOFT_TENANT/,
  );
});

Deno.test("every endpoint can be overridden; plain http only on loopback", () => {
  const c = parseOAuthConfig({
    ...base,
    ...google,
    GOOGLE_TOKEN_URL: "http://127.0.0.1:9999/token",
    GOOGLE_REVOCATION_URL: "https://revoke.example/r",
  });
  const g = c.providers.get("google")!;
  assert.equal(g.endpoints.token, "http://127.0.0.1:9999/token");
  assert.equal(g.endpoints.revocation, "https://revoke.example/r");
  assert.equal(g.endpoints.authorization, "https://accounts.google.com/o/oauth2/v2/auth");
  assert.throws(
    () => parseOAuthConfig({ ...base, ...google, GOOGLE_TOKEN_URL: "http://token.example/t" }),
    /GOOGLE_TOKEN_URL/,
  );
  assert.throws(
    () => parseOAuthConfig({ ...base, ...google, GOOGLE_USERINFO_URL: "not a url" }),
    /GOOGLE_USERINFO_URL/,
  );
});

Deno.test("the dev provider needs its server's URL", () => {
  const creds = { DEV_OAUTH_CLIENT_ID: "c", DEV_OAUTH_CLIENT_SECRET: "s" };
  assert.throws(() => parseOAuthConfig({ ...base, ...creds }), /DEV_OAUTH_URL/);
  const dev = parseOAuthConfig({ ...base, ...creds, DEV_OAUTH_URL: "http://127.0.0.1:54329/" })
    .providers.get("dev")!;
  assert.equal(dev.endpoints.revocation, "http://127.0.0.1:54329/revoke");
});

Deno.test("OAUTH_REDIRECT_ALLOWLIST entries are plain http(s) URLs", () => {
  assert.throws(
    () => parseOAuthConfig({ ...base, OAUTH_REDIRECT_ALLOWLIST: "https://a.example/?x=1" }),
    /OAUTH_REDIRECT_ALLOWLIST/,
  );
  assert.throws(
    () => parseOAuthConfig({ ...base, OAUTH_REDIRECT_ALLOWLIST: "javascript:alert(1)" }),
    /OAUTH_REDIRECT_ALLOWLIST/,
  );
  const c = parseOAuthConfig({
    ...base,
    OAUTH_REDIRECT_ALLOWLIST: "https://app.example, https://x.example/settings",
    OAUTH_CALLBACK_URL: "https://api.example/cb/",
  });
  assert.equal(c.redirectAllowlist.length, 2);
  assert.equal(c.callbackBase, "https://api.example/cb");
});

Deno.test("redirect_to matches an entry's origin and path on a segment boundary", () => {
  const list = [new URL("https://app.example"), new URL("https://x.example/settings")];
  const ok = (u: string) => allowedRedirect(u, list)?.href ?? null;
  assert.equal(ok("https://app.example/anything?q=1"), "https://app.example/anything?q=1");
  assert.equal(ok("https://x.example/settings"), "https://x.example/settings");
  assert.equal(ok("https://x.example/settings/accounts"), "https://x.example/settings/accounts");
  assert.equal(ok("https://x.example/settingsevil"), null);
  assert.equal(ok("https://x.example/other"), null);
  assert.equal(ok("https://x.example/settings/../admin"), null);
  assert.equal(ok("http://app.example/"), null);
  assert.equal(ok("https://app.example.evil.example/"), null);
  assert.equal(ok("https://app.example@evil.example/"), null);
  assert.equal(ok("https://app.example:8443/"), null);
});

Deno.test("a native app's private-use scheme (RFC 8252) may be allow-listed and matched", () => {
  const c = parseOAuthConfig({
    ...base,
    OAUTH_REDIRECT_ALLOWLIST: "https://app.example/oauth, com.example.app:/oauth",
  });
  assert.equal(c.redirectAllowlist.length, 2);
  for (
    const bad of [
      "myapp:/oauth",
      "javascript:alert(1)",
      "file:///etc/passwd",
      "com.example.app:/x?y=1",
    ]
  ) {
    assert.throws(
      () => parseOAuthConfig({ ...base, OAUTH_REDIRECT_ALLOWLIST: bad }),
      /OAUTH_REDIRECT_ALLOWLIST/,
      bad,
    );
  }
  const ok = (u: string) => allowedRedirect(u, c.redirectAllowlist)?.href ?? null;
  assert.equal(ok("com.example.app:/oauth"), "com.example.app:/oauth");
  assert.equal(ok("com.example.app:/oauth/done?x=1"), "com.example.app:/oauth/done?x=1");
  assert.equal(ok("com.example.app:/oauthevil"), null);
  assert.equal(ok("com.example.app:/other"), null);
  assert.equal(ok("com.example.app:/oauth/../admin"), null);
  assert.equal(ok("com.example.app://evil.example/oauth"), null, "another authority");
  assert.equal(ok("com.evil.app:/oauth"), null);
  assert.equal(
    ok("COM.EXAMPLE.APP:/oauth"),
    "com.example.app:/oauth",
    "schemes are case-insensitive",
  );
  // The claimed https link of the same app is an ordinary web entry.
  assert.equal(ok("https://app.example/oauth/done"), "https://app.example/oauth/done");
});

Deno.test("granted scopes are compared the way each provider spells them", () => {
  assert.deepEqual(
    coverage(PROVIDERS.microsoft, ["Mail.ReadWrite", "mail.send", "User.Read"]),
    { outlook: "write" },
  );
  assert.deepEqual(
    coverage(PROVIDERS.google, [
      "https://www.googleapis.com/auth/calendar",
      "https://www.googleapis.com/auth/userinfo.email",
    ]),
    { calendar: "write" },
  );
  assert.deepEqual(coverage(PROVIDERS.dev, ["DEV.MAIL"]), { gmail: "write" });
});

Deno.test("coverage per service and level: a full scope includes its read-only one", () => {
  const G = "https://www.googleapis.com/auth/";
  assert.deepEqual(coverage(PROVIDERS.google, [`${G}gmail.modify`, `${G}calendar.readonly`]), {
    gmail: "write",
    calendar: "read",
  });
  // Graph answers without its resource prefix, in any case.
  assert.deepEqual(coverage(PROVIDERS.microsoft, ["mail.readwrite", "Calendars.Read"]), {
    outlook: "read",
    calendar: "read",
  });
  assert.deepEqual(coverage(PROVIDERS.dev, ["openid"]), {});
  assert.deepEqual(scopesFor(PROVIDERS.dev, { gmail: "read", calendar: "write" }), [
    "dev.mail.readonly",
    "dev.calendar",
  ]);
});

Deno.test("an access report: what is missing, what a live connection already covers", () => {
  const partial = accessReport(PROVIDERS.dev, ["dev.mail"], { gmail: "write", calendar: "read" });
  assert.deepEqual(partial, {
    access: { gmail: "write" },
    missing: { calendar: "read" },
    services: ["gmail"],
    partial: true,
  });
  // Asked for write, granted read: write is missing, read is reported.
  const lower = accessReport(PROVIDERS.dev, ["dev.mail.readonly"], { gmail: "write" });
  assert.deepEqual([lower.access, lower.missing], [{ gmail: "read" }, { gmail: "write" }]);
  // A renewal keeps what the account's live connection covers.
  const kept = accessReport(PROVIDERS.dev, ["dev.calendar"], { calendar: "write" }, {
    gmail: "read",
  });
  assert.deepEqual(kept.access, { gmail: "read", calendar: "write" });
  assert.equal(kept.partial, false);
  assert.deepEqual(specsOf({ calendar: "write", gmail: "read" }), ["gmail:read", "calendar"]);
});

Deno.test("token maintenance settings: defaults, bounds and the backoff curve", () => {
  const c = parseTokensConfig({});
  assert.equal(c.TOKEN_REFRESH_WINDOW_SECONDS, 600);
  assert.equal(c.TOKEN_REFRESH_CONCURRENCY, 4);
  assert.throws(() => parseTokensConfig({ TOKEN_REFRESH_CONCURRENCY: "0" }), /CONCURRENCY/);
  assert.throws(() => parseTokensConfig({ TOKEN_LOG_RETENTION_DAYS: "x" }), /RETENTION/);
  assert.deepEqual([1, 2, 3, 4, 7, 8, 40].map((n) => backoffSeconds(c, n)), [
    60,
    120,
    240,
    480,
    3600,
    3600,
    3600,
  ]);
});
