// Vending provider tokens to a server-side agent (issue 14): the service key
// names the user; a key with only tokens:access vends for its owner and can
// do nothing else; tokens:write alone no longer vends; force_refresh renews
// first; every vend is an activity saying who asked.
import assert from "node:assert/strict";
import { AccessToken } from "../../shared/tokens/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { call, createApiKey, createUser, SECRET_KEY, sql, test } from "../helpers/stack.ts";
import { connect, provider } from "../oauth/flow.ts";

const vend = (token: string | undefined, body: unknown, headers?: Record<string, string>) =>
  call("POST", "/tokens/dev/access-token", { token, body, headers });

const vendActivities = (userId: string) =>
  sql`select details from public.user_activities
       where user_id = ${userId} and activity_type = 'token.vended' order by id`;

test("the service key vends a user's token when it names the user, and only then", async () => {
  const user = await createUser("svc-vend");
  const { token: connection } = await connect(user);
  assertError(await vend(SECRET_KEY, {}), 400, "validation_failed");
  const grant = parsed(AccessToken, await vend(SECRET_KEY, { user_id: user.id }));
  assert.equal(grant.token_id, connection.id);
  assert.equal(grant.refreshed, false);
  // A user without a connection is the usual 404.
  const other = await createUser("svc-nothing");
  assertError(await vend(SECRET_KEY, { user_id: other.id }), 404, "not_found");
  const [logged] = await vendActivities(user.id);
  assert.deepEqual(logged.details, {
    connection_id: connection.id,
    provider: "dev",
    refreshed: false,
    asked_by: "service",
  });
});

test("tokens:access vends for the key's owner only; tokens:write alone no longer vends", async () => {
  const user = await createUser("key-vend");
  const stranger = await createUser("key-stranger");
  const { token: connection } = await connect(user);
  await connect(stranger);
  const narrow = await createApiKey(user, ["tokens:access"]);
  const broad = await createApiKey(user, ["tokens:write"]);
  const headers = (k: { key: string }) => ({ "X-API-Key": k.key });
  const grant = parsed(AccessToken, await vend(undefined, {}, headers(narrow)));
  assert.equal(grant.token_id, connection.id);
  // Its own user named is fine; anyone else is the same 404 as nothing.
  assert.equal((await vend(undefined, { user_id: user.id }, headers(narrow))).status, 200);
  assertError(await vend(undefined, { user_id: stranger.id }, headers(narrow)), 404, "not_found");
  // Nothing but vending.
  assertError(
    await call("DELETE", `/tokens/${connection.id}`, { headers: headers(narrow) }),
    403,
    "insufficient_scope",
  );
  assertError(await vend(undefined, {}, headers(broad)), 403, "insufficient_scope");
  const asked = (await vendActivities(user.id)).map((a) => a.details.asked_by);
  assert.deepEqual(asked, [`api_key:${narrow.id}`, `api_key:${narrow.id}`]);
});

test("force_refresh renews a fresh token at the provider first", async () => {
  const user = await createUser("force");
  const { token: connection, email } = await connect(user);
  const before = (await provider.seen(email)).refresh_grants;
  const plain = parsed(AccessToken, await vend(user.token, {}));
  assert.equal(plain.refreshed, false);
  const forced = parsed(AccessToken, await vend(user.token, { force_refresh: true }));
  assert.equal(forced.refreshed, true);
  assert.notEqual(forced.access_token, plain.access_token);
  assert.equal(forced.token_id, connection.id);
  assert.equal((await provider.seen(email)).refresh_grants, before + 1);
  const details = (await vendActivities(user.id)).map((a) => a.details.refreshed);
  assert.deepEqual(details, [false, true]);
});
