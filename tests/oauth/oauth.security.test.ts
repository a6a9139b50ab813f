// The auth matrix over every oauth route its document lists, the public
// routes' exposure, what clients can see of a pending state, and that no
// secret of the flow reaches the logs.
import assert from "node:assert/strict";
import { AccessToken } from "../../shared/tokens/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { fill, operations } from "../helpers/openapi.ts";
import { call, createUser, sql, test } from "../helpers/stack.ts";
import { badTokens, es256Token } from "../helpers/tokens.ts";
import { accessToken, authorize, callback, complete, consent, uniqueEmail } from "./flow.ts";

const owner = await createUser("oauth-owner");
const ops = await operations("oauth");
const tokens = await badTokens(owner);
const BODY = { provider: "dev", services: ["gmail"] };

// The service's route (the cleanup) is covered with the other service routes.
const userOps = ops.filter((o) => o.secured && o.scope);
// A body each user route accepts: a completion code that is nobody's is 404,
// which still proves the token was accepted.
const BODIES: Record<string, unknown> = {
  "/oauth/authorize": BODY,
  "/oauth/complete": { completion: "A".repeat(43) },
};
const ACCEPTED: Record<string, number> = { "/oauth/authorize": 200, "/oauth/complete": 404 };

test("the document lists every oauth route; /authorize and /complete need a user", () => {
  assert.deepEqual(ops.map((o) => `${o.method} ${o.path}`).sort(), [
    "GET /oauth/callback/{provider}",
    "GET /oauth/providers",
    "POST /oauth/authorize",
    "POST /oauth/cleanup",
    "POST /oauth/complete",
  ]);
  assert.deepEqual(userOps.map((o) => o.path).sort(), ["/oauth/authorize", "/oauth/complete"]);
  for (const op of userOps) assert.equal(op.scope, "tokens:write");
});

test("POST /oauth/cleanup is the service's (and admins'): users and no token are refused", async () => {
  assertError(await call("POST", "/oauth/cleanup"), 401, "unauthorized");
  assertError(await call("POST", "/oauth/cleanup", { token: owner.token }), 403, "forbidden");
});

for (const op of userOps) {
  for (const [name, token] of Object.entries(tokens)) {
    test(`${op.method} ${op.path}: ${name} is 401 and stores no state`, async () => {
      const res = await call(op.method, fill(op.path, "dev"), { token, body: BODIES[op.path] });
      assertError(res, 401, "unauthorized");
      const [{ n }] =
        await sql`select count(*)::int as n from public.oauth_states where user_id = ${owner.id}`;
      assert.equal(n, 0);
    });
  }
  test(`${op.method} ${op.path}: a valid ES256 token from the JWKS is accepted`, async () => {
    const user = await createUser("oauth-es256");
    const res = await call(op.method, op.path, {
      token: await es256Token(user),
      body: BODIES[op.path],
    });
    assert.equal(res.status, ACCEPTED[op.path], JSON.stringify(res.body));
  });
}

test("the public routes answer without a token", async () => {
  assert.equal((await call("GET", "/oauth/providers")).status, 200);
  const res = await call("GET", "/oauth/callback/dev?state=" + "A".repeat(43) + "&code=x");
  assertError(res, 400, "invalid_state");
});

test("a pending state is bound to its user: clients see their own metadata, never hash or verifier", async () => {
  const a = await createUser("state-a");
  const b = await createUser("state-b");
  assert.equal((await authorize(a, BODY)).status, 200);
  const asUser = (u: { id: string }, query: string) =>
    sql.begin(async (tx) => {
      await tx`select set_config('role', 'authenticated', true),
                      set_config('request.jwt.claims', ${
        JSON.stringify({ sub: u.id, role: "authenticated" })
      }, true)`;
      return await tx.unsafe(query);
    });
  const mine = await asUser(
    a,
    "select id, provider, redirect_to, expires_at from public.oauth_states",
  );
  assert.equal(mine.length, 1);
  assert.equal(mine[0].provider, "dev");
  assert.equal((await asUser(b, "select id from public.oauth_states")).length, 0);
  for (const column of ["code_verifier", "state_hash", "scopes"]) {
    await assert.rejects(
      asUser(a, `select ${column} from public.oauth_states`),
      /permission denied/,
      column,
    );
  }
  await assert.rejects(
    asUser(
      a,
      "insert into public.oauth_states (state_hash, user_id, provider, scopes, code_verifier, redirect_to) " +
        `values (repeat('a', 64), '${a.id}', 'dev', '{openid}', repeat('v', 43), 'https://evil.example')`,
    ),
    /permission denied/,
    "clients cannot plant a state (and its redirect_to)",
  );
});

test("no secret of the flow reaches the gateway's log", async () => {
  const user = await createUser("log-check");
  const started = await authorize(user, {
    provider: "dev",
    services: ["gmail"],
    redirect_to: "http://127.0.0.1:3000/after",
  });
  const url = new URL(started.body.authorization_url);
  const state = url.searchParams.get("state")!;
  const providerEmail = uniqueEmail("log");
  const back = await consent(started.body.authorization_url, { email: providerEmail });
  const code = back.searchParams.get("code")!;
  const returned = await callback(back);
  assert.equal(returned.status, 302);
  const completion = returned.location!.searchParams.get("completion")!;
  assert.equal((await complete(user, completion)).status, 201);
  const issued = parsed(AccessToken, await accessToken(user, "dev")).access_token;
  assert.ok(issued);
  const [{ refresh }] = await sql`
    select extensions.pgp_sym_decrypt(s.refresh_token, v.decrypted_secret) as refresh
      from private.token_secrets s join public.service_tokens t on t.id = s.token_id,
           vault.decrypted_secrets v
     where t.user_id = ${user.id} and v.name = 'token_encryption_key'`;
  // The gateway writes a line per request; give it a moment to flush.
  await new Promise((r) => setTimeout(r, 200));
  const logFile = new URL("gateway.log", `file://${Deno.env.get("SIGNING_KEY_FILE")}`);
  const text = await Deno.readTextFile(logFile);
  assert.ok(text.includes(user.id), "the log has this user's requests");
  for (
    const [name, secret] of [
      ["state", state],
      ["code", code],
      ["completion code", completion],
      ["access token", issued],
      ["refresh token", refresh as string],
      ["user's e-mail", user.email],
      ["provider account's e-mail", providerEmail],
    ]
  ) {
    assert.ok(!text.includes(secret), `the ${name} is not in the log`);
  }
});
