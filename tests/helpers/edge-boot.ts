// Boots a function entry point the way the edge runtime does, where Deno.exit
// does nothing: a function can only refuse to start by failing to evaluate.
//   deno run ... tests/helpers/edge-boot.ts supabase/functions/<fn>/index.ts
// Prints "booted" or "boot error: <message>", then ends the process (the
// function's database pool would otherwise keep it alive until idle).
const exit = Deno.exit.bind(Deno);
Object.defineProperty(Deno, "exit", { value: () => {}, configurable: true, writable: true });

const entry = new URL(Deno.args[0], `file://${Deno.cwd()}/`).href;
try {
  await import(entry);
  console.log("booted");
} catch (err) {
  console.log(`boot error: ${(err as Error).message}`);
}
exit(0);
