// Units of the shared core that need no stack.
import assert from "node:assert/strict";
import { z } from "zod";
import { parseConfig } from "../../shared/config.ts";
import { parseAccountConfig } from "../../shared/account/config.ts";
import { AppError, toAppError } from "../../shared/core/errors.ts";
import { decodeCursor, encodeCursor, page } from "../../shared/http/pagination.ts";
import { createVerifier } from "../../shared/auth/jwt.ts";
import { leaseSize, parseRateLimits } from "../../shared/auth/rate-limit.ts";
import { generateKeyPair, SignJWT } from "jose";

const base = {
  SUPABASE_URL: "http://127.0.0.1:54321",
  SUPABASE_DB_URL: "postgresql://postgres:postgres@127.0.0.1:54322/postgres",
};

Deno.test("config names the missing variable", () => {
  assert.throws(() => parseConfig({ SUPABASE_URL: base.SUPABASE_URL }), /SUPABASE_DB_URL/);
  assert.throws(() => parseConfig({ ...base, SUPABASE_URL: "not a url" }), /SUPABASE_URL/);
  assert.throws(
    () => parseConfig({ ...base, LEGACY_JWT_SECRET: "short" }),
    /LEGACY_JWT_SECRET/,
  );
  assert.throws(
    () => parseConfig({ ...base, SUPABASE_SECRET_KEYS: "sb_secret_not_json" }),
    /SUPABASE_SECRET_KEYS/,
  );
});

Deno.test("config: DATABASE_URL (the pooler) wins over SUPABASE_DB_URL, which hosted fixes", () => {
  const pooler = "postgresql://postgres.ref:pw@pooler.example:6543/postgres";
  assert.equal(parseConfig(base).DB_URL, base.SUPABASE_DB_URL);
  assert.equal(parseConfig({ ...base, DATABASE_URL: pooler }).DB_URL, pooler);
  assert.equal(
    parseConfig({ SUPABASE_URL: base.SUPABASE_URL, DATABASE_URL: pooler }).DB_URL,
    pooler,
  );
  assert.throws(() => parseConfig({ ...base, DATABASE_URL: "mysql://x" }), /DATABASE_URL/);
});

Deno.test("config: service keys are every secret key and the legacy service_role key", () => {
  const c = parseConfig({
    ...base,
    SUPABASE_SECRET_KEYS: '{"default":"sb_secret_a","cron":"sb_secret_b"}',
    SUPABASE_SERVICE_ROLE_KEY: "legacy.jwt.value",
  });
  assert.deepEqual(c.SERVICE_KEYS, ["sb_secret_a", "sb_secret_b", "legacy.jwt.value"]);
  assert.deepEqual(parseConfig(base).SERVICE_KEYS, []);
  // No JWT secret is ever read from a SUPABASE_ name: hosted never sets one.
  const withOld = parseConfig({ ...base, SUPABASE_JWT_SECRET: "x".repeat(40) });
  assert.equal(withOld.LEGACY_JWT_SECRET, undefined);
});

Deno.test("config derives the JWKS URL and issuers from the project URL", () => {
  const c = parseConfig({ ...base, SUPABASE_URL: "https://abc.supabase.co/" });
  assert.equal(c.JWKS_URL.href, "https://abc.supabase.co/auth/v1/.well-known/jwks.json");
  assert.ok(c.JWT_ISSUERS.includes("https://abc.supabase.co/auth/v1"));
  assert.deepEqual(
    parseConfig({ ...base, CORS_ORIGINS: "https://a.app, https://b.app" }).CORS_ORIGINS,
    [
      "https://a.app",
      "https://b.app",
    ],
  );
});

Deno.test("database errors map to client errors or 503, never leak", () => {
  const check = toAppError({ code: "23514", constraint_name: "c", table_name: "t" });
  assert.equal(check.code, "validation_failed");
  assert.equal(check.details, undefined, "no constraint or table names");
  assert.equal(toAppError({ code: "54001" }).status, 400, "stack depth: only input causes it");
  assert.equal(toAppError({ code: "22P02" }).status, 400);
  assert.equal(toAppError({ code: "23505" }).code, "conflict");
  const down = toAppError(
    Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
  );
  assert.equal(down.code, "service_unavailable");
  assert.equal(down.headers?.["Retry-After"], "1");
  const hidden = toAppError(new Error("relation secret_table does not exist"));
  assert.equal(hidden.code, "internal");
  assert.equal(hidden.message, "internal error");
  const own = new AppError("conflict", "x");
  assert.equal(toAppError(own), own);
});

Deno.test("cursors round-trip and reject anything else", () => {
  const shape = z.tuple([z.number()]);
  assert.deepEqual(decodeCursor(encodeCursor([7]), shape), [7]);
  for (const bad of ["", "!!!", encodeCursor(["x"]), encodeCursor([1, 2])]) {
    assert.throws(() => decodeCursor(bad, shape), (e: AppError) => e.code === "validation_failed");
  }
  assert.deepEqual(page([1, 2, 3], 2, (n) => [n]), {
    data: [1, 2],
    next_cursor: encodeCursor([2]),
  });
  assert.deepEqual(page([1, 2], 2, (n) => [n]), { data: [1, 2], next_cursor: null });
});

Deno.test("an unreachable JWKS is a 503, not a 401", async () => {
  const verify = createVerifier({
    jwksUrl: new URL("http://127.0.0.1:9/jwks.json"),
    issuers: ["x"],
  });
  const { privateKey } = await generateKeyPair("ES256");
  const token = await new SignJWT({ sub: "s" }).setProtectedHeader({ alg: "ES256", kid: "k" })
    .setIssuer("x").setExpirationTime("1h").sign(privateKey);
  await assert.rejects(verify(token), (e: AppError) => e.code === "service_unavailable");
});

Deno.test("HS256 tokens are refused when no secret is configured", async () => {
  const verify = createVerifier({
    jwksUrl: new URL("http://127.0.0.1:9/jwks.json"),
    issuers: ["x"],
  });
  const token = await new SignJWT({ sub: "s" }).setProtectedHeader({ alg: "HS256" }).setIssuer("x")
    .setExpirationTime("1h").sign(new TextEncoder().encode("x".repeat(40)));
  await assert.rejects(verify(token), (e: AppError) => e.code === "unauthorized");
});

Deno.test("a remembered token is keyed by its exact text: a tampered copy still fails", async () => {
  const secret = "s".repeat(40);
  const verify = createVerifier({
    secret,
    jwksUrl: new URL("http://127.0.0.1:9/jwks.json"),
    issuers: ["x"],
  });
  const token = await new SignJWT({ sub: "a", role: "authenticated" }).setProtectedHeader({
    alg: "HS256",
  })
    .setIssuer("x").setExpirationTime("1h").sign(new TextEncoder().encode(secret));
  assert.equal((await verify(token)).sub, "a");
  assert.equal((await verify(token)).sub, "a");
  const [h, p, s] = token.split(".");
  const forged = `${h}.${p.slice(0, -2)}${p.endsWith("A") ? "B" : "A"}${p.slice(-1)}.${s}`;
  await assert.rejects(verify(forged), (e: AppError) => e.code === "unauthorized");
});

Deno.test("a token without exp is refused on the legacy HS256 path too, and says why", async () => {
  const secret = "s".repeat(40);
  const verify = createVerifier({
    secret,
    jwksUrl: new URL("http://127.0.0.1:9/jwks.json"),
    issuers: ["x"],
  });
  const key = new TextEncoder().encode(secret);
  const claims = { sub: "a", role: "authenticated" };
  const forever = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuer("x")
    .sign(key);
  await assert.rejects(
    verify(forever),
    (e: AppError) => e.code === "unauthorized" && /no exp claim/.test(e.message),
  );
  const expiring = await new SignJWT(claims).setProtectedHeader({ alg: "HS256" }).setIssuer("x")
    .setExpirationTime("1h").sign(key);
  assert.equal((await verify(expiring)).sub, "a");
});

Deno.test("rate limits parse from <requests>/<seconds> and name a malformed variable", () => {
  const limits = parseRateLimits({ RATE_LIMIT_CHAT: "5/10" });
  assert.deepEqual(limits.chat, { limit: 5, windowSeconds: 10 });
  assert.deepEqual(limits.default, { limit: 300, windowSeconds: 60 });
  assert.deepEqual(limits.public, { limit: 120, windowSeconds: 60 }, "public routes, per address");
  assert.deepEqual(parseRateLimits({ RATE_LIMIT_PUBLIC: "5/1" }).public, {
    limit: 5,
    windowSeconds: 1,
  });
  assert.throws(() => parseRateLimits({ RATE_LIMIT_AUTH: "many" }), /RATE_LIMIT_AUTH/);
  assert.throws(() => parseRateLimits({ RATE_LIMIT_HEYGEN: "0/60" }), /RATE_LIMIT_HEYGEN/);
});

Deno.test("leases are 5% of a limit, and limits under 40 are counted hit by hit", () => {
  assert.deepEqual([1, 10, 39, 40, 300, 600].map(leaseSize), [1, 1, 1, 2, 15, 30]);
});

Deno.test("API_KEYS_MAX_LIVE defaults to 25 and a malformed value is named", () => {
  assert.deepEqual(parseAccountConfig({}), { maxLiveApiKeys: 25 });
  assert.deepEqual(parseAccountConfig({ API_KEYS_MAX_LIVE: "3" }), { maxLiveApiKeys: 3 });
  for (const bad of ["0", "-1", "2.5", "many", "1001"]) {
    assert.throws(() => parseAccountConfig({ API_KEYS_MAX_LIVE: bad }), /API_KEYS_MAX_LIVE/);
  }
});

Deno.test("a function run alone listens where DENO_SERVE_ADDRESS says (Deno 2.1 does not read it)", async () => {
  const { serveAddress } = await import("../../shared/http/serve.ts");
  assert.deepEqual(serveAddress("tcp:127.0.0.1:8123"), { hostname: "127.0.0.1", port: 8123 });
  assert.deepEqual(serveAddress("tcp:[::1]:8123"), { hostname: "::1", port: 8123 });
  assert.deepEqual(serveAddress(undefined), {});
  assert.deepEqual(serveAddress("unix:/tmp/x.sock"), {});
});
