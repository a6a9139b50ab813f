// POST /oauth/authorize verifies an API key in its first message (the read of
// the caller's pending states and the connection it extends), and POST
// /oauth/complete in its transaction's first write (before the parked grant
// is taken), not alone before them: a key with tokens:write works for its
// owner and spends its named limit, the limit spent is 429, a key without the
// scope 403 and a revoked one 401, and a refused key stores no state and
// redeems no code (its owner still can). Another user's connection_id or code
// is 404. The round-trip count is in tests/account/api-keys.round-trips.test.ts.
import assert from "node:assert/strict";
import { AuthorizeResponse, CompleteResult } from "../../shared/oauth/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { call, createApiKey, createUser, sql, test, type TestUser } from "../helpers/stack.ts";
import { complete, connect, park } from "./flow.ts";

const authorizeWith = (key: string, body: Record<string, unknown>) =>
  call("POST", "/oauth/authorize", { headers: { "X-API-Key": key }, body });

const ASK = { provider: "dev", services: ["gmail"] };

const states = async (userId: string) =>
  (await sql`select count(*)::int as n from public.oauth_states where user_id = ${userId}`)[0]
    .n as number;

// The request was refused and stored no state.
async function refusedWith(
  userId: string,
  key: string,
  body: Record<string, unknown>,
  status: number,
  code: string,
) {
  const before = await states(userId);
  const res = await authorizeWith(key, body);
  assertError(res, status, code);
  assert.equal(await states(userId), before, "a refused key stored a state");
  return res;
}

test("POST /oauth/authorize verifies a key in its message: limits, scope, revocation", async () => {
  const user = await createUser("oauth-key-trip");
  const key = await createApiKey(user, ["tokens:write"], {
    limits: [{ name: "all", limit: 2, window: 3600 }],
  });
  const first = await authorizeWith(key.key, ASK);
  parsed(AuthorizeResponse, first);
  assert.equal(first.headers.get("RateLimit-Limit"), "2", "the named limit counted it");
  assert.equal(first.headers.get("RateLimit-Remaining"), "1");
  parsed(AuthorizeResponse, await authorizeWith(key.key, ASK));
  assert.equal(await states(user.id), 2, "the states are the key owner's");
  const limited = await refusedWith(user.id, key.key, ASK, 429, "rate_limited");
  assert.deepEqual(limited.body.error.details, { limit: "all" });

  const narrow = await createApiKey(user, ["tokens:read", "tokens:access"]);
  const denied = await refusedWith(user.id, narrow.key, ASK, 403, "insufficient_scope");
  assert.equal(denied.body.error.details.required, "tokens:write");

  const revoked = await createApiKey(user, ["tokens:write"]);
  parsed(AuthorizeResponse, await authorizeWith(revoked.key, ASK));
  const gone = await call("DELETE", `/account/api-keys/${revoked.id}`, { token: user.token });
  assert.equal(gone.status, 204);
  await refusedWith(user.id, revoked.key, ASK, 401, "unauthorized");
});

test("POST /oauth/authorize with a key: its owner's connection extends, another user's is 404", async () => {
  const user = await createUser("oauth-key-trip-extend");
  const own = await connect(user);
  const stranger = await createUser("oauth-key-trip-stranger");
  const theirs = await connect(stranger);
  const key = await createApiKey(user, ["tokens:write"]);
  const extended = parsed(
    AuthorizeResponse,
    await authorizeWith(key.key, { ...ASK, connection_id: own.token.id }),
  );
  assert.equal(extended.connection_id, own.token.id);
  await refusedWith(
    user.id,
    key.key,
    { ...ASK, connection_id: theirs.token.id },
    404,
    "not_found",
  );
});

const completeWith = (key: string, completion: string) =>
  call("POST", "/oauth/complete", { headers: { "X-API-Key": key }, body: { completion } });

const connections = async (userId: string) =>
  (await sql`select count(*)::int as n from public.service_tokens where user_id = ${userId}`)[0]
    .n as number;

// The key was refused, nothing was connected, and the code still works for
// its owner's session: the refusal rolled back the take of the parked grant.
async function refusedCompletion(user: TestUser, key: string, status: number, code: string) {
  const { completion } = await park(user);
  const before = await connections(user.id);
  const res = await completeWith(key, completion);
  assertError(res, status, code);
  assert.equal(await connections(user.id), before, "a refused key connected something");
  parsed(CompleteResult, await complete(user, completion), 201);
  return res;
}

test("POST /oauth/complete verifies a key in its transaction: limits, scope, revocation", async () => {
  const user = await createUser("oauth-key-trip-complete");
  const key = await createApiKey(user, ["tokens:write"], {
    limits: [{ name: "all", limit: 2, window: 3600 }],
  });
  const first = await completeWith(key.key, (await park(user)).completion);
  const done = parsed(CompleteResult, first, 201);
  assert.equal(done.status, "connected");
  assert.equal(first.headers.get("RateLimit-Limit"), "2", "the named limit counted it");
  assert.equal(first.headers.get("RateLimit-Remaining"), "1");
  parsed(CompleteResult, await completeWith(key.key, (await park(user)).completion), 201);
  assert.equal(await connections(user.id), 2, "the connections are the key owner's");
  const limited = await refusedCompletion(user, key.key, 429, "rate_limited");
  assert.deepEqual(limited.body.error.details, { limit: "all" });

  const narrow = await createApiKey(user, ["tokens:read", "tokens:access"]);
  const denied = await refusedCompletion(user, narrow.key, 403, "insufficient_scope");
  assert.equal(denied.body.error.details.required, "tokens:write");

  const revoked = await createApiKey(user, ["tokens:write"]);
  parsed(CompleteResult, await completeWith(revoked.key, (await park(user)).completion), 201);
  const gone = await call("DELETE", `/account/api-keys/${revoked.id}`, { token: user.token });
  assert.equal(gone.status, 204);
  await refusedCompletion(user, revoked.key, 401, "unauthorized");
});

test("POST /oauth/complete: another user's key is 404 and the code is spent for everyone", async () => {
  const user = await createUser("oauth-key-trip-victim");
  const stranger = await createUser("oauth-key-trip-thief");
  const key = await createApiKey(stranger, ["tokens:write"]);
  const { completion } = await park(user);
  assertError(await completeWith(key.key, completion), 404, "not_found");
  assert.equal(await connections(stranger.id), 0);
  assertError(await complete(user, completion), 404, "not_found");
  assert.equal(await connections(user.id), 0);
});
