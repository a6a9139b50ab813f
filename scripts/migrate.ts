// Applies the local platform stand-in (with --platform) and then every
// migration in supabase/migrations that is not yet recorded, each in its own
// transaction, recording it where the Supabase CLI records its own.
import postgres from "postgres";

const url = Deno.env.get("DB_URL") ?? "postgresql://postgres:postgres@127.0.0.1:54322/postgres";
const root = new URL("..", import.meta.url);
const sql = postgres(url, { max: 1, onnotice: () => {} });

try {
  if (Deno.args.includes("--platform")) {
    await sql.unsafe(await Deno.readTextFile(new URL("scripts/local/platform.sql", root)));
  }
  const applied = new Set(
    (await sql`select version from supabase_migrations.schema_migrations`).map((r) => r.version),
  );
  const dir = new URL("supabase/migrations/", root);
  const files = [...Deno.readDirSync(dir)]
    .map((e) => e.name)
    .filter((n) => /^\d+_.+\.sql$/.test(n))
    .sort();
  let count = 0;
  for (const file of files) {
    const [, version, name] = file.match(/^(\d+)_(.+)\.sql$/)!;
    if (applied.has(version)) continue;
    const text = await Deno.readTextFile(new URL(file, dir));
    await sql.begin(async (tx) => {
      await tx.unsafe(text);
      await tx`insert into supabase_migrations.schema_migrations (version, name, statements)
               values (${version}, ${name}, ${[text]})`;
    });
    console.error(`applied ${file}`);
    count++;
  }
  console.error(count ? `${count} migration(s) applied` : "database is up to date");
} finally {
  await sql.end();
}
