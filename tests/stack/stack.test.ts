// The local stack behaves like the platform it stands in for.
import assert from "node:assert/strict";
import { createClient } from "@supabase/supabase-js";
import { anonKey, serviceRoleKey } from "../../scripts/local/keys.ts";
import { Session } from "../../shared/sessions/schemas.ts";
import { shaped } from "../helpers/assert.ts";
import {
  ANON_KEY,
  API_URL,
  call,
  createUser,
  FUNCTIONS_URL,
  SERVICE_ROLE_KEY,
  sql,
  test,
} from "../helpers/stack.ts";

const user = await createUser("stack");
const stackDir = new URL(".", `file://${Deno.env.get("SIGNING_KEY_FILE")}`);

test("demo keys are the Supabase CLI's well-known local keys", async () => {
  assert.equal(ANON_KEY, await anonKey());
  assert.equal(SERVICE_ROLE_KEY, await serviceRoleKey());
});

test("every migration is applied and recorded, and a second run applies none", async () => {
  const files = [...Deno.readDirSync("supabase/migrations")].map((e) => e.name.split("_")[0])
    .sort();
  const rows =
    await sql`select version from supabase_migrations.schema_migrations order by version`;
  assert.deepEqual(rows.map((r) => r.version), files);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "scripts/migrate.ts"],
    env: { DB_URL: Deno.env.get("SUPABASE_DB_URL")! },
  }).output();
  assert.equal(out.code, 0);
  assert.match(new TextDecoder().decode(out.stderr), /up to date/);
});

test("supabase-js functions.invoke reaches a function with the user's token", async () => {
  const client = createClient(API_URL, ANON_KEY, {
    global: { headers: { Authorization: `Bearer ${user.token}` } },
    auth: { persistSession: false, autoRefreshToken: false },
  });
  const { data, error } = await client.functions.invoke("sessions", {
    body: { title: "From supabase-js" },
  });
  assert.equal(error, null);
  shaped(Session, data);
  assert.equal(data.title, "From supabase-js");
  assert.equal(data.user_id, user.id);
});

test("the JWKS publishes the stack's public signing key only", async () => {
  const res = await fetch(`${API_URL}/auth/v1/.well-known/jwks.json`);
  const { keys } = await res.json();
  assert.equal(keys.length, 1);
  assert.equal(keys[0].kty, "EC");
  assert.equal(keys[0].alg, "ES256");
  assert.equal(keys[0].d, undefined);
});

test("health does a database round trip and reports the version", async () => {
  const res = await call("GET", "/sessions/health");
  assert.equal(res.status, 200);
  assert.equal(res.body.status, "ok");
  assert.equal(res.body.db.ok, true);
  assert.equal(typeof res.body.version, "string");
});

test("a request id is echoed when valid and generated otherwise", async () => {
  const given = await call("GET", "/sessions/health", {
    headers: { "X-Request-Id": "req-123.abc" },
  });
  assert.equal(given.headers.get("x-request-id"), "req-123.abc");
  const generated = await call("GET", "/sessions/health");
  assert.match(generated.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
  const hostile = await call("GET", "/sessions/health", {
    headers: { "X-Request-Id": "a b\u00e9<script>" },
  });
  assert.match(hostile.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
});

test("CORS preflight answers allowed origins and ignores others", async () => {
  const preflight = (origin: string) =>
    fetch(`${FUNCTIONS_URL}/sessions`, {
      method: "OPTIONS",
      headers: {
        Origin: origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
      },
    });
  const ok = await preflight("http://localhost:3000");
  await ok.body?.cancel();
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get("access-control-allow-origin"), "http://localhost:3000");
  assert.match(ok.headers.get("access-control-allow-headers") ?? "", /Authorization/i);
  const evil = await preflight("https://evil.example");
  await evil.body?.cancel();
  assert.notEqual(evil.headers.get("access-control-allow-origin"), "https://evil.example");
});

test("openapi.json and the docs page are served", async () => {
  const doc = await call("GET", "/sessions/openapi.json");
  assert.equal(doc.status, 200);
  assert.equal(doc.body.openapi, "3.1.0");
  assert.ok(doc.body.components.schemas.Session);
  const docs = await fetch(`${FUNCTIONS_URL}/sessions/docs`);
  const html = await docs.text();
  assert.equal(docs.status, 200);
  assert.match(html, /openapi\.json/);
});

test("each request logs one JSON line with its id and no token", async () => {
  const requestId = `log-${crypto.randomUUID()}`;
  await call("GET", "/sessions/stats", {
    token: user.token,
    headers: { "X-Request-Id": requestId },
  });
  let line: Record<string, unknown> | undefined;
  for (let i = 0; i < 20 && !line; i++) {
    const text = await Deno.readTextFile(new URL("gateway.log", stackDir));
    const found = text.split("\n").find((l) => l.includes(requestId));
    if (found) line = JSON.parse(found);
    else await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(line, "log line found");
  assert.equal(line.msg, "request");
  assert.equal(line.fn, "sessions");
  assert.equal(line.route, "/sessions/stats");
  assert.equal(line.status, 200);
  assert.equal(line.user_id, user.id);
  assert.equal(typeof line.ms, "number");
  const log = await Deno.readTextFile(new URL("gateway.log", stackDir));
  assert.ok(!log.includes(user.token.split(".")[2]), "no token signature in the log");
});
