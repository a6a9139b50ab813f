// Completion is bound to the user who started the authorization (issue 12,
// account-linking CSRF): the callback parks the grant and hands the browser a
// one-time code; only the starting user's session can redeem it. A victim
// lured through an attacker's flow connects nothing for anybody, and the grant
// is revoked at the provider. Abandoned grants and grants obtained while an
// account is being deleted are revoked too.
import assert from "node:assert/strict";
import { AccessToken } from "../../shared/tokens/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { call, createUser, SECRET_KEY, sql, test, type TestUser } from "../helpers/stack.ts";
import {
  accessToken,
  authorize,
  callback,
  complete,
  connect,
  consent,
  provider,
  uniqueEmail,
} from "./flow.ts";

const counts = async (u: TestUser) => {
  const [row] = await sql`
    select (select count(*) from public.service_tokens where user_id = ${u.id})::int as connections,
           (select count(*) from private.parked_grants where user_id = ${u.id})::int as parked`;
  return row;
};

// A flow started by `starter`, consented at the provider as `email`, up to the
// callback: returns the completion code the browser got.
async function authorizedBy(starter: TestUser, email: string, redirect = true) {
  const started = await authorize(starter, {
    provider: "dev",
    services: ["gmail"],
    ...(redirect ? { redirect_to: "http://localhost:3000/oauth/done" } : {}),
  });
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const res = await callback(await consent(started.body.authorization_url, { email }));
  if (!redirect) return res.body.completion as string;
  assert.equal(res.status, 302);
  assert.equal(res.location!.searchParams.get("status"), "authorized");
  return res.location!.searchParams.get("completion")!;
}

test("a victim completing an attacker's flow connects nothing, for anyone; the grant is revoked", async () => {
  const attacker = await createUser("attacker");
  const victim = await createUser("victim");
  const victimMailbox = uniqueEmail("victim");
  // The attacker starts and sends the URL; the victim consents and their
  // browser lands on the app, which completes with the victim's session.
  const completion = await authorizedBy(attacker, victimMailbox);
  const res = await complete(victim, completion);
  assertError(res, 404, "not_found");
  // The same answer as a code that never existed: no oracle.
  const unknown = await complete(victim, "A".repeat(43));
  assert.deepEqual(
    { ...res.body.error, request_id: null },
    { ...unknown.body.error, request_id: null },
  );
  assert.deepEqual(await counts(attacker), { connections: 0, parked: 0 });
  assert.deepEqual(await counts(victim), { connections: 0, parked: 0 });
  const seen = await provider.seen(victimMailbox);
  assert.equal(seen.active_refresh_tokens, 0, "the grant was revoked at the provider");
  assert.equal(seen.revocations.length, 1);
  // The code is spent: the attacker, had they learnt it, gets nothing either.
  assertError(await complete(attacker, completion), 404, "not_found");
  assertError(await accessToken(attacker, "dev"), 404, "not_found");
});

test("only the user who started can complete, once, with their session or an API key", async () => {
  const user = await createUser("completes");
  const completion = await authorizedBy(user, uniqueEmail(), false);
  assertError(await call("POST", "/oauth/complete", { body: { completion } }), 401, "unauthorized");
  const done = await complete(user, completion);
  assert.equal(done.status, 201, JSON.stringify(done.body));
  assert.equal(done.body.token.user_id, user.id);
  assertError(await complete(user, completion), 404, "not_found");
  assert.deepEqual(await counts(user), { connections: 1, parked: 0 });
});

test("a malformed completion is 400; a late one is refused and its grant revoked", async () => {
  const user = await createUser("late");
  for (const completion of ["", "short", "A".repeat(44), "A".repeat(42) + "!"]) {
    assertError(await complete(user, completion), 400, "validation_failed");
  }
  const email = uniqueEmail("late");
  const completion = await authorizedBy(user, email);
  await sql`update private.parked_grants set complete_by = now() - interval '1 second'
             where user_id = ${user.id}`;
  const res = await complete(user, completion);
  assertError(res, 400, "invalid_state");
  assert.equal(res.body.error.details.reason, "expired");
  assert.deepEqual(await counts(user), { connections: 0, parked: 0 });
  assert.equal((await provider.seen(email)).active_refresh_tokens, 0);
});

test("the cleanup revokes grants nobody completed, and only those", async () => {
  const user = await createUser("abandoned");
  const abandoned = uniqueEmail("abandoned");
  const waiting = uniqueEmail("waiting");
  await authorizedBy(user, abandoned);
  const fresh = await authorizedBy(user, waiting);
  await sql`update private.parked_grants set complete_by = now() - interval '1 minute'
             where user_id = ${user.id} and provider_email = ${abandoned}`;
  assertError(await call("POST", "/oauth/cleanup", { token: user.token }), 403, "forbidden");
  const run = await call("POST", "/oauth/cleanup", { token: SECRET_KEY });
  assert.equal(run.status, 200, JSON.stringify(run.body));
  assert.ok(run.body.revoked >= 1);
  assert.equal((await provider.seen(abandoned)).active_refresh_tokens, 0);
  assert.equal((await provider.seen(waiting)).active_refresh_tokens, 1);
  assert.equal((await complete(user, fresh)).status, 201);
});

test("a reconnect's grant is not revoked when refused: the stored connection shares it", async () => {
  // Google revokes a whole grant: revoking a refused completion's tokens for
  // an account that is connected would end the stored connection too.
  const owner = await createUser("owner");
  const other = await createUser("other");
  const email = uniqueEmail("shared");
  await connect(owner, { email });
  const completion = await authorizedBy(owner, email);
  assertError(await complete(other, completion), 404, "not_found");
  parsed(AccessToken, await accessToken(owner, "dev"));
  assert.ok((await provider.seen(email)).active_refresh_tokens >= 1);
});

test("deleting an account revokes grants parked for it, and none can be completed or parked", async () => {
  const user = await createUser("deleting");
  const parkedMailbox = uniqueEmail("parked");
  const completion = await authorizedBy(user, parkedMailbox);
  // A flow still at the provider when deletion begins.
  const lateMailbox = uniqueEmail("late");
  const late = await authorize(user, { provider: "dev", services: ["gmail"] });
  const lateBack = await consent(late.body.authorization_url, { email: lateMailbox });

  assert.equal((await call("DELETE", "/account/me", { token: user.token })).status, 204);
  assert.equal((await provider.seen(parkedMailbox)).active_refresh_tokens, 0);
  assertError(await complete(user, completion), 404, "not_found");
  // The flow died with the account: its callback exchanges nothing.
  assertError(await callback(lateBack), 400, "invalid_state");
  assert.equal((await provider.seen(lateMailbox)).active_refresh_tokens, 0);
  assert.deepEqual(await counts(user), { connections: 0, parked: 0 });
});

test("a completion after deletion has begun stores nothing and revokes the grant", async () => {
  const user = await createUser("half-deleted");
  const email = uniqueEmail("half");
  const completion = await authorizedBy(user, email);
  // Deletion's first step, committed, as DELETE /account/me takes it.
  await sql`select private.begin_account_deletion(${user.id})`;
  assertError(await complete(user, completion), 409, "conflict");
  assert.deepEqual(await counts(user), { connections: 0, parked: 0 });
  assert.equal((await provider.seen(email)).active_refresh_tokens, 0);
});

test("pg_cron runs the parked-grant cleanup every five minutes, through pg_net with the service key", async () => {
  const [job] = await sql`select schedule, command from cron.job
                           where jobname = 'oauth-parked-cleanup'`;
  assert.equal(job.schedule, "*/5 * * * *");
  // Exactly what the job runs.
  const [{ id }] = await sql.unsafe(`select ${job.command.replace(/^select /, "")} as id`);
  let response;
  for (let i = 0; i < 100 && !response; i++) {
    [response] = await sql`select status_code, content from net._http_response where id = ${id}`;
    if (!response) await new Promise((r) => setTimeout(r, 200));
  }
  assert.ok(response, "the queued request was delivered");
  assert.equal(response.status_code, 200, response.content);
  assert.deepEqual(Object.keys(JSON.parse(response.content)).sort(), ["failed", "revoked"]);
});
