// A user holds at most API_KEYS_MAX_LIVE live keys (not revoked, not
// expired): the next creation is 409 api_key_limit and says how to free one;
// revoking or expiry frees a slot; concurrent creations never pass the cap,
// through the API or straight in the database (where the cap is enforced).
import assert from "node:assert/strict";
import postgres from "postgres";
import { ApiKeyList, CreatedApiKey } from "../../shared/account/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { call, createApiKey, createUser, sql, test, type TestUser } from "../helpers/stack.ts";

const CAP = Number(Deno.env.get("API_KEYS_MAX_LIVE") ?? 25);
// What the database enforces when no cap is passed (the Data API's path).
const DATABASE_DEFAULT_CAP = 25;

const create = (user: TestUser, name = "k") =>
  call("POST", "/account/api-keys", {
    token: user.token,
    body: { name, scopes: ["sessions:read"] },
  });

async function liveKeys(userId: string): Promise<number> {
  const [{ n }] = await sql`select count(*)::int as n from public.api_keys
    where user_id = ${userId} and revoked_at is null and (expires_at is null or expires_at > now())`;
  return n;
}

async function fill(user: TestUser, count: number): Promise<{ id: string; key: string }[]> {
  const keys = [];
  for (let i = 0; i < count; i++) keys.push(await createApiKey(user, ["sessions:read"]));
  return keys;
}

test(`the key after ${CAP} live ones is 409 api_key_limit; revoking one frees a slot`, async () => {
  const user = await createUser("key-cap");
  const keys = await fill(user, CAP);

  const refused = await create(user, "one too many");
  assertError(refused, 409, "api_key_limit");
  assert.match(refused.body.error.message, new RegExp(`${CAP} live API keys`));
  assert.match(refused.body.error.message, /DELETE \/account\/api-keys\/\{id\}/);
  assert.deepEqual(refused.body.error.details, { limit: CAP });
  assert.equal(await liveKeys(user.id), CAP);

  assert.equal(
    (await call("DELETE", `/account/api-keys/${keys[0].id}`, { token: user.token })).status,
    204,
  );
  parsed(CreatedApiKey, await create(user, "in the freed slot"), 201);
  assertError(await create(user), 409, "api_key_limit");

  // Revoked keys stay listed and still do not count.
  const listed = parsed(ApiKeyList, await call("GET", "/account/api-keys", { token: user.token }));
  assert.equal(listed.data.length, CAP + 1);
  assert.equal(await liveKeys(user.id), CAP);
});

test("an expired key frees its slot; other users are not affected by one user's cap", async () => {
  const user = await createUser("key-cap-expiry");
  const other = await createUser("key-cap-other");
  const keys = await fill(user, CAP);
  assertError(await create(user), 409, "api_key_limit");
  parsed(CreatedApiKey, await create(other), 201);

  await sql`update public.api_keys set created_at = now() - interval '1 day',
                                       expires_at = now() - interval '1 second'
             where id = ${keys[0].id}`;
  parsed(CreatedApiKey, await create(user, "after an expiry"), 201);
});

test("concurrent creations through the API never pass the cap", async () => {
  const user = await createUser("key-cap-race");
  const attempts = CAP + 15;
  const answers = await Promise.all(Array.from({ length: attempts }, () => create(user)));
  const statuses = answers.map((r) => r.status);
  assert.equal(statuses.filter((s) => s === 201).length, CAP);
  for (const r of answers.filter((r) => r.status === 201)) parsed(CreatedApiKey, r, 201);
  assert.equal(statuses.filter((s) => s === 409).length, attempts - CAP);
  assert.equal(await liveKeys(user.id), CAP);
});

// Two transactions straight in the database, as two of the API's own would
// run (as oprina_api_user; the Data API cannot insert keys at all): the second
// creation waits for the first to commit, then counts its key.
test("in the database, a creation waits for a concurrent one and then sees its key", async () => {
  const user = await createUser("key-cap-db");
  await fill(user, DATABASE_DEFAULT_CAP - 1);
  const db = postgres(Deno.env.get("SUPABASE_DB_URL")!, { max: 2, onnotice: () => {} });
  const claims = JSON.stringify({ sub: user.id, role: "authenticated", aud: "authenticated" });
  const asUser = (tx: postgres.TransactionSql) =>
    tx`select set_config('role', 'oprina_api_user', true),
              set_config('request.jwt.claims', ${claims}, true)`;
  const insert = (tx: postgres.TransactionSql, name: string) =>
    tx`insert into public.api_keys (name, prefix, key_hash, scopes)
       values (${name}, 'opr_raceaaab', sha256(${name}::bytea), array['sessions:read'])`;
  let release = () => {};
  try {
    const held = new Promise<void>((r) => (release = r));
    let firstInserted = () => {};
    const inserted = new Promise<void>((r) => (firstInserted = r));
    let secondPid = 0;
    let secondDone = false;

    const first = db.begin(async (tx) => {
      await asUser(tx);
      await insert(tx, `first-${user.id}`);
      firstInserted();
      await held; // the last slot is taken but not yet committed
    });
    await inserted;
    const second = db.begin(async (tx) => {
      [{ pid: secondPid }] = await tx`select pg_backend_pid() as pid`;
      await asUser(tx);
      await insert(tx, `second-${user.id}`);
    }).then(() => "created", (e) => e).finally(() => (secondDone = true));

    // The second must be waiting on the first's lock, not done already.
    const waiting = async () => {
      while (!secondDone) {
        if (secondPid) {
          const [row] = await sql`select wait_event_type from pg_stat_activity
                                   where pid = ${secondPid}`;
          if (row?.wait_event_type === "Lock") return "waiting";
        }
        await new Promise((r) => setTimeout(r, 20));
      }
      return "done without waiting";
    };
    assert.equal(await Promise.race([second, waiting()]), "waiting");
    release();
    await first;
    const outcome = await second;
    assert.notEqual(outcome, "created", "the second creation passed the cap");
    assert.equal(outcome.code, "AK409", String(outcome));
    assert.equal(await liveKeys(user.id), DATABASE_DEFAULT_CAP);
  } finally {
    release();
    await db.end();
  }
});
