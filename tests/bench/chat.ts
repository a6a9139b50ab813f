// Chat benchmark: the cost of a chat send (store the message, call the agent,
// settle the reply) measured against calling the same agent directly, in the
// same run, at the same concurrency. Only measures and prints; asserts nothing.
//
//   deno run -A tests/bench/chat.ts        (inside a stack's environment, e.g. from scripts/bench.sh)
//
// Needs the stack's environment (SUPABASE_URL, SUPABASE_DB_URL, AGENT_URL,
// AGENT_API_KEY, AGENT_MODEL) and a gateway started with a chat rate limit the
// run cannot reach (RATE_LIMIT_CHAT=1000000/60); refused requests are counted
// as errors. The local development agent answers without delay ([[slow=0]]),
// so the numbers are the backend's own cost, not a model's.
// Knobs: BENCH_DURATION (s, default 10), BENCH_WARMUP (s, 2), BENCH_CONNECTIONS ("8 32"),
// BENCH_SESSIONS (sessions the sends spread over, default 64).
import postgres from "postgres";
import { stackSigningKey, userToken } from "../../scripts/local/keys.ts";
import { insertAuthUser } from "../../scripts/local/users.ts";

const env = (name: string) => {
  const v = Deno.env.get(name);
  if (!v) throw new Error(`${name} is not set: run inside a stack's environment`);
  return v;
};
const API = env("SUPABASE_URL");
const FUNCTIONS = `${API}/functions/v1`;
const AGENT = new URL("chat/completions", env("AGENT_URL").replace(/\/*$/, "/"));
const AGENT_KEY = Deno.env.get("AGENT_API_KEY");
const MODEL = env("AGENT_MODEL");
const DURATION = Number(Deno.env.get("BENCH_DURATION") ?? 10) * 1000;
const WARMUP = Number(Deno.env.get("BENCH_WARMUP") ?? 2) * 1000;
const LEVELS = (Deno.env.get("BENCH_CONNECTIONS") ?? "8 32").split(/\s+/).map(Number);
const SESSIONS = Number(Deno.env.get("BENCH_SESSIONS") ?? 64);
const PROMPT = "What is on my calendar tomorrow? [[slow=0]]";

// --- setup: users, each with sessions to spread its sends over --------------------
// One user per connection: a user's concurrent requests share one rate-limit row,
// which the request's transaction holds, so a single user would measure that lock.

const sql = postgres(env("SUPABASE_DB_URL"), { max: 1, onnotice: () => {} });
const USERS = Math.max(...LEVELS);
type BenchUser = { id: string; token: string; sessions: string[] };
const users: BenchUser[] = [];
const signingKey = await stackSigningKey();
for (let u = 0; u < USERS; u++) {
  const email = `bench-chat-${crypto.randomUUID()}@test.local`;
  const id = await insertAuthUser(sql, { email });
  const token = await userToken({ userId: id, email, apiUrl: API, signingKey });
  const sessions: string[] = [];
  for (let i = 0; i < Math.max(1, Math.ceil(SESSIONS / USERS)); i++) {
    const res = await fetch(`${FUNCTIONS}/sessions`, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify({ title: `bench ${i}` }),
    });
    sessions.push((await res.json()).id);
  }
  users.push({ id, token, sessions });
}

// --- one request of each kind ---------------------------------------------------------

type Sample = { ok: boolean; ms: number; firstMs?: number };

async function drain(res: Response, started: number): Promise<number | undefined> {
  let first: number | undefined;
  const reader = res.body!.getReader();
  while (true) {
    const { done } = await reader.read();
    if (done) break;
    first ??= performance.now() - started;
  }
  return first;
}

// The agent alone: the same streamed completion the chat function asks for.
async function agentDirect(): Promise<Sample> {
  const started = performance.now();
  const res = await fetch(AGENT, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      ...(AGENT_KEY ? { Authorization: `Bearer ${AGENT_KEY}` } : {}),
    },
    body: JSON.stringify({
      model: MODEL,
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: "system", content: "You are Oprina." }, { role: "user", content: PROMPT }],
    }),
  });
  const firstMs = await drain(res, started);
  return { ok: res.ok, ms: performance.now() - started, firstMs };
}

let next = 0;

async function chatSend(user: BenchUser, stream: boolean): Promise<Sample> {
  const started = performance.now();
  const session = user.sessions[next++ % user.sessions.length];
  const res = await fetch(`${FUNCTIONS}/chat/${session}/messages`, {
    method: "POST",
    headers: {
      Authorization: `Bearer ${user.token}`,
      "Content-Type": "application/json",
      ...(stream ? { Accept: "text/event-stream" } : {}),
    },
    body: JSON.stringify({ content: PROMPT }),
  });
  const firstMs = await drain(res, started);
  return { ok: res.status === (stream ? 200 : 201), ms: performance.now() - started, firstMs };
}

// --- closed-loop load at a fixed concurrency ------------------------------------------

type Result = {
  rps: number;
  p50: number;
  p99: number;
  first50?: number;
  errors: number;
  n: number;
};

async function load(
  run: (user: BenchUser) => Promise<Sample>,
  conns: number,
  ms: number,
): Promise<Result> {
  const samples: Sample[] = [];
  const until = performance.now() + ms;
  const started = performance.now();
  await Promise.all(Array.from({ length: conns }, async (_, worker) => {
    while (performance.now() < until) {
      try {
        samples.push(await run(users[worker % users.length]));
      } catch {
        samples.push({ ok: false, ms: 0 });
      }
    }
  }));
  const elapsed = (performance.now() - started) / 1000;
  const ok = samples.filter((s) => s.ok);
  const pct = (xs: number[], p: number) =>
    xs.length
      ? xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * p) - 1)]
      : NaN;
  const firsts = ok.map((s) => s.firstMs).filter((x): x is number => x !== undefined);
  return {
    rps: ok.length / elapsed,
    p50: pct(ok.map((s) => s.ms), 0.5),
    p99: pct(ok.map((s) => s.ms), 0.99),
    first50: firsts.length ? pct(firsts, 0.5) : undefined,
    errors: samples.length - ok.length,
    n: samples.length,
  };
}

const KINDS: Array<[string, (user: BenchUser) => Promise<Sample>]> = [
  ["agent direct (baseline)", agentDirect],
  ["chat JSON", (u) => chatSend(u, false)],
  ["chat SSE", (u) => chatSend(u, true)],
];

const rows: Array<{ kind: string; conns: number } & Result> = [];
for (const conns of LEVELS) {
  for (const [kind, run] of KINDS) {
    await load(run, conns, WARMUP);
    const r = await load(run, conns, DURATION);
    rows.push({ kind, conns, ...r });
    console.error(`${kind} c=${conns}: ${r.rps.toFixed(0)} req/s, p50 ${r.p50.toFixed(1)} ms`);
  }
}

// --- report ------------------------------------------------------------------------------

const f = (
  x: number | undefined,
  d = 1,
) => (x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d));
const lines = [
  "| Request | Conns | req/s | p50 ms | p99 ms | first byte p50 ms | errors | req/s vs agent direct |",
  "|---|--:|--:|--:|--:|--:|--:|--:|",
];
for (const r of rows) {
  const base = rows.find((b) => b.conns === r.conns && b.kind.startsWith("agent direct"))!;
  lines.push(
    `| ${r.kind} | ${r.conns} | ${f(r.rps, 0)} | ${f(r.p50)} | ${f(r.p99)} | ${f(r.first50)} | ` +
      `${r.errors} | ${(r.rps / base.rps).toFixed(2)}x |`,
  );
}
const ids = users.map((u) => u.id);
const [{ messages, sessions: touched }] = await sql<{ messages: number; sessions: number }[]>`
  select count(*)::int as messages, count(distinct session_id)::int as sessions
    from public.messages where user_id = any(${ids}::uuid[])`;
console.log(lines.join("\n"));
console.log(
  `\n${messages} messages stored over ${touched} sessions; ${DURATION / 1000} s per run after ` +
    `${WARMUP / 1000} s warm-up; ${USERS} users; agent: ${AGENT.origin} (${MODEL}).`,
);
console.log(`BENCH_JSON ${JSON.stringify(rows)}`);
await sql`delete from auth.users where id = any(${ids}::uuid[])`;
await sql.end();
