// Applies the local platform stand-in (with --platform, as the platform's
// superuser) and then, as `postgres` like `supabase db push`, every migration
// in supabase/migrations that is not yet recorded, each in its own
// transaction, recording it where the Supabase CLI records its own.
import postgres from "postgres";

const url = Deno.env.get("DB_URL") ?? "postgresql://postgres:postgres@127.0.0.1:54322/postgres";
const root = new URL("..", import.meta.url);

if (Deno.args.includes("--platform")) {
  const platformUrl = Deno.env.get("PLATFORM_DB_URL");
  if (!platformUrl) throw new Error("--platform needs PLATFORM_DB_URL (the platform's superuser)");
  const admin = postgres(platformUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(await Deno.readTextFile(new URL("scripts/local/platform.sql", root)));
  } finally {
    await admin.end();
  }
}

const sql = postgres(url, { max: 1, onnotice: () => {} });
try {
  // What the CLI creates before its first push, as postgres.
  await sql.unsafe(`
    create schema if not exists supabase_migrations;
    create table if not exists supabase_migrations.schema_migrations (version text primary key);
    alter table supabase_migrations.schema_migrations add column if not exists statements text[];
    alter table supabase_migrations.schema_migrations add column if not exists name text;`);
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
