// Every table a store declares (shared/db/columns.ts) against the stack's
// catalog: each key of its schema is a column whose type and nullability the
// schema describes truthfully, or is computed with a reason. Stores are found
// by walking shared/ for store.ts (DESIGN §10: SQL lives in store.ts), so a
// new domain's tables are checked without changing this file.
import assert from "node:assert/strict";
import { z } from "zod";
import { type AnyTable, isTable, table } from "../../shared/db/columns.ts";
import { sql, test } from "../helpers/stack.ts";

// Columns the catalog calls nullable that can never be null, and why.
const NEVER_NULL: Record<string, string> = {
  "public.chat_sessions.is_archived": "generated as (status = 'archived'); status is not null",
};

async function* storeFiles(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isDirectory) yield* storeFiles(new URL(`${entry.name}/`, dir));
    else if (entry.name === "store.ts") yield new URL(entry.name, dir);
  }
}

async function declaredTables(): Promise<AnyTable[]> {
  const found: AnyTable[] = [];
  for await (const file of storeFiles(new URL("../../shared/", import.meta.url))) {
    const mod = await import(file.href);
    found.push(...Object.values(mod).filter(isTable));
  }
  return found;
}

type Column = { name: string; type: string; not_null: boolean };

async function catalogColumns(tableName: string): Promise<Map<string, Column>> {
  const rows = await sql<Column[]>`
    select a.attname as name, format_type(a.atttypid, a.atttypmod) as type,
           a.attnotnull as not_null
      from pg_attribute a
     where a.attrelid = ${tableName}::regclass and a.attnum > 0 and not a.attisdropped`;
  return new Map(rows.map((c) => [c.name, c]));
}

type JsonSchema = { type?: string | string[]; format?: string; anyOf?: JsonSchema[] };

// The JSON Schema of a field with null taken out, and whether it admits null.
function describe(field: z.ZodType): { schema: JsonSchema; nullable: boolean } {
  const { $schema: _, ...json } = z.toJSONSchema(field, {
    io: "output",
    unrepresentable: "any",
  }) as JsonSchema & { $schema?: string };
  const nullable = field.safeParse(null).success;
  if (json.anyOf) {
    const rest = json.anyOf.filter((s) => s.type !== "null");
    return { schema: rest.length === 1 ? rest[0] : {}, nullable };
  }
  if (Array.isArray(json.type)) {
    const rest = json.type.filter((t) => t !== "null");
    return { schema: { ...json, type: rest.length === 1 ? rest[0] : rest }, nullable };
  }
  return { schema: json, nullable };
}

// What the driver, with client.ts's type parsers, returns for a column type,
// as a predicate over the field's JSON Schema.
function fits(pgType: string, s: JsonSchema): boolean {
  if (pgType.endsWith("[]")) return s.type === "array";
  if (/^(smallint|integer|bigint)$/.test(pgType)) {
    return s.type === "integer" || s.type === "number";
  }
  if (/^(numeric|real|double precision)/.test(pgType)) return s.type === "number";
  if (pgType === "boolean") return s.type === "boolean";
  if (/^jsonb?$/.test(pgType)) return s.type === undefined || /^(object|array)$/.test(`${s.type}`);
  // Dates and timestamps arrive as Date#toISOString().
  if (/^(date|timestamp)/.test(pgType)) return s.type === "string" && s.format === "date-time";
  if (pgType === "uuid") return s.type === "string" && s.format === "uuid";
  if (/^(text|character varying|character|citext)/.test(pgType)) return s.type === "string";
  return false;
}

const tables = await declaredTables();

test("the stores' declared tables are found", () => {
  const names = tables.map((t) => t.name);
  for (
    const name of [
      "public.chat_sessions",
      "public.messages",
      "public.session_totals",
      "public.profiles",
      "public.user_activities",
    ]
  ) {
    assert.ok(names.includes(name), `${name} not among ${names.join(", ")}`);
  }
});

// Every way a table's schema can disagree with the catalog, one line each.
function problems(t: AnyTable, columns: Map<string, Column>): string[] {
  const found: string[] = [];
  const shape = t.schema.shape as Record<string, z.ZodType>;
  for (const key of t.columns) {
    const column = columns.get(key);
    if (!column) {
      found.push(`${t.name} has no column ${key}: compute it and say why, or drop the field`);
      continue;
    }
    const { schema, nullable } = describe(shape[key]);
    if (!fits(column.type, schema)) {
      found.push(`${t.name}.${key} is ${column.type}; its schema says ${JSON.stringify(schema)}`);
    }
    if (!column.not_null && !nullable && !NEVER_NULL[`${t.name}.${key}`]) {
      found.push(`${t.name}.${key} may be null; its schema does not allow null`);
    }
  }
  for (const [key, reason] of Object.entries(t.computed)) {
    if (columns.has(key)) found.push(`${t.name}.${key} is a column: select it, do not compute it`);
    if (!reason.trim()) found.push(`${t.name}.${key} is computed: say why`);
  }
  return found;
}

for (const t of tables) {
  test(`${t.name}: every field of its schema is a column it describes truthfully`, async () => {
    assert.deepEqual(problems(t, await catalogColumns(t.name)), []);
  });
}

test("table() selects every key of the schema but the computed ones, in order", () => {
  const t = table("public.x", z.object({ a: z.string(), b: z.number(), c: z.boolean() }), {
    b: "written as an expression",
  });
  assert.deepEqual(t.columns, ["a", "c"]);
  assert.deepEqual(t.computed, { b: "written as an expression" });
  assert.ok(isTable(t));
  const lookalike = { name: t.name, schema: t.schema, columns: t.columns, computed: t.computed };
  assert.ok(!isTable(lookalike), "only table() declares a table");
});

// The check itself must be able to fail.
test("a missing column, a wrong type and a hidden null are each caught", async () => {
  const columns = await catalogColumns("public.profiles");
  const Wrong = z.object({
    no_such_column: z.string(),
    timezone: z.number(),
    created_at: z.string(),
    email: z.string(),
  });
  const wrong: AnyTable = {
    name: "public.profiles",
    schema: Wrong,
    columns: Object.keys(Wrong.shape),
    computed: { id: "" },
  };
  assert.deepEqual(problems(wrong, columns), [
    "public.profiles has no column no_such_column: compute it and say why, or drop the field",
    'public.profiles.timezone is text; its schema says {"type":"number"}',
    'public.profiles.created_at is timestamp with time zone; its schema says {"type":"string"}',
    "public.profiles.email may be null; its schema does not allow null",
    "public.profiles.id is a column: select it, do not compute it",
    "public.profiles.id is computed: say why",
  ]);
});
