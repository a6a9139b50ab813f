// The auth matrix over every unified route the document lists: bad tokens
// 401, a valid ES256 token works, another user's ids and connections 404
// (and their provider sees nothing), an API key without the route's scope
// 403 and with it 2xx. No answer carries a provider token.
import assert from "node:assert/strict";
import { SCOPES } from "../../shared/auth/scopes.ts";
import { EventPage } from "../../shared/unified/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { type Operation, operations } from "../helpers/openapi.ts";
import { type Call, call, createApiKey, createUser, test } from "../helpers/stack.ts";
import { badTokens, es256Token } from "../helpers/tokens.ts";
import { calls, connectTo, range, type RouteRequest, unified, validRequests } from "./support.ts";

const ops = await operations("unified");
const owner = await createUser("unified-owner");
const ownerConn = await connectTo(owner, "google");
const intruder = await createUser("unified-intruder");
const intruderConn = await connectTo(intruder, "microsoft");

const valid = await validRequests(owner);

const send = (
  op: Operation,
  r: RouteRequest,
  o: { token?: string; headers?: Record<string, string> },
) => call(op.method, `/unified${r.path}`, { ...o, body: r.body });

const ok = (res: Call) =>
  assert.ok(res.status >= 200 && res.status < 300, `${res.status} ${JSON.stringify(res.body)}`);

test("the document lists every unified route, each with its scope", () => {
  const scopes = Object.fromEntries(ops.map((o) => [`${o.method} ${o.path}`, o.scope]));
  assert.deepEqual(scopes, {
    "GET /unified/calendar/events": "calendar:read",
    "GET /unified/calendar/events/{id}": "calendar:read",
    "POST /unified/calendar/events": "calendar:write",
    "GET /unified/calendar/free-busy": "calendar:read",
    "GET /unified/mail/messages": "mail:read",
    "GET /unified/mail/messages/{id}": "mail:read",
    "POST /unified/mail/drafts": "mail:write",
    "POST /unified/mail/drafts/{id}/send": "mail:write",
  });
  assert.ok(ops.every((o) => o.secured && !o.serviceAllowed));
});

const tokens = await badTokens(owner);
for (const op of ops) {
  test(`${op.method} ${op.path}: every bad token is 401 and reaches no provider`, async () => {
    const r = await valid(op);
    const before = await calls(ownerConn.email);
    for (const [name, bad] of Object.entries(tokens)) {
      const res = await send(op, r, { token: bad });
      assert.equal(res.status, 401, `${name}: ${res.status}`);
      assertError(res, 401, "unauthorized");
    }
    assert.deepEqual(await calls(ownerConn.email), before);
  });

  test(`${op.method} ${op.path}: a valid ES256 token from the JWKS is accepted`, async () => {
    const res = await send(op, await valid(op), { token: await es256Token(owner) });
    ok(res);
    assert.doesNotMatch(JSON.stringify(res.body), /devat_|devrt_/, "no provider token leaks");
  });

  test(`${op.method} ${op.path}: another user's ids and connection are 404, unseen by their provider`, async () => {
    const r = await valid(op);
    const before = await calls(ownerConn.email);
    if (op.path.includes("{id}")) {
      assertError(await send(op, r, { token: intruder.token }), 404, "not_found");
    }
    if (r.takesConnection) {
      const foreign = op.method === "GET"
        ? {
          ...r,
          path: `${r.path}${r.path.includes("?") ? "&" : "?"}connection_id=${ownerConn.id}`,
        }
        : { ...r, body: { ...r.body, connection_id: ownerConn.id } };
      assertError(await send(op, foreign, { token: intruder.token }), 404, "not_found");
      // Without the foreign connection the same request works on the intruder's own.
      ok(await send(op, r, { token: intruder.token }));
    }
    assert.deepEqual(await calls(ownerConn.email), before);
  });

  test(`${op.method} ${op.path}: an API key needs ${op.scope}, and works with it`, async () => {
    const without = await createApiKey(owner, SCOPES.filter((s) => s !== op.scope));
    const r = await valid(op);
    assertError(
      await send(op, r, { headers: { "X-API-Key": without.key } }),
      403,
      "insufficient_scope",
    );
    const withIt = await createApiKey(owner, [op.scope!]);
    ok(await send(op, await valid(op), { headers: { "X-API-Key": withIt.key } }));
  });
}

test("the intruder's own connection stays theirs", async () => {
  const page = parsed(EventPage, await unified(intruder, "GET", `/calendar/events?${range(0, 2)}`));
  assert.ok(page.data.every((e) => e.connection_id === intruderConn.id));
});
