// Anonymous sign-ins (is_anonymous: true in the JWT) may keep sessions and
// chat, but may not connect provider accounts, get provider or HeyGen tokens,
// or create API keys (docs/decisions.md). Generated from every function's
// openapi.json: an operation marked `x-anonymous-users: refused` answers an
// anonymous user 403 anonymous_not_allowed, says so in its 403 response, and
// changes nothing; every other operation never refuses a user for being
// anonymous.
import assert from "node:assert/strict";
import { CreatedApiKey, Profile } from "../../shared/account/schemas.ts";
import { Exchange } from "../../shared/chat/schemas.ts";
import { Session } from "../../shared/sessions/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { fill, type Operation, operations } from "../helpers/openapi.ts";
import { snapshotOf } from "../helpers/snapshot.ts";
import { API_URL, call, createAnonymousUser, createUser, test } from "../helpers/stack.ts";

const { functions } = await (await fetch(`${API_URL}/health`)).json() as { functions: string[] };
const ops = (await Promise.all(functions.map(operations))).flat().filter((o) => o.secured);
const name = (o: Operation) => `${o.method} ${o.path}`;

// Bodies and paths that a permanent user would get through with (or reach
// the route's own checks), so a refusal is the anonymous check and nothing else.
const BODIES: Record<string, unknown> = {
  "POST /oauth/authorize": { provider: "google", services: ["gmail"] },
  "POST /account/api-keys": { name: "anonymous key", scopes: ["sessions:read"] },
};
const pathOf = (o: Operation) => fill(o.path.replace("{provider}", "google"), crypto.randomUUID());

// At least these, whatever the documents say: they create or vend credentials.
const REQUIRED = [
  "POST /account/api-keys",
  "POST /chat/heygen/token",
  "POST /oauth/authorize",
  "POST /tokens/{id}/refresh",
  "POST /tokens/{provider}/access-token",
];
const refused = ops.filter((o) => o.refusesAnonymous || REQUIRED.includes(name(o)));

test("the refused operations are found in the documents and marked there", () => {
  assert.deepEqual(REQUIRED.filter((r) => !ops.some((o) => name(o) === r)), []);
  for (const op of refused) assert.ok(op.refusesAnonymous, `${name(op)} is not marked`);
});

for (const op of refused) {
  test(`${name(op)}: an anonymous user is 403 anonymous_not_allowed, documented, nothing changes`, async () => {
    const anonymous = await createAnonymousUser();
    const before = await snapshotOf(anonymous.id);
    const res = await call(op.method, pathOf(op), {
      token: anonymous.token,
      body: BODIES[name(op)],
    });
    assertError(res, 403, "anonymous_not_allowed");
    assert.match(res.body.error.message, /anonymous/);
    assert.deepEqual(await snapshotOf(anonymous.id), before);
    assert.match(op.responses["403"]?.description ?? "", /anonymous_not_allowed/);
  });
}

test("every other operation never refuses a user for being anonymous", async () => {
  const anonymous = await createAnonymousUser();
  for (const op of ops.filter((o) => !refused.includes(o))) {
    const res = await call(op.method, pathOf(op), {
      token: anonymous.token,
      body: op.hasBody ? {} : undefined,
    });
    assert.notEqual(res.body?.error?.code, "anonymous_not_allowed", name(op));
  }
});

test("an anonymous user keeps sessions and chats; a permanent user creates keys as before", async () => {
  const anonymous = await createAnonymousUser();
  const session = await call("POST", "/sessions", {
    token: anonymous.token,
    body: { title: "try" },
  });
  const sent = await call("POST", `/chat/${parsed(Session, session, 201).id}/messages`, {
    token: anonymous.token,
    body: { content: "hello" },
  });
  parsed(Exchange, sent, 201);
  parsed(Profile, await call("GET", "/account/me", { token: anonymous.token }));

  const permanent = await createUser("not-anonymous");
  const key = await call("POST", "/account/api-keys", {
    token: permanent.token,
    body: BODIES["POST /account/api-keys"],
  });
  parsed(CreatedApiKey, key, 201);
});
