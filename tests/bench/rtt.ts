// Injected-RTT benchmark (issue 13): on hosted Supabase an edge function and
// its database are separate machines, so every sequential database round trip
// costs a network RTT. scripts/bench.sh starts two identical gateways: one
// talks to Postgres directly, the other through tests/bench/roundtrips.ts with
// --delay-ms=RTT/2 (each direction held RTT/2). This script sends the same
// requests to both, one at a time and interleaved (so drift and noise fall on
// both alike), and reports per request: the p50 on each, the added round trips
// ((p50 with RTT - p50 direct) / RTT), and the round trips the relay counted
// on the wire (turns per request), which the first should approach from below.
// Only measures and prints; asserts nothing.
//
//   deno run -A tests/bench/rtt.ts   (from scripts/bench.sh, inside the bench stack's environment)
//
// Environment (set by scripts/bench.sh):
//   BENCH_RTT_DIRECT, BENCH_RTT_DELAYED   the two gateways' origins (http://127.0.0.1:port)
//   BENCH_RTT_RELAY_STATS                 the delaying relay's stats origin
//   BENCH_RTT_DELAYED_DB_URL              Postgres through that relay (for the calibration row)
//   BENCH_RTT_MS                          the injected RTT, ms (default 10)
//   BENCH_TOKEN, BENCH_SESSION_ID         the seeded user's token and its newest session
//   BENCH_LIMIT                           the list's page size (default 20)
// Knobs: BENCH_RTT_ITERATIONS (per request and gateway, default 200), BENCH_RTT_WARMUP (15),
// BENCH_RTT_SECONDS (cap per request type, default 40).
// The stack's own variables (SUPABASE_URL, SUPABASE_DB_URL, AGENT_URL, DEV_OAUTH_URL...)
// are read by tests/helpers/stack.ts and tests/oauth/flow.ts, used here for the setup.
import postgres from "postgres";
import { createUser, sql } from "../helpers/stack.ts";
import { connect } from "../oauth/flow.ts";

const env = (name: string, fallback?: string) => {
  const v = Deno.env.get(name) ?? fallback;
  if (v === undefined) throw new Error(`${name} is not set: run from scripts/bench.sh`);
  return v;
};
const RTT_MS = Number(env("BENCH_RTT_MS", "10"));
const ITERATIONS = Number(env("BENCH_RTT_ITERATIONS", "200"));
const WARMUP = Number(env("BENCH_RTT_WARMUP", "15"));
const SECONDS = Number(env("BENCH_RTT_SECONDS", "40"));
const LIMIT = Number(env("BENCH_LIMIT", "20"));
const RELAY = env("BENCH_RTT_RELAY_STATS");
const AGENT_ORIGIN = new URL(env("AGENT_URL")).origin;
const seeded = { token: env("BENCH_TOKEN"), session: env("BENCH_SESSION_ID") };

type GateName = "direct" | "rtt";
type Gate = {
  name: GateName;
  functions: string;
  pg: postgres.Sql;
  json: string; // this gateway's chat sessions, one per kind of send
  sse: string;
};

// --- setup: a user of its own for chat and tokens ------------------------------------
// (The seeded user's sessions are what the later sections read; sends would
// reorder them.)
const user = await createUser("bench-rtt");
await connect(user, { provider: "dev" }); // a fresh token: not due for hours
async function newSession(title: string): Promise<string> {
  const res = await fetch(`${env("SUPABASE_URL")}/functions/v1/sessions`, {
    method: "POST",
    headers: { Authorization: `Bearer ${user.token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ title }),
  });
  if (res.status !== 201) throw new Error(`session: ${res.status} ${await res.text()}`);
  return (await res.json()).id;
}
const pgOptions = { max: 1, prepare: false, onnotice: () => {} };
const gates: Gate[] = [
  {
    name: "direct",
    functions: `${env("BENCH_RTT_DIRECT")}/functions/v1`,
    pg: postgres(env("SUPABASE_DB_URL"), pgOptions),
    json: await newSession("rtt json direct"),
    sse: await newSession("rtt sse direct"),
  },
  {
    name: "rtt",
    functions: `${env("BENCH_RTT_DELAYED")}/functions/v1`,
    pg: postgres(env("BENCH_RTT_DELAYED_DB_URL"), pgOptions),
    json: await newSession("rtt json delayed"),
    sse: await newSession("rtt sse delayed"),
  },
];

// --- one request of each kind ----------------------------------------------------------

type Sample = { ms: number; tag?: string };
type Hooks = { onFirstDelta?: () => Promise<void> };

async function expect(res: Response, status: number, what: string) {
  if (res.status === status) return;
  throw new Error(`${what}: ${res.status} ${(await res.text()).slice(0, 400)}`);
}

async function timedGet(g: Gate, path: string, token: string): Promise<Sample> {
  const started = performance.now();
  const res = await fetch(`${g.functions}${path}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  await res.arrayBuffer();
  const ms = performance.now() - started;
  await expect(res, 200, `GET ${path} on ${g.name}`);
  return { ms };
}

async function accessToken(g: Gate): Promise<Sample> {
  const started = performance.now();
  const res = await fetch(`${g.functions}/tokens/dev/access-token`, {
    method: "POST",
    headers: { Authorization: `Bearer ${user.token}` },
  });
  const body = await res.text();
  const ms = performance.now() - started;
  await expect(new Response(body, { status: res.status }), 200, `access-token on ${g.name}`);
  if (JSON.parse(body).refreshed) throw new Error("access-token refreshed: the token was due");
  return { ms };
}

// The prompt tells the local agent to answer at once ([[slow=0]]) and to keep
// a record under the tag, whose elapsed_ms is the agent's own time.
const prompt = (tag: string, extra = "[[slow=0]]") =>
  `What is on my calendar tomorrow? [[tag=${tag}]] ${extra}`;

async function chatJson(g: Gate): Promise<Sample> {
  const tag = `rtt-${crypto.randomUUID()}`;
  const started = performance.now();
  const res = await fetch(`${g.functions}/chat/${g.json}/messages`, {
    method: "POST",
    headers: { Authorization: `Bearer ${user.token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ content: prompt(tag) }),
  });
  const body = await res.text();
  const ms = performance.now() - started;
  await expect(new Response(body, { status: res.status }), 201, `chat JSON on ${g.name}`);
  return { ms, tag };
}

// Time to the first `delta` event; the rest of the stream is read (not timed)
// so the exchange is settled before the next request. Each stream has a
// connection of its own: on a kept-alive connection Deno.serve (which leaves
// Nagle's algorithm on) held the first delta, written right after
// `message.created`, until this client's delayed ACK, 40 ms every other
// request on either gateway, which has nothing to do with the database. A new
// connection starts in quick-ACK mode; the connect costs ~0.2 ms on both.
async function chatSse(g: Gate, o: { extra?: string } & Hooks = {}): Promise<Sample> {
  const tag = `rtt-${crypto.randomUUID()}`;
  const client = Deno.createHttpClient({});
  try {
    const started = performance.now();
    const res = await fetch(`${g.functions}/chat/${g.sse}/messages`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${user.token}`,
        "Content-Type": "application/json",
        Accept: "text/event-stream",
      },
      body: JSON.stringify({ content: prompt(tag, o.extra) }),
      client,
    });
    await expect(res, 200, `chat SSE on ${g.name}`);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    let first: number | undefined;
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      text += value;
      if (first === undefined && /^event: delta$/m.test(text)) {
        first = performance.now() - started;
        await o.onFirstDelta?.();
      }
    }
    return settled(g, text, first, tag);
  } finally {
    client.close();
  }
}

function settled(g: Gate, text: string, first: number | undefined, tag: string): Sample {
  if (first === undefined || !/^event: message\.completed$/m.test(text)) {
    throw new Error(`chat SSE on ${g.name}: no delta or no completion: ${text.slice(0, 400)}`);
  }
  return { ms: first, tag };
}

async function selectOne(g: Gate): Promise<Sample> {
  const started = performance.now();
  await g.pg`select 1`;
  return { ms: performance.now() - started };
}

type Kind = {
  key: string;
  label: string;
  measure: string; // what the p50 is of
  target?: number; // added round trips, at most
  run: (g: Gate) => Promise<Sample>;
};

const KINDS: Kind[] = [
  {
    key: "select1",
    label: "calibration: `select 1` from postgres.js (one round trip)",
    measure: "p50",
    run: selectOne,
  },
  {
    key: "get",
    label: "GET /sessions/{id}",
    measure: "p50",
    target: 1.2,
    run: (g) => timedGet(g, `/sessions/${seeded.session}`, seeded.token),
  },
  {
    key: "list",
    label: `GET /sessions?limit=${LIMIT}`,
    measure: "p50",
    target: 1.2,
    run: (g) => timedGet(g, `/sessions?limit=${LIMIT}`, seeded.token),
  },
  {
    key: "access-token",
    label: "POST /tokens/{provider}/access-token (fresh token)",
    measure: "p50",
    run: accessToken,
  },
  {
    key: "chat-sse",
    label: "chat SSE: time to first `delta`",
    measure: "median",
    target: 2.5,
    run: (g) => chatSse(g),
  },
  {
    key: "chat-json",
    label: "chat JSON send",
    measure: "p50",
    target: 3.5,
    run: chatJson,
  },
];

// --- the relay and the agent --------------------------------------------------------------

type Turn = { seq: number; conn: number; messages: string; sql: string[] };
const relayStats = async () => await (await fetch(`${RELAY}/`)).json();
const relayTurns = async (): Promise<number> => (await relayStats()).turns;
const turnsAfter = async (seq: number): Promise<Turn[]> =>
  (await (await fetch(`${RELAY}/turns?after=${seq}`)).json()).turns;

async function agentElapsed(tag: string): Promise<number | undefined> {
  const res = await fetch(`${AGENT_ORIGIN}/__control/requests/${tag}`);
  if (!res.ok) {
    await res.body?.cancel();
    return undefined;
  }
  return (await res.json()).elapsed_ms ?? undefined;
}

// --- measuring ------------------------------------------------------------------------------

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
function median(xs: number[]): number {
  const s = sorted(xs);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
const pct = (xs: number[], p: number) => {
  const s = sorted(xs);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
};

type Measured = {
  kind: Kind;
  n: number;
  samples: Record<GateName, number[]>;
  agent: Record<GateName, number[]>;
  relayPerRequest: number;
  firstDeltaTurns?: number; // SSE: the relay's turns before the first delta
  breakdown: { before?: Turn[]; turns: Turn[] };
  seconds: number;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function measure(kind: Kind): Promise<Measured> {
  const t0 = performance.now();
  for (let i = 0; i < WARMUP; i++) for (const g of gates) await kind.run(g);
  const samples: Record<GateName, number[]> = { direct: [], rtt: [] };
  const agent: Record<GateName, number[]> = { direct: [], rtt: [] };
  const before = await relayTurns();
  const until = performance.now() + SECONDS * 1000;
  let n = 0;
  while (n < ITERATIONS && performance.now() < until) {
    // Alternate which gateway goes first, so neither always follows the other.
    for (const g of n % 2 ? [gates[0], gates[1]] : [gates[1], gates[0]]) {
      const s = await kind.run(g);
      samples[g.name].push(s.ms);
      if (s.tag) {
        const a = await agentElapsed(s.tag);
        if (a !== undefined) agent[g.name].push(a);
      }
    }
    n++;
  }
  const relayPerRequest = ((await relayTurns()) - before) / n;

  // One more request through the relay, to say what its round trips are.
  // For the stream, the agent waits 150 ms between chunks so the turns before
  // the first delta can be read before the settle's turns begin.
  await sleep(20);
  const rtt = gates[1];
  const mark = await relayTurns();
  let first: Turn[] | undefined;
  if (kind.key === "chat-sse") {
    await chatSse(rtt, {
      extra: "[[slow=150]] [[words=2]]",
      onFirstDelta: async () => void (first = await turnsAfter(mark)),
    });
  } else {
    await kind.run(rtt);
  }
  await sleep(20);
  const turns = await turnsAfter(mark);
  const seconds = (performance.now() - t0) / 1000;
  console.error(
    `${kind.key}: ${n} x 2 requests in ${seconds.toFixed(1)} s; p50 direct ` +
      `${median(samples.direct).toFixed(2)} ms, with RTT ${median(samples.rtt).toFixed(2)} ms`,
  );
  return {
    kind,
    n,
    samples,
    agent,
    relayPerRequest,
    firstDeltaTurns: first?.length,
    breakdown: { before: first, turns },
    seconds,
  };
}

const results: Measured[] = [];
for (const kind of KINDS) results.push(await measure(kind));
const held = (await relayStats()).held;

// --- report ----------------------------------------------------------------------------------

const f = (x: number | undefined, d = 2) => x === undefined || Number.isNaN(x) ? "-" : x.toFixed(d);
const roundTrips = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(2));
const rows = results.map((r) => {
  const direct = median(r.samples.direct);
  const delayed = median(r.samples.rtt);
  const added = (delayed - direct) / RTT_MS;
  return { r, direct, delayed, added };
});

const targetText = (k: Kind) =>
  k.target !== undefined ? `<= ${k.target}` : k.key === "select1" ? "1 (the floor)" : "-";
const lines = [
  `| Request | Direct p50 ms | With RTT ${RTT_MS} ms: p50 ms | Added round trips | ` +
  `Relay-counted round trips | Target (added) | Met? |`,
  "|---|--:|--:|--:|--:|--:|---|",
];
for (const { r, direct, delayed, added } of rows) {
  const k = r.kind;
  const counted = r.firstDeltaTurns !== undefined
    ? `${r.firstDeltaTurns} before the first delta (${roundTrips(r.relayPerRequest)} in all)`
    : roundTrips(r.relayPerRequest);
  let met = "-";
  if (k.target !== undefined) {
    const over = added - k.target;
    met = over <= 0
      ? "met"
      : `**not met**: ${over.toFixed(2)} round trips (${(over * RTT_MS).toFixed(1)} ms) over`;
  }
  const label = k.measure === "median" ? `${k.label} (median)` : `${k.label} (p50)`;
  lines.push(
    `| ${label} | ${f(direct)} | ${f(delayed)} | ${f(added)} | ${counted} | ` +
      `${targetText(k)} | ${met} |`,
  );
}

const spread = [
  "| Request | n per gateway | Direct p10 / p50 / p90 ms | With RTT p10 / p50 / p90 ms | Seconds |",
  "|---|--:|--:|--:|--:|",
  ...results.map((r) => {
    const s = (xs: number[]) => `${f(pct(xs, 0.1))} / ${f(median(xs))} / ${f(pct(xs, 0.9))}`;
    return `| ${r.kind.label} | ${r.n} | ${s(r.samples.direct)} | ${s(r.samples.rtt)} | ` +
      `${r.seconds.toFixed(1)} |`;
  }),
];

const agentLine = results.filter((r) => r.agent.direct.length || r.agent.rtt.length).map((r) =>
  `${r.kind.label}: p50 ${f(median(r.agent.direct))} ms (direct gateway), ` +
  `${f(median(r.agent.rtt))} ms (with RTT)`
).join("; ");

// What each round trip of one request through the delaying relay carried.
const code = (s: string) => "`" + s.replaceAll("`", "'") + "`";
const describe = (t: Turn) =>
  `${code(t.messages)}${t.sql.length ? ": " + t.sql.map(code).join(" · ") : ""}`;
const breakdown: string[] = [];
for (const r of results) {
  const { before, turns } = r.breakdown;
  const conns = new Set(turns.map((t) => t.conn)).size;
  breakdown.push(
    `- **${r.kind.label}**: ${turns.length} turn${turns.length === 1 ? "" : "s"} on ${conns} ` +
      `connection${conns === 1 ? "" : "s"}` +
      (before ? `, ${before.length} of them before the first delta` : "") + ":",
  );
  turns.forEach((t, i) => {
    const mark = before && i === before.length ? " (after the first delta)" : "";
    breakdown.push(`  ${i + 1}. ${describe(t)}${mark}`);
  });
}

// Where a target is missed: how far, and what the turns on the wire were.
// With prepare: false every parameterized statement is two turns: parse +
// describe (postgres.js waits for the parameter types), then bind + execute.
function kindOf(t: Turn): "describe" | "execute" | "commit" | "other" {
  const m = t.messages.split(" ");
  if (t.sql[0] === "commit" && m.length <= 5) return "commit";
  if (m.includes("D") && !m.includes("B")) return "describe";
  if (m[0] === "B" && !m.includes("P")) return "execute";
  return "other";
}
const missed: string[] = [];
for (const { r, added } of rows) {
  const k = r.kind;
  if (k.target === undefined || added <= k.target) continue;
  const turns = r.breakdown.before ?? r.breakdown.turns;
  const count = (want: string) => turns.filter((t) => kindOf(t) === want).length;
  const others = turns.filter((t) => kindOf(t) === "other")
    .map((t) => code(t.sql[0] ? `${t.sql[0].slice(0, 48)}…` : t.messages));
  const parts = [
    [
      count("describe"),
      "parse + describe of a parameterized statement (with any simple " +
      "statements pipelined ahead of it)",
    ],
    [count("execute"), "bind + execute after such a describe"],
    [count("commit"), "commit"],
    [others.length, `other (${others.join(", ")})`],
  ].filter(([n]) => n).map(([n, what]) => `${n} ${what}`);
  missed.push(
    `- **${k.label}**: ${f(added)} added round trips against at most ${k.target}, ` +
      `${f(added - k.target)} (${f((added - k.target) * RTT_MS, 1)} ms) over. On the wire: ` +
      `${turns.length} turns${r.breakdown.before ? " before the first delta" : ""}: ` +
      `${parts.join("; ")}.`,
  );
}

console.log(lines.join("\n"));
console.log("");
console.log(
  `Injected delay as the relay held it: p50 ${f(held?.p50_ms, 3)} ms each way ` +
    `(p90 ${f(held?.p90_ms, 3)}, mean ${f(held?.mean_ms, 3)}; requested ${RTT_MS / 2} ms), ` +
    `over the last ${Math.min(held?.count ?? 0, 10000)} chunks.`,
);
console.log("");
console.log(`Agent's own time (as the local agent measured it): ${agentLine || "-"}.`);
if (missed.length) {
  console.log("");
  console.log("Where a target is missed, by how much and what the round trips are (listed below):");
  console.log("");
  console.log(missed.join("\n"));
}
console.log("");
console.log("@@spread");
console.log(spread.join("\n"));
console.log("@@breakdown");
console.log(breakdown.join("\n"));
console.log(
  `BENCH_JSON ${
    JSON.stringify(rows.map(({ r, direct, delayed, added }) => ({
      key: r.kind.key,
      n: r.n,
      direct_ms: direct,
      rtt_ms: delayed,
      added,
      relay_turns: r.relayPerRequest,
      first_delta_turns: r.firstDeltaTurns,
      target: r.kind.target,
    })))
  }`,
);

// The user, its token and its chat rows were for this run only.
await sql`delete from auth.users where id = ${user.id}`;
await sql.end();
for (const g of gates) await g.pg.end();
