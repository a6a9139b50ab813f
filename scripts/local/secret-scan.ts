// Secret hygiene over a whole test run: the functions' log (every request
// line and event of every suite) must hold no token, key, client secret or
// encryption key. Run by scripts/test.sh while the stack is still up, so the
// Vault key can be read. Prints each finding and exits 1 if there is any.
//   deno run -A scripts/local/secret-scan.ts <log file>...
import postgres from "postgres";

const sql = postgres(Deno.env.get("SUPABASE_DB_URL")!, { max: 1, onnotice: () => {} });
const keys = await sql<{ value: string }[]>`
  select decrypted_secret as value from vault.decrypted_secrets where name like 'token_encryption_key%'`;
await sql.end();

const exact = [
  ...keys.map((k) => k.value),
  ...[
    "LEGACY_JWT_SECRET",
    "SUPABASE_SERVICE_ROLE_KEY",
    "DEV_OAUTH_CLIENT_SECRET",
    "GOOGLE_CLIENT_SECRET",
    "MICROSOFT_CLIENT_SECRET",
    "AGENT_API_KEY",
    "HEYGEN_API_KEY",
  ].map((n) => Deno.env.get(n)),
].filter((v): v is string => !!v && v.length >= 8);

const patterns: Array<[string, RegExp]> = [
  ["JWT", /eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/],
  ["API key", /opr_[a-z2-7]{32}/],
  ["Supabase secret key", /sb_secret_[A-Za-z0-9_-]{10,}/],
  ["provider access token", /devat_[A-Za-z0-9_-]{16,}/],
  ["provider refresh token", /devrt_[A-Za-z0-9_-]{16,}/],
  ["webhook signing secret", /whsec_[A-Za-z0-9+/]{32,}/],
];

let findings = 0;
for (const file of Deno.args) {
  const lines = (await Deno.readTextFile(file)).split("\n");
  lines.forEach((line, i) => {
    const named = patterns.filter(([, re]) => re.test(line)).map(([name]) => name);
    if (exact.some((secret) => line.includes(secret))) named.push("configured secret");
    for (const name of named) {
      findings++;
      console.log(`${file}:${i + 1}: ${name}`);
    }
  });
}
console.log(
  `secret scan: ${Deno.args.length} file(s), ${
    patterns.length + exact.length
  } kinds checked, ${findings} finding(s)`,
);
Deno.exit(findings ? 1 : 0);
