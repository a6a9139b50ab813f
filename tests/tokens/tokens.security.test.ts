// The auth matrix over every tokens route the document lists: user routes
// refuse bad tokens (401) and other users' ids (404, nothing changes); service
// routes refuse no token (401) and user tokens (403). And no token ever leaves
// through a response other than access-token to its owner, nor reaches SQL
// roles other than through the service's functions.
import assert from "node:assert/strict";
import type { z } from "zod";
import {
  AccessToken,
  CleanupResult,
  RefreshDueResult,
  RevokeResult,
  ServiceToken,
  TokenPage,
  TokenStats,
} from "../../shared/tokens/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { type Operation, operations } from "../helpers/openapi.ts";
import {
  type Call,
  call,
  createUser,
  SERVICE_ROLE_KEY,
  sql,
  test,
  type TestUser,
} from "../helpers/stack.ts";
import { badTokens, es256Token } from "../helpers/tokens.ts";
import { accessToken, connect, provider } from "../oauth/flow.ts";

const owner = await createUser("tokens-owner");
const intruder = await createUser("tokens-intruder");
const admin = await createUser("tokens-admin", { role: "admin" });
const ops = await operations("tokens");
const SERVICE_PATHS = ["/tokens/refresh-due", "/tokens/cleanup"];
const userOps = ops.filter((o) => !SERVICE_PATHS.includes(o.path));
const serviceOps = ops.filter((o) => SERVICE_PATHS.includes(o.path));
// What each service route answers, to read its success with.
const SERVICE_ANSWERS = {
  "/tokens/refresh-due": RefreshDueResult,
  "/tokens/cleanup": CleanupResult,
} as Record<string, z.ZodType>;

test("the document lists every tokens route, all secured", () => {
  assert.deepEqual(ops.map((o) => `${o.method} ${o.path}`).sort(), [
    "DELETE /tokens/{id}",
    "GET /tokens",
    "GET /tokens/events",
    "GET /tokens/stats",
    "GET /tokens/{id}",
    "POST /tokens/cleanup",
    "POST /tokens/refresh-due",
    "POST /tokens/{id}/refresh",
    "POST /tokens/{provider}/access-token",
  ]);
  assert.ok(ops.every((o) => o.secured));
  const scopes = Object.fromEntries(ops.map((o) => [`${o.method} ${o.path}`, o.scope]));
  assert.equal(scopes["GET /tokens"], "tokens:read");
  assert.equal(scopes["GET /tokens/stats"], "tokens:read");
  assert.equal(scopes["GET /tokens/events"], "tokens:read");
  assert.equal(scopes["GET /tokens/{id}"], "tokens:read");
  assert.equal(scopes["POST /tokens/{id}/refresh"], "tokens:write");
  assert.equal(scopes["DELETE /tokens/{id}"], "tokens:write");
  assert.equal(scopes["POST /tokens/{provider}/access-token"], "tokens:access");
  assert.equal(scopes["POST /tokens/refresh-due"], undefined, "no API key reaches a service route");
  assert.equal(scopes["POST /tokens/cleanup"], undefined);
});

const snapshot = async (id: string) => ({
  token: await sql`select * from public.service_tokens where id = ${id}`,
  secret: await sql`select * from private.token_secrets where token_id = ${id}`,
  logs: await sql`select count(*)::int as n from public.token_refresh_logs where token_id = ${id}`,
});

const path = (op: Operation, id: string) =>
  op.path.replace("{id}", id).replace("{provider}", "dev");

const tokens = await badTokens(owner);
// Refused requests change nothing, so they can all aim at one connection.
const target = (await connect(owner)).token;
for (const op of userOps) {
  for (const [name, bad] of Object.entries(tokens)) {
    // access-token lets the service vend for a user it names (tokens.service.test.ts).
    if (op.serviceAllowed && name === "service_role key on a user route") continue;
    test(`${op.method} ${op.path}: ${name} is 401 and changes nothing`, async () => {
      const token = target;
      const before = await snapshot(token.id);
      assertError(await call(op.method, path(op, token.id), { token: bad }), 401, "unauthorized");
      assert.deepEqual(await snapshot(token.id), before);
    });
  }

  test(`${op.method} ${op.path}: a valid ES256 token from the JWKS is accepted`, async () => {
    const user = await createUser("tokens-es256");
    const { token } = await connect(user);
    const res = await call(op.method, path(op, token.id), { token: await es256Token(user) });
    assert.ok(res.status >= 200 && res.status < 300, `${res.status} ${JSON.stringify(res.body)}`);
  });

  if (op.path.includes("{id}")) {
    test(`${op.method} ${op.path}: another user's id is 404 and changes nothing`, async () => {
      const { token, email } = await connect(await createUser("tokens-victim"));
      const before = await snapshot(token.id);
      assertError(
        await call(op.method, path(op, token.id), { token: intruder.token }),
        404,
        "not_found",
      );
      assert.deepEqual(await snapshot(token.id), before);
      const seen = await provider.seen(email);
      assert.equal(seen.refresh_grants + seen.revocations.length, 0, "the provider saw nothing");
    });
  }
}

test("access-token never hands out another user's token, even by its id", async () => {
  const { token } = await connect(owner);
  const before = await snapshot(token.id);
  assertError(await accessToken(intruder, "dev", { token_id: token.id }), 404, "not_found");
  assertError(await accessToken(intruder, "dev"), 404, "not_found");
  assert.deepEqual(await snapshot(token.id), before);
});

for (const op of serviceOps) {
  for (const [name, bad] of Object.entries(tokens)) {
    if (name === "service_role key on a user route") continue;
    test(`${op.method} ${op.path}: ${name} is 401`, async () => {
      assertError(await call(op.method, op.path, { token: bad }), 401, "unauthorized");
    });
  }
  test(`${op.method} ${op.path}: the service route refuses a user token with 403`, async () => {
    assertError(await call(op.method, op.path, { token: owner.token }), 403, "forbidden");
  });
  test(`${op.method} ${op.path}: the service_role key is accepted`, async () => {
    const res = await call(op.method, op.path, { token: SERVICE_ROLE_KEY });
    parsed(SERVICE_ANSWERS[op.path], res);
  });
}

test("refresh-due refuses an admin; cleanup accepts one", async () => {
  assertError(await call("POST", "/tokens/refresh-due", { token: admin.token }), 403, "forbidden");
  parsed(CleanupResult, await call("POST", "/tokens/cleanup", { token: admin.token }));
});

test("no response but access-token carries a token", async () => {
  const user = await createUser("no-leak");
  const { token } = await connect(user);
  const issued = parsed(AccessToken, await accessToken(user, "dev")).access_token;
  const [{ refresh }] = await sql`
    select extensions.pgp_sym_decrypt(s.refresh_token, v.decrypted_secret) as refresh
      from private.token_secrets s, vault.decrypted_secrets v
     where s.token_id = ${token.id} and v.name = 'token_encryption_key'`;
  const read = async (schema: z.ZodType, res: Promise<Call>) => {
    const answer = await res;
    parsed(schema, answer);
    return answer;
  };
  const answers = [
    await read(TokenPage, call("GET", "/tokens", { token: user.token })),
    await read(ServiceToken, call("GET", `/tokens/${token.id}`, { token: user.token })),
    await read(TokenStats, call("GET", "/tokens/stats", { token: user.token })),
    await read(ServiceToken, call("POST", `/tokens/${token.id}/refresh`, { token: user.token })),
    await read(RefreshDueResult, call("POST", "/tokens/refresh-due", { token: SERVICE_ROLE_KEY })),
    await read(RevokeResult, call("DELETE", `/tokens/${token.id}`, { token: user.token })),
    await call("GET", "/account/activity", { token: user.token }),
  ];
  for (const res of answers) {
    const text = JSON.stringify(res.body);
    assert.ok(!text.includes(issued) && !text.includes(refresh), text.slice(0, 200));
    assert.doesNotMatch(text, /devat_|devrt_/);
  }
});

async function asRole(role: "authenticated" | "anon", u: TestUser | null, query: string) {
  return await sql.begin(async (tx) => {
    await tx`select set_config('role', ${role}, true),
                    set_config('request.jwt.claims', ${
      JSON.stringify(u ? { sub: u.id, role } : { role })
    }, true)`;
    return await tx.unsafe(query);
  });
}

test("in SQL, clients read only their own metadata and never ciphertext", async () => {
  const { token } = await connect(owner);
  await connect(intruder);
  const mine = await asRole("authenticated", intruder, "select user_id from public.service_tokens");
  assert.ok(mine.length >= 1);
  assert.ok(mine.every((r) => r.user_id === intruder.id));
  const logs = await asRole(
    "authenticated",
    intruder,
    "select user_id from public.token_refresh_logs",
  );
  assert.ok(logs.every((r) => r.user_id === intruder.id));
  for (
    const query of [
      "select * from private.token_secrets",
      `select * from private.read_token_secrets('${token.id}', true)`,
      `select private.store_token_secrets('${token.id}', 'a', 'b')`,
      `select private.destroy_token_secrets('${token.id}')`,
    ]
  ) {
    await assert.rejects(asRole("authenticated", owner, query), /permission denied/, query);
    await assert.rejects(asRole("anon", null, query), /permission denied/, query);
  }
});
