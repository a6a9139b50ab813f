// Error answers name no database object: a constraint, table, schema or
// column name maps the schema for an attacker and gives a client nothing it
// can act on. Real Postgres errors (as postgres.js raises them, with every
// field the server sends) go through the one mapping, and a request that
// the database itself refuses is answered without them.
import assert from "node:assert/strict";
import { errorBody, toAppError } from "../../shared/core/errors.ts";
import { Session } from "../../shared/sessions/schemas.ts";
import { assertError, parsed } from "../helpers/assert.ts";
import { call, createUser, sql, test } from "../helpers/stack.ts";

// Every name the database could mention, from the catalog: our schemas, their
// tables and columns, and their constraints.
const names = await sql<{ name: string }[]>`
  select nspname::text as name from pg_namespace where nspname in ('public', 'private', 'admin')
  union select relname::text from pg_class
   where relnamespace in ('public'::regnamespace, 'private'::regnamespace) and relkind in ('r', 'v')
  union select conname::text from pg_constraint
   where connamespace in ('public'::regnamespace, 'private'::regnamespace)`;
const constraintNames = new Set(
  (await sql<{ conname: string }[]>`
    select conname::text from pg_constraint
     where connamespace in ('public'::regnamespace, 'private'::regnamespace)`)
    .map((r) => r.conname),
);

// What the envelope would carry; `details` must not hold any database name,
// and no constraint name (they are distinctive) may appear anywhere in it.
function assertNamesNothing(body: unknown, err?: Record<string, unknown>) {
  const text = JSON.stringify(body);
  const details = JSON.stringify((body as { error: { details?: unknown } }).error.details ?? null);
  for (const { name } of names) {
    assert.ok(!new RegExp(`\\b${name}\\b`).test(details), `details name ${name}: ${details}`);
  }
  for (const name of constraintNames) assert.ok(!text.includes(name), `names ${name}: ${text}`);
  for (const field of ["constraint_name", "table_name", "schema_name", "column_name"]) {
    const value = err?.[field];
    if (typeof value === "string") assert.ok(!text.includes(value), `${field} ${value}: ${text}`);
  }
  assert.ok(!/constraint|schema|table/i.test(details), `details: ${details}`);
}

async function postgresError(statement: () => Promise<unknown>): Promise<Record<string, unknown>> {
  try {
    await statement();
  } catch (err) {
    return err as Record<string, unknown>;
  }
  throw new Error("the statement was expected to fail");
}

test("Postgres's constraint, table, schema and column names never reach an answer", async () => {
  const user = await createUser("pg-names");
  const [session] = await sql<{ id: string }[]>`
    insert into public.chat_sessions (user_id) values (${user.id}) returning id`;
  const failures = {
    check: () =>
      sql`update public.chat_sessions set agent_type = 'NOT ALLOWED' where id = ${session.id}`,
    foreign_key: () =>
      sql`insert into public.messages (session_id, user_id, role, content, parent_message_id)
          values (${session.id}, ${user.id}, 'user', 'x', ${crypto.randomUUID()})`,
    not_null: () => sql`update public.chat_sessions set title = null where id = ${session.id}`,
    bad_format: () =>
      sql`update public.chat_sessions set id = 'not-a-uuid' where id = ${session.id}`,
    unique: () => sql`insert into public.profiles (id) values (${user.id})`,
  };
  for (const [kind, statement] of Object.entries(failures)) {
    const err = await postgresError(statement);
    assert.ok(typeof err.code === "string", `${kind}: a Postgres error`);
    const appError = toAppError(err);
    assert.ok(appError.status < 500, `${kind}: ${appError.code}`);
    assertNamesNothing(errorBody(appError, "r"), err);
  }
});

test("a message the database refuses is a 400 that names no constraint", async () => {
  const user = await createUser("db-refuses");
  const session = parsed(
    Session,
    await call("POST", "/sessions", { token: user.token, body: {} }),
    201,
  );
  // Within the API's 16 KiB of JSON, but over the column's 16 KiB of jsonb
  // text (which puts a space after every ':' and ','): the database's CHECK
  // is what refuses it.
  const metadata = Object.fromEntries(
    Array.from({ length: 1600 }, (_, i) => [`k${String(i).padStart(4, "0")}`, 0]),
  );
  const res = await call("POST", `/chat/${session.id}/messages`, {
    token: user.token,
    body: { content: "hi", metadata },
  });
  assertError(res, 400, "validation_failed");
  assert.equal(res.body.error.message, "a value is not allowed", "the database refused it");
  assertNamesNothing(res.body);
});
