// Cold start: each function's own entry point (supabase/functions/<fn>/index.ts,
// what the edge runtime boots) spawned alone, timed from the spawn to its first
// 200 on GET /<fn>/health, which answers only after a database round trip.
// Only measures and prints; asserts nothing.
//
//   deno run -A tests/bench/coldstart.ts     (inside a stack's environment, from scripts/bench.sh)
//
// Knobs: BENCH_COLD_RUNS (spawns per function, default 10), BENCH_COLD_PORT (default 26343),
// BENCH_COLD_FUNCTIONS (default: every function), BENCH_COLD_POLL_MS (default 2).
// Prints a markdown table and a BENCH_JSON line for scripts/bench.sh.

const root = new URL("../../", import.meta.url);
const RUNS = Number(Deno.env.get("BENCH_COLD_RUNS") ?? 10);
const PORT = Number(Deno.env.get("BENCH_COLD_PORT") ?? 26343);
const POLL_MS = Number(Deno.env.get("BENCH_COLD_POLL_MS") ?? 2);
const FUNCTIONS = (Deno.env.get("BENCH_COLD_FUNCTIONS") ?? "").split(/\s+/).filter(Boolean);
if (!FUNCTIONS.length) {
  for (const e of Deno.readDirSync(new URL("supabase/functions/", root))) {
    if (e.isDirectory && !e.name.startsWith("_")) FUNCTIONS.push(e.name);
  }
  FUNCTIONS.sort();
}

// A pooled keep-alive connection to the previous process would fail the first
// poll of the next one for a reason that has nothing to do with start-up.
const client = Deno.createHttpClient({ poolMaxIdlePerHost: 0 });

function rssKiB(pid: number): number {
  try {
    const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/^VmRSS:\s+(\d+)/m);
    return m ? Number(m[1]) : NaN;
  } catch {
    return NaN;
  }
}

type Start = { ms: number; listenMs: number; rssKiB: number };
let spawns = 0;

async function coldStart(fn: string, extraFlags: string[]): Promise<Start> {
  const url = `http://127.0.0.1:${PORT}/${fn}/health`;
  const started = performance.now();
  // Deno.serve() in index.ts takes its address from DENO_SERVE_ADDRESS, so the
  // entry point runs unmodified, on loopback.
  const child = new Deno.Command(Deno.execPath(), {
    // --node-modules-dir=manual: node_modules/ is installed already (ensure_tools), and a deployed
    // function is a bundle that resolves no package at start either; deno.json keeps "auto" for
    // the Supabase CLI's bundler (docs/decisions.md).
    args: [
      "run",
      "-A",
      "--node-modules-dir=manual",
      ...extraFlags,
      `supabase/functions/${fn}/index.ts`,
    ],
    cwd: root,
    env: { DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${PORT}`, DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // Deno.serve() announces its address on stderr once it listens: that splits
  // loading the modules from the first request (pool connect and `select 1`).
  let listenMs = NaN;
  let text = "";
  const stderr = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      text += chunk;
      if (Number.isNaN(listenMs) && text.includes("Listening on")) {
        listenMs = performance.now() - started;
      }
    }
  })();
  // Each spawn is a new isolate, and /health is limited per client address in
  // per-minute windows that every isolate takes a lease of (5% of the limit)
  // on its first request: twenty spawns called from one address use up a
  // window, whatever the limit, and the next spawn answered 429 until the
  // minute ended (past the 30 s below: the section failed inside the bench
  // run). So every spawn is called as an address of its own, from 198.18.0.0/15
  // (reserved for benchmarks; only a header, nothing is sent there). The
  // lease itself is still taken, as on a real first request.
  spawns++;
  const headers = { "X-Forwarded-For": `198.18.${spawns >> 8 & 255}.${spawns & 255}` };
  let last = "no answer";
  try {
    while (true) {
      try {
        const res = await fetch(url, { client, headers, signal: AbortSignal.timeout(5000) });
        if (res.status === 200) {
          await res.body?.cancel();
          break;
        }
        last = `${res.status} ${(await res.text()).slice(0, 200)}`;
      } catch {
        // not listening yet
      }
      if (performance.now() - started > 30_000) {
        throw new Error(`${fn} gave no 200 within 30 s (last: ${last}): ${text.slice(0, 400)}`);
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    return { ms: performance.now() - started, listenMs, rssKiB: rssKiB(child.pid) };
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await stderr;
  }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(s.length * p) - 1))];
};

type Row = {
  fn: string;
  variant: string;
  first_ms: number;
  listen_p50_ms: number;
  min_ms: number;
  p50_ms: number;
  max_ms: number;
  rss_mib: number;
  runs: number;
};
const rows: Row[] = [];

async function measure(fn: string, variant: string, flags: string[]) {
  const starts: Start[] = [];
  for (let i = 0; i < RUNS; i++) starts.push(await coldStart(fn, flags));
  // The first spawn is reported on its own: it may still fill Deno's caches
  // for this entry point; the others start from warm caches.
  const warm = starts.length > 1 ? starts.slice(1) : starts;
  const ms = warm.map((s) => s.ms);
  rows.push({
    fn,
    variant,
    first_ms: starts[0].ms,
    listen_p50_ms: pct(warm.map((s) => s.listenMs), 0.5),
    min_ms: Math.min(...ms),
    p50_ms: pct(ms, 0.5),
    max_ms: Math.max(...ms),
    rss_mib: pct(starts.map((s) => s.rssKiB), 0.5) / 1024,
    runs: starts.length,
  });
  console.error(`cold start ${fn} ${variant}: p50 ${pct(ms, 0.5).toFixed(0)} ms`);
}

for (const fn of FUNCTIONS) await measure(fn, "warm caches", []);
// Without V8's code cache every module is compiled from source again, as on an
// isolate's first boot; the transpile and npm caches stay warm.
await measure(FUNCTIONS.includes("sessions") ? "sessions" : FUNCTIONS[0], "--no-code-cache", [
  "--no-code-cache",
]);
client.close();

const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : "-");
console.log(
  "| Function | Caches | First spawn ms | min ms | p50 ms | max ms | listening p50 ms | RSS at first 200 |",
);
console.log("|---|---|--:|--:|--:|--:|--:|--:|");
for (const r of rows) {
  console.log(
    `| ${r.fn} | ${r.variant} | ${f(r.first_ms)} | ${f(r.min_ms)} | ${f(r.p50_ms)} | ` +
      `${f(r.max_ms)} | ${f(r.listen_p50_ms)} | ${f(r.rss_mib, 1)} MiB |`,
  );
}
console.log(`BENCH_JSON ${JSON.stringify(rows)}`);
