// The literal encoders against a real Postgres, property-tested with hostile
// input: whatever a value holds (quotes, backslashes, dollar quotes, comment
// and statement syntax, any Unicode), its literal reads back as exactly that
// value and stays one token: a statement built from it is still one statement
// with one result. Sent as simple-protocol messages, as the functions send them.
import assert from "node:assert/strict";
import fc from "fast-check";
import { lit, sql, type SqlText, textOf } from "../../shared/db/literal.ts";
import { sql as db, test } from "../helpers/stack.ts";

const RUNS = Number(Deno.env.get("LITERAL_RUNS") ?? 200);
const SEED = 20261130;

// Strings a literal must survive: arbitrary Unicode (Postgres text holds no
// NUL or lone surrogate, which the encoder refuses) mixed with SQL syntax.
const SYNTAX = ["'", "''", "\\", "\\'", "$$", "$x$", ";", "--", "/*", "*/", "E'", "\n", "\r", "\t"];
const hostile = fc.array(
  fc.oneof(
    fc.constantFrom(...SYNTAX),
    fc.string({ unit: "binary" }),
    fc.constantFrom("'; drop table public.chat_sessions; --", "' or '1'='1", "\\x27"),
  ),
  { maxLength: 8 },
).map((parts) => parts.join("").replaceAll("\u0000", "").toWellFormed());

// One simple-protocol message; the value comes back with a marker column, so
// a literal that escaped its quotes would change the shape of the result.
async function roundTrip(literal: SqlText): Promise<unknown[]> {
  const rows = await db.unsafe(textOf(sql`select ${literal} as v, 'marker' as m`));
  assert.equal(rows.length, 1);
  assert.deepEqual(Object.keys(rows[0]), ["v", "m"]);
  assert.equal(rows[0].m, "marker");
  return [rows[0].v];
}

test("text literals read back exactly and stay one token", async () => {
  await fc.assert(
    fc.asyncProperty(hostile, async (s) => {
      assert.deepEqual(await roundTrip(lit.text(s)), [s]);
    }),
    { numRuns: RUNS, seed: SEED },
  );
});

test("text[] and jsonb literals read back exactly", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(hostile, { maxLength: 5 }), async (a) => {
      assert.deepEqual(await roundTrip(lit.textArray(a)), [a]);
    }),
    { numRuns: RUNS, seed: SEED },
  );
  const json = fc.jsonValue().map((v) => JSON.parse(JSON.stringify(v)));
  await fc.assert(
    fc.asyncProperty(json, async (v) => {
      const [back] = await roundTrip(lit.jsonb(v));
      assert.deepEqual(back, v);
    }),
    { numRuns: RUNS, seed: SEED },
  );
});

test("numbers, booleans, uuids and times read back exactly", async () => {
  await fc.assert(
    fc.asyncProperty(fc.maxSafeInteger(), async (n) => {
      // The test's own client reads int8 as a string.
      assert.deepEqual(await roundTrip(lit.int(n)), [String(n)]);
    }),
    { numRuns: RUNS, seed: SEED },
  );
  await fc.assert(
    fc.asyncProperty(fc.double({ noNaN: true, noDefaultInfinity: true }), async (x) => {
      const rows = await db.unsafe(textOf(sql`select (${lit.numeric(x)})::float8 as v`));
      assert.ok(Object.is(rows[0].v, x === 0 ? 0 : x), `${x} came back as ${rows[0].v}`);
    }),
    { numRuns: RUNS, seed: SEED },
  );
  await fc.assert(
    fc.asyncProperty(fc.uuid(), fc.boolean(), async (u, b) => {
      assert.deepEqual(await roundTrip(lit.uuid(u)), [u.toLowerCase()]);
      assert.deepEqual(await roundTrip(lit.bool(b)), [b]);
    }),
    { numRuns: RUNS, seed: SEED },
  );
  const times = fc.date({
    min: new Date("0001-01-01T00:00:00Z"),
    max: new Date("9999-12-31T23:59:59Z"),
    noInvalidDate: true,
  });
  await fc.assert(
    fc.asyncProperty(times, async (d) => {
      // Read as epoch milliseconds in SQL: the client's own Date parsing of
      // years below 100 is not what is under test.
      const rows = await db.unsafe(
        textOf(sql`select (extract(epoch from ${lit.timestamptz(d)}) * 1000)::float8 as ms`),
      );
      assert.equal(rows[0].ms, d.getTime());
    }),
    { numRuns: RUNS, seed: SEED },
  );
});

test("null of every type is SQL NULL", async () => {
  for (
    const l of [
      lit.text(null),
      lit.uuid(null),
      lit.int(null),
      lit.numeric(null),
      lit.bool(null),
      lit.timestamptz(null),
      lit.textArray(null),
      lit.uuidArray(null),
      lit.jsonb(null),
    ]
  ) {
    const [v] = await roundTrip(l);
    // jsonb null is the JSON value null, which the client reads as null too.
    assert.equal(v, null);
  }
});
