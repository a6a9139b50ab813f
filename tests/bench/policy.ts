// Refresh policy at scale (issue 14): one database holding BENCH_POLICY_CONNECTIONS
// connections (1,000,000 by default), BENCH_POLICY_ACTIVE of them (5%) used
// within the last day and the rest dormant. Only measures and prints a
// markdown section for docs/benchmarks.md; asserts nothing.
//
//   1. Setup: auth.users (as GoTrue writes them, two connections per user: Google
//      and Microsoft) and service_tokens, in SQL with generate_series. The due-time
//      trigger runs for every row (it is part of what a write costs); the event
//      and activity triggers are switched off for the load only, as a
//      million "connected" events are not what is measured.
//   2. The claim: EXPLAIN ANALYZE of the exact statement refresh-due sends
//      (shared/tokens/store.ts dueClaim), for one row (what each worker slot
//      takes) and a batch of 500, now (a handful due) and with a day's backlog due.
//   3. Throughput: BENCH_POLICY_SAMPLE real connections (the full OAuth flow with
//      the local provider) made due among the million, refreshed by
//      BENCH_WORKERS concurrent refresh-due runs: refreshes per second.
//   4. Provider calls per day, by simulation: on a random sample of each class,
//      inside a transaction rolled back at the end, every row due before
//      now + 24 h is "refreshed" at its due time (a new 1-hour token) and the
//      real trigger computes its next due time, until nothing is due within
//      the day. Active connections are simulated both as used all day (each
//      refresh finds a use just before it) and as never used again.
//
//   deno run -A tests/bench/policy.ts   (inside a stack's environment: scripts/bench.sh,
//                                        alone with BENCH_ONLY=policy)
import type postgres from "postgres";
import { textOf } from "../../shared/db/literal.ts";
import { dueClaim } from "../../shared/tokens/store.ts";
import { call, createUser, sql } from "../helpers/stack.ts";
import { connect, dormant, provider, uniqueEmail } from "../oauth/flow.ts";

const TOTAL = Number(Deno.env.get("BENCH_POLICY_CONNECTIONS") ?? 1_000_000);
const ACTIVE_SHARE = Number(Deno.env.get("BENCH_POLICY_ACTIVE") ?? 0.05);
const SAMPLE = Number(Deno.env.get("BENCH_POLICY_SAMPLE") ?? 200);
const WORKERS = Number(Deno.env.get("BENCH_WORKERS") ?? 4);
const SIM_SAMPLE = Number(Deno.env.get("BENCH_POLICY_SIM_SAMPLE") ?? 10_000);
const SERVICE_KEY = Deno.env.get("SUPABASE_SERVICE_ROLE_KEY")!;

const out: string[] = [];
const say = (s = "") => out.push(s);
const secs = (t: number) => (t / 1000).toFixed(1);
const timed = async <T>(what: string, f: () => Promise<T>): Promise<[T, number]> => {
  const t = performance.now();
  console.error(`policy bench: ${what}...`);
  const r = await f();
  return [r, performance.now() - t];
};

// --- 1. setup --------------------------------------------------------------------------
const users = Math.ceil(TOTAL / 2);
const [, usersMs] = await timed(`${users} users`, () =>
  sql.unsafe(`
    insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data,
                            email_confirmed_at, created_at, updated_at, is_anonymous)
    select gen_random_uuid(), 'authenticated', 'authenticated', 'policy-' || g || '@bench.local',
           '{"provider": "email", "providers": ["email"]}', '{}', now(), now(), now(), false
      from generate_series(1, ${users}) g`));

// Active (ACTIVE_SHARE): used within the last 23 h, token issued within the
// last 35 min (so the proactive refresh is 15 to 50 min away). Dormant: token
// issued at a random point of the provider's keep-alive period (its keep-alive
// is 20 min to a period away), last used at least a day before that. Nothing
// is due when the load ends: the throughput run sees only its own sample.
const [, tokensMs] = await timed(`${TOTAL} connections`, async () => {
  await sql.unsafe(`alter table public.service_tokens
                      disable trigger service_tokens_events, disable trigger service_tokens_audit`);
  await sql.unsafe(`
    with u as (
      select id, row_number() over () as n from auth.users where email like 'policy-%@bench.local'
    ), c as (
      select u.id, u.n, p.provider, p.keepalive, random() < ${ACTIVE_SHARE} as active,
             random() as r1, random() as r2
        from u cross join (values ('google', interval '72 hours'), ('microsoft', interval '7 days'))
                          p(provider, keepalive)
       limit ${TOTAL}
    ), t as (
      select c.*, case when active then now() - r1 * interval '35 minutes'
                       else now() - r1 * (keepalive - interval '20 minutes') end as issued
        from c
    )
    insert into public.service_tokens
      (user_id, provider, services, provider_account_id, has_refresh_token, issued_at, expires_at,
       last_used_at, last_refreshed_at, connected_at, use_count)
    select id, provider, case when provider = 'google' then '{gmail,calendar}'::text[]
                              else '{outlook}'::text[] end,
           'bench-' || case when active then 'a' else 'd' end || '-' || n || '-' || provider,
           true, issued, issued + interval '1 hour',
           case when active then now() - r2 * interval '23 hours'
                else issued - interval '1 day' - r2 * interval '60 days' end,
           issued, now() - interval '200 days', case when active then 100 else 3 end
      from t`);
  await sql.unsafe(`alter table public.service_tokens
                      enable trigger service_tokens_events, enable trigger service_tokens_audit`);
  await sql.unsafe(`analyze public.service_tokens`);
});
const [mix] = await sql`
  select count(*)::int as total,
         count(*) filter (where provider_account_id like 'bench-a-%')::int as active,
         count(*) filter (where provider_account_id like 'bench-d-%')::int as dormant,
         count(*) filter (where refresh_due_at <= now())::int as due_now,
         pg_size_pretty(pg_relation_size('public.service_tokens')) as heap,
         pg_size_pretty(pg_relation_size('public.service_tokens_refresh_due')) as due_index
    from public.service_tokens`;

say(
  `${mix.total.toLocaleString("en")} connections (${mix.active.toLocaleString("en")} used ` +
    `within the last day, ${mix.dormant.toLocaleString("en")} dormant; Google and Microsoft half ` +
    `each), ${users.toLocaleString("en")} users. Load: users ${secs(usersMs)} s, connections ` +
    `${secs(tokensMs)} s (the due-time trigger on every row). Table ${mix.heap}, claim index ` +
    `${mix.due_index}; due when the load ended: ${mix.due_now}.`,
);
say();

// --- 2. the claim ------------------------------------------------------------------------
type Plan = { ms: number; rows: number; node: string; buffers: number };

// Runs `work` in a transaction on one connection and rolls it back: the
// claim's row locks and the simulation's rewrites go with it.
async function rolledBack<T>(work: (c: postgres.ReservedSql) => Promise<T>): Promise<T> {
  const reserved = await sql.reserve();
  try {
    await reserved.unsafe("begin");
    return await work(reserved);
  } finally {
    await reserved.unsafe("rollback");
    reserved.release();
  }
}

type PlanNode = { [k: string]: unknown; Plans?: PlanNode[] };
function scans(n: PlanNode, acc: string[] = []): string[] {
  if (/Scan/.test(String(n["Node Type"]))) {
    acc.push(`${n["Node Type"]}${n["Index Name"] ? ` using ${n["Index Name"]}` : ""}`);
  }
  for (const c of n.Plans ?? []) scans(c, acc);
  return acc;
}

async function explain(query: string): Promise<Plan> {
  const runs: Plan[] = [];
  for (let i = 0; i < 7; i++) {
    const [row] = await rolledBack((c) =>
      c.unsafe(`explain (analyze, buffers, format json) ${query}`)
    );
    const plan = row["QUERY PLAN"][0];
    runs.push({
      ms: plan["Execution Time"],
      rows: plan.Plan["Actual Rows"],
      node: scans(plan.Plan).join(", "),
      buffers: plan.Plan["Shared Hit Blocks"] + plan.Plan["Shared Read Blocks"],
    });
  }
  runs.sort((a, b) => a.ms - b.ms);
  return runs[Math.floor(runs.length / 2)];
}

const claim1 = textOf(dueClaim(1));
const claim500 = textOf(dueClaim(500));
const backlog = (q: string) =>
  q.replace("refresh_due_at <= now()", "refresh_due_at <= now() + interval '24 hours'");
const [{ backlog_rows }] = await sql`
  select count(*)::int as backlog_rows from public.service_tokens
   where refresh_due_at <= now() + interval '24 hours'`;
say(
  "| Claim (the statement refresh-due sends) | Due rows | Plan | Rows | Buffers | Execution (median of 7) |",
);
say("|---|--:|---|--:|--:|--:|");
for (
  const [label, q, due] of [
    ["1 row (one worker slot), now", claim1, mix.due_now],
    ["batch of 500, now", claim500, mix.due_now],
    ["1 row, a day's backlog due", backlog(claim1), backlog_rows],
    ["batch of 500, a day's backlog due", backlog(claim500), backlog_rows],
  ] as const
) {
  const p = await explain(q);
  say(
    `| ${label} | ${due.toLocaleString("en")} | ${p.node} | ${p.rows} | ${p.buffers} | ${
      p.ms.toFixed(3)
    } ms |`,
  );
}
say();

// --- 3. throughput ---------------------------------------------------------------------
console.error(`policy bench: connecting ${SAMPLE} dev accounts through the full flow...`);
const owners = await Promise.all(
  Array.from({ length: Math.ceil(SAMPLE / 25) }, () => createUser("bench-policy")),
);
const sample: { id: string; email: string }[] = [];
for (let i = 0; i < SAMPLE; i += 10) {
  const batch = await Promise.all(
    Array.from(
      { length: Math.min(10, SAMPLE - i) },
      (_, j) => connect(owners[(i + j) % owners.length], { email: uniqueEmail("policy") }),
    ),
  );
  sample.push(...batch.map((c) => ({ id: c.token.id, email: c.email })));
}
// Dormant with their keep-alive due (dev: 24 h): what a morning after a quiet day looks like.
for (const c of sample) await dormant(c.id, { idleHours: 72, tokenAgeHours: 25 });
const ids = sample.map((c) => c.id);
// Refresh logs from here on: earlier bench sections refresh connections of their own.
const [{ since }] = await sql`select clock_timestamp() as since`;
const started = performance.now();
let refreshed = 0, runs = 0;
while (refreshed < SAMPLE && runs < 50) {
  const results = await Promise.all(
    Array.from(
      { length: WORKERS },
      () => call("POST", "/tokens/refresh-due", { token: SERVICE_KEY, body: { limit: SAMPLE } }),
    ),
  );
  runs += WORKERS;
  const [{ done }] = await sql`
    select count(*)::int as done from public.service_tokens
     where id = any(${ids}::uuid[]) and last_refreshed_at > now() - interval '10 minutes'
       and issued_at > now() - interval '10 minutes'`;
  refreshed = done;
  if (results.every((r) => (r.body?.claimed ?? 0) === 0)) break;
}
const wall = performance.now() - started;
let grants = 0;
for (const c of sample) grants += (await provider.seen(c.email)).refresh_grants;
const [{ stray }] = await sql`
  select count(*)::int as stray from public.token_refresh_logs
   where created_at >= ${since} and not (token_id = any(${ids}::uuid[]))`;
const perSecond = refreshed / (wall / 1000);
say(
  `Throughput: ${refreshed} due connections among the ${mix.total.toLocaleString("en")} ` +
    `refreshed by ${WORKERS} concurrent refresh-due runs (default concurrency 4 each) against the ` +
    `local OAuth server in ${(wall / 1000).toFixed(2)} s: **${
      perSecond.toFixed(0)
    } refreshes/s**; ` +
    `provider calls ${grants} (one per connection), other connections touched ${stray}.`,
);
say();

// --- 4. provider calls per day, simulated -------------------------------------------------
type Sim = { n: number; calls: number };
function simulate(klass: "a" | "d", usedAllDay: boolean): Promise<Sim> {
  return rolledBack(async (c) => {
    await c.unsafe(`
      create temp table sim on commit drop as
        select id from public.service_tokens
         where provider_account_id like 'bench-${klass}-%'
         order by random() limit ${SIM_SAMPLE}`);
    let calls = 0;
    for (let i = 0; i < 200; i++) {
      const r = await c.unsafe(`
        update public.service_tokens t
           set issued_at = t.refresh_due_at,
               expires_at = t.refresh_due_at + interval '1 hour',
               last_refreshed_at = t.refresh_due_at
               ${usedAllDay ? ", last_used_at = t.refresh_due_at - interval '1 minute'" : ""}
          from sim
         where t.id = sim.id and t.refresh_due_at < now() + interval '24 hours'`);
      if (r.count === 0) break;
      calls += r.count;
    }
    const [{ n }] = await c.unsafe(`select count(*)::int as n from sim`);
    return { n, calls };
  });
}

const [sims, simMs] = await timed("simulating a day", async () => [
  await simulate("a", true),
  await simulate("a", false),
  await simulate("d", false),
]);
const [usedAllDay, lastUseToday, dormantSim] = sims;
const rate = (s: Sim) => s.calls / s.n;
const perDay = mix.active * rate(usedAllDay) + mix.dormant * rate(dormantSim);
const oldPerDay = mix.total * 24 * (60 / 50);
say(
  "| Provider calls per connection per day (simulated) | Sample | Calls in 24 h | Per connection |",
);
say("|---|--:|--:|--:|");
say(
  `| Active, used all day (1-hour tokens, refreshed 10 min before expiry) | ${usedAllDay.n} | ${usedAllDay.calls} | ${
    rate(usedAllDay).toFixed(2)
  } |`,
);
say(
  `| Active, last used today, not again | ${lastUseToday.n} | ${lastUseToday.calls} | ${
    rate(lastUseToday).toFixed(2)
  } |`,
);
say(
  `| Dormant (keep-alive: Google 72 h, Microsoft 7 days) | ${dormantSim.n} | ${dormantSim.calls} | **${
    rate(dormantSim).toFixed(3)
  }** (target ≤ 1) |`,
);
say();
// What the policy predicts, for comparison: a dormant connection is refreshed
// in the next day with probability 24 h / keep-alive (half Google, half Microsoft).
const expectedDormant = (24 / 72 + 24 / 168) / 2;
const perRun = (perSecond / WORKERS) * 45; // one run: 4 slots for its 45 s budget
const proactivePerMinute = (mix.active * rate(usedAllDay)) / 1440;
say(
  `Simulated, not measured over a day: a random sample of each class, inside a transaction ` +
    `rolled back at the end, is refreshed at each due time the real trigger computes (a new ` +
    `1-hour token each time) until nothing is due within 24 h (${secs(simMs)} s). The rule ` +
    `predicts 24 h / 50 min = 28.8 for a connection used all day and ` +
    `${expectedDormant.toFixed(3)} for a dormant one (24 h / keep-alive). For these ` +
    `${mix.total.toLocaleString("en")} connections that is about ` +
    `${Math.round(perDay).toLocaleString("en")} provider calls a day if every active one is ` +
    `used all day, against about ${Math.round(oldPerDay).toLocaleString("en")} under the old ` +
    `rule (every connection refreshed about 10 minutes before each hourly expiry, used or not).`,
);
say();
say(
  `Capacity: at the measured rate one refresh-due run (4 slots, 45 s budget) could do about ` +
    `${Math.round(perRun).toLocaleString("en")} refreshes, but takes at most ` +
    `TOKEN_REFRESH_BATCH_LIMIT = 500; the proactive refreshes here come to about ` +
    `${Math.round(proactivePerMinute).toLocaleString("en")} a minute, ` +
    (proactivePerMinute > 500
      ? `so at this size raise TOKEN_REFRESH_BATCH_LIMIT to about ` +
        `${Math.ceil((proactivePerMinute * 1.5) / 100) * 100} (what falls behind is still ` +
        `refreshed on demand when vended, and stays due for the next run).`
      : `within the defaults.`),
);

console.log(out.join("\n"));
await sql.end();
