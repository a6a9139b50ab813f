// Where a cold start goes: each dependency the functions load, imported alone
// in a fresh process (caches warm, as for the cold start), then one function's
// whole app. Only measures and prints a markdown table; asserts nothing.
//   deno run -A tests/bench/imports.ts     (from scripts/bench.sh)
const root = new URL("../../", import.meta.url).pathname;
const RUNS = Number(Deno.env.get("BENCH_IMPORT_RUNS") ?? 5);

const targets: [string, string][] = [
  ["zod", "zod"],
  ["@hono/zod-openapi (with hono, zod)", "@hono/zod-openapi"],
  ["postgres (postgres.js)", "postgres"],
  ["jose", "jose"],
  ["arctic", "arctic"],
  ["@oslojs/crypto/sha2", "@oslojs/crypto/sha2"],
  ["whole sessions app", `${root}supabase/functions/sessions/app.ts`],
  ["whole chat app", `${root}supabase/functions/chat/app.ts`],
];

// One fresh process per import; it prints its own measurement so process
// start-up is not counted.
async function importMs(specifier: string): Promise<number> {
  const code = `const t = performance.now(); await import(${JSON.stringify(specifier)});
    console.log(performance.now() - t);`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    cwd: root,
    env: Deno.env.toObject(),
    stdout: "piped",
    stderr: "null",
  }).output();
  return out.success ? Number(new TextDecoder().decode(out.stdout).trim()) : NaN;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

console.log("| Module | Import p50 ms | min ms |");
console.log("|---|--:|--:|");
for (const [label, specifier] of targets) {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await importMs(specifier));
  console.log(`| ${label} | ${median(times).toFixed(0)} | ${Math.min(...times).toFixed(0)} |`);
}
