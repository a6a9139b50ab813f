// Puts into the local Vault what a project keeps there (see the README), as
// `postgres` through vault.create_secret, as an operator does on a project:
// `project_url` and `service_role_key` for the pg_cron jobs that call functions
// (locally the project's secret key, sb_secret_…; the legacy service_role JWT
// works there too),
// and `token_encryption_key` for the token vault. The URL and key are updated
// on every start; the encryption key is created once per local database and
// then kept (replacing it would make the stored tokens unreadable), just as an
// operator creates it once on a project. Functions never create a key.
import postgres from "postgres";
import { encodeBase64urlNoPadding } from "@oslojs/encoding";

const url = Deno.env.get("SUPABASE_DB_URL");
const projectUrl = Deno.env.get("SUPABASE_URL");
const secretKeys = Deno.env.get("SUPABASE_SECRET_KEYS");
const serviceKey = secretKeys && Object.values(JSON.parse(secretKeys) as Record<string, string>)[0];
if (!url || !projectUrl || !serviceKey) {
  console.error(
    "secrets.ts: SUPABASE_DB_URL, SUPABASE_URL and SUPABASE_SECRET_KEYS are required",
  );
  Deno.exit(2);
}

const sql = postgres(url, { max: 1, onnotice: () => {} });
try {
  const upsert = async (name: string, value: string, description: string) => {
    const [row] = await sql`select id from vault.decrypted_secrets where name = ${name}`;
    if (row) await sql`select vault.update_secret(${row.id}::uuid, ${value})`;
    else await sql`select vault.create_secret(${value}, ${name}, ${description})`;
  };
  await upsert("project_url", projectUrl, "base URL the pg_cron jobs call");
  await upsert("service_role_key", serviceKey, "bearer for pg_cron calls to service routes");
  const [key] =
    await sql`select 1 from vault.decrypted_secrets where name = 'token_encryption_key'`;
  if (!key) {
    const fresh = encodeBase64urlNoPadding(crypto.getRandomValues(new Uint8Array(32)));
    await sql`select vault.create_secret(${fresh}, 'token_encryption_key',
                                         'OAuth token encryption, key version 1')`;
    console.error("created token_encryption_key (version 1) in the local Vault");
  }
} finally {
  await sql.end();
}
