// The routes converted to single-trip key verification (chat get and update,
// tokens stats, events, refresh and access-token): each verifies the key in
// its own message, so a key without the scope is 403, a revoked one 401, the
// key's named limit is spent by each request, and its credits are not (these
// classes cost nothing). The round-trip count is in api-keys.round-trips.test.ts.
import assert from "node:assert/strict";
import { ChatMessage } from "../../shared/chat/schemas.ts";
import { EventPage } from "../../shared/events/schemas.ts";
import { AccessToken, ServiceToken, TokenStats } from "../../shared/tokens/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { newSession, send } from "../chat/support.ts";
import { connect, makeDue, provider } from "../oauth/flow.ts";
import { call, createApiKey, createUser, sql, test, type TestUser } from "../helpers/stack.ts";
import type { z } from "zod";

const withKey = (key: string, method: string, path: string, body?: unknown) =>
  call(method, path, { headers: { "X-API-Key": key }, body });

type Route = {
  label: string;
  scope: string;
  method: string;
  // The path and body for this user (their session, message, connection).
  // deno-lint-ignore no-explicit-any
  request: (f: Fixture) => { path: string; body?: unknown; schema: z.ZodType<any> };
};
type Fixture = {
  user: TestUser;
  sessionId: string;
  messageId: string;
  connectionId: string;
  email: string;
};

const ROUTES: Route[] = [
  {
    label: "GET /chat/{sessionId}/messages/{id}",
    scope: "sessions:read",
    method: "GET",
    request: (f) => ({ path: `/chat/${f.sessionId}/messages/${f.messageId}`, schema: ChatMessage }),
  },
  {
    label: "PATCH /chat/{sessionId}/messages/{id}",
    scope: "chat:write",
    method: "PATCH",
    request: (f) => ({
      path: `/chat/${f.sessionId}/messages/${f.messageId}`,
      body: { has_voice_response: true },
      schema: ChatMessage,
    }),
  },
  {
    label: "GET /tokens/stats",
    scope: "tokens:read",
    method: "GET",
    request: () => ({ path: "/tokens/stats", schema: TokenStats }),
  },
  {
    label: "GET /tokens/events",
    scope: "tokens:read",
    method: "GET",
    request: () => ({ path: "/tokens/events", schema: EventPage }),
  },
  {
    label: "POST /tokens/{id}/refresh",
    scope: "tokens:write",
    method: "POST",
    request: (f) => ({ path: `/tokens/${f.connectionId}/refresh`, schema: ServiceToken }),
  },
  {
    label: "POST /tokens/{provider}/access-token",
    scope: "tokens:access",
    method: "POST",
    request: () => ({ path: "/tokens/dev/access-token", schema: AccessToken }),
  },
];

// A user with a session holding an agent reply, and a dev connection.
async function fixture(label: string): Promise<Fixture> {
  const user = await createUser(label);
  const session = await newSession(user);
  const sent = await send(user, session.id, { content: "hello" });
  assert.equal(sent.status, 201, JSON.stringify(sent.body));
  const { token, email } = await connect(user);
  return {
    email,
    user,
    sessionId: session.id,
    messageId: sent.body.assistant_message.id,
    connectionId: token.id,
  };
}

const other = (scope: string) => scope === "sessions:read" ? "tokens:read" : "sessions:read";

for (const route of ROUTES) {
  test(`${route.label} verifies a key in its message: scope, revocation, limits, no credits`, async () => {
    const f = await fixture("one-trip");
    const { path, body, schema } = route.request(f);
    const key = await createApiKey(f.user, [route.scope], {
      limits: [{ name: "all", limit: 2, window: 3600 }],
      credits: { remaining: 5 },
    });

    const first = await withKey(key.key, route.method, path, body);
    parsed(schema, first);
    assert.equal(first.headers.get("RateLimit-Limit"), "2", "the named limit counted the request");
    assert.equal(first.headers.get("RateLimit-Remaining"), "1");
    assert.equal(first.headers.get("API-Key-Credits-Remaining"), "5", "this class costs nothing");
    parsed(schema, await withKey(key.key, route.method, path, body));
    const limited = await withKey(key.key, route.method, path, body);
    assertError(limited, 429, "rate_limited");
    assert.deepEqual(limited.body.error.details, { limit: "all" });

    const narrow = await createApiKey(f.user, [other(route.scope)]);
    const refused = await withKey(narrow.key, route.method, path, body);
    assertError(refused, 403, "insufficient_scope");
    assert.equal(refused.body.error.details.required, route.scope);

    const revoked = await createApiKey(f.user, [route.scope]);
    parsed(schema, await withKey(revoked.key, route.method, path, body));
    const gone = await call("DELETE", `/account/api-keys/${revoked.id}`, { token: f.user.token });
    assert.equal(gone.status, 204);
    assertError(await withKey(revoked.key, route.method, path, body), 401, "unauthorized");

    const [row] = await sql`select credits_remaining from public.api_keys where id = ${key.id}`;
    assert.equal(row.credits_remaining, 5);
  });
}

test("a key's refused verification rolls back the route's write (PATCH of a message)", async () => {
  const f = await fixture("one-trip-rollback");
  const key = await createApiKey(f.user, ["chat:write"], {
    limits: [{ name: "all", limit: 1, window: 3600 }],
  });
  const path = `/chat/${f.sessionId}/messages/${f.messageId}`;
  parsed(ChatMessage, await withKey(key.key, "PATCH", path, { has_voice_response: true }));
  const url = "https://cdn.example.com/v.mp3";
  assertError(
    await withKey(key.key, "PATCH", path, { voice_response_url: url }),
    429,
    "rate_limited",
  );
  const [row] = await sql`select voice_response_url from public.messages where id = ${f.messageId}`;
  assert.equal(row.voice_response_url, null);
});

test("PATCH a user's own message with a key: 409, and another user's message is 404", async () => {
  const f = await fixture("one-trip-409");
  const key = await createApiKey(f.user, ["chat:write", "sessions:read"]);
  const [own] = await sql`select id from public.messages
                           where session_id = ${f.sessionId} and role = 'user'`;
  const path = `/chat/${f.sessionId}/messages/${own.id}`;
  const conflict = await withKey(key.key, "PATCH", path, { has_voice_response: true });
  assertError(conflict, 409, "conflict");
  assert.equal(conflict.body.error.details.role, "user");
  const stranger = await fixture("one-trip-stranger");
  const theirs = `/chat/${stranger.sessionId}/messages/${stranger.messageId}`;
  assertError(
    await withKey(key.key, "PATCH", theirs, { has_voice_response: true }),
    404,
    "not_found",
  );
  assertError(await withKey(key.key, "GET", theirs), 404, "not_found");
});

test("access-token with a key: a due token is refreshed, force_refresh too, another user's id is 404", async () => {
  const f = await fixture("one-trip-vend");
  const stranger = await createUser("one-trip-vend-stranger");
  const key = await createApiKey(f.user, ["tokens:access"]);
  const vend = (body: unknown = {}) => withKey(key.key, "POST", "/tokens/dev/access-token", body);
  const grantsBefore = (await provider.seen(f.email)).refresh_grants;
  const fresh = parsed(AccessToken, await vend());
  assert.equal(fresh.refreshed, false);
  await makeDue(f.connectionId);
  const due = parsed(AccessToken, await vend());
  assert.equal(due.refreshed, true);
  assert.notEqual(due.access_token, fresh.access_token);
  const forced = parsed(AccessToken, await vend({ force_refresh: true }));
  assert.equal(forced.refreshed, true);
  assertError(await vend({ user_id: stranger.id }), 404, "not_found");
  assertError(await vend({ force_refresh: true, user_id: stranger.id }), 404, "not_found");
  const asked = await sql`select details from public.user_activities
                           where user_id = ${f.user.id} and activity_type = 'token.vended'
                           order by id`;
  assert.deepEqual(
    asked.map((a) => [a.details.asked_by, a.details.refreshed]),
    [[`api_key:${key.id}`, false], [`api_key:${key.id}`, true], [`api_key:${key.id}`, true]],
  );
  assert.equal((await provider.seen(f.email)).refresh_grants, grantsBefore + 2);
});
