// The auth matrix over every route the chat document lists, so a new route is
// covered without new test code: bad tokens are 401 and change nothing, a
// valid ES256 token from the JWKS works, and another user's session or
// message ids are 404 and change nothing; so are another user's pending
// actions (tool calling), which stay pending.
import assert from "node:assert/strict";
import type { z } from "zod";
import { ChatMessage, Exchange, HeygenToken } from "../../shared/chat/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { type Operation, operations } from "../helpers/openapi.ts";
import { call, createUser, sql, test, type TestUser } from "../helpers/stack.ts";
import { badTokens, es256Token } from "../helpers/tokens.ts";
import { ActionDecision } from "../../shared/chat/tools/schemas.ts";
import { newSession, send } from "./support.ts";
import { heldAction } from "./tools-support.ts";

const owner = await createUser("chat-owner");
const intruder = await createUser("chat-intruder");
const ops = await operations("chat");
const secured = ops.filter((o) => o.secured);

type Target = { sessionId: string; userMessageId: string; replyId: string; actionId: string };

// A session with an exchange and a send_draft waiting for confirmation.
async function exchange(user: TestUser): Promise<Target> {
  const s = await newSession(user, { title: "target" });
  const res = await send(user, s.id, { content: "matrix target" });
  const { user_message, assistant_message } = parsed(Exchange, res, 201);
  const { actionId } = await heldAction(user, s.id);
  return {
    sessionId: s.id,
    userMessageId: user_message.id,
    replyId: assistant_message.id,
    actionId,
  };
}

const isAction = (op: Operation) => op.path.startsWith("/chat/actions/");

const BODIES: Record<string, unknown> = {
  "POST /chat/{sessionId}/messages": { content: "matrix" },
  "PATCH /chat/{sessionId}/messages/{id}": { has_voice_response: true },
};

// What each route answers on success: a new route fails the matrix below
// until its schema is named here.
const SUCCESS: Record<string, [number, z.ZodType]> = {
  "GET /chat/{sessionId}/messages/{id}": [200, ChatMessage],
  "PATCH /chat/{sessionId}/messages/{id}": [200, ChatMessage],
  "POST /chat/heygen/token": [200, HeygenToken],
  "POST /chat/{sessionId}/messages": [201, Exchange],
  "GET /chat/actions/{id}": [200, ActionDecision],
  "POST /chat/actions/{id}/confirm": [200, ActionDecision],
  "POST /chat/actions/{id}/reject": [200, ActionDecision],
};

function request(
  op: Operation,
  ids: { sessionId: string; id: string; actionId?: string },
  token?: string,
  headers: Record<string, string> = {},
) {
  const id = isAction(op) ? ids.actionId ?? ids.id : ids.id;
  const path = op.path.replace("{sessionId}", ids.sessionId).replace("{id}", id);
  return call(op.method, path, { token, body: BODIES[`${op.method} ${op.path}`], headers });
}

// Everything of the owner's the routes could touch.
async function snapshot(t: Target) {
  return {
    messages: [
      ...await sql`select * from public.messages where session_id = ${t.sessionId}
                              order by message_index`,
    ],
    session: [...await sql`select * from public.chat_sessions where id = ${t.sessionId}`],
    keys: [...await sql`select * from public.idempotency_keys where user_id = ${owner.id}`],
    actions: [
      ...await sql`select * from public.chat_pending_actions where session_id = ${t.sessionId}`,
    ],
  };
}

test("the document lists every chat route, all secured, with their scopes", () => {
  const listed = ops.map((o) => `${o.method} ${o.path} ${o.scope}`).sort();
  assert.deepEqual(listed, [
    "GET /chat/actions/{id} sessions:read",
    "GET /chat/{sessionId}/messages/{id} sessions:read",
    "PATCH /chat/{sessionId}/messages/{id} chat:write",
    "POST /chat/actions/{id}/confirm chat:write",
    "POST /chat/actions/{id}/reject chat:write",
    "POST /chat/heygen/token chat:write",
    "POST /chat/{sessionId}/messages chat:write",
  ]);
  assert.equal(secured.length, ops.length);
});

const shared = await exchange(owner);
const tokens = await badTokens(owner);
for (const op of secured) {
  for (const [name, token] of Object.entries(tokens)) {
    test(`${op.method} ${op.path}: ${name} is 401 and changes nothing`, async () => {
      const before = await snapshot(shared);
      const ids = { sessionId: shared.sessionId, id: shared.replyId, actionId: shared.actionId };
      const res = await request(op, ids, token, {
        "Idempotency-Key": crypto.randomUUID(),
      });
      assertError(res, 401, "unauthorized");
      assert.deepEqual(await snapshot(shared), before);
    });
  }

  test(`${op.method} ${op.path}: a valid ES256 token from the JWKS is accepted`, async () => {
    const t = await exchange(owner);
    const res = await request(
      op,
      { sessionId: t.sessionId, id: t.replyId, actionId: t.actionId },
      await es256Token(owner),
    );
    assert.ok(res.status >= 200 && res.status < 300, `${res.status} ${JSON.stringify(res.body)}`);
    const success = SUCCESS[`${op.method} ${op.path}`];
    assert.ok(success, `no success schema named for ${op.method} ${op.path}`);
    parsed(success[1], res, success[0]);
  });

  if (op.path.includes("{sessionId}")) {
    test(`${op.method} ${op.path}: another user's ids are 404 and change nothing`, async () => {
      const t = await exchange(owner);
      const mine = await exchange(intruder);
      const before = await snapshot(t);
      // The owner's session and message, and the owner's message under the intruder's session.
      for (
        const ids of [
          { sessionId: t.sessionId, id: t.replyId },
          { sessionId: t.sessionId, id: t.userMessageId },
          { sessionId: mine.sessionId, id: t.replyId },
        ]
      ) {
        if (!op.path.includes("{id}") && ids.sessionId === mine.sessionId) continue;
        assertError(await request(op, ids, intruder.token), 404, "not_found");
        const streamed = await request(op, ids, intruder.token, { Accept: "text/event-stream" });
        assertError(streamed, 404, "not_found");
      }
      assert.deepEqual(await snapshot(t), before);
    });
  }
}

for (const op of secured.filter(isAction)) {
  test(`${op.method} ${op.path}: another user's action is 404, stays pending`, async () => {
    const t = await exchange(owner);
    const before = await snapshot(t);
    const theirs = await request(
      op,
      { sessionId: "", id: "", actionId: t.actionId },
      intruder.token,
    );
    assertError(theirs, 404, "not_found");
    const nobody = await request(
      op,
      { sessionId: "", id: "", actionId: crypto.randomUUID() },
      intruder.token,
    );
    assertError(nobody, 404, "not_found");
    assert.equal(theirs.body.error.message, nobody.body.error.message);
    assert.deepEqual(await snapshot(t), before);
  });
}

test("an intruder cannot name the owner's message as a parent", async () => {
  const t = await exchange(owner);
  const mine = await newSession(intruder);
  const res = await send(intruder, mine.id, { content: "hi", parent_message_id: t.replyId });
  assertError(res, 400, "validation_failed");
  const [{ n }] =
    await sql`select count(*)::int as n from public.messages where session_id = ${mine.id}`;
  assert.equal(n, 0);
});

test("an intruder's Idempotency-Key never replays the owner's exchange", async () => {
  const t = await exchange(owner);
  const key = crypto.randomUUID();
  const first = await send(owner, t.sessionId, { content: "mine" }, { "Idempotency-Key": key });
  parsed(Exchange, first, 201);
  const mine = await newSession(intruder);
  const res = await send(intruder, mine.id, { content: "mine" }, { "Idempotency-Key": key });
  parsed(Exchange, res, 201);
  assert.notEqual(res.body.user_message.id, first.body.user_message.id);
  assert.equal(res.body.user_message.session_id, mine.id);
  // Nor does the owner's session id with the owner's key work for the intruder.
  assertError(
    await send(intruder, t.sessionId, { content: "mine" }, { "Idempotency-Key": key }),
    404,
    "not_found",
  );
});

test("the same isolation holds in SQL: idempotency keys as authenticated", async () => {
  await exchange(owner);
  await send(owner, (await newSession(owner)).id, { content: "k" }, {
    "Idempotency-Key": crypto.randomUUID(),
  });
  const rows = await sql.begin(async (tx) => {
    await tx`select set_config('role', 'authenticated', true),
                    set_config('request.jwt.claims', ${
      JSON.stringify({ sub: intruder.id, role: "authenticated" })
    }, true)`;
    return await tx`select user_id from public.idempotency_keys`;
  });
  assert.ok(rows.every((r) => r.user_id === intruder.id));
});
