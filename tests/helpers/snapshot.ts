// Everything stored for one user, read as the superuser: every row of every
// table in our schemas that carries the user's id, the profile, and the token
// ciphertexts. Tables are found from the catalog, so a new table is covered
// without changing this file. Comparing two snapshots shows whether anything
// the user owns changed, down to the ciphertext bytes.
import assert from "node:assert/strict";
import { sql } from "./stack.ts";

export type Snapshot = Record<string, string[]>;

// Counters and stamps that legitimately move on a read, so a snapshot taken
// around a refused request must not compare them.
const VOLATILE: Record<string, string[]> = {
  "public.api_keys": ["last_used_at"],
};

// Accounting written apart from any request, on its own clock (the API's
// usage batches about once a second, pg_cron's rollup of them each minute):
// not in a snapshot, which must hold still around a request. Who may read
// them is tested per route (GET /account/api-keys/{id}/usage) and in pgTAP.
const ACCOUNTING = new Set(["private.api_key_events", "public.api_key_usage"]);

async function userTables(): Promise<string[]> {
  const rows = await sql<{ name: string }[]>`
    select format('%I.%I', c.table_schema, c.table_name) as name
      from information_schema.columns c
      join information_schema.tables t using (table_schema, table_name)
     where c.column_name = 'user_id' and t.table_type = 'BASE TABLE'
       and c.table_schema in ('public', 'private')
     order by 1`;
  return rows.map((r) => r.name);
}

// Each row as its JSON text (bytea as hex), sorted, so two snapshots compare
// with deepEqual regardless of physical order.
async function rowsOf(from: string, where: string, userId: string, drop: string[] = []) {
  const rows = await sql.unsafe<{ row: string }[]>(
    `select (to_jsonb(t) - $2::text[])::text as row from ${from} t where ${where} order by 1`,
    [userId, drop],
  );
  return rows.map((r) => r.row);
}

export async function snapshotOf(userId: string): Promise<Snapshot> {
  const snapshot: Snapshot = {};
  for (const table of await userTables()) {
    if (ACCOUNTING.has(table)) continue;
    snapshot[table] = await rowsOf(table, "t.user_id = $1", userId, VOLATILE[table]);
  }
  snapshot["public.profiles"] = await rowsOf("public.profiles", "t.id = $1", userId);
  snapshot["private.token_secrets"] = await rowsOf(
    "private.token_secrets",
    "t.token_id in (select id from public.service_tokens where user_id = $1)",
    userId,
  );
  return snapshot;
}

// How many rows each table holds for the user: proof that a snapshot is not
// trivially empty.
export function rowCounts(snapshot: Snapshot): Record<string, number> {
  return Object.fromEntries(Object.entries(snapshot).map(([t, rows]) => [t, rows.length]));
}

// What changed between two snapshots, row by row. Rows are matched on their
// primary key (from the catalog), so an updated row shows as changed with the
// columns that differ, not as one row removed and another added.
export type SnapshotRow = Record<string, unknown>;
export type ChangedRow = { key: string; fields: string[]; before: SnapshotRow; after: SnapshotRow };
export type TableChanges = { added: SnapshotRow[]; removed: SnapshotRow[]; changed: ChangedRow[] };
export type SnapshotChanges = Record<string, TableChanges>;

// The shape of a set of changes, to compare with deepEqual: per table, how
// many rows came and went, and which columns moved in which row (by key).
export type ChangeSummary = Record<
  string,
  { added?: number; removed?: number; changed?: Record<string, string[]> }
>;

async function primaryKeys(): Promise<Record<string, string[]>> {
  const rows = await sql<{ name: string; columns: string[] }[]>`
    select format('%I.%I', n.nspname, c.relname) as name,
           array_agg(a.attname::text order by k.ord) as columns
      from pg_index i
      join pg_class c on c.oid = i.indrelid
      join pg_namespace n on n.oid = c.relnamespace
     cross join lateral unnest(i.indkey) with ordinality as k(attnum, ord)
      join pg_attribute a on a.attrelid = c.oid and a.attnum = k.attnum
     where i.indisprimary and n.nspname in ('public', 'private')
     group by 1`;
  return Object.fromEntries(rows.map((r) => [r.name, r.columns]));
}

// A one-column key is its value as text (a uuid, an id), so tests can name the
// row they expect to change; a composite key is the JSON array of its values.
// A table without a primary key is keyed by the whole row: any change to it
// shows as a removal and an addition, never as nothing.
function rowKey(row: SnapshotRow, columns: string[] | undefined, text: string): string {
  if (!columns) return text;
  const values = columns.map((c) => row[c]);
  return values.length === 1 ? String(values[0]) : JSON.stringify(values);
}

export async function changesBetween(before: Snapshot, after: Snapshot): Promise<SnapshotChanges> {
  const keys = await primaryKeys();
  const changes: SnapshotChanges = {};
  const tables = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  for (const table of tables) {
    const index = (texts: string[] = []) =>
      new Map(texts.map((text) => {
        const row = JSON.parse(text) as SnapshotRow;
        return [rowKey(row, keys[table], text), row] as const;
      }));
    const was = index(before[table]);
    const is = index(after[table]);
    const t: TableChanges = { added: [], removed: [], changed: [] };
    for (const [key, row] of was) if (!is.has(key)) t.removed.push(row);
    for (const [key, row] of is) {
      const old = was.get(key);
      if (!old) {
        t.added.push(row);
        continue;
      }
      const fields = [...new Set([...Object.keys(old), ...Object.keys(row)])]
        .filter((f) => JSON.stringify(old[f]) !== JSON.stringify(row[f]))
        .sort();
      if (fields.length) t.changed.push({ key, fields, before: old, after: row });
    }
    if (t.added.length || t.removed.length || t.changed.length) changes[table] = t;
  }
  return changes;
}

export function summarize(changes: SnapshotChanges): ChangeSummary {
  const summary: ChangeSummary = {};
  for (const [table, t] of Object.entries(changes)) {
    const s: ChangeSummary[string] = {};
    if (t.added.length) s.added = t.added.length;
    if (t.removed.length) s.removed = t.removed.length;
    if (t.changed.length) s.changed = Object.fromEntries(t.changed.map((c) => [c.key, c.fields]));
    summary[table] = s;
  }
  return summary;
}

// Everything the user had stored is as it was, except exactly the changes
// described: any other table, row or column that moved (a ciphertext byte, a
// counter, a deleted row) fails. Returns the changes, so the caller can check
// that the allowed ones moved the way they should.
export async function assertOnlyChanges(
  before: Snapshot,
  after: Snapshot,
  expected: ChangeSummary,
): Promise<SnapshotChanges> {
  const changes = await changesBetween(before, after);
  try {
    assert.deepEqual(summarize(changes), expected);
  } catch (err) {
    // The summary's diff says what moved; the rows say how.
    (err as Error).message += `\nthe changes:\n${JSON.stringify(changes, null, 1)}`;
    throw err;
  }
  return changes;
}
