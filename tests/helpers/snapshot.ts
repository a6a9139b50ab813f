// Everything stored for one user, read as the superuser: every row of every
// table in our schemas that carries the user's id, the profile, and the token
// ciphertexts. Tables are found from the catalog, so a new table is covered
// without changing this file. Comparing two snapshots shows whether anything
// the user owns changed, down to the ciphertext bytes.
import { sql } from "./stack.ts";

export type Snapshot = Record<string, string[]>;

// Counters and stamps that legitimately move on a read, so a snapshot taken
// around a refused request must not compare them.
const VOLATILE: Record<string, string[]> = {
  "public.api_keys": ["last_used_at"],
};

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
