// Boots a function entry point the way the edge runtime does, where Deno.exit
// does nothing: a function can only refuse to start by failing to evaluate.
// Prints "booted" or "boot error: <message>".
//   deno run ... tests/helpers/edge-boot.ts supabase/functions/<fn>/index.ts
Object.defineProperty(Deno, "exit", { value: () => {}, configurable: true, writable: true });

const entry = new URL(Deno.args[0], `file://${Deno.cwd()}/`).href;
try {
  await import(entry);
  console.log("booted");
} catch (err) {
  console.log(`boot error: ${(err as Error).message}`);
}
