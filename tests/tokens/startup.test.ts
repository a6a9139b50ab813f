// No key, no start: the deployed entry points (supabase/functions/{oauth,tokens,webhooks,unified}/index.ts)
// fail to boot when Vault holds no token encryption key, even where Deno.exit
// does nothing (the edge runtime): tests/helpers/edge-boot.ts boots them so. The stack's own
// database has a key (and other suites use it), so this starts a second,
// throwaway Postgres cluster with the same migrations and no key.
import assert from "node:assert/strict";
import postgres from "postgres";
import { test } from "../helpers/stack.ts";

const root = new URL("../../", import.meta.url).pathname;
const stackDir = new URL(".", `file://${Deno.env.get("SIGNING_KEY_FILE")}`).pathname;
const dir = `${stackDir}nokey-${crypto.randomUUID().slice(0, 8)}`;
// Below the ephemeral range, so no client socket holds it.
const port = 20000 + Math.floor(Math.random() * 10000);
const dbUrl = `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`;
const platformUrl = `postgresql://supabase_admin@127.0.0.1:${port}/postgres`;

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const out = await new Deno.Command(cmd, {
    args,
    env,
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { code: out.code, text };
}

async function serve(fn: string) {
  // Only the database is reachable: if the function got as far as serving,
  // listening would fail on permissions instead of binding anything.
  return await run(Deno.execPath(), [
    "run",
    `--allow-net=127.0.0.1:${port}`,
    "--allow-env",
    "--allow-read",
    "tests/helpers/edge-boot.ts",
    `supabase/functions/${fn}/index.ts`,
  ], { SUPABASE_DB_URL: dbUrl });
}

test("without a token encryption key in Vault the oauth, tokens, webhooks and unified functions refuse to start", async () => {
  const lib = `source scripts/lib.sh && pg_start '${dir}/pg' ${port}`;
  const started = await run("bash", ["-c", lib]);
  assert.equal(started.code, 0, started.text);
  try {
    const migrated = await run(Deno.execPath(), ["run", "-A", "scripts/migrate.ts", "--platform"], {
      DB_URL: dbUrl,
      PLATFORM_DB_URL: platformUrl,
    });
    assert.equal(migrated.code, 0, migrated.text);

    for (const fn of ["tokens", "oauth", "webhooks", "unified"]) {
      const res = await serve(fn);
      assert.match(res.text, /refusing to start: no token encryption key in Vault/);
      assert.match(res.text, /^boot error: .*refusing to start/m, res.text);
      assert.doesNotMatch(res.text, /^booted/m);
    }

    // With a key the same entry point gets past the check (and then stops at
    // the listen it is not permitted here).
    const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
    await sql`select vault.create_secret(${"k".repeat(48)}, 'token_encryption_key')`;
    await sql.end();
    const withKey = await serve("tokens");
    assert.match(withKey.text, /token encryption key present/);
    assert.doesNotMatch(withKey.text, /refusing to start/);
    assert.match(withKey.text, /^boot error: .*127\.0\.0\.1|^boot error: .*(net|listen)/mi);
  } finally {
    await run("bash", ["-c", `source scripts/lib.sh && pg_stop '${dir}/pg'`]);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
