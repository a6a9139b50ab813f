// Middleware cost: the same hot read (GET /sessions/{id}) served four ways in
// one process, each loaded by wrk in turn, as ratios to the bare route:
//   bare          the route's transaction as a known user: no auth, no rate limit
//   jwt           + JWT verification (the verifier requireUser uses), no rate limit
//   key           + API-key verification in the statement's own message (the
//                 check requireUser plans for a one-trip route), with its
//                 leased rate limit, and nothing else of the real app
//   jwt + limit   the real sessions app: JWT and the rate limit (leased hits)
//   key + limit   the real sessions app with an API key instead of the JWT: the
//                 key is verified in the route's own message (issue 16), with
//                 its rate limit (leased), scope and credits
// Only measures and prints; asserts nothing. Needs a stack's environment
// (scripts/bench.sh) and rate limits the run cannot reach.
//   deno run -A tests/bench/middleware.ts
import postgres from "postgres";
import { generateApiKey } from "../../shared/auth/api-keys.ts";
import { verifier } from "../../shared/auth/middleware.ts";
import { principalFromClaims, type UserPrincipal } from "../../shared/auth/principal.ts";
import { planKeyCheck } from "../../shared/auth/key-check.ts";
import { type KeyPending, queryAsUser } from "../../shared/db/client.ts";
import { createApp } from "../../shared/http/app.ts";
import { sessionById } from "../../shared/sessions/store.ts";
import sessions from "../../supabase/functions/sessions/app.ts";
import { stackSigningKey, userToken } from "../../scripts/local/keys.ts";
import { insertAuthUser } from "../../scripts/local/users.ts";

const DURATION = Number(Deno.env.get("BENCH_DURATION") ?? 6);
const CONNS = Number(Deno.env.get("BENCH_CONNECTIONS_MW") ?? 16);
const sql = postgres(Deno.env.get("SUPABASE_DB_URL")!, { max: 1, onnotice: () => {} });

const email = `mw-${crypto.randomUUID()}@bench.local`;
const userId = await insertAuthUser(sql, { email });
const [{ id: sessionId }] = await sql<{ id: string }[]>`
  insert into public.chat_sessions (user_id, title) values (${userId}, 'bench') returning id`;
const token = await userToken({
  userId,
  email,
  apiUrl: Deno.env.get("SUPABASE_URL")!,
  signingKey: await stackSigningKey(),
});
const key = generateApiKey();
await sql`insert into public.api_keys (user_id, name, prefix, key_hash, scopes)
          values (${userId}, 'bench', ${key.prefix}, ${key.hash}, ${["sessions:read"]})`;

const known: UserPrincipal = {
  kind: "user",
  userId,
  isAdmin: false,
  isAnonymous: false,
  claims: { sub: userId, role: "authenticated", aud: "authenticated" },
};

const bare = createApp("sessions", "bench");
bare.get(
  "/:id",
  async (c) => c.json((await queryAsUser({ ...known }, sessionById(c.req.param("id"))))[0][0]),
);
const jwtOnly = createApp("sessions", "bench");
jwtOnly.get("/:id", async (c) => {
  const claims = await verifier()(c.req.header("Authorization")!.replace(/^Bearer /, ""));
  const user = principalFromClaims(claims) as UserPrincipal;
  return c.json((await queryAsUser(user, sessionById(c.req.param("id"))))[0][0]);
});

const keyOnly = createApp("sessions", "bench");
keyOnly.get("/:id", async (c) => {
  const user = {
    ...known,
    keyCheck: planKeyCheck({
      key: c.req.header("X-API-Key")!,
      scope: "sessions:read",
      rateClass: "default",
      onHeaders: () => {},
    }, () => {}),
  } as typeof known & KeyPending;
  return c.json((await queryAsUser(user, sessionById(c.req.param("id"))))[0][0]);
});

type Variant = {
  name: string;
  fetch: (r: Request) => Response | Promise<Response>;
  headers: string[];
};
const variants: Variant[] = [
  { name: "bare", fetch: bare.fetch, headers: [] },
  { name: "jwt", fetch: jwtOnly.fetch, headers: [`Authorization: Bearer ${token}`] },
  { name: "key", fetch: keyOnly.fetch, headers: [`X-API-Key: ${key.key}`] },
  { name: "jwt + limit", fetch: sessions.fetch, headers: [`Authorization: Bearer ${token}`] },
  { name: "key + limit", fetch: sessions.fetch, headers: [`X-API-Key: ${key.key}`] },
];

async function wrk(url: string, headers: string[]) {
  const args = [
    "-t2",
    `-c${CONNS}`,
    `-d${DURATION}s`,
    "--latency",
    ...headers.flatMap((h) => ["-H", h]),
    url,
  ];
  const out = new TextDecoder().decode(
    (await new Deno.Command("wrk", { args, stdout: "piped" }).output()).stdout,
  );
  const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? 0);
  const ms = (label: string) => {
    const m = out.match(new RegExp(`\\s${label}%\\s+([\\d.]+)(us|ms|s)`));
    if (!m) return NaN;
    return Number(m[1]) * (m[2] === "us" ? 0.001 : m[2] === "s" ? 1000 : 1);
  };
  const non2xx = Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  return { rps, p50: ms("50"), p99: ms("99"), non2xx };
}

// Rounds of every variant in turn, each figure the median of its rounds: on
// a shared machine a burst of other load then skews one round of one
// variant, not the ratio. Each round starts one variant later, so every
// variant runs in every position once: measured, the last of a round ran up
// to a third slower than the same code run first.
const ROUNDS = Number(Deno.env.get("BENCH_MW_ROUNDS") ?? variants.length);
type Run = { rps: number; p50: number; p99: number; non2xx: number };
const servers = variants.map((v) => {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, v.fetch);
  return { v, server, url: `http://127.0.0.1:${server.addr.port}/sessions/${sessionId}` };
});
const runs = new Map<string, Run[]>(variants.map((v) => [v.name, []]));
for (const { v, url } of servers) {
  const check = await fetch(url, {
    headers: Object.fromEntries(v.headers.map((h) => h.split(": "))),
  });
  if (check.status !== 200) throw new Error(`${v.name}: ${check.status} ${await check.text()}`);
  await check.body?.cancel();
  await wrk(url, v.headers); // warm-up, not reported
}
for (let round = 0; round < ROUNDS; round++) {
  for (let i = 0; i < servers.length; i++) {
    const { v, url } = servers[(round + i) % servers.length];
    runs.get(v.name)!.push(await wrk(url, v.headers));
  }
}
for (const { server } of servers) await server.shutdown();
const median = (xs: number[]) => xs.toSorted((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = variants.map((v) => {
  const r = runs.get(v.name)!;
  return {
    name: v.name,
    rps: median(r.map((x) => x.rps)),
    p50: median(r.map((x) => x.p50)),
    p99: median(r.map((x) => x.p99)),
    non2xx: r.reduce((n, x) => n + x.non2xx, 0),
  };
});

const base = rows[0].rps;
console.log(`| Variant | TPS | p50 ms | p99 ms | Non-2xx | Throughput vs bare | Cost vs bare |`);
console.log(`|---|--:|--:|--:|--:|--:|--:|`);
for (const r of rows) {
  console.log(
    `| ${r.name} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(2)} | ${
      r.p99.toFixed(2)
    } | ${r.non2xx} | ` +
      `${(r.rps / base).toFixed(2)}x | ${((1 - r.rps / base) * 100).toFixed(0)}% |`,
  );
}
console.log(
  `\nwrk -t2 -c${CONNS}, ${ROUNDS} rounds of ${DURATION} s per variant after a warm-up run of ` +
    "each, each round starting one variant later; every figure is the median of its rounds.",
);
const named = (n: string) => rows.find((r) => r.name === n)!;
const ratio = (n: string) => (named(n).rps / base).toFixed(2);
const addedMs = (n: string) => (named(n).p50 - rows[0].p50).toFixed(2);
console.log(
  `\nVerification ratios to the bare route (throughput): JWT ${ratio("jwt")}x, ` +
    `API key ${ratio("key")}x; in the real app (with the route's validation, logging and ` +
    `limits): JWT ${ratio("jwt + limit")}x, API key ${ratio("key + limit")}x. Added p50 ` +
    `latency: JWT ${addedMs("jwt")} ms, API key ${addedMs("key")} ms (target: within 20%, ` +
    `i.e. at least 0.80x).`,
);
await sql`delete from auth.users where id = ${userId}`;
await sql.end();
Deno.exit(0);
