// The auth matrix over every webhooks route the document lists (bad tokens
// 401, another user's endpoint 404 with nothing changed, a key without the
// scope 403, anonymous sign-ins refused where an endpoint would be created),
// the service key acting for the service's own endpoints only, the worker for
// the service alone, the URLs refused at registration, and secrets that never
// come back.
import assert from "node:assert/strict";
import { SCOPES } from "../../shared/auth/scopes.ts";
import { assertError } from "../helpers/assert.ts";
import { type Operation, operations } from "../helpers/openapi.ts";
import {
  call,
  createAnonymousUser,
  createApiKey,
  createUser,
  SECRET_KEY,
  SERVICE_ROLE_KEY,
  sql,
  test,
} from "../helpers/stack.ts";
import { badTokens } from "../helpers/tokens.ts";
import { connect } from "../oauth/flow.ts";
import { bodyOf, newInbox, receiver, registerEndpoint, settleAll } from "./support.ts";

const ops = await operations("webhooks");
const userOps = ops.filter((o) => o.path !== "/webhooks/deliver");
const owner = await createUser("wh-owner");
const intruder = await createUser("wh-intruder");
const target = await registerEndpoint(owner, "target");

test("the document lists every webhooks route, all secured, with their scopes", () => {
  const scopes = Object.fromEntries(ops.map((o) => [`${o.method} ${o.path}`, o.scope ?? null]));
  assert.deepEqual(scopes, {
    "GET /webhooks/endpoints": "webhooks:read",
    "POST /webhooks/endpoints": "webhooks:write",
    "GET /webhooks/endpoints/{id}": "webhooks:read",
    "PATCH /webhooks/endpoints/{id}": "webhooks:write",
    "DELETE /webhooks/endpoints/{id}": "webhooks:write",
    "POST /webhooks/endpoints/{id}/rotate-secret": "webhooks:write",
    "POST /webhooks/endpoints/{id}/test": "webhooks:write",
    "GET /webhooks/endpoints/{id}/deliveries": "webhooks:read",
    "POST /webhooks/deliver": null,
  });
  assert.ok(ops.every((o) => o.secured));
  const create = ops.find((o) => o.method === "POST" && o.path === "/webhooks/endpoints")!;
  assert.ok(create.refusesAnonymous, "anonymous sign-ins register no endpoint");
});

const snapshot = async (id: string) => ({
  endpoint: await sql`select * from public.webhook_endpoints where id = ${id}`,
  secret: await sql`select * from private.webhook_secrets where endpoint_id = ${id}`,
  deliveries: await sql`select * from public.webhook_deliveries where endpoint_id = ${id}`,
});

const path = (op: Operation, id: string) => op.path.replace("{id}", id);
const bodyFor = (op: Operation) =>
  op.method === "PATCH"
    ? { description: "pwned" }
    : op.path === "/webhooks/endpoints" && op.method === "POST"
    ? { url: newInbox("intruder").url }
    : op.hasBody
    ? {}
    : undefined;

const tokens = await badTokens(owner);
for (const op of userOps) {
  for (const [name, bad] of Object.entries(tokens)) {
    if (name === "service_role key on a user route") continue; // the service's own endpoints
    test(`${op.method} ${op.path}: ${name} is 401 and changes nothing`, async () => {
      const before = await snapshot(target.endpoint.id);
      const res = await call(op.method, path(op, target.endpoint.id), {
        token: bad,
        body: bodyFor(op),
      });
      assertError(res, 401, "unauthorized");
      assert.deepEqual(await snapshot(target.endpoint.id), before);
    });
  }
  if (op.path.includes("{id}")) {
    test(`${op.method} ${op.path}: another user's endpoint is 404, like none, and changes nothing`, async () => {
      const before = await snapshot(target.endpoint.id);
      const sent = (await receiver.received(target.inbox)).length;
      const theirs = await call(op.method, path(op, target.endpoint.id), {
        token: intruder.token,
        body: bodyFor(op),
      });
      assertError(theirs, 404, "not_found");
      const none = await call(op.method, path(op, crypto.randomUUID()), {
        token: intruder.token,
        body: bodyFor(op),
      });
      assert.equal(none.body.error.message, theirs.body.error.message);
      assert.deepEqual(await snapshot(target.endpoint.id), before);
      assert.equal((await receiver.received(target.inbox)).length, sent, "nothing was sent");
    });
  }
  test(`${op.method} ${op.path}: a key without ${op.scope} is 403 insufficient_scope`, async () => {
    const { key } = await createApiKey(owner, SCOPES.filter((s) => s !== op.scope));
    const before = await snapshot(target.endpoint.id);
    const res = await call(op.method, path(op, target.endpoint.id), {
      headers: { "X-API-Key": key },
      body: bodyFor(op),
    });
    assertError(res, 403, "insufficient_scope");
    assert.deepEqual(await snapshot(target.endpoint.id), before);
  });
}

test("a key with the webhooks scopes manages endpoints like its owner", async () => {
  const user = await createUser("wh-key");
  const { key } = await createApiKey(user, ["webhooks:read", "webhooks:write"]);
  const inbox = newInbox("key");
  const created = await call("POST", "/webhooks/endpoints", {
    headers: { "X-API-Key": key },
    body: { url: inbox.url },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.user_id, user.id);
  const listed = await call("GET", "/webhooks/endpoints", { headers: { "X-API-Key": key } });
  assert.deepEqual(listed.body.data.map((e: { id: string }) => e.id), [created.body.id]);
});

test("an anonymous sign-in cannot register an endpoint", async () => {
  const anonymous = await createAnonymousUser();
  const res = await call("POST", "/webhooks/endpoints", {
    token: anonymous.token,
    body: { url: newInbox("anon").url },
  });
  assertError(res, 403, "anonymous_not_allowed");
  assert.deepEqual(
    Array.from(await sql`select 1 from public.webhook_endpoints where user_id = ${anonymous.id}`),
    [],
  );
});

test("registration refuses URLs that are not https to a public address", async () => {
  const refused = [
    "http://hooks.example.com/x", // http outside loopback
    "ftp://hooks.example.com/x",
    "https://10.1.2.3/x", // private
    "https://172.16.0.1/x",
    "https://192.168.1.1/x",
    "https://[fd00::1]/x",
    "https://169.254.169.254/latest/meta-data", // link-local: cloud metadata
    "https://[fe80::1]/x",
    "https://0.0.0.0/x", // unspecified
    "https://[::ffff:10.0.0.1]/x", // private, in IPv6 clothing
    "https://user:pass@hooks.example.com/x",
    "not a url",
  ];
  for (const url of refused) {
    const res = await call("POST", "/webhooks/endpoints", { token: owner.token, body: { url } });
    assertError(res, 400, "validation_failed");
    assert.equal(res.body.error.details.issues[0].path, "url", url);
  }
  const [{ n }] = await sql`select count(*)::int as n from public.webhook_endpoints
                             where user_id = ${owner.id}`;
  assert.equal(n, 1, "only the target endpoint exists");
});

test("the service key manages the service's endpoints, which get every user's events; users never see them", async () => {
  const inbox = newInbox("service");
  const created = await call("POST", "/webhooks/endpoints", {
    token: SECRET_KEY,
    body: { url: inbox.url, event_types: ["connection.revoked"], description: "ops" },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const id = created.body.id;
  try {
    assert.equal(created.body.user_id, null);
    await receiver.configure(inbox.name, { secrets: [created.body.secret] });
    // The service sees its endpoints only; users do not see it.
    const mine = await call("GET", "/webhooks/endpoints", { token: SERVICE_ROLE_KEY });
    assert.ok(mine.body.data.every((e: { user_id: string | null }) => e.user_id === null));
    assert.ok(mine.body.data.some((e: { id: string }) => e.id === id));
    assertError(
      await call("GET", `/webhooks/endpoints/${target.endpoint.id}`, { token: SECRET_KEY }),
      404,
      "not_found",
    );
    assertError(
      await call("GET", `/webhooks/endpoints/${id}`, { token: owner.token }),
      404,
      "not_found",
    );

    const user = await createUser("wh-service-user");
    const { token } = await connect(user);
    await call("DELETE", `/tokens/${token.id}`, { token: user.token });
    const [event] = await sql`select id from public.connection_events
                               where connection_id = ${token.id} and type = 'connection.revoked'`;
    // Other tests' revocations reach this endpoint too: wait for this one's.
    const [delivery] = await sql`select id from public.webhook_deliveries
                                  where endpoint_id = ${id} and event_id = ${event.id}`;
    assert.ok(delivery, "the service's endpoint got the user's revocation");
    await settleAll(id);
    const got = (await receiver.received(inbox.name)).find((r) =>
      r.headers["webhook-id"] === event.id
    );
    assert.ok(got, "delivered");
    assert.equal(got.verified, true);
    assert.equal(bodyOf(got).data.user_id, user.id);
    const listed = await call("GET", `/webhooks/endpoints/${id}/deliveries`, {
      token: SECRET_KEY,
    });
    assert.ok(listed.body.data.some((d: { event_id: string }) => d.event_id === event.id));
  } finally {
    const removed = await call("DELETE", `/webhooks/endpoints/${id}`, { token: SECRET_KEY });
    assert.equal(removed.status, 204);
  }
});

test("the delivery worker is the service's: no token 401, a user 403", async () => {
  assertError(await call("POST", "/webhooks/deliver"), 401, "unauthorized");
  assertError(await call("POST", "/webhooks/deliver", { token: owner.token }), 403, "forbidden");
  const { key } = await createApiKey(owner, [...SCOPES]);
  assertError(
    await call("POST", "/webhooks/deliver", { headers: { "X-API-Key": key } }),
    403,
    "forbidden",
  );
  assertError(
    await call("POST", "/webhooks/deliver", { token: SECRET_KEY, body: { limit: 0 } }),
    400,
    "validation_failed",
  );
});

test("no answer but registration and rotation ever carries a secret", async () => {
  const reads = [
    await call("GET", "/webhooks/endpoints", { token: owner.token }),
    await call("GET", `/webhooks/endpoints/${target.endpoint.id}`, { token: owner.token }),
    await call("GET", `/webhooks/endpoints/${target.endpoint.id}/deliveries`, {
      token: owner.token,
    }),
    await call("PATCH", `/webhooks/endpoints/${target.endpoint.id}`, {
      token: owner.token,
      body: { description: "still mine" },
    }),
    await call("POST", `/webhooks/endpoints/${target.endpoint.id}/test`, { token: owner.token }),
    await call("GET", "/tokens/events", { token: owner.token }),
  ];
  for (const res of reads) {
    assert.ok(res.status < 300, JSON.stringify(res.body));
    assert.ok(!JSON.stringify(res.body).includes("whsec_"), JSON.stringify(res.body));
  }
});
