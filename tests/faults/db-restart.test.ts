// Postgres goes away under a running gateway, first idle and then in the
// middle of a load of reads and writes: requests get 503 envelopes while it is
// down (none hangs, none gets a torn connection), the gateway process
// survives, service resumes when Postgres is back without restarting
// anything, and every write that was acknowledged, and everything stored
// before, is still there. Runs on its own throwaway cluster and gateway so the
// shared stack is never disturbed.
import assert from "node:assert/strict";
import postgres from "postgres";
import { stackSigningKey, userToken } from "../../scripts/local/keys.ts";
import { insertAuthUser } from "../../scripts/local/users.ts";
import { test } from "../helpers/stack.ts";

const root = new URL("../../", import.meta.url).pathname;
const stackDir = new URL(".", `file://${Deno.env.get("SIGNING_KEY_FILE")}`).pathname;
const dir = `${stackDir}restart-${crypto.randomUUID().slice(0, 8)}`;
// Below the ephemeral range and apart from the suites' own stacks (2xxxx).
const dbPort = 10000 + Math.floor(Math.random() * 5000);
const apiPort = dbPort + 5000;
const dbUrl = `postgresql://postgres:postgres@127.0.0.1:${dbPort}/postgres`;
const platformUrl = `postgresql://supabase_admin@127.0.0.1:${dbPort}/postgres`;
const apiUrl = `http://127.0.0.1:${apiPort}`;
const WORKERS = 16;
const gatewayLog = `${dir}-gateway.log`;

// An assertion that fails with the gateway's error lines added: a 500 in the
// envelope says only "internal"; the log says what was thrown.
async function gatewayErrors(check: () => void): Promise<void> {
  try {
    check();
  } catch (err) {
    const text = await Deno.readTextFile(gatewayLog).catch(() => "");
    const errors = text.split("\n").filter((l) => l.includes('"level":"error"')).slice(0, 5);
    if (err instanceof Error) err.message += `\ngateway errors:\n${errors.join("\n")}`;
    throw err;
  }
}

async function bash(script: string) {
  const out = await new Deno.Command("bash", {
    args: ["-c", `source scripts/lib.sh && ${script}`],
    cwd: root,
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

type Outcome = { status: number; body?: { error?: { code?: string; request_id?: string } } };

// Bounded, so a stuck request shows as status 0 instead of hanging the test;
// a dropped connection is status -1.
async function request(token: string, method: string, path = "", body?: unknown): Promise<
  Outcome & { json?: { id?: string } }
> {
  try {
    const res = await fetch(`${apiUrl}/functions/v1/sessions${path}`, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(8_000),
    });
    const json = await res.json();
    return { status: res.status, body: json, json };
  } catch (err) {
    return { status: err instanceof DOMException && err.name === "TimeoutError" ? 0 : -1 };
  }
}

async function until(check: () => Promise<boolean>, what: string) {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// One client of the load: creates a session, reads it back, and again, until
// told to stop; remembers every outcome and every acknowledged write.
async function worker(token: string, stop: { now: boolean }, outcomes: Outcome[], acked: string[]) {
  let last: string | undefined;
  for (let i = 0; !stop.now; i++) {
    const res = i % 2 === 0 || !last
      ? await request(token, "POST", "", { title: `load ${i}` })
      : await request(token, "GET", `/${last}`);
    outcomes.push(res);
    if (res.status === 201 && res.json?.id) acked.push(last = res.json.id);
  }
}

function assertEnvelopes(outcomes: Outcome[], phase: string) {
  const hung = outcomes.filter((o) => o.status === 0).length;
  const dropped = outcomes.filter((o) => o.status === -1).length;
  assert.equal(hung, 0, `${phase}: ${hung} requests went unanswered`);
  assert.equal(dropped, 0, `${phase}: ${dropped} connections were dropped by the gateway`);
  for (const o of outcomes) {
    if (o.status === 200 || o.status === 201) continue;
    assert.equal(o.status, 503, `${phase}: ${JSON.stringify(o)}`);
    assert.equal(o.body?.error?.code, "service_unavailable");
    assert.ok(o.body?.error?.request_id);
  }
}

test("Postgres stopping, idle or under load, is 503 envelopes, loses nothing, and recovers on its own", async () => {
  await bash(`pg_start '${dir}/pg' ${dbPort}`);
  let gateway: Deno.ChildProcess | undefined;
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    const migrated = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "scripts/migrate.ts", "--platform"],
      env: { DB_URL: dbUrl, PLATFORM_DB_URL: platformUrl },
      cwd: root,
      stderr: "null",
    }).output();
    assert.equal(migrated.code, 0);
    const id = await insertAuthUser(sql, { email: "r@test.local" });
    const token = await userToken({
      userId: id,
      email: "r@test.local",
      apiUrl,
      signingKey: await stackSigningKey(),
    });
    const stored = () =>
      sql<{ row: string }[]>`select to_jsonb(s)::text as row from public.chat_sessions s
                              where user_id = ${id} order by id`.then((rows) =>
        rows.map((r) => r.row)
      );

    // Its output goes to a file (a pipe nobody reads would stall it), for the
    // errors behind an unexpected answer (gatewayErrors).
    gateway = new Deno.Command("bash", {
      args: ["-c", 'exec "$0" run -A scripts/gateway.ts >"$1" 2>&1', Deno.execPath(), gatewayLog],
      // The pg_net worker keeps a connection of its own open: it must survive too.
      env: {
        GATEWAY_PORT: String(apiPort),
        SUPABASE_URL: apiUrl,
        SUPABASE_DB_URL: dbUrl,
        PLATFORM_DB_URL: platformUrl,
        // The load is one user's; the limiter is not under test here.
        RATE_LIMIT_DEFAULT: "1000000/60",
      },
      cwd: root,
      stdout: "null",
      stderr: "null",
    }).spawn();
    await until(async () => (await request(token, "GET")).status === 200, "the gateway");
    for (let i = 0; i < 5; i++) {
      assert.equal((await request(token, "POST", "", { title: `before ${i}` })).status, 201);
    }
    const before = await stored();
    assert.equal(before.length, 5);

    // Idle: the pool's connections die with nothing in flight.
    await bash(`pg_stop '${dir}/pg'`);
    const down = await request(token, "GET");
    await gatewayErrors(() => assertEnvelopes([down], "idle stop"));
    assert.equal(down.status, 503);
    await bash(`pg_start '${dir}/pg' ${dbPort}`);
    await until(async () => (await request(token, "GET")).status === 200, "recovery");

    // Under load: connections die with statements in flight.
    const stop = { now: false };
    const outcomes: Outcome[][] = Array.from({ length: WORKERS }, () => []);
    const acked: string[] = [];
    const load = outcomes.map((o) => worker(token, stop, o, acked));
    await sleep(1_000);
    await bash(`pg_stop '${dir}/pg'`);
    await sleep(1_500);
    await bash(`pg_start '${dir}/pg' ${dbPort}`);
    const mark = outcomes.map((o) => o.length);
    // Every client must be served again, then a little more load on top.
    await until(
      () => Promise.resolve(outcomes.every((o, w) => o.slice(mark[w]).some((x) => x.status < 300))),
      "every client to be served again",
    );
    await sleep(1_000);
    stop.now = true;
    await Promise.all(load);

    const all = outcomes.flat();
    await gatewayErrors(() => assertEnvelopes(all, "stop under load"));
    assert.ok(all.some((o) => o.status === 503), "the load never met the outage");
    for (const [w, o] of outcomes.entries()) {
      const tail = o.slice(-3).map((x) => x.status);
      assert.ok(tail.every((s) => s < 300), `client ${w} ends with ${tail}`);
    }

    const after = await stored();
    assert.deepEqual(
      after.filter((r) => before.includes(r)),
      before,
      "a row stored before changed",
    );
    const ids = new Set(after.map((r) => JSON.parse(r).id));
    const lost = acked.filter((a) => !ids.has(a));
    assert.deepEqual(lost, [], "acknowledged writes are missing");

    const health = await fetch(`${apiUrl}/functions/v1/sessions/health`);
    assert.equal((await health.json()).db.ok, true);

    // Recovery must not leave connections behind: once a replaced pool's
    // statements have had their time, the gateway holds its pool
    // (DB_POOL_SIZE, 4 by default) and the pg_net worker's one, nothing more.
    const held = async () =>
      (await sql<{ n: number }[]>`
        select count(*)::int as n from pg_stat_activity
         where backend_type = 'client backend' and pid <> pg_backend_pid()`)[0].n;
    await until(async () => (await held()) <= 5, "the gateway to hold at most 5 connections");
  } finally {
    await sql.end({ timeout: 1 }).catch(() => {});
    try {
      gateway?.kill();
    } catch { /* already gone: the assertions above say why */ }
    await gateway?.status;
    await bash(`pg_stop '${dir}/pg'`).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await Deno.remove(gatewayLog).catch(() => {});
  }
});
