// Creates (or finds) a user in auth.users and prints an access token for it.
// Usage: deno run -A scripts/local/dev-user.ts [email] [--admin] [--ttl seconds]
import postgres from "postgres";
import { stackSigningKey, userToken } from "./keys.ts";
import { upsertAuthUser } from "./users.ts";

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
const userId = await upsertAuthUser(sql, { email, appMetadata });
await sql.end();

const token = await userToken({
  userId,
  email,
  apiUrl,
  ttlSeconds,
  appMetadata,
  signingKey: await stackSigningKey(),
});
if (args.includes("--json")) console.log(JSON.stringify({ user_id: userId, email, token }));
else console.log(token);
