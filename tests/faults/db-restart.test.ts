// Postgres goes away under a running gateway: requests get 503 envelopes while
// it is down, the gateway process survives, and service resumes when Postgres
// is back, without restarting anything. Runs on its own throwaway cluster and
// gateway so the shared stack is never disturbed.
import assert from "node:assert/strict";
import postgres from "postgres";
import { userToken } from "../../scripts/local/keys.ts";
import { test } from "../helpers/stack.ts";

const root = new URL("../../", import.meta.url).pathname;
const stackDir = new URL(".", `file://${Deno.env.get("SIGNING_KEY_FILE")}`).pathname;
const dir = `${stackDir}restart-${crypto.randomUUID().slice(0, 8)}`;
// Below the ephemeral range, so no client socket holds them.
const dbPort = 20000 + Math.floor(Math.random() * 5000);
const apiPort = dbPort + 5000;
const dbUrl = `postgresql://postgres:postgres@127.0.0.1:${dbPort}/postgres`;
const apiUrl = `http://127.0.0.1:${apiPort}`;

async function bash(script: string) {
  const out = await new Deno.Command("bash", {
    args: ["-c", `source scripts/lib.sh && ${script}`],
    cwd: root,
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

// Bounded, so a stuck gateway fails the test instead of hanging it.
async function get(token: string) {
  const res = await fetch(`${apiUrl}/functions/v1/sessions`, {
    headers: { Authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(3_000),
  });
  return { status: res.status, body: await res.json() };
}

async function until(check: () => Promise<boolean>, what: string) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test("the gateway answers 503 while Postgres is down and recovers on its own", async () => {
  await bash(`pg_start '${dir}/pg' ${dbPort}`);
  let gateway: Deno.ChildProcess | undefined;
  try {
    const migrated = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/migrate.ts", "--platform"],
      env: { DB_URL: dbUrl },
      cwd: root,
      stderr: "null",
    }).output();
    assert.equal(migrated.code, 0);
    const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
    const [{ id }] = await sql<{ id: string }[]>`
      insert into auth.users (email) values ('r@test.local') returning id`;
    await sql.end();
    const token = await userToken({ userId: id, email: "r@test.local", apiUrl });

    gateway = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/gateway.ts"],
      // The pg_net worker keeps a connection of its own open: it must survive too.
      env: { GATEWAY_PORT: String(apiPort), SUPABASE_URL: apiUrl, SUPABASE_DB_URL: dbUrl },
      cwd: root,
      stdout: "null",
      stderr: "null",
    }).spawn();
    await until(async () => (await get(token)).status === 200, "the gateway");

    await bash(`pg_stop '${dir}/pg'`);
    const down = await get(token);
    assert.equal(down.status, 503, JSON.stringify(down.body));
    assert.equal(down.body.error.code, "service_unavailable");
    assert.ok(down.body.error.request_id);

    await bash(`pg_start '${dir}/pg' ${dbPort}`);
    await until(async () => (await get(token)).status === 200, "recovery");
    const health = await fetch(`${apiUrl}/functions/v1/sessions/health`);
    assert.equal((await health.json()).db.ok, true);
  } finally {
    try {
      gateway?.kill();
    } catch { /* already gone: the assertions above say why */ }
    await gateway?.status;
    await bash(`pg_stop '${dir}/pg'`).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
