// The webhook owner routes verify an API key inside their first message: the
// ones that are one message (list, get, deliveries, update, delete) and the
// transactions (register, rotate the secret, send a test) in their first
// write; the statements name the owner by the claims the verification sets
// (shared/webhooks/owner.ts). For each: a key with the scope works and
// spends its named limit, the limit spent is 429, a key without the scope
// 403, a revoked one 401, and a refused key changes nothing (no endpoint, no
// secret, nothing sent). Another user's key finds none of the owner's
// endpoints. The round-trip count is in tests/account/api-keys.round-trips.test.ts.
import assert from "node:assert/strict";
import { assertError, parsed } from "../helpers/assert.ts";
import { call, createApiKey, createUser, sql, test, type TestUser } from "../helpers/stack.ts";
import {
  CreatedEndpoint,
  DeliveryPage,
  EndpointList,
  RotatedSecret,
  SendResult,
  WebhookEndpoint,
} from "../../shared/webhooks/schemas.ts";
import { newInbox, receiver, registerEndpoint } from "./support.ts";
import type { z } from "zod";

const withKey = (key: string, method: string, path: string, body?: unknown) =>
  call(method, path, { headers: { "X-API-Key": key }, body });

type Request = { path: string; body?: unknown; endpointId: string };
type Route = {
  method: string;
  path: string;
  scope: string;
  status: number;
  // deno-lint-ignore no-explicit-any
  schema?: z.ZodType<any>;
  // A request the owner may send: delete needs a new endpoint each time.
  request: (user: TestUser, endpointId: string) => Promise<Request>;
};

const ROUTES: Route[] = [
  {
    method: "GET",
    path: "/webhooks/endpoints",
    scope: "webhooks:read",
    status: 200,
    schema: EndpointList,
    request: (_, endpointId) => Promise.resolve({ path: "/webhooks/endpoints", endpointId }),
  },
  {
    method: "GET",
    path: "/webhooks/endpoints/{id}",
    scope: "webhooks:read",
    status: 200,
    schema: WebhookEndpoint,
    request: (_, id) => Promise.resolve({ path: `/webhooks/endpoints/${id}`, endpointId: id }),
  },
  {
    method: "GET",
    path: "/webhooks/endpoints/{id}/deliveries",
    scope: "webhooks:read",
    status: 200,
    schema: DeliveryPage,
    request: (_, id) =>
      Promise.resolve({ path: `/webhooks/endpoints/${id}/deliveries`, endpointId: id }),
  },
  {
    method: "PATCH",
    path: "/webhooks/endpoints/{id}",
    scope: "webhooks:write",
    status: 200,
    schema: WebhookEndpoint,
    request: (_, id) =>
      Promise.resolve({
        path: `/webhooks/endpoints/${id}`,
        body: { description: `changed ${crypto.randomUUID()}` },
        endpointId: id,
      }),
  },
  {
    method: "DELETE",
    path: "/webhooks/endpoints/{id}",
    scope: "webhooks:write",
    status: 204,
    request: async (user) => {
      const { endpoint } = await registerEndpoint(user, "key-trip-delete");
      return { path: `/webhooks/endpoints/${endpoint.id}`, endpointId: endpoint.id };
    },
  },
  {
    method: "POST",
    path: "/webhooks/endpoints",
    scope: "webhooks:write",
    status: 201,
    schema: CreatedEndpoint,
    request: (_, endpointId) =>
      Promise.resolve({
        path: "/webhooks/endpoints",
        body: { url: newInbox("key-trip-create").url },
        endpointId,
      }),
  },
  {
    method: "POST",
    path: "/webhooks/endpoints/{id}/rotate-secret",
    scope: "webhooks:write",
    status: 200,
    schema: RotatedSecret,
    request: (_, id) =>
      Promise.resolve({
        path: `/webhooks/endpoints/${id}/rotate-secret`,
        body: { grace_seconds: 0 },
        endpointId: id,
      }),
  },
  {
    method: "POST",
    path: "/webhooks/endpoints/{id}/test",
    scope: "webhooks:write",
    status: 200,
    schema: SendResult,
    request: (_, id) => Promise.resolve({ path: `/webhooks/endpoints/${id}/test`, endpointId: id }),
  },
];

// The owner's endpoints and secrets as stored, and what their receiver got,
// to show a refused request changed and sent nothing.
async function stored(id: string) {
  const [{ user_id }] = await sql`select user_id from public.webhook_endpoints where id = ${id}`;
  const inbox = new URL(
    (await sql`select url from public.webhook_endpoints where id = ${id}`)[0].url,
  ).pathname.split("/").pop()!;
  return {
    endpoints: Array.from(
      await sql`select id, description, enabled from public.webhook_endpoints
                 where user_id = ${user_id} order by id`,
    ),
    secrets: Array.from(
      await sql`select s.* from private.webhook_secrets s
                  join public.webhook_endpoints e on e.id = s.endpoint_id
                 where e.user_id = ${user_id} order by s.endpoint_id`,
    ),
    received: (await receiver.received(inbox)).length,
  };
}

async function served(route: Route, key: string, r: Request) {
  const res = await withKey(key, route.method, r.path, r.body);
  assert.equal(res.status, route.status, JSON.stringify(res.body));
  if (route.schema) parsed(route.schema, res, route.status);
  return res;
}

async function refused(route: Route, key: string, r: Request, status: number, code: string) {
  const before = await stored(r.endpointId);
  const res = await withKey(key, route.method, r.path, r.body);
  assertError(res, status, code);
  assert.deepEqual(await stored(r.endpointId), before, "a refused key changed the endpoint");
  return res;
}

for (const route of ROUTES) {
  test(`${route.method} ${route.path} verifies a key in its message: limits, scope, revocation`, async () => {
    const user = await createUser("wh-key-trip");
    const { endpoint } = await registerEndpoint(user, "key-trip");
    const next = () => route.request(user, endpoint.id);
    const key = await createApiKey(user, [route.scope], {
      limits: [{ name: "all", limit: 2, window: 3600 }],
    });

    const first = await served(route, key.key, await next());
    assert.equal(first.headers.get("RateLimit-Limit"), "2", "the named limit counted it");
    assert.equal(first.headers.get("RateLimit-Remaining"), "1");
    await served(route, key.key, await next());
    const limited = await refused(route, key.key, await next(), 429, "rate_limited");
    assert.deepEqual(limited.body.error.details, { limit: "all" });

    const other = route.scope === "webhooks:read" ? "webhooks:write" : "webhooks:read";
    const narrow = await createApiKey(user, [other]);
    const denied = await refused(route, narrow.key, await next(), 403, "insufficient_scope");
    assert.equal(denied.body.error.details.required, route.scope);

    const revoked = await createApiKey(user, [route.scope]);
    await served(route, revoked.key, await next());
    const gone = await call("DELETE", `/account/api-keys/${revoked.id}`, { token: user.token });
    assert.equal(gone.status, 204);
    await refused(route, revoked.key, await next(), 401, "unauthorized");
  });
}

test("another user's key finds none of the owner's endpoints, and changes none", async () => {
  const owner = await createUser("wh-key-trip-owner");
  const { endpoint } = await registerEndpoint(owner, "key-trip-owner");
  const stranger = await createUser("wh-key-trip-stranger");
  const { endpoint: theirs } = await registerEndpoint(stranger, "key-trip-stranger");
  const key = await createApiKey(stranger, ["webhooks:read", "webhooks:write"]);
  const path = `/webhooks/endpoints/${endpoint.id}`;
  const before = await stored(endpoint.id);
  assertError(await withKey(key.key, "GET", path), 404, "not_found");
  assertError(await withKey(key.key, "GET", `${path}/deliveries`), 404, "not_found");
  assertError(await withKey(key.key, "PATCH", path, { enabled: false }), 404, "not_found");
  assertError(await withKey(key.key, "DELETE", path), 404, "not_found");
  assert.deepEqual(await stored(endpoint.id), before);
  const listed = parsed(EndpointList, await withKey(key.key, "GET", "/webhooks/endpoints"));
  assert.deepEqual(listed.data.map((e) => e.id), [theirs.id], "only the key owner's endpoints");
});

test("a bad cursor with a refused key is the key's refusal, not the cursor's 400", async () => {
  const user = await createUser("wh-key-trip-cursor");
  const { endpoint } = await registerEndpoint(user, "key-trip-cursor");
  const path = `/webhooks/endpoints/${endpoint.id}/deliveries?cursor=not-a-cursor`;
  const key = await createApiKey(user, ["webhooks:read"]);
  assertError(await withKey(key.key, "GET", path), 400, "validation_failed");
  const narrow = await createApiKey(user, ["webhooks:write"]);
  assertError(await withKey(narrow.key, "GET", path), 403, "insufficient_scope");
  const gone = await call("DELETE", `/account/api-keys/${key.id}`, { token: user.token });
  assert.equal(gone.status, 204);
  assertError(await withKey(key.key, "GET", path), 401, "unauthorized");
});
