// The stack is as strict as hosted Supabase: functions get no JWT secret and
// only the platform's environment, service callers authenticate with the
// project's secret key or the legacy service_role JWT (compared, never
// verified), and HS256 user tokens are refused.
import assert from "node:assert/strict";
import { SignJWT } from "jose";
import { serviceKeyMatcher } from "../../shared/auth/service-keys.ts";
import { LOCAL_JWT_SECRET } from "../../scripts/local/keys.ts";
import { PLATFORM_VARIABLES, visibleToFunctions } from "../../scripts/local/hosted-env.ts";
import { assertError } from "../helpers/assert.ts";
import {
  API_URL,
  call,
  createUser,
  SECRET_KEY,
  SERVICE_ROLE_KEY,
  sql,
  test,
} from "../helpers/stack.ts";

test("functions see the platform's variables and project secrets, no other SUPABASE_ name", () => {
  for (const name of PLATFORM_VARIABLES) assert.ok(visibleToFunctions(name), name);
  for (const name of ["GOOGLE_CLIENT_ID", "AGENT_URL", "LEGACY_JWT_SECRET", "DATABASE_URL"]) {
    assert.ok(visibleToFunctions(name), name);
  }
  for (
    const name of [
      "SUPABASE_JWT_SECRET",
      "SUPABASE_AUTH_JWT_SECRET",
      "PLATFORM_DB_URL",
      "GATEWAY_PORT",
    ]
  ) {
    assert.ok(!visibleToFunctions(name), name);
  }
});

test("the service key matcher accepts each configured key and nothing near it", () => {
  const matches = serviceKeyMatcher(["sb_secret_abc", "legacy.jwt.sig"]);
  assert.ok(matches("sb_secret_abc"));
  assert.ok(matches("legacy.jwt.sig"));
  for (const near of ["sb_secret_ab", "sb_secret_abcd", "SB_SECRET_ABC", "", "legacy.jwt.sig "]) {
    assert.ok(!matches(near), JSON.stringify(near));
  }
  assert.ok(!serviceKeyMatcher([])("anything"));
});

test("the service key matcher's remembered misses never change a verdict", () => {
  const matches = serviceKeyMatcher(["sb_secret_abc"]);
  // Asked again (now from the remembered misses), and after enough other
  // misses to evict the first ones: the same answers.
  for (let round = 0; round < 2; round++) {
    assert.ok(!matches("user.jwt.token"));
    assert.ok(matches("sb_secret_abc"));
    for (let i = 0; i < 300; i++) assert.ok(!matches(`other.jwt.${i}`));
  }
  assert.ok(matches("sb_secret_abc"));
  assert.ok(!matches("x".repeat(10_000)));
  assert.ok(!matches("x".repeat(10_000)));
});

test("the secret key and the legacy service_role JWT both reach service routes", async () => {
  assert.match(SECRET_KEY, /^sb_secret_/);
  for (const token of [SECRET_KEY, SERVICE_ROLE_KEY]) {
    const res = await call("GET", "/account/admin/stats", { token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
});

test("a near miss of the secret key, or a publishable key, is 401", async () => {
  const publishable = Object.values(
    JSON.parse(Deno.env.get("SUPABASE_PUBLISHABLE_KEYS")!),
  )[0] as string;
  const nearMiss = SECRET_KEY.slice(0, -1) + (SECRET_KEY.endsWith("z") ? "y" : "z");
  for (const token of [nearMiss, publishable, `${SECRET_KEY}x`]) {
    assertError(await call("GET", "/account/admin/stats", { token }), 401, "unauthorized");
  }
});

test("a user token signed with HS256 is refused: no function holds a JWT secret", async () => {
  const user = await createUser("hs256");
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ role: "authenticated", email: user.email })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(user.id).setAudience("authenticated").setIssuer(`${API_URL}/auth/v1`)
    .setIssuedAt(now).setExpirationTime(now + 600)
    .sign(new TextEncoder().encode(LOCAL_JWT_SECRET));
  const res = await call("GET", "/sessions", { token });
  assertError(res, 401, "unauthorized");
  assert.match(res.body.error.message, /algorithm is not accepted/);
  // The same user with the stack's ES256 token is served.
  assert.equal((await call("GET", "/sessions", { token: user.token })).status, 200);
});

test("the platform parts carry hosted's owners and privileges", async () => {
  const [p] = await sql`
    select current_user as me,
           (select rolsuper from pg_roles where rolname = current_user) as superuser,
           (select tableowner from pg_tables where schemaname = 'auth' and tablename = 'users')
             as users_owner,
           (select prosecdef from pg_proc where oid = 'vault.create_secret'::regproc) as definer,
           has_function_privilege('authenticated', 'vault.create_secret(text,text,text,uuid)',
                                  'execute') as authenticated_creates,
           has_function_privilege('service_role', 'vault.create_secret(text,text,text,uuid)',
                                  'execute') as service_creates,
           has_table_privilege('vault.secrets', 'insert') as inserts_secrets,
           has_table_privilege('vault.decrypted_secrets', 'select') as reads_secrets,
           has_table_privilege('cron.job', 'insert') as writes_cron_jobs,
           (select count(*) from pg_roles where rolsuper)::int as superusers`;
  assert.deepEqual(p, {
    me: "postgres",
    superuser: false,
    users_owner: "supabase_auth_admin",
    definer: true,
    authenticated_creates: false,
    service_creates: false,
    inserts_secrets: false,
    reads_secrets: true,
    writes_cron_jobs: false,
    superusers: 1,
  });
  // GoTrue makes the ids: a user without one is refused, as on a project.
  await assert.rejects(
    sql`insert into auth.users (email) values (${`noid-${crypto.randomUUID()}@test.local`})`,
    /null value in column "id"/,
  );
});
