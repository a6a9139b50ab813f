// The SQL literal encoders refuse what they cannot write exactly, and the
// `sql` tag refuses any value that did not go through one (no stack needed;
// tests/db/literal.test.ts round-trips them through Postgres).
import assert from "node:assert/strict";
import { ident, idents, join, lit, sql, textOf } from "../../shared/db/literal.ts";

const text = (s: ReturnType<typeof sql>) => textOf(s);

Deno.test("sql: only encoded values may be interpolated", () => {
  for (const raw of ["x", 1, true, null, undefined, { a: 1 }, ["a"], new Date()]) {
    // deno-lint-ignore no-explicit-any
    assert.throws(() => sql`select ${raw as any}`, TypeError, JSON.stringify(raw));
  }
  assert.equal(text(sql`select ${lit.int(1)}, ${lit.text("a")}`), "select (1)::bigint, 'a'::text");
  // A statement nests into another.
  const where = sql`id = ${lit.uuid("5F0C3AA1-6B7E-4C1D-9C3B-0A1B2C3D4E5F")}`;
  assert.equal(
    text(sql`select 1 where ${where}`),
    "select 1 where id = '5f0c3aa1-6b7e-4c1d-9c3b-0a1b2c3d4e5f'::uuid",
  );
});

Deno.test("text: quotes doubled, cast explicit; NUL and lone surrogates refused", () => {
  assert.equal(text(lit.text("it's")), "'it''s'::text");
  assert.equal(text(lit.text("back\\slash")), "'back\\slash'::text");
  assert.equal(text(lit.text(null)), "null::text");
  assert.throws(() => lit.text("a\u0000b"), /NUL/);
  assert.throws(() => lit.text("\ud800"), /surrogate/);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => lit.text(5 as any), /not a string/);
});

Deno.test("uuid, int, numeric, bool, timestamptz check their input", () => {
  for (
    const bad of [
      "",
      "x",
      "5f0c3aa1-6b7e-4c1d-9c3b-0a1b2c3d4e5",
      "5f0c3aa1'6b7e-4c1d-9c3b-0a1b2c3d4e5f",
    ]
  ) {
    assert.throws(() => lit.uuid(bad), /uuid/);
  }
  for (const bad of [1.5, NaN, Infinity, 2 ** 60]) assert.throws(() => lit.int(bad), /integer/);
  assert.equal(text(lit.int(-42)), "(-42)::bigint");
  for (const bad of [NaN, Infinity, -Infinity]) assert.throws(() => lit.numeric(bad), /numeric/);
  assert.equal(text(lit.numeric(1e21)), "'1e+21'::numeric");
  // deno-lint-ignore no-explicit-any
  assert.throws(() => lit.bool("true" as any), /boolean/);
  assert.throws(() => lit.timestamptz("not a time"), /time/);
  assert.throws(() => lit.timestamptz(new Date(Date.UTC(10000, 0, 1))), /year/);
  assert.equal(
    text(lit.timestamptz("2026-11-30T12:00:00+01:00")),
    "'2026-11-30T11:00:00.000Z'::timestamptz",
  );
});

Deno.test("jsonb and arrays encode through the same quoting", () => {
  assert.equal(text(lit.jsonb({ a: "it's" })), `'{"a":"it''s"}'::jsonb`);
  assert.throws(() => lit.jsonb(undefined), /undefined/);
  assert.equal(text(lit.textArray(["a'b", "c"])), "array['a''b', 'c']::text[]");
  assert.equal(text(lit.textArray([])), "array[]::text[]");
  assert.throws(() => lit.uuidArray(["nope"]), /uuid/);
});

Deno.test("identifiers come from code: plain lowercase names only", () => {
  assert.equal(text(ident("public.chat_sessions")), "public.chat_sessions");
  for (const bad of ["Sessions", 'a"b', "a;drop table x", "a b", "", "a.b.c", "1abc"]) {
    assert.throws(() => ident(bad), /identifier/, bad);
  }
  assert.equal(text(idents(["id", "title"])), "id, title");
  assert.throws(() => idents([]), /empty/);
  assert.throws(() => join([lit.int(1)], "; drop"), TypeError);
});
