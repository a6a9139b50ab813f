// Creates (or finds) a user in auth.users and prints an access token for it.
// Usage: deno run -A scripts/local/dev-user.ts [email] [--admin] [--ttl seconds]
import postgres from "postgres";
import { userToken } from "./keys.ts";

const args = [...Deno.args];
const admin = args.includes("--admin");
const ttlAt = args.indexOf("--ttl");
const ttlSeconds = ttlAt >= 0 ? Number(args[ttlAt + 1]) : 24 * 3600;
const email = args.find((a) => a.includes("@")) ?? "dev@example.com";
const dbUrl = Deno.env.get("SUPABASE_DB_URL") ??
  "postgresql://postgres:postgres@127.0.0.1:54322/postgres";
const apiUrl = Deno.env.get("SUPABASE_URL") ?? "http://127.0.0.1:54321";

const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
const appMetadata = admin ? { role: "admin" } : {};
const [user] = await sql<{ id: string }[]>`
  insert into auth.users (email, raw_app_meta_data, email_confirmed_at)
  values (${email}, ${sql.json({ provider: "email", providers: ["email"], ...appMetadata })}, now())
  on conflict (email) do update set raw_app_meta_data = excluded.raw_app_meta_data
  returning id`;
await sql.end();

const token = await userToken({ userId: user.id, email, apiUrl, ttlSeconds, appMetadata });
if (args.includes("--json")) console.log(JSON.stringify({ user_id: user.id, email, token }));
else console.log(token);
