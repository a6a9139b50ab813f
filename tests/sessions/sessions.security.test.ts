// The auth matrix over every route the sessions document lists, so a new
// route is covered without new test code.
import assert from "node:assert/strict";
import type { z } from "zod";
import { MessagePage, Session, SessionPage, SessionStats } from "../../shared/sessions/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { type Operation as Op, operations } from "../helpers/openapi.ts";
import { call, createUser, sql, test } from "../helpers/stack.ts";
import { badTokens, es256Token } from "../helpers/tokens.ts";

const owner = await createUser("owner");
const intruder = await createUser("intruder");
const ops = await operations("sessions");
const secured = ops.filter((o) => o.secured);

const BODIES: Record<string, unknown> = { POST: { title: "matrix" }, PATCH: { title: "changed" } };

// What each route answers on success: a new route fails the matrix below
// until its schema is named here.
const SUCCESS: Record<string, [number, z.ZodType | null]> = {
  "DELETE /sessions/{id}": [204, null],
  "GET /sessions": [200, SessionPage],
  "GET /sessions/stats": [200, SessionStats],
  "GET /sessions/{id}": [200, Session],
  "GET /sessions/{id}/messages": [200, MessagePage],
  "PATCH /sessions/{id}": [200, Session],
  "POST /sessions": [201, Session],
  "POST /sessions/{id}/archive": [200, Session],
  "POST /sessions/{id}/restore": [200, Session],
};

async function freshSession(): Promise<string> {
  const res = await call("POST", "/sessions", { token: owner.token, body: { title: "target" } });
  return parsed(Session, res, 201).id;
}

function request(op: Op, id: string, token?: string) {
  const path = op.path.replace("{id}", id);
  const body = op.path === "/sessions/{id}/restore" || op.path.endsWith("/archive")
    ? undefined
    : BODIES[op.method];
  return call(op.method, path, { token, body });
}

test("the document lists every sessions route, all but the public ones secured", () => {
  const listed = ops.map((o) => `${o.method} ${o.path}`).sort();
  assert.deepEqual(listed, [
    "DELETE /sessions/{id}",
    "GET /sessions",
    "GET /sessions/stats",
    "GET /sessions/{id}",
    "GET /sessions/{id}/messages",
    "PATCH /sessions/{id}",
    "POST /sessions",
    "POST /sessions/{id}/archive",
    "POST /sessions/{id}/restore",
  ]);
  assert.equal(secured.length, ops.length);
});

const tokens = await badTokens(owner);
for (const op of secured) {
  for (const [name, token] of Object.entries(tokens)) {
    test(`${op.method} ${op.path}: ${name} is 401`, async () => {
      const id = await freshSession();
      const before = await sql`select * from public.chat_sessions where id = ${id}`;
      const res = await request(op, id, token);
      assertError(res, 401, "unauthorized");
      assert.deepEqual(await sql`select * from public.chat_sessions where id = ${id}`, before);
    });
  }

  test(`${op.method} ${op.path}: a valid ES256 token from the JWKS is accepted`, async () => {
    const id = await freshSession();
    if (op.path.endsWith("/restore")) {
      await call("POST", `/sessions/${id}/archive`, { token: owner.token });
    }
    const res = await request(op, id, await es256Token(owner));
    assert.ok(res.status >= 200 && res.status < 300, `${res.status} ${JSON.stringify(res.body)}`);
    const success = SUCCESS[`${op.method} ${op.path}`];
    assert.ok(success, `no success schema named for ${op.method} ${op.path}`);
    const [status, schema] = success;
    if (schema) parsed(schema, res, status);
    else assert.equal(res.status, status);
  });

  if (op.path.includes("{id}")) {
    test(`${op.method} ${op.path}: another user's id is 404 and changes nothing`, async () => {
      const id = await freshSession();
      await call("POST", `/sessions/${id}/archive`, { token: owner.token });
      const before = await sql`select * from public.chat_sessions where id = ${id}`;
      assertError(await request(op, id, intruder.token), 404, "not_found");
      assert.deepEqual(await sql`select * from public.chat_sessions where id = ${id}`, before);
    });
  }
}

test("another user's list and stats show none of the owner's sessions", async () => {
  await freshSession();
  await call("POST", "/sessions", { token: intruder.token, body: { title: "mine" } });
  const list = parsed(
    SessionPage,
    await call("GET", "/sessions?include_archived=true", { token: intruder.token }),
  );
  assert.ok(list.data.length >= 1);
  assert.ok(list.data.every((s) => s.user_id === intruder.id));
  assert.ok(!list.data.some((s) => s.user_id === owner.id));
  const stats = parsed(
    SessionStats,
    await call("GET", "/sessions/stats", { token: intruder.token }),
  );
  const [{ n }] =
    await sql`select count(*)::int as n from public.chat_sessions where user_id = ${intruder.id}`;
  assert.equal(stats.total, n);
});

test("the same isolation holds in SQL as authenticated", async () => {
  await freshSession();
  await call("POST", "/sessions", { token: intruder.token, body: { title: "mine too" } });
  const rows = await sql.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true),
                    set_config('request.jwt.claims', ${
      JSON.stringify({ sub: intruder.id, role: "authenticated" })
    }, true)`;
    return await tx`select user_id from public.chat_sessions
                    union all select user_id from public.messages`;
  });
  assert.ok(rows.length >= 1);
  assert.ok(rows.every((r) => r.user_id === intruder.id));
});
