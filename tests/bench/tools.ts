// Tool-calling benchmark: what one tool round adds to a chat turn beyond the
// provider's own time. Sequential turns of one user with a Google calendar
// connection at the stand-ins (scripts/local/provider-apis): a plain send (the
// tools offered, none called) against a send whose agent calls list_events
// once, with the provider's list call and one agent call each timed alone in
// the same run. Only measures and prints; asserts nothing.
//
//   deno run -A tests/bench/tools.ts     (inside a stack's environment, e.g. from scripts/bench.sh)
//
// Knobs: BENCH_TOOL_RUNS (measured turns of each kind, default 40), BENCH_TOOL_WARMUP (5).
import { call, createUser, sql } from "../helpers/stack.ts";
import { connect, PROVIDER_URL } from "../oauth/flow.ts";

const RUNS = Number(Deno.env.get("BENCH_TOOL_RUNS") ?? 40);
const WARMUP = Number(Deno.env.get("BENCH_TOOL_WARMUP") ?? 5);
const AGENT = new URL(Deno.env.get("AGENT_URL")!).origin;

const day = 86_400_000;
const start = Math.floor(Date.now() / day) * day + day;
const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
const range = { time_min: iso(start), time_max: iso(start + day) };

const user = await createUser("bench-tools");
await connect(user, { provider: "google", services: ["calendar"] });
const session = (await call("POST", "/sessions", { token: user.token, body: {} })).body.id;
const vended = await call("POST", "/tokens/google/access-token", { token: user.token });
const accessToken: string = vended.body.access_token;

async function timed(work: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

async function send(content: string, expectTools: number): Promise<void> {
  const res = await call("POST", `/chat/${session}/messages`, {
    token: user.token,
    body: { content },
  });
  const tools = res.body?.tool_messages?.length ?? 0;
  if (res.status !== 201 || tools !== expectTools) {
    throw new Error(`chat send: ${res.status}, ${tools} tool messages`);
  }
}

// The provider's own time: the same Calendar v3 list the tool makes, with a vended token.
async function providerList(): Promise<void> {
  const url = new URL(`${PROVIDER_URL}/calendar/v3/calendars/primary/events`);
  url.search = new URLSearchParams({
    timeMin: range.time_min,
    timeMax: range.time_max,
    singleEvents: "true",
    orderBy: "startTime",
    maxResults: "50",
  }).toString();
  const res = await fetch(url, { headers: { Authorization: `Bearer ${accessToken}` } });
  await res.body?.cancel();
  if (!res.ok) throw new Error(`provider: ${res.status}`);
}

// One agent call alone (the answer after the tool result), as the loop sends it.
async function agentCall(): Promise<void> {
  const res = await fetch(`${AGENT}/v1/chat/completions`, {
    method: "POST",
    headers: {
      "Content-Type": "application/json",
      Authorization: `Bearer ${Deno.env.get("AGENT_API_KEY")}`,
    },
    body: JSON.stringify({
      model: Deno.env.get("AGENT_MODEL"),
      stream: false,
      messages: [{ role: "user", content: "What's on my calendar tomorrow? [[slow=0]]" }],
    }),
  });
  await res.body?.cancel();
  if (!res.ok) throw new Error(`agent: ${res.status}`);
}

const KINDS: Array<[string, () => Promise<void>]> = [
  ["chat send, tools offered, none called", () => send("What's up? [[slow=0]]", 0)],
  [
    "chat send with one list_events round",
    () => send(`Tomorrow? [[tool:list_events ${JSON.stringify(range)}]] [[slow=0]]`, 1),
  ],
  ["provider list call alone (Calendar v3 stand-in)", providerList],
  ["one agent call alone", agentCall],
];

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results: Record<string, number> = {};
for (const [name, work] of KINDS) {
  for (let i = 0; i < WARMUP; i++) await work();
  const samples: number[] = [];
  for (let i = 0; i < RUNS; i++) samples.push(await timed(work));
  results[name] = p50(samples);
  console.error(`${name}: p50 ${results[name].toFixed(1)} ms`);
}

const [plain, tool, provider, agent] = KINDS.map(([name]) => results[name]);
const added = tool - plain;
const lines = [
  "| Measure (sequential, p50) | ms |",
  "|---|--:|",
  ...KINDS.map(([name]) => `| ${name} | ${results[name].toFixed(1)} |`),
  `| a tool round adds to the turn | ${added.toFixed(1)} |`,
  `| of which beyond the provider's and the agent's own time | ${
    (added - provider - agent).toFixed(1)
  } |`,
];
console.log(lines.join("\n"));
console.log(
  `\n${RUNS} turns of each kind after ${WARMUP} warm-up, one user, one Google calendar ` +
    "connection at the local stand-ins. What remains beyond the provider and the agent is the " +
    "backend's part of a round: reading the connection and a fresh token from the vault, the " +
    "tool's round trip of stored messages, and building the second agent request.",
);
await sql`delete from auth.users where id = ${user.id}`;
await sql.end();
