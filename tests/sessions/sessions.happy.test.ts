import assert from "node:assert/strict";
import { MessagePage, Session, SessionPage, SessionStats } from "../../shared/sessions/schemas.ts";
import { parsed } from "../helpers/assert.ts";
import { addMessages, call, createUser, sql, test } from "../helpers/stack.ts";

const alice = await createUser("alice");

async function newSession(body: Record<string, unknown> = {}, user = alice) {
  return parsed(Session, await call("POST", "/sessions", { token: user.token, body }), 201);
}

test("create with defaults", async () => {
  const s = await newSession();
  assert.equal(s.user_id, alice.id);
  assert.equal(s.title, "New chat");
  assert.equal(s.status, "active");
  assert.equal(s.is_archived, false);
  assert.deepEqual(s.agent_config, {});
  assert.equal(s.message_count, 0);
  assert.equal(s.total_tokens_used, 0);
  assert.equal(s.estimated_cost, 0);
});

test("create with every field", async () => {
  const s = await newSession({
    title: "  Trip planning  ",
    agent_type: "calendar-agent",
    agent_config: { model: "gpt-x", temperature: 0.2 },
    context_data: { locale: "en-GB", nested: { a: [1, 2] } },
  });
  assert.equal(s.title, "Trip planning");
  assert.equal(s.agent_type, "calendar-agent");
  assert.deepEqual(s.agent_config, { model: "gpt-x", temperature: 0.2 });
  assert.deepEqual(s.context_data, { locale: "en-GB", nested: { a: [1, 2] } });
});

test("get returns the stored session", async () => {
  const s = await newSession({ title: "Fetch me" });
  const res = await call("GET", `/sessions/${s.id}`, { token: alice.token });
  assert.deepEqual(parsed(Session, res), s);
});

test("list pages newest activity first without gaps or repeats", async () => {
  const user = await createUser("lister");
  const ids: string[] = [];
  for (let i = 0; i < 5; i++) ids.push((await newSession({ title: `s${i}` }, user)).id);
  // Same instant for two sessions: the id breaks the tie, the cursor keeps it.
  await sql`update public.chat_sessions set last_activity_at = '2030-01-01T00:00:00.123456Z'
             where id in (${ids[1]}, ${ids[2]})`;
  const seen: string[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const q: string = cursor ? `?limit=2&cursor=${cursor}` : "?limit=2";
    const body = parsed(SessionPage, await call("GET", `/sessions${q}`, { token: user.token }));
    assert.ok(body.data.length <= 2);
    seen.push(...body.data.map((s) => s.id));
    cursor = body.next_cursor;
    pages++;
  } while (cursor);
  assert.equal(pages, 3);
  assert.equal(new Set(seen).size, 5);
  assert.deepEqual(seen.slice(0, 2).sort(), [ids[1], ids[2]].sort());
  assert.deepEqual(seen.slice(2), [ids[4], ids[3], ids[0]]);
});

test("list filters by status and hides archived by default", async () => {
  const user = await createUser("filter");
  const active = await newSession({ title: "a" }, user);
  const paused = await newSession({ title: "p" }, user);
  const archived = await newSession({ title: "x" }, user);
  await call("PATCH", `/sessions/${paused.id}`, { token: user.token, body: { status: "paused" } });
  await call("POST", `/sessions/${archived.id}/archive`, { token: user.token });
  const ids = async (q: string) =>
    parsed(SessionPage, await call("GET", `/sessions${q}`, { token: user.token })).data
      .map((s) => s.id).sort();
  assert.deepEqual(await ids(""), [active.id, paused.id].sort());
  assert.deepEqual(await ids("?status=paused"), [paused.id]);
  assert.deepEqual(await ids("?status=archived"), [archived.id]);
  assert.deepEqual(await ids("?include_archived=true"), [active.id, paused.id, archived.id].sort());
});

test("update changes only the given fields", async () => {
  const s = await newSession({ title: "Before", context_data: { keep: true } });
  const res = await call("PATCH", `/sessions/${s.id}`, {
    token: alice.token,
    body: { title: "After", status: "paused", agent_config: { voice: "nova" } },
  });
  const updated = parsed(Session, res);
  assert.equal(updated.title, "After");
  assert.equal(updated.status, "paused");
  assert.deepEqual(updated.agent_config, { voice: "nova" });
  assert.deepEqual(updated.context_data, { keep: true });
  assert.ok(updated.updated_at > s.updated_at);
});

test("delete removes the session and its messages", async () => {
  const s = await newSession();
  await addMessages(alice, s.id, 3);
  const res = await call("DELETE", `/sessions/${s.id}`, { token: alice.token });
  assert.equal(res.status, 204);
  assert.equal((await call("GET", `/sessions/${s.id}`, { token: alice.token })).status, 404);
  const [{ n }] =
    await sql`select count(*)::int as n from public.messages where session_id = ${s.id}`;
  assert.equal(n, 0);
  assert.equal((await call("DELETE", `/sessions/${s.id}`, { token: alice.token })).status, 404);
});

test("archive is idempotent and restore brings the session back", async () => {
  const s = await newSession();
  const first = parsed(
    Session,
    await call("POST", `/sessions/${s.id}/archive`, { token: alice.token }),
  );
  assert.equal(first.status, "archived");
  assert.equal(first.is_archived, true);
  assert.ok(first.archived_at);
  const again = parsed(
    Session,
    await call("POST", `/sessions/${s.id}/archive`, { token: alice.token }),
  );
  assert.equal(again.archived_at, first.archived_at);
  const restored = parsed(
    Session,
    await call("POST", `/sessions/${s.id}/restore`, { token: alice.token }),
  );
  assert.equal(restored.status, "active");
  assert.equal(restored.archived_at, null);
});

test("activities are recorded for create, archive, restore and delete", async () => {
  const user = await createUser("audit");
  const s = await newSession({ title: "audited" }, user);
  await call("POST", `/sessions/${s.id}/archive`, { token: user.token });
  await call("POST", `/sessions/${s.id}/archive`, { token: user.token });
  await call("POST", `/sessions/${s.id}/restore`, { token: user.token });
  await call("DELETE", `/sessions/${s.id}`, { token: user.token });
  const rows = await sql<{ activity_type: string; session_id: string }[]>`
    select activity_type, details ->> 'session_id' as session_id
      from public.user_activities where user_id = ${user.id} order by id`;
  assert.deepEqual(rows.map((r) => r.activity_type), [
    "session.created",
    "session.archived",
    "session.restored",
    "session.deleted",
  ]);
  assert.ok(rows.every((r) => r.session_id === s.id));
});

test("messages list in order with cursor pages both ways", async () => {
  const s = await newSession();
  await addMessages(alice, s.id, 5);
  const collect = async (order: string) => {
    const indexes: number[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `?order=${order}&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const res = await call("GET", `/sessions/${s.id}/messages${q}`, { token: alice.token });
      const body = parsed(MessagePage, res);
      indexes.push(...body.data.map((m) => m.message_index));
      cursor = body.next_cursor;
    } while (cursor);
    return indexes;
  };
  assert.deepEqual(await collect("asc"), [1, 2, 3, 4, 5]);
  assert.deepEqual(await collect("desc"), [5, 4, 3, 2, 1]);
  const first = parsed(
    MessagePage,
    await call("GET", `/sessions/${s.id}/messages?limit=1`, { token: alice.token }),
  );
  assert.equal(first.data[0].content, "message 1");
  assert.equal(first.data[0].role, "user");
  assert.equal(first.data[0].session_id, s.id);
});

test("messages of an empty session is an empty page", async () => {
  const s = await newSession();
  const res = await call("GET", `/sessions/${s.id}/messages`, { token: alice.token });
  assert.deepEqual(parsed(MessagePage, res), { data: [], next_cursor: null });
});

test("counters follow messages and stats add them up", async () => {
  const user = await createUser("stats");
  const a = await newSession({ title: "a" }, user);
  const b = await newSession({ title: "b" }, user);
  await newSession({ title: "c" }, user);
  await addMessages(user, a.id, 2, { total_tokens: 10, estimated_cost: 0.5 });
  await addMessages(user, b.id, 1, { total_tokens: 7, estimated_cost: 0.25 });
  await call("PATCH", `/sessions/${b.id}`, { token: user.token, body: { status: "ended" } });
  await call("POST", `/sessions/${a.id}/archive`, { token: user.token });

  const got = parsed(Session, await call("GET", `/sessions/${a.id}`, { token: user.token }));
  assert.equal(got.message_count, 2);
  assert.equal(got.total_tokens_used, 20);
  assert.equal(got.estimated_cost, 1);

  const stats = parsed(SessionStats, await call("GET", "/sessions/stats", { token: user.token }));
  assert.deepEqual(stats.by_status, { active: 1, paused: 0, ended: 1, archived: 1 });
  assert.equal(stats.total, 3);
  assert.equal(stats.messages, 3);
  assert.equal(stats.tokens, 27);
  assert.equal(stats.estimated_cost, 1.25);
  assert.ok(stats.last_activity_at);
});

test("stats of a user without sessions are zeros", async () => {
  const user = await createUser("empty");
  const res = await call("GET", "/sessions/stats", { token: user.token });
  assert.deepEqual(parsed(SessionStats, res), {
    total: 0,
    by_status: { active: 0, paused: 0, ended: 0, archived: 0 },
    messages: 0,
    tokens: 0,
    estimated_cost: 0,
    last_activity_at: null,
  });
});
