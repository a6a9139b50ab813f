// One depth limit for all JSON a client sends (MAX_JSON_DEPTH levels), held by
// the API and by the database: chat refuses an over-deep message before the
// agent is called (nothing stored, nothing billed), values at the limit read
// back everywhere they are shown, and the database's constraints name the same
// limit. The hostile-input suite sends every JSON field at, past and far past
// the limit; pgTAP 100_json_depth covers the constraints and the repair.
import assert from "node:assert/strict";
import { Profile } from "../../shared/account/schemas.ts";
import { Exchange } from "../../shared/chat/schemas.ts";
import { MAX_JSON_DEPTH } from "../../shared/http/json-depth.ts";
import { MessagePage, Session, SessionPage } from "../../shared/sessions/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { call, createUser, FUNCTIONS_URL, sql, test } from "../helpers/stack.ts";
import { agentSeen, newSession, newTag } from "../chat/support.ts";

const deepObject = (levels: number) => '{"a":'.repeat(levels - 1) + "{}" + "}".repeat(levels - 1);
const deepArrayIn = (levels: number) =>
  '{"a":' + "[".repeat(levels - 1) + "]".repeat(levels - 1) + "}";

function sendRaw(token: string, sessionId: string, body: string, key?: string) {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (key) headers["Idempotency-Key"] = key;
  return call("POST", `/chat/${sessionId}/messages`, { token, body, headers });
}

test("chat refuses over-deep metadata before the agent is called: nothing stored or billed", async () => {
  const user = await createUser("deep-chat");
  const session = await newSession(user);
  const cases = [
    ["33 levels", deepObject(MAX_JSON_DEPTH + 1)],
    ["8,100 levels", deepArrayIn(8_100)],
    ["20,000 levels", deepObject(20_000)],
  ];
  for (const [label, metadata] of cases) {
    for (const key of [undefined, crypto.randomUUID()]) {
      const tag = newTag();
      const body = `{"content":"hello [[tag=${tag}]]","metadata":${metadata}}`;
      const res = await sendRaw(user.token, session.id, body, key);
      const what = `${label}, ${key ? "with" : "without"} Idempotency-Key`;
      assertError(res, 400, "validation_failed");
      assert.deepEqual(res.body.error.details.issues.map((i: { path: string }) => i.path), [
        "metadata",
      ], what);
      assert.equal(await agentSeen(tag), undefined, `${what}: the agent was called`);
    }
  }
  const [stored] = await sql<{ messages: number; keys: number }[]>`
    select (select count(*) from public.messages where session_id = ${session.id})::int as messages,
           (select count(*) from public.idempotency_keys where session_id = ${session.id})::int as keys`;
  assert.deepEqual(stored, { messages: 0, keys: 0 });
});

test("JSON at the depth limit is stored and read back by every route that shows it", async () => {
  const user = await createUser("deep-read");
  const value = JSON.parse(deepArrayIn(MAX_JSON_DEPTH));
  const created = await call("POST", "/sessions", {
    token: user.token,
    body: { agent_config: value, context_data: value },
  });
  assert.equal(created.status, 201, JSON.stringify(created.body).slice(0, 300));
  parsed(Session, created, 201);
  const sent = await sendRaw(
    user.token,
    created.body.id,
    `{"content":"hi","metadata":${deepArrayIn(MAX_JSON_DEPTH)}}`,
  );
  assert.equal(sent.status, 201, JSON.stringify(sent.body).slice(0, 300));
  parsed(Exchange, sent, 201);
  const profile = await call("PATCH", "/account/me", {
    token: user.token,
    body: { preferences: value },
  });
  parsed(Profile, profile);

  const session = parsed(
    Session,
    await call("GET", `/sessions/${created.body.id}`, { token: user.token }),
  );
  const list = parsed(SessionPage, await call("GET", "/sessions", { token: user.token }));
  const messages = parsed(
    MessagePage,
    await call("GET", `/sessions/${created.body.id}/messages`, { token: user.token }),
  );
  const me = parsed(Profile, await call("GET", "/account/me", { token: user.token }));
  assert.deepEqual(session.agent_config, value);
  assert.deepEqual(session.context_data, value);
  assert.deepEqual(list.data[0].agent_config, value);
  assert.deepEqual(messages.data[0].metadata, value);
  assert.deepEqual(me.preferences, value);
  const stream = await fetch(`${FUNCTIONS_URL}/chat/${created.body.id}/messages`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${user.token}`,
      "Content-Type": "application/json",
      Accept: "text/event-stream",
    },
    body: `{"content":"again","metadata":${deepArrayIn(MAX_JSON_DEPTH)}}`,
  });
  assert.equal(stream.status, 200);
  assert.match(await stream.text(), /message\.completed/);
});

test("the database checks the same limit as the API, on every client-writable JSON column", async () => {
  const rows = await sql<{ col: string; def: string }[]>`
    select format('%s.%s', c.conrelid::regclass, a.attname) as col, pg_get_constraintdef(c.oid) as def
      from pg_constraint c
      join pg_attribute a on a.attrelid = c.conrelid and a.attnum = any(c.conkey)
     where c.contype = 'c' and pg_get_constraintdef(c.oid) like '%jsonb_depth_within%'
     order by 1`;
  // Every jsonb column a user may write (through the API's role), from the catalog.
  const writable = await sql<{ col: string }[]>`
    select format('%s.%s', c.oid::regclass, a.attname) as col
      from pg_attribute a join pg_class c on c.oid = a.attrelid
     where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
       and a.atttypid = 'jsonb'::regtype and not a.attisdropped
       and (has_column_privilege('oprina_api_user', c.oid, a.attnum, 'INSERT')
         or has_column_privilege('oprina_api_user', c.oid, a.attnum, 'UPDATE'))
     order by 1`;
  assert.ok(writable.length >= 4, writable.map((r) => r.col).join(", "));
  assert.deepEqual(rows.map((r) => r.col), writable.map((r) => r.col));
  for (const row of rows) assert.match(row.def, new RegExp(`, ${MAX_JSON_DEPTH}\\)\\)$`), row.def);
});
