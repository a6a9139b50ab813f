// A request's message ends by putting synchronous_commit back to the
// connection's own setting (shared/db/client.ts DURABLE): the counters a
// request writes on the way turn it off for their transaction, and in one
// message that transaction is also the request's work. Checked on the exact
// text the client sends, followed by a probe of the setting its COMMIT then
// runs under. The test stack's server runs with synchronous_commit off, so
// this connection starts with `local`, a value nothing else here sets.
import assert from "node:assert/strict";
import postgres from "postgres";
import { messageText } from "../../shared/db/client.ts";
import { sql, type SqlText, textOf } from "../../shared/db/literal.ts";
import { test } from "../helpers/stack.ts";

const setup = sql`select set_config('role', 'service_role', true) as scs`;
// What private.rate_limit_take and private.verify_api_key do for a hit.
const counterHit = sql`select set_config('synchronous_commit', 'off', true)`;
const probe = sql`select current_setting('synchronous_commit') as sync`;

async function lastSync(text: string): Promise<string> {
  const db = postgres(Deno.env.get("SUPABASE_DB_URL")!, {
    max: 1,
    connection: { synchronous_commit: "local" },
  });
  try {
    const results = await db.unsafe(text).execute() as unknown as { sync?: string }[][];
    return results.at(-1)![0].sync!;
  } finally {
    await db.end();
  }
}

const withProbe = (prelude: SqlText[], work: SqlText[]) =>
  `${messageText(prelude, setup, work)};\n${textOf(probe)}`;

test("a counter hit in the prelude leaves the work's commit as durable as the connection's", async () => {
  assert.equal(await lastSync(withProbe([counterHit], [sql`select 1`])), "local");
});

test("a counter hit among the work's statements leaves its commit durable", async () => {
  assert.equal(await lastSync(withProbe([], [sql`select 1`, counterHit])), "local");
});

test("without the last statement the hit would decide the commit (the probe can tell)", async () => {
  const text = [counterHit, setup, sql`select 1`, probe].map(textOf).join(";\n");
  assert.equal(await lastSync(text), "off");
});
