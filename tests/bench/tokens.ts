// Token benchmark, measured against baselines in the same run. Only measures
// and prints; asserts nothing.
//
//   1. refresh-due: BENCH_TOKENS due tokens, BENCH_WORKERS concurrent runs
//      (like overlapping pg_cron calls). Tokens per second, and duplicates:
//      refresh grants the provider saw beyond one per token. Baseline: the same
//      number of refresh grants sent straight to the local provider at the same
//      total concurrency (what the provider alone costs).
//   2. access-token latency for a fresh token (lock, decrypt, count the use),
//      against GET /tokens/{id} (one user transaction, metadata only), both
//      sequential and at BENCH_CONNECTIONS concurrent callers; plus the latency
//      when every call has to refresh first.
//
//   deno run -A tests/bench/tokens.ts   (inside a stack's environment, e.g. scripts/bench.sh)
//
// Needs a gateway started with rate limits the run cannot reach
// (RATE_LIMIT_DEFAULT=1000000/60 RATE_LIMIT_AUTH=1000000/60).
// Knobs: BENCH_TOKENS (200), BENCH_WORKERS (4), BENCH_SEQUENTIAL (300), BENCH_DURATION (s, 5),
// BENCH_CONNECTIONS (16).
import { call, createUser, sql } from "../helpers/stack.ts";
import {
  accessToken,
  connect,
  makeDue,
  provider,
  PROVIDER_URL,
  uniqueEmail,
} from "../oauth/flow.ts";

const TOKENS = Number(Deno.env.get("BENCH_TOKENS") ?? 200);
const WORKERS = Number(Deno.env.get("BENCH_WORKERS") ?? 4);
const SEQUENTIAL = Number(Deno.env.get("BENCH_SEQUENTIAL") ?? 300);
const DURATION = Number(Deno.env.get("BENCH_DURATION") ?? 5) * 1000;
const CONNECTIONS = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 16);
const SERVICE_KEY = Deno.env.get("SUPABASE_SERVICE_ROLE_KEY")!;

const ms = (t: number) => Math.round(t * 100) / 100;
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const line = (name: string, o: Record<string, unknown>) =>
  console.log(`${name.padEnd(44)} ${Object.entries(o).map(([k, v]) => `${k}=${v}`).join("  ")}`);

// --- setup --------------------------------------------------------------------------
console.error(`connecting ${TOKENS} dev accounts through the full flow...`);
const owners = await Promise.all(
  Array.from({ length: Math.ceil(TOKENS / 25) }, () => createUser("bench-tokens")),
);
const conns: { id: string; email: string }[] = [];
for (let i = 0; i < TOKENS; i += 8) {
  const batch = await Promise.all(
    Array.from(
      { length: Math.min(8, TOKENS - i) },
      (_, j) => connect(owners[(i + j) % owners.length], { email: uniqueEmail("bench") }),
    ),
  );
  conns.push(...batch.map((c) => ({ id: c.token.id, email: c.email })));
}
const ids = conns.map((c) => c.id);

// --- 1. refresh-due ---------------------------------------------------------------------
await sql`update public.service_tokens
             set expires_at = now() + interval '2 minutes', issued_at = now() - interval '1 hour',
                 last_used_at = now(), next_refresh_at = null
           where id = any(${ids}::uuid[])`;
const started = performance.now();
const runs = await Promise.all(
  Array.from(
    { length: WORKERS },
    () => call("POST", "/tokens/refresh-due", { token: SERVICE_KEY, body: { limit: TOKENS } }),
  ),
);
const wall = performance.now() - started;
const refreshed = runs.reduce((n, r) => n + (r.body.refreshed ?? 0), 0);
let grants = 0;
for (const c of conns) grants += (await provider.seen(c.email)).refresh_grants;
const [{ logs, distinct }] = await sql`
  select count(*)::int as logs, count(distinct token_id)::int as distinct
    from public.token_refresh_logs where token_id = any(${ids}::uuid[]) and status = 'success'`;
line(`refresh-due, ${WORKERS} concurrent runs`, {
  tokens: TOKENS,
  refreshed_by_these_runs: refreshed,
  wall_ms: ms(wall),
  tokens_per_s: Math.round((refreshed / wall) * 1000),
  provider_grants: grants,
  duplicates: grants - distinct,
  log_rows: logs,
  tokens_refreshed: distinct,
});

// Baseline: the provider alone, same grants, same total concurrency.
const plain = await sql<{ r: string }[]>`
  select extensions.pgp_sym_decrypt(s.refresh_token, v.decrypted_secret) as r
    from private.token_secrets s, vault.decrypted_secrets v
   where s.token_id = any(${ids}::uuid[]) and v.name = 'token_encryption_key'`;
const concurrency = WORKERS * Number(Deno.env.get("TOKEN_REFRESH_CONCURRENCY") ?? 4);
const queue = plain.map((p) => p.r);
const direct = performance.now();
await Promise.all(Array.from({ length: concurrency }, async () => {
  for (let r = queue.pop(); r; r = queue.pop()) {
    const res = await fetch(`${PROVIDER_URL}/token`, {
      method: "POST",
      headers: {
        Authorization: `Basic ${btoa("oprina-local:" + Deno.env.get("DEV_OAUTH_CLIENT_SECRET"))}`,
      },
      body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: r }),
    });
    await res.body?.cancel();
  }
}));
const directWall = performance.now() - direct;
line(`baseline: provider alone, ${concurrency} at once`, {
  grants: plain.length,
  wall_ms: ms(directWall),
  grants_per_s: Math.round((plain.length / directWall) * 1000),
  ratio_backend_over_provider: (wall / directWall).toFixed(2),
});

// --- 2. access-token latency -------------------------------------------------------------
const user = await createUser("bench-access");
const { token } = await connect(user);

async function sequential(name: string, fn: () => Promise<{ status: number }>) {
  for (let i = 0; i < 20; i++) await fn(); // warm-up
  const t: number[] = [];
  let errors = 0;
  for (let i = 0; i < SEQUENTIAL; i++) {
    const s = performance.now();
    if ((await fn()).status !== 200) errors++;
    t.push(performance.now() - s);
  }
  line(name, {
    n: SEQUENTIAL,
    p50_ms: ms(pct(t, 50)),
    p95_ms: ms(pct(t, 95)),
    p99_ms: ms(pct(t, 99)),
    errors,
  });
  return pct(t, 50);
}

async function concurrent(name: string, fn: () => Promise<{ status: number }>) {
  let n = 0, errors = 0;
  const t: number[] = [];
  const end = performance.now() + DURATION;
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < end) {
      const s = performance.now();
      if ((await fn()).status !== 200) errors++;
      t.push(performance.now() - s);
      n++;
    }
  }));
  const rps = Math.round(n / (DURATION / 1000));
  line(name, {
    connections: CONNECTIONS,
    rps,
    p50_ms: ms(pct(t, 50)),
    p99_ms: ms(pct(t, 99)),
    errors,
  });
  return rps;
}

const get = () => call("GET", `/tokens/${token.id}`, { token: user.token });
const access = () => accessToken(user, "dev");
const baseSeq = await sequential("baseline: GET /tokens/{id}, sequential", get);
const accSeq = await sequential("access-token (fresh), sequential", access);
line("  ratio access-token / baseline (p50)", { ratio: (accSeq / baseSeq).toFixed(2) });
const baseRps = await concurrent("baseline: GET /tokens/{id}, concurrent", get);
const accRps = await concurrent("access-token (fresh), concurrent", access);
line("  ratio access-token / baseline (rps)", { ratio: (accRps / baseRps).toFixed(2) });

const refreshing: number[] = [];
for (let i = 0; i < 50; i++) {
  await makeDue(token.id, 60);
  const s = performance.now();
  const res = await access();
  refreshing.push(performance.now() - s);
  if (!res.body.refreshed) console.error("expected a refresh");
}
line("access-token that refreshes first, sequential", {
  n: refreshing.length,
  p50_ms: ms(pct(refreshing, 50)),
  p95_ms: ms(pct(refreshing, 95)),
});

await sql.end();
