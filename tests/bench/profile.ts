// Where a function's CPU goes: runs a Deno program under V8's sampling
// profiler (through the inspector) and prints the functions and packages with
// the most self time. Only measures and prints; asserts nothing.
//
//   deno run -A tests/bench/profile.ts --startup [--until=URL] -- <file> [args]
//       from the process start until <file> prints Deno.serve's "Listening on"
//       (module loading and top-level code), or, with --until, until URL first
//       answers 200 (the first request too)
//   deno run -A tests/bench/profile.ts --seconds=10 [--after=URL] -- <file> [args]
//       once URL answers 200, for N seconds (run a load generator meanwhile)
//
// Knobs: --out=FILE.cpuprofile keeps the profile (Chrome DevTools opens it),
// --top=N rows (default 25), --interval-us=N sampling interval (default 100),
// --breakdown prints only the table of where the busy time goes by part of
// the request path (for scripts/bench.sh; see `part` below).
// The program's stdout and stderr go to this process's stderr.

type Node = {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
};
type Profile = { nodes: Node[]; samples: number[]; timeDeltas: number[] };

const sep = Deno.args.indexOf("--");
const own = sep < 0 ? Deno.args : Deno.args.slice(0, sep);
const program = sep < 0 ? [] : Deno.args.slice(sep + 1);
const flag = (name: string) =>
  own.find((a) => a === `--${name}` || a.startsWith(`--${name}=`))?.split("=").slice(1).join("=");
if (!program.length) {
  console.error("usage: profile.ts (--startup [--until=URL] | --seconds=N [--after=URL]) -- file");
  Deno.exit(2);
}
const startup = own.includes("--startup");
const seconds = Number(flag("seconds") ?? 10);
const top = Number(flag("top") ?? 25);
const interval = Number(flag("interval-us") ?? 100);
// Next to scripts/bench.sh's own ports (26346-26349), or BENCH_INSPECT_PORT.
const inspectPort = Number(
  Deno.env.get("BENCH_INSPECT_PORT") ?? 26346 + Math.floor(Math.random() * 4),
);

const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", `--inspect-brk=127.0.0.1:${inspectPort}`, ...program],
  stdout: "null",
  stderr: "piped",
  stdin: "null",
}).spawn();

// The inspector's address and Deno.serve's announcement both come on stderr.
let seen = "";
const waiters: { text: string; resolve: () => void }[] = [];
(async () => {
  for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
    seen += chunk;
    Deno.stderr.writeSync(new TextEncoder().encode(chunk));
    for (const w of waiters) if (seen.includes(w.text)) w.resolve();
  }
})();
const printed = (text: string) =>
  new Promise<void>((resolve) => {
    if (seen.includes(text)) return resolve();
    waiters.push({ text, resolve });
  });

await printed("Debugger listening on");
const wsUrl = seen.match(/ws:\/\/\S+/)![0];
const ws = new WebSocket(wsUrl);
await new Promise((r) => ws.addEventListener("open", r, { once: true }));
let nextId = 1;
const pending = new Map<number, (result: unknown) => void>();
ws.addEventListener("message", (e) => {
  const msg = JSON.parse(e.data);
  if (msg.id && pending.has(msg.id)) {
    pending.get(msg.id)!(msg.result);
    pending.delete(msg.id);
  }
});
const send = (method: string, params: object = {}) =>
  new Promise<unknown>((resolve) => {
    const id = nextId++;
    pending.set(id, resolve);
    ws.send(JSON.stringify({ id, method, params }));
  });

async function until200(url: string): Promise<void> {
  for (;;) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 2));
  }
}

await send("Profiler.enable");
await send("Profiler.setSamplingInterval", { interval });
let started = performance.now();
if (startup) {
  await send("Profiler.start");
  started = performance.now();
  await send("Runtime.runIfWaitingForDebugger");
  const url = flag("until");
  await (url ? until200(url) : printed("Listening on"));
} else {
  await send("Runtime.runIfWaitingForDebugger");
  const url = flag("after");
  if (url) await until200(url);
  else await printed("Listening on");
  await send("Profiler.start");
  started = performance.now();
  await new Promise((r) => setTimeout(r, seconds * 1000));
}
const { profile } = await send("Profiler.stop") as { profile: Profile };
const wallMs = performance.now() - started;
ws.close();
child.kill("SIGTERM");
await child.status;

const out = flag("out");
if (out) Deno.writeTextFileSync(out, JSON.stringify(profile));

// Self time per node, from the samples and their time deltas (µs).
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => {
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);
const idle = [...self].filter(([id]) =>
  /^\((idle|program|garbage collector)\)$/.test(
    byId.get(id)!.callFrame.functionName,
  )
).reduce((a, [id, us]) => {
  a[byId.get(id)!.callFrame.functionName] = us;
  return a;
}, {} as Record<string, number>);

// Where a frame's code lives: an npm package, one of ours, or V8/Deno itself.
function place(url: string): string {
  const npm = url.match(/node_modules\/\.deno\/[^/]+\/node_modules\/((?:@[^/]+\/)?[^/]+)\//);
  if (npm) return npm[1];
  const ours = url.match(/\/(shared|supabase|scripts|tests)\/(.*)$/);
  if (ours) return `${ours[1]}/${ours[2]}`;
  if (url.startsWith("ext:")) return "deno runtime";
  return url ? url.replace(/^.*\//, "") : "(native)";
}
const fnRows = new Map<string, number>();
const pkgRows = new Map<string, number>();
for (const [id, us] of self) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  if (/^\((idle|program|garbage collector)\)$/.test(functionName)) continue;
  const where = place(url);
  const key = `${functionName || "(anonymous)"}  ${where}:${lineNumber + 1}`;
  fnRows.set(key, (fnRows.get(key) ?? 0) + us);
  const pkg = where.startsWith("shared/") || where.startsWith("supabase/")
    ? where.split("/").slice(0, 2).join("/")
    : where;
  pkgRows.set(pkg, (pkgRows.get(pkg) ?? 0) + us);
}
const ms = (us: number) => (us / 1000).toFixed(1);

// The part of the request path a sample belongs to: the innermost frame that
// is a library or our own code (so runtime and native work is charged to the
// code that asked for it: a socket write to postgres.js, a Response to Hono);
// the request's log line wherever log.ts is on the stack; what has no such
// frame is the runtime's own (Deno.serve's request and response objects,
// streams, the event loop).
const PARTS: [RegExp, string][] = [
  [/^postgres$/, "postgres.js: the wire protocol, its socket writes and reads (node:net in Deno)"],
  [
    /^(hono|@hono\/zod-openapi)$/,
    "Hono: routing, middleware chain (CORS, body limit), context, JSON response",
  ],
  [/^(zod|@hono\/zod-validator)$/, "zod: validating the request's parameters"],
  [/^@oslojs\//, "@oslojs: SHA-256 (service-key check, API keys)"],
  [/^jose$/, "jose: JWT verification"],
  [/^shared\/db/, "our SQL text (literal encoders) and connection handling (shared/db)"],
  [
    /^shared\/(auth|http)/,
    "our middleware: request id, auth, rate-limit lease, drain (shared/http, shared/auth)",
  ],
  [/^(shared|supabase)\//, "the route and its store (shared/<domain>)"],
  [
    /^scripts\/gateway/,
    "the local gateway's proxy hop (scripts/gateway.ts: URL rewrite, new Request)",
  ],
];
function part(stack: number[]): string {
  for (const id of stack) {
    if (/\/shared\/http\/log\.ts$/.test(byId.get(id)!.callFrame.url)) {
      return "the request's log line";
    }
  }
  for (const id of stack) {
    const url = byId.get(id)!.callFrame.url;
    if (!url || url.startsWith("ext:") || url.startsWith("node:")) continue;
    const where = place(url);
    for (const [re, name] of PARTS) if (re.test(where)) return name;
    return `other: ${where}`;
  }
  return "Deno runtime: Deno.serve's requests and responses, streams, event loop";
}
if (own.includes("--breakdown")) {
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  const parts = new Map<string, number>();
  let busy = 0;
  for (const [id, us] of self) {
    const name = byId.get(id)!.callFrame.functionName;
    if (name === "(idle)") continue;
    busy += us;
    const label = name === "(garbage collector)"
      ? "garbage collection"
      : name === "(program)"
      ? "native code outside any JS frame (HTTP server, sockets, compiler)"
      : (() => {
        const stack: number[] = [];
        for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
          stack.push(at);
        }
        return part(stack);
      })();
    parts.set(label, (parts.get(label) ?? 0) + us);
  }
  console.log("| Part of the request path | Share of the busy samples |");
  console.log("|---|--:|");
  for (const [k, us] of [...parts].sort((a, b) => b[1] - a[1])) {
    console.log(`| ${k} | ${((100 * us) / busy).toFixed(1)}% |`);
  }
  console.log(`BENCH_PROFILE_BUSY_MS ${(busy / 1000).toFixed(0)} of ${wallMs.toFixed(0)} ms wall`);
  Deno.exit(0);
}
const pct = (us: number) => ((100 * us) / total).toFixed(1);
console.log(
  `profiled ${wallMs.toFixed(0)} ms wall; samples cover ${ms(total)} ms: ` +
    Object.entries(idle).map(([k, v]) => `${k} ${ms(v)} ms`).join(", "),
);
console.log(`\n| Self ms | % | Package or file |\n|--:|--:|---|`);
for (const [k, us] of [...pkgRows].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`| ${ms(us)} | ${pct(us)} | ${k} |`);
}
// Inclusive time: each sample counts once for every function on its stack.
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const keyOf = (id: number) => {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  return `${functionName || "(anonymous)"}  ${place(url)}:${lineNumber + 1}`;
};
const inclusive = new Map<string, number>();
for (const [id, us] of self) {
  const onStack = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    if (byId.get(at)!.callFrame.url) onStack.add(keyOf(at));
  }
  for (const k of onStack) inclusive.set(k, (inclusive.get(k) ?? 0) + us);
}
console.log(`\n| Total ms | % | Function (with what it calls) |\n|--:|--:|---|`);
for (const [k, us] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`| ${ms(us)} | ${pct(us)} | \`${k}\` |`);
}
console.log(`\n| Self ms | % | Function |\n|--:|--:|---|`);
for (const [k, us] of [...fnRows].sort((a, b) => b[1] - a[1]).slice(0, top)) {
  console.log(`| ${ms(us)} | ${pct(us)} | \`${k}\` |`);
}
